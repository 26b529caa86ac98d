"""Hot spots of Rasa 3.6's server, measured with py-spy under `make bench`, made
cheap without changing what they do. Installed by nlu/rasa_server.py, before Rasa
starts; training and evaluation run Rasa unchanged.

- Every custom action's answer is checked against Rasa's response schema with
  ``jsonschema.validate``, which first validates the schema itself against the
  JSON-Schema meta-schema: 32 % of Rasa's CPU under load went there. The schema is a
  constant, so it is checked once and its validator kept; each answer is still
  validated in full and a bad one raises the same ``ValidationError`` (the best
  match of its errors, Rasa's hint appended).
- Each event read from the tracker store looks its class up by walking every
  subclass of ``Event`` (``Event.resolve_by_type``): 9 % of Rasa's CPU. Classes found
  are remembered per type name; a name not found still takes Rasa's own path.
- MemoizationPolicy and RulePolicy deep-copy the dialogue's states for a debug log line
  before every prediction, whether or not debug logging is on (``copy.deepcopy`` is an
  argument, evaluated first): 17 % of the time Rasa spent predicting once the states
  themselves were cached (nlu/incremental_states.py). In those two modules ``copy`` is
  used for nothing else; it is replaced there by one that copies only when Rasa's logger
  would write debug lines.
- Every call to the action server sends the whole conversation as JSON, encoded by the
  standard library with every Chinese character escaped to six bytes: 15 % of Rasa's
  busy samples at 10 residents (py-spy, stop 31), growing with the conversation, and as
  many bytes again for the action server to read. Rasa's endpoint sessions encode with
  ujson (in Rasa's environment already; the action server's Sanic reads with it) and
  leave the text as UTF-8; what ujson cannot encode takes the standard path.
- Of that conversation, the events before the resident's latest message carry what no
  action reads: each user turn's full ranking of every intent and category with their
  float confidences and its token offsets, and every event's model metadata. Numbers are
  what JSON decoders are slowest at. On the bench's longest conversation (144 messages,
  1,239 events, 762 KB a call; best of 15 on the stored tracker, ujson as both sides use
  it) the action server decoded a call in 3.6 ms, 1.3 ms without them (498 KB), and Rasa
  encoded it in 2.7 ms, 1.8 ms with the trimming. The cost grows with the conversation:
  a typical one (15 KB) gains little. Those keys are left out of earlier events in what the action
  server is sent; the events themselves, their order and types, texts, intents,
  entities, slots and bot replies, the latest user turn and everything after it, and
  ``latest_message`` are sent whole. Actions read earlier turns through
  actions/tracker_views.py, actions/handoff.py and actions/drafts.py: texts, entities
  and action names only.
"""

from __future__ import annotations

import copy
import json
import logging
from typing import Any


def _cached_action_validation() -> None:
    from jsonschema import validators
    from jsonschema.exceptions import best_match
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.constants import DOCS_BASE_URL

    schema = RemoteAction.action_response_format_spec()
    kind = validators.validator_for(schema)
    kind.check_schema(schema)  # what jsonschema.validate did on every call
    validator = kind(schema)

    def _validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
        error = best_match(validator.iter_errors(result))
        if error is None:
            return True
        error.message += (
            ". Failed to validate Action server response from API, "
            "make sure your response from the Action endpoint is valid. "
            f"For more information about the format visit {DOCS_BASE_URL}/custom-actions"
        )
        raise error

    RemoteAction._validate_action_result = _validate_action_result


def _cached_event_types() -> None:
    from rasa.shared.core.events import Event

    original = Event.resolve_by_type
    found: dict[str, type[Event]] = {}

    def resolve_by_type(type_name: str, default: type[Event] | None = None) -> type[Event] | None:
        cls = found.get(type_name)
        if cls is None:
            cls = original(type_name, default)
            if cls is not None and cls is not default:
                found[type_name] = cls
        return cls

    Event.resolve_by_type = staticmethod(resolve_by_type)


class _CopyForDebugLogs:
    """Stands in for the ``copy`` module where it only copies what a debug line logs."""

    @staticmethod
    def deepcopy(value: Any) -> Any:
        if logging.getLogger("rasa").isEnabledFor(logging.DEBUG):
            return copy.deepcopy(value)
        return value  # the logger drops it unread


def _lazy_debug_copies() -> None:
    from rasa.core.policies import memoization, rule_policy

    for module in (memoization, rule_policy):
        module.copy = _CopyForDebugLogs


def _utf8_json(value: Any) -> str:
    import ujson

    try:
        return ujson.dumps(value, ensure_ascii=False, escape_forward_slashes=False)
    except (OverflowError, TypeError, ValueError):  # NaN, objects ujson does not know
        return json.dumps(value)


def _compact_endpoint_json() -> None:
    import aiohttp
    from rasa.utils.endpoints import DEFAULT_REQUEST_TIMEOUT, EndpointConfig

    def session(self: EndpointConfig) -> aiohttp.ClientSession:
        # EndpointConfig.session of Rasa 3.6, with the JSON encoder named
        auth = aiohttp.BasicAuth(self.basic_auth["username"], self.basic_auth["password"]) if self.basic_auth else None
        return aiohttp.ClientSession(
            headers=self.headers,
            auth=auth,
            timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT),
            json_serialize=_utf8_json,
        )

    EndpointConfig.session = session


# keys of an earlier user turn's parse no action reads (the latest turn keeps them all)
UNREAD_PARSE_KEYS = frozenset({"intent_ranking", "text_tokens", "category_probabilities", "metadata"})


def _lean(event: dict[str, Any]) -> dict[str, Any]:
    """An earlier event as the action server needs it: a new dict, since ``as_dict`` may
    hand out the event's own ``parse_data``."""
    lean = {k: v for k, v in event.items() if k != "metadata"}
    parse = lean.get("parse_data")
    if isinstance(parse, dict):
        lean["parse_data"] = {k: v for k, v in parse.items() if k not in UNREAD_PARSE_KEYS}
    return lean


def lean_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`events` (as dicts) with the events before the latest user turn made lean."""
    latest_user = next((i for i in range(len(events) - 1, -1, -1) if events[i].get("event") == "user"), 0)
    return [_lean(e) for e in events[:latest_user]] + events[latest_user:]


def _lean_action_calls() -> None:
    from rasa.core.actions.action import RemoteAction

    original = RemoteAction._action_call_format

    def _action_call_format(self: RemoteAction, tracker: Any, domain: Any) -> dict[str, Any]:
        call = original(self, tracker, domain)
        state = call.get("tracker") or {}
        if isinstance(state.get("events"), list):
            state["events"] = lean_events(state["events"])
        return call

    RemoteAction._action_call_format = _action_call_format


def install() -> None:
    _lean_action_calls()
    _cached_action_validation()
    _cached_event_types()
    _lazy_debug_copies()
    _compact_endpoint_json()
