"""The input channel the gateway speaks (runs inside the Rasa server; credentials.yml).

Rasa's REST channel answers with the bot's messages only, so the gateway used
to ask for the tracker afterwards to learn the intent, category and entities.
Profiled under load (`make bench`, py-spy), that second call was a fifth of
Rasa's CPU: every call replays the conversation's events from the tracker
store. This channel parses the message once, hands the parse to Rasa with
the message (Rasa then does not parse it again) and answers with both:
``{"messages": [...], "parse": {...}}`` at ``POST /webhooks/gateway/webhook``,
with ``"unreachable_actions": [...]`` when an action could not reach the action
server (nlu/action_outages.py).
Before the parse it awaits the message's e5 vector from the action server
(nlu/components/question_classifier.py ``prefetch``): Rasa's graph runs inside
its event loop, and a blocking fetch there held every other conversation.

Rasa's token (``RASA_AUTH_TOKEN``, the one its HTTP API checks) guards the
channel too, as ``Authorization: Bearer …``: Rasa's own channels check none,
and a message taken from anyone lets them speak as any resident (answer the
legal-aid form as them, read their answers back).
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from nlu.action_outages import watching
from nlu.cached_tracker_store import TrackerConflict
from nlu.components.question_classifier import close_prefetch, prefetch
from nlu.idempotent_turns import SEEN_BEFORE, TurnInProgress


class GatewayInput(RestInput):
    @classmethod
    def name(cls) -> str:
        return "gateway"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("gateway_webhook", __name__)

        @webhook.listener("after_server_stop")
        async def close(app: Any, loop: Any) -> None:
            await close_prefetch()

        @webhook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if not authorised(request.headers.get("authorization", "")):
                return response.json({"error": "unauthorised"}, status=401)
            sender_id = await self._extract_sender(request)
            text = self._extract_message(request)
            if not isinstance(sender_id, str) or not isinstance(text, str):
                return response.json({"error": "sender and message are required"}, status=400)
            agent = request.app.ctx.agent
            body = request.json if isinstance(request.json, dict) else {}
            message_id = body.get("message_id") if isinstance(body.get("message_id"), str) else None
            metadata = dict(self.get_metadata(request) or {})
            if message_id and body.get("seen_before") is True:
                metadata[SEEN_BEFORE] = True  # nlu/idempotent_turns.py: answered already? then again, not anew
            await prefetch(text)
            parse = await agent.parse_message(text)
            collector = CollectingOutputChannel()
            try:
                with watching() as unreachable:
                    await on_new_message(
                        UserMessage(
                            text,
                            collector,
                            sender_id,
                            parse_data=parse,
                            input_channel=self.name(),
                            message_id=message_id,
                            metadata=metadata or None,
                        )
                    )
            except TurnInProgress:
                # another turn is taking this very message: the gateway keeps it and asks again
                return response.json({"error": "message being answered"}, status=409)
            except TrackerConflict:
                # another turn wrote this conversation meanwhile: nothing saved, kept, asked again
                return response.json({"error": "conversation changed during the turn"}, status=409)
            answer: dict[str, Any] = {"messages": collector.messages, "parse": parse}
            if unreachable:  # nlu/action_outages.py: an outage, not a bug; the gateway keeps the message
                answer["unreachable_actions"] = unreachable
            return response.json(answer)

        return webhook


def authorised(header: str) -> bool:
    """Whether `header` carries Rasa's token; no token configured refuses everything."""
    token = os.environ.get("RASA_AUTH_TOKEN", "")
    return bool(token) and hmac.compare_digest(header.encode(), f"Bearer {token}".encode())
