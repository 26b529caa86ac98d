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


def install() -> None:
    _cached_action_validation()
    _cached_event_types()
    _lazy_debug_copies()
    _compact_endpoint_json()
