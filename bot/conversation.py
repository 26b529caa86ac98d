"""The gateway core every channel uses: keep the message, ask Rasa, keep the answer.

Messages of one resident are handled one at a time and in the order they were
sent: a message that arrives while older ones are still pending (Rasa was
down) waits until those have been answered.
"""
from __future__ import annotations

import asyncio
import logging
import weakref
from dataclasses import dataclass
from typing import Any

from bot.citation_guard import CitationGuard
from bot.message_store import ANSWERED, HELD, PENDING, UNANSWERED, MessageStore, StoredMessage
from bot.rasa_client import RasaClient, RasaUnavailable

log = logging.getLogger(__name__)

TRUNCATION_NOTICE = "您的消息超过{limit}字，我只读取了前{limit}字。如果重要内容在后面，请分几次发送。"
NO_ANSWER_TEXT = "抱歉，系统暂时没能生成回答。您的消息已经保存，我们会尽快跟进；急事请拨打12348公共法律服务热线。"


@dataclass
class Outcome:
    message: StoredMessage
    result: dict[str, Any] | None  # None: Rasa unavailable, message kept


class Conversations:
    def __init__(self, store: MessageStore, rasa: RasaClient, max_chars: int, guard: CitationGuard) -> None:
        self.store = store
        self.rasa = rasa
        self.guard = guard
        self.max_chars = max_chars
        # one lock per resident with messages in flight; dropped when unused
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def _lock_for(self, user_id: str) -> asyncio.Lock:
        lock = self._locks.get(user_id)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[user_id] = lock
        return lock

    def prepare(self, text: str) -> tuple[str, bool]:
        """Normalise line endings and cut over-long text (with a notice later)."""
        text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
        if len(text) > self.max_chars:
            return text[: self.max_chars], True
        return text, False

    async def handle(self, user_id: str, text: str) -> Outcome:
        text, truncated = self.prepare(text)
        stored = await self.store.add(user_id, text, truncated)
        async with self._lock_for(user_id):
            current = await self.store.get(stored.public_id)
            if current is not None and current.status != PENDING:
                # a concurrent request of the same resident already delivered it in order
                return Outcome(current, current.result)
            for older in await self.store.pending(user_id):
                if older.public_id == stored.public_id:
                    break
                if await self._deliver(older) is None:
                    return Outcome(stored, None)
            return Outcome(stored, await self._deliver(stored))

    async def _deliver(self, message: StoredMessage) -> dict[str, Any] | None:
        try:
            turn = await self.rasa.send(message.user_id, message.text)
        except RasaUnavailable as exc:
            await self.store.note_attempt(message.public_id)
            log.warning("rasa unavailable, message %s kept (%s)", message.public_id, exc)
            return None
        result = turn.as_dict()
        result["replies"], blocked = self.guard.screen(result["replies"])
        if blocked:
            await self.store.hold(message.public_id, message.user_id, blocked)
        if message.truncated:
            result["replies"].insert(0, {"text": TRUNCATION_NOTICE.format(limit=self.max_chars), "buttons": []})
        status = ANSWERED
        if not turn.replies:
            status = UNANSWERED
            result["replies"].append({"text": NO_ANSWER_TEXT, "buttons": []})
        elif blocked:
            status = HELD
        result["truncated"] = message.truncated
        await self.store.finish(message.public_id, status, result)
        log.info("message %s %s intent=%s category=%s", message.public_id, status, turn.intent, turn.category)
        return result

    async def retry_pending(self) -> int:
        """Send kept messages, oldest first per resident; stop at the first failure."""
        if not await self.rasa.is_ready():
            return 0
        delivered = 0
        for message in await self.store.pending():
            async with self._lock_for(message.user_id):
                current = await self.store.get(message.public_id)
                if current is None or current.status != PENDING:
                    continue
                if await self._deliver(current) is None:
                    return delivered
                delivered += 1
        return delivered

    async def retry_forever(self, interval_s: float) -> None:
        while True:
            try:
                count = await self.retry_pending()
                if count:
                    log.info("delivered %d kept message(s)", count)
            except Exception:  # the worker must outlive any single bad round
                log.exception("retry round failed")
            await asyncio.sleep(interval_s)
