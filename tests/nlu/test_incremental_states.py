"""nlu/incremental_states.py changes how often Rasa replays a conversation, never the
states it describes or the action it predicts: inside Rasa's own environment, with the
trained model's domain, random conversations (forms, undos, restarts, new sessions,
hidden rule turns, follow-ups) are compared call by call with Rasa's own method, on
the same tracker and on one deserialised again as the tracker store gives it."""

from __future__ import annotations

import textwrap

from settings import get_settings
from tests.nlu.test_rasa_speedups import in_rasa

CHECK = textwrap.dedent(
    """
    import asyncio, logging, random, sys
    logging.disable(logging.WARNING)
    from rasa.core.agent import Agent
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.shared.core.events import (
        ActionExecuted, ActionReverted, ActiveLoop, BotUttered, FollowupAction, Restarted,
        SessionStarted, SlotSet, UserUttered, UserUtteranceReverted)

    rasa_own = Domain.states_for_tracker_history
    from nlu import incremental_states
    incremental_states.install()
    cached = Domain.states_for_tracker_history

    agent = Agent.load(sys.argv[1])
    processor, domain = agent.processor, agent.processor.domain
    rng = random.Random(7)
    intents = list(domain.intents)
    actions = [a for a in domain.action_names_or_texts if a and not a.startswith("action_listen")]
    forms = list(domain.form_names)
    slots = [s for s in domain.slots]
    rule_only = {"rule_only_slots": [s.name for s in slots[:3]], "rule_only_loops": forms[:1]}
    counted = {"own": 0, "cached": 0}
    get_active_state = Domain.get_active_state

    def counting(self, tracker, omit_unset_slots=False):
        counted[who] += 1
        return get_active_state(self, tracker, omit_unset_slots=omit_unset_slots)

    Domain.get_active_state = counting
    who = "own"

    def value(slot):
        return rng.choice([None, "x", 1.0, True, ["a"], "海珠"])

    def turn(events):
        kind = rng.random()
        if kind < 0.55:
            events.append(UserUttered("问题", intent={"name": rng.choice(intents), "confidence": 0.9},
                                      entities=rng.choice([[], [{"entity": "street", "value": "江南中"}]])))
            for _ in range(rng.randint(1, 3)):
                events.append(ActionExecuted(rng.choice(actions), hide_rule_turn=rng.random() < 0.2))
                if rng.random() < 0.5:
                    events.append(BotUttered("答"))
                if rng.random() < 0.4:
                    slot = rng.choice(slots)
                    events.append(SlotSet(slot.name, value(slot)))
            events.append(ActionExecuted("action_listen"))
        elif kind < 0.70 and forms:
            form = rng.choice(forms)
            events += [ActiveLoop(form), ActionExecuted(form), SlotSet("requested_slot", rng.choice(slots).name),
                       ActionExecuted("action_listen"),
                       UserUttered("是", intent={"name": rng.choice(intents), "confidence": 1.0}),
                       ActionExecuted(form)]
            if rng.random() < 0.5:
                events += [ActiveLoop(None), SlotSet("requested_slot", None)]
            events.append(ActionExecuted("action_listen"))
        elif kind < 0.76 and forms:  # a form goes on in a later turn (its earlier steps may be undone)
            events += [UserUttered("好", intent={"name": rng.choice(intents), "confidence": 1.0}),
                       ActionExecuted(rng.choice(forms)), SlotSet(rng.choice(slots).name, "y"),
                       ActionExecuted("action_listen")]
        elif kind < 0.80:
            events.append(UserUtteranceReverted())
        elif kind < 0.84:
            events.append(ActionReverted())
        elif kind < 0.88:
            events.append(FollowupAction(rng.choice(actions)))
        elif kind < 0.93:
            events += [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")]
        else:
            events += [Restarted(), ActionExecuted("action_listen")]

    def states(method, tracker, omit, ignore, data):
        global who
        who = "own" if method is rasa_own else "cached"
        return method(domain, tracker, omit, ignore, data)

    compared = predicted = 0
    for conversation in range(12):
        sender = f"c{conversation % 5}"  # senders come back with other conversations
        tracker = DialogueStateTracker.from_events(sender, [ActionExecuted("action_session_start"), SessionStarted(),
                                                            ActionExecuted("action_listen")], domain.slots)
        for step in range(rng.randint(10, 40)):
            added = []
            turn(added)
            for event in added:
                tracker.update(event)
            if rng.random() < 0.3:  # as the store gives it back: new objects, same events
                tracker = DialogueStateTracker.from_dict(sender, [e.as_dict() for e in tracker.events], domain.slots)
            for omit in (False, True):
                for ignore in (False, True):
                    for data in (None, rule_only):
                        mine = states(cached, tracker, omit, ignore, data)
                        assert mine == states(rasa_own, tracker, omit, ignore, data), (conversation, step)
                        for state in mine:  # what a policy does to its states stays with it
                            state.clear()
                        again = states(cached, tracker, omit, ignore, data)
                        assert again == states(rasa_own, tracker, omit, ignore, data)
                        compared += 1
            if rng.random() < 0.3:  # a prediction may change its tracker (a follow-up is used up)
                Domain.states_for_tracker_history = rasa_own
                copied = DialogueStateTracker.from_dict(sender, [e.as_dict() for e in tracker.events], domain.slots)
                own = processor.predict_next_with_tracker_if_should(copied)
                Domain.states_for_tracker_history = cached
                mine = processor.predict_next_with_tracker_if_should(tracker)
                assert (own[0].name(), own[1].policy_name, own[1].max_confidence) == (
                    mine[0].name(), mine[1].policy_name, mine[1].max_confidence), (conversation, step)
                predicted += 1
    kept = incremental_states._replays
    assert incremental_states._kept[0] == sum(len(r.states) for r in kept.values()) > 100
    incremental_states.KEPT_STATES = 100  # what is kept stays bounded, and right
    assert states(cached, tracker, False, True, rule_only) == states(rasa_own, tracker, False, True, rule_only)
    assert incremental_states._kept[0] == sum(len(r.states) for r in kept.values()) <= 100
    incremental_states.KEPT_STATES = 50_000
    applied = incremental_states._applied

    def meanwhile(*args):  # another thread's call for the same conversation ends first
        incremental_states._applied = applied
        states(cached, tracker, True, False, None)
        return applied(*args)

    incremental_states._applied = meanwhile
    assert states(cached, tracker, True, False, None) == states(rasa_own, tracker, True, False, None)
    assert incremental_states._kept[0] == sum(len(r.states) for r in kept.values()) > 0
    print("ok", compared, predicted, counted["cached"], counted["own"])
    """
)


def test_cached_states_are_rasas_own() -> None:
    done = in_rasa(CHECK, str(get_settings().rasa_model))
    assert done.returncode == 0 and done.stdout.strip().splitlines()[-1].startswith("ok"), done.stderr[-3000:]
    _, compared, predicted, cached_states, own_states = done.stdout.split()[-5:]
    assert int(compared) > 1000 and int(predicted) > 30
    # and it does what it is for: far fewer states described than by replaying each time
    assert int(cached_states) < int(own_states) / 3, (cached_states, own_states)
