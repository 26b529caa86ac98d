"""Read-only views of a conversation that several actions need."""

from __future__ import annotations

from rasa_sdk import Tracker

NOT_ACTIONS = {"action_listen", "action_session_start", "action_unlikely_intent"}


def earlier_user_texts(tracker: Tracker) -> list[str]:
    """What the resident wrote before this message, newest first (button payloads left out)."""
    texts = [e.get("text") or "" for e in tracker.events if e.get("event") == "user"]
    return [t for t in reversed(texts[:-1]) if t and not t.startswith("/")]


def previous_bot_action(tracker: Tracker) -> str | None:
    """The last action the assistant took before the resident's latest message."""
    seen_latest_user = False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            if seen_latest_user:
                continue
            seen_latest_user = True
            continue
        if seen_latest_user and event.get("event") == "action" and event.get("name") not in NOT_ACTIONS:
            return event.get("name")
    return None
