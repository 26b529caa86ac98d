"""A message Rasa already answered is answered again from its tracker, not taken twice.

The gateway sends each message with its id and, when an earlier attempt may have
reached Rasa (its gateway died, or gave up waiting), with ``seen_before`` in the
metadata (nlu/gateway_channel.py). Taking such a message again answers the
resident twice and moves the dialogue twice (a form's slot filled twice); found
with `tests/ops/test_cluster.py`: a gateway that gave up waiting on a lock a killed
Rasa left behind, while Rasa went on and answered after all.

The check runs inside Rasa's own lock on the conversation (``Agent.handle_message``
holds it around ``MessageProcessor.handle_message``, which is wrapped here), so it and
the turn it may skip are one step: an earlier attempt still in progress finishes first.
Only a turn that produced replies counts as answered: one whose action failed (the
action server down) gave the resident nothing, and is taken again, as before.
Installed by nlu/rasa_server.py.
"""

from __future__ import annotations

from typing import Any

SEEN_BEFORE = "seen_before"


def earlier_replies(events: list[Any], message_id: str) -> list[dict[str, Any]] | None:
    """The bot's messages after the user event of `message_id`, or None when Rasa never
    took it or its turn produced nothing."""
    from rasa.shared.core.events import BotUttered, UserUttered

    replies: list[dict[str, Any]] | None = None
    for event in events:
        if isinstance(event, UserUttered):
            if replies:
                break
            replies = [] if event.message_id == message_id else None
        elif replies is not None and isinstance(event, BotUttered):
            data = {key: value for key, value in (event.data or {}).items() if value is not None}
            replies.append({"text": event.text, **data})
    return replies or None


def install() -> None:
    from rasa.core.channels.channel import UserMessage
    from rasa.core.processor import MessageProcessor

    original = MessageProcessor.handle_message

    async def handle_message(self: MessageProcessor, message: UserMessage) -> Any:
        if message.message_id and (message.metadata or {}).get(SEEN_BEFORE) is True:
            tracker = await self.tracker_store.retrieve(message.sender_id)
            replies = earlier_replies(list(tracker.events), message.message_id) if tracker else None
            if replies is not None:
                for reply in replies:
                    await message.output_channel.send_response(message.sender_id, dict(reply))
                return None
        return await original(self, message)

    MessageProcessor.handle_message = handle_message
