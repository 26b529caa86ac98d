"""Rasa's dialogue states of a conversation, computed once per event instead of once per
policy call.

Before every action it predicts, Rasa asks each policy for the dialogue's states, and
each asks ``Domain.states_for_tracker_history``, which replays the whole conversation
into a fresh tracker and describes it before every action. MemoizationPolicy asks once,
RulePolicy once or twice, and a turn predicts two or three actions: five full replays a
message, each growing with the conversation (a 60-turn conversation: 63 % of the time
Rasa spent predicting, measured with cProfile in Rasa's environment).

This keeps, for each recent conversation and each way of asking (the flags and the
rule-only data), where the last replay stopped: the events it applied, the replaying
tracker, the states before each action and the two values the rule-only filtering
carries from turn to turn. A later call whose applied events begin with those events
replays only what was added; any other call starts over, as Rasa does. An event counts
as the same when it is the same object or, after the store deserialised the
conversation again, of the same type with the same timestamp and equal by Rasa's own
``==`` (and, for an action, the same ``hide_rule_turn``). The states before the last
action and the final one are always computed afresh, and what is returned is a copy, so
policies that edit their states in place (the featurizer drops the text of a state that
has an intent) never edit the kept ones.

Installed by nlu/rasa_server.py; training and evaluation run Rasa unchanged, and rule
trackers (training only) always take Rasa's own path.
tests/nlu/test_incremental_states.py compares it with Rasa's own method, call by call.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# what one Rasa process keeps, least recently used out first: replays (two or three per
# conversation, one per way of asking), and states in all of them (a state is a few small
# dicts, about 1 KB: 50,000 is about 50 MB; the bench's longest conversations hold 500 each)
KEPT_REPLAYS = 512
KEPT_STATES = 50_000


@dataclass
class _Replay:
    tracker: Any  # the replaying DialogueStateTracker, after `applied`
    raw: list[Any] = field(default_factory=list)  # the tracker's events `applied` came from
    loop_names: set[str] = field(default_factory=set)  # of ActiveLoop events in `raw`
    applied: list[Any] = field(default_factory=list)
    states: list[dict[str, Any]] = field(default_factory=list)
    last_ml_action: Any = None
    turn_was_hidden: bool = False


def _same_event(kept: Any, new: Any) -> bool:
    if kept is new:
        return True
    return (
        type(kept) is type(new)
        and kept.timestamp == new.timestamp
        and getattr(kept, "hide_rule_turn", None) == getattr(new, "hide_rule_turn", None)
        and kept == new
    )


def _begins_with(events: list[Any], kept: list[Any]) -> bool:
    return len(kept) <= len(events) and all(_same_event(a, b) for a, b in zip(kept, events[: len(kept)], strict=True))


def _applied(replay: _Replay | None, tracker: Any, raw: list[Any]) -> tuple[list[Any], bool]:
    """``tracker.applied_events()``, without walking the whole conversation again when it
    only grew by events that Rasa's walk would append as they are: no restart, new
    session, undo, or loop (a loop's own actions may undo earlier ones). True when it
    only grew."""
    from rasa.shared.core.events import (
        ActionExecuted,
        ActionReverted,
        ActiveLoop,
        Restarted,
        SessionStarted,
        UserUtteranceReverted,
    )

    if replay is not None and _begins_with(raw, replay.raw):
        added = raw[len(replay.raw) :]
        special = (Restarted, SessionStarted, ActionReverted, UserUtteranceReverted, ActiveLoop)
        if not any(
            isinstance(e, special) or (isinstance(e, ActionExecuted) and e.action_name in replay.loop_names)
            for e in added
        ):
            return replay.applied + added, True
    return tracker.applied_events(), False


def _copy(state: dict[str, Any]) -> dict[str, Any]:
    # sub-states hold strings and tuples only: two levels are a full copy
    return {kind: dict(sub) if isinstance(sub, dict) else sub for kind, sub in state.items()}


class _States:
    """Rasa's loop, one `(tracker before an action, hidden)` step at a time."""

    def __init__(self, domain: Any, omit_unset_slots: bool, ignore_rule_only_turns: bool, rule_only_data: Any):
        self.domain = domain
        self.omit = omit_unset_slots
        self.ignore = ignore_rule_only_turns
        self.rule_only_data = rule_only_data

    def step(self, replay: _Replay, tracker: Any, hide_rule_turn: bool) -> None:
        from rasa.shared.core import constants

        domain = self.domain
        if self.ignore:
            if not replay.turn_was_hidden:
                replay.last_ml_action = domain._get_prev_action_sub_state(tracker)
            if not tracker.followup_action and tracker.latest_action_name != tracker.active_loop_name:
                replay.turn_was_hidden = hide_rule_turn
            if replay.turn_was_hidden:
                return
        state = domain.get_active_state(tracker, omit_unset_slots=self.omit)
        if self.ignore:
            domain._remove_rule_only_features(state, self.rule_only_data)
            if replay.states:
                domain._substitute_rule_only_user_input(state, replay.states[-1])
            if replay.last_ml_action:
                state[constants.PREVIOUS_ACTION] = replay.last_ml_action
        replay.states.append(domain._clean_state(state))


_replays: OrderedDict[tuple, _Replay] = OrderedDict()
_kept = [0]  # states in `_replays`
_guard = threading.Lock()
_rasa_own: Callable[..., list[dict[str, Any]]] | None = None  # Rasa's method, for rule trackers


def _key(domain: Any, tracker: Any, omit: bool, ignore: bool, rule_only_data: Any) -> tuple:
    rule_only = repr(sorted((k, tuple(v)) for k, v in (rule_only_data or {}).items()))
    return (id(domain), tracker.sender_id, omit, ignore, rule_only)


def states_for_tracker_history(
    domain: Any,
    tracker: Any,
    omit_unset_slots: bool = False,
    ignore_rule_only_turns: bool = False,
    rule_only_data: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """``Domain.states_for_tracker_history`` once installed: the same arguments, the same states."""
    from rasa.shared.core.events import ActionExecuted, ActiveLoop

    if getattr(tracker, "is_rule_tracker", False) and _rasa_own is not None:  # training only
        return _rasa_own(domain, tracker, omit_unset_slots, ignore_rule_only_turns, rule_only_data)
    key = _key(domain, tracker, omit_unset_slots, ignore_rule_only_turns, rule_only_data)
    with _guard:  # taken out while in use: a concurrent call of the same key starts over
        replay = _replays.pop(key, None)
        _kept[0] -= len(replay.states) if replay is not None else 0
    raw = list(tracker.events)
    applied, grew = _applied(replay, tracker, raw)
    if not grew:
        if replay is None or not _begins_with(applied, replay.applied):
            replay = _Replay(tracker=tracker.init_copy())
        replay.loop_names = {e.name for e in raw if isinstance(e, ActiveLoop) and e.name}
    assert replay is not None
    replay.raw = raw
    states = _States(domain, omit_unset_slots, ignore_rule_only_turns, rule_only_data)
    for event in applied[len(replay.applied) :]:
        if isinstance(event, ActionExecuted):
            states.step(replay, replay.tracker, event.hide_rule_turn)
        replay.tracker.update(event)
        replay.applied.append(event)
    # the state after the last event changes with the next one: computed on a copy
    final = _Replay(
        tracker=replay.tracker,
        states=[_copy(s) for s in replay.states],
        last_ml_action=replay.last_ml_action,
        turn_was_hidden=replay.turn_was_hidden,
    )
    kept = len(final.states)
    states.step(final, replay.tracker, False)
    if len(final.states) > kept:  # it may hold the kept previous-action sub-state
        final.states[-1] = _copy(final.states[-1])
    with _guard:
        displaced = _replays.pop(key, None)  # a concurrent call of the same key put its replay back first
        _kept[0] += len(replay.states) - (len(displaced.states) if displaced is not None else 0)
        _replays[key] = replay
        while len(_replays) > KEPT_REPLAYS or _kept[0] > KEPT_STATES:
            _kept[0] -= len(_replays.popitem(last=False)[1].states)
    return final.states


def install() -> None:
    global _rasa_own
    from rasa.shared.core.domain import Domain

    if Domain.states_for_tracker_history is not states_for_tracker_history:  # installed once
        _rasa_own = Domain.states_for_tracker_history
        Domain.states_for_tracker_history = states_for_tracker_history
