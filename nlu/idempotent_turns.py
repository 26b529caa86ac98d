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

Rasa's lock is not enough on its own. Rasa's ticket lifetime (60 s) ran from when it
was drawn, waiting included: after Redis was cut, tickets whose turns could not give
them back stayed until they expired, the next ones waited most of their lifetime away,
and a turn still running when its ticket expired no longer held the lock. A copy of the
message sent meanwhile (its gateway gave up waiting) then found no answer in the
tracker and took it a second time (tests/ops/test_cluster.py, twice in one run).
Tickets are leases renewed while their turn lives now (nlu/atomic_lock_store.py), but
a renewal can fail while Redis is away. So each take of a message id is also claimed
once, atomically (Redis SET NX beside Rasa's lock, or this process's memory with the
in-memory lock store): a second take while one runs fails (the channel answers 409),
the gateway keeps the message, and its next try finds the answer. A take that gave no
reply gives its claim back; one whose Rasa died mid-turn holds it for TAKE_TTL_S.
Installed by nlu/rasa_server.py.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

SEEN_BEFORE = "seen_before"
TAKE_TTL_S = 60  # a take whose Rasa died mid-turn (or that could not give its claim back while
# Redis was away) keeps its message waiting this long; a turn that is still running then (it
# is not renewed) may be taken again
_taken_here: dict[str, float] = {}  # message id → until when, with the in-memory lock store


class TurnInProgress(RuntimeError):
    """Another turn is taking this message now: the gateway keeps it and tries again."""


def claim_take(lock_store: Any, message_id: str) -> bool:
    """Whether this turn may take `message_id`: True for the first claim until it is
    given back or TAKE_TTL_S pass. Shared by every Rasa through the Redis lock store."""
    red = getattr(lock_store, "red", None)
    if red is not None:
        return bool(red.set(f"{lock_store.key_prefix}taken:{message_id}", 1, nx=True, ex=TAKE_TTL_S))
    now = time.monotonic()
    for expired in [m for m, until in _taken_here.items() if until < now]:
        del _taken_here[expired]
    if message_id in _taken_here:
        return False
    _taken_here[message_id] = now + TAKE_TTL_S
    return True


def give_back(lock_store: Any, message_id: str) -> None:
    red = getattr(lock_store, "red", None)
    if red is not None:
        red.delete(f"{lock_store.key_prefix}taken:{message_id}")
    else:
        _taken_here.pop(message_id, None)


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
        # every UserMessage has an id (Rasa draws one where the channel sent none)
        if not claim_take(self.lock_store, message.message_id):
            raise TurnInProgress(f"message {message.message_id} is being taken by another turn")
        try:
            result = await original(self, message)
        except BaseException:
            # the turn's own error is the one to report; a claim not given back runs out
            with contextlib.suppress(Exception):
                give_back(self.lock_store, message.message_id)
            raise
        if not result:  # no reply (an action failed): it may be taken again
            give_back(self.lock_store, message.message_id)
        return result

    MessageProcessor.handle_message = handle_message
