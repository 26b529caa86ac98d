"""Talks to Rasa's REST channel and reads back what NLU made of the message."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

import httpx

from nlu.taxonomy import load as load_taxonomy

# Rasa's HTTP server does not percent-decode the conversation id in the tracker
# path, so the id Rasa knows a resident by must need no encoding: ids made of
# path-safe ASCII (channel prefixes like "tg:" included) are used as they are,
# any other id by a stable digest of it.
PATH_SAFE = ":@!$&'()*+,;=-._~"
_SAFE_ID = re.compile(r"^[A-Za-z0-9" + re.escape(PATH_SAFE) + r"]{1,128}$")


def rasa_sender(user_id: str) -> str:
    if _SAFE_ID.match(user_id):
        return user_id
    return "h-" + hashlib.sha256(user_id.encode("utf-8")).hexdigest()[:40]


class RasaUnavailable(Exception):
    """Rasa could not be reached or failed; the message must be kept and retried."""


@dataclass
class RasaTurn:
    replies: list[dict[str, Any]]
    intent: str
    category: str
    confidence: float
    entities: list[dict[str, Any]] = field(default_factory=list)
    # set when an action asked for a person (custom message {"handoff": {...}}); the gateway opens a case
    handoff: dict[str, Any] | None = None
    # set when the legal-aid intake was submitted (custom message {"intake": {...}}); the gateway stores it
    intake: dict[str, Any] | None = None
    # set when the resident asked to be reminded of a deadline ({"reminder": {...}}); the gateway keeps it
    reminder: dict[str, Any] | None = None
    # set when the resident asked for a drafted application ({"draft": {...}}); the gateway keeps it
    draft: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "replies": self.replies,
            "intent": self.intent,
            "category": self.category,
            "confidence": self.confidence,
            "entities": self.entities,
        }


def _reply(message: dict[str, Any]) -> dict[str, Any] | None:
    text = message.get("text")
    if not text:
        return None
    buttons = [
        {"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))} for b in message.get("buttons") or []
    ]
    return {"text": text, "buttons": buttons}


def _entities(parse: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"entity": e.get("entity"), "value": e.get("value"), "start": e.get("start"), "end": e.get("end")}
        for e in parse.get("entities") or []
    ]


class RasaClient:
    """Rasa's REST channel, and the action server's health behind it.

    Rasa answers 200 even when a custom action could not run (the action
    server down or killed mid-request): it logs the failure and goes on with no
    reply. A turn with no reply whose actions could not reach the action server
    (Rasa lists them: nlu/action_outages.py), or whose action server is down
    now, counts as not delivered: the message is kept and sent again once both
    are back (bot/core/conversation.py). The health check alone misjudged a
    cluster: behind the balancer a live instance answered for a dead one.
    """

    def __init__(self, base_url: str, timeout_s: float, action_url: str | None = None, token: str = "") -> None:
        self._http = httpx.AsyncClient(base_url=base_url, timeout=timeout_s)
        # Rasa's HTTP API (/status) and its input channel (nlu/gateway_channel.py) refuse
        # requests without it; the action server's health check must not carry it
        self._api_params = {"token": token} if token else {}
        self._channel_headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._action_health = f"{action_url.rstrip('/')}/health" if action_url else None

    async def close(self) -> None:
        await self._http.aclose()

    async def actions_ready(self) -> bool:
        if self._action_health is None:
            return True
        try:
            return (await self._http.get(self._action_health, timeout=2.0)).status_code == 200
        except httpx.HTTPError:
            return False

    async def is_ready(self) -> bool:
        try:
            response = await self._http.get("/status", params=self._api_params, timeout=2.0)
            rasa_up = response.status_code == 200 and bool(response.json().get("model_file"))
        except (httpx.HTTPError, ValueError):
            return False
        return rasa_up and await self.actions_ready()

    async def send(self, user_id: str, text: str, message_id: str | None = None, seen_before: bool = False) -> RasaTurn:
        """Rasa's turn for the message. `message_id` names it in Rasa's tracker; `seen_before`
        (an earlier attempt may have reached Rasa) makes Rasa answer from its tracker when it
        took the message already, instead of taking it twice."""
        sender = rasa_sender(user_id)
        payload: dict[str, Any] = {"sender": sender, "message": text}
        if message_id:
            payload["message_id"] = message_id
            payload["seen_before"] = seen_before
        try:
            # nlu/gateway_channel.py: the replies and the parse in one call
            response = await self._http.post("/webhooks/gateway/webhook", json=payload, headers=self._channel_headers)
            if response.status_code != 200:
                raise RasaUnavailable(f"webhook answered {response.status_code}")
            body = response.json()
            messages, parse = body.get("messages") or [], body.get("parse") or {}
            unreachable = body.get("unreachable_actions") or []
        except (httpx.HTTPError, ValueError, AttributeError) as exc:
            raise RasaUnavailable(type(exc).__name__) from exc
        taxonomy = load_taxonomy()
        intent_info = parse.get("intent") or {}
        intent = intent_info.get("name") or "nlu_fallback"
        category = parse.get("category") or taxonomy.resolve(intent, parse.get("intent_ranking") or [])
        replies = [r for r in (_reply(m) for m in messages if isinstance(m, dict)) if r]
        if not replies and unreachable:
            raise RasaUnavailable(f"no reply: {len(unreachable)} action(s) could not reach the action server")
        if not replies and not await self.actions_ready():
            raise RasaUnavailable("no reply and the action server is down")
        handoff, intake, reminder, draft = (
            next(
                (
                    m["custom"][key]
                    for m in messages
                    if isinstance(m, dict)
                    and isinstance(m.get("custom"), dict)
                    and isinstance(m["custom"].get(key), dict)
                ),
                None,
            )
            for key in ("handoff", "intake", "reminder", "draft")
        )
        return RasaTurn(
            replies=replies,
            intent=intent,
            category=category,
            confidence=float(intent_info.get("confidence") or 0.0),
            entities=_entities(parse),
            handoff=handoff,
            intake=intake,
            reminder=reminder,
            draft=draft,
        )
