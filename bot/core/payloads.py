"""Which messages may reach Rasa as a button press rather than as text.

Rasa reads a message that starts with ``/`` as an intent, and
``/intent{"street": "…"}`` also sets entities and slots: typed by a resident,
it puts any street, amount or employer on their case and in the statistics,
bypassing extraction. Buttons are how the assistant offers such payloads, so
a ``/`` message goes to Rasa as a press only when it is a button the
assistant offered this resident in one of its last replies, or a bare
``/intent`` of the domain (it sets nothing; every channel's commands and the
tests' shortcuts use them). Anything else is sent as text, its ``/`` written
full-width (``／``), which Rasa does not read as an intent: entities then
come only from extraction.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import yaml

from settings import ROOT

INTENT_PREFIX = "/"
AS_TEXT_PREFIX = "／"
RECENT_REPLIES = 5  # a button stays pressable for this many of the resident's messages
_BARE_INTENT = re.compile(r"^/([a-z][a-z0-9_]*)$")


@lru_cache(maxsize=1)
def domain_intents() -> frozenset[str]:
    raw = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    return frozenset(i if isinstance(i, str) else next(iter(i)) for i in raw.get("intents", []))


def offered_payloads(results: Iterable[dict[str, Any] | None]) -> set[str]:
    """The payloads of the buttons in these stored results."""
    offered = set()
    for result in results:
        for reply in (result or {}).get("replies") or []:
            for button in reply.get("buttons") or []:
                payload = button.get("payload") if isinstance(button, dict) else None
                if isinstance(payload, str):
                    offered.add(payload)
    return offered


def screen(text: str, offered: set[str]) -> str:
    """`text` as Rasa may receive it."""
    if not text.startswith(INTENT_PREFIX) or text in offered:
        return text
    bare = _BARE_INTENT.match(text)
    if bare and bare.group(1) in domain_intents():
        return text
    return AS_TEXT_PREFIX + text[len(INTENT_PREFIX) :]
