"""Asks the gateway to hand the resident to a mediator.

The action server cannot reach the gateway's case store (and should not: a
case belongs to the channel the resident is on), so it says so in the
conversation itself: a custom message {"handoff": {...}} with what the
mediator needs to know. The gateway opens the case from it, adds the
transcript it holds, and tells the resident their place in the queue.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

ENTITY_KINDS = ("money", "duration", "date", "employer", "platform", "street")


def mentioned_entities(tracker: Tracker) -> dict[str, list[str]]:
    """Every amount, duration, date, employer, platform and street the resident named."""
    found: dict[str, list[str]] = {}
    for event in tracker.events:
        if event.get("event") != "user":
            continue
        for entity in (event.get("parse_data") or {}).get("entities") or []:
            kind, value = entity.get("entity"), str(entity.get("value"))
            if kind in ENTITY_KINDS and value not in found.setdefault(kind, []):
                found[kind].append(value)
    return {k: v for k, v in found.items() if v}


def request_handoff(
    dispatcher: CollectingDispatcher, tracker: Tracker, reason: str, category: str | None = None
) -> None:
    intent = (tracker.latest_message.get("intent") or {}).get("name")
    summary: dict[str, Any] = {
        "reason": reason,
        "category": category or tracker.get_slot("dispute_category") or tracker.latest_message.get("category"),
        "intent": intent,
        "topic": tracker.get_slot("last_topic"),
        "street": tracker.get_slot("street"),
        "entities": mentioned_entities(tracker),
        "statutes_shown": tracker.get_slot("shown_articles") or [],
    }
    dispatcher.utter_message(json_message={"handoff": summary})
