"""The gateway's record of every resident message, so that none is lost.

A message is written before it is sent to Rasa and marked answered only when
Rasa replied; while Rasa is unreachable it stays ``pending`` and the retry
worker sends it later, in order. SQLite by default, PostgreSQL by URL
(SQLAlchemy async).
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, event, make_url, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from bot.store.migrate import upgrade
from bot.store.models import HeldReply, InboundMessage

PENDING = "pending"
ANSWERED = "answered"
UNANSWERED = "unanswered"  # Rasa answered with nothing: kept for a person to follow up
HELD = "held"  # a reply failed the citation guard: the resident was told, staff review it
HANDED_OFF = "handed_off"  # went to the resident's open case (a mediator), not to Rasa


@dataclass(frozen=True)
class StoredMessage:
    public_id: str
    user_id: str
    text: str
    truncated: bool
    status: str
    attempts: int
    result: dict[str, Any] | None
    created_at: float = 0.0
    lease_until: float | None = None

    @property
    def leased(self) -> bool:
        """Whether a gateway is delivering it now (its claim has not run out)."""
        return self.lease_until is not None and self.lease_until >= time.time()

    @classmethod
    def of(cls, row: InboundMessage) -> StoredMessage:
        return cls(
            row.public_id,
            row.user_id,
            row.text,
            row.truncated,
            row.status,
            row.attempts,
            row.result,
            row.created_at,
            row.lease_until,
        )


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    """Write-ahead log: one fsync per commit instead of several, and readers
    (polls, the console) no longer wait for writers; synchronous stays FULL,
    so an answered message survives a power cut. Waits for a lock instead of
    failing at once when the retry worker and a request write together."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


class MessageStore:
    def __init__(self, url: str) -> None:
        # pre-ping: after a database outage, stale pooled connections are replaced, not handed
        # out; a SQLite file has no server to lose, and the ping was one more statement per session
        sqlite = make_url(url).get_backend_name() == "sqlite"
        self.engine: AsyncEngine = create_async_engine(url, pool_pre_ping=not sqlite)
        if sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    async def open(self) -> None:
        """Create or upgrade the schema (Alembic migrations in bot/store/migrations)."""
        await upgrade(self.engine)

    async def close(self) -> None:
        await self.engine.dispose()

    async def add(
        self,
        user_id: str,
        text: str,
        truncated: bool,
        lease_s: float = 0.0,
        owner: str | None = None,
        client_key: str | None = None,
    ) -> tuple[StoredMessage, bool]:
        """The message kept, and whether this call kept it. With `lease_s`, claimed at once by
        `owner`, the gateway that will send it (an attempt counted), so that no other gateway's
        retry worker takes it meanwhile. With `client_key` (the resident's Idempotency-Key) the
        message the resident sent with it before is returned instead, untouched. The insert
        comes first and the unique index refuses a second one (no read before it: a message
        sent again is rare, a fresh one is every message), which also decides between two
        requests with one key on two gateways."""
        now = time.time()
        row = InboundMessage(
            public_id=uuid.uuid4().hex,
            user_id=user_id,
            text=text,
            truncated=truncated,
            status=PENDING,
            attempts=1 if lease_s else 0,
            result=None,
            created_at=now,
            updated_at=now,
            lease_until=now + lease_s if lease_s else None,
            lease_owner=owner if lease_s else None,
            client_key=client_key,
        )
        try:
            async with self._sessions.begin() as session:
                session.add(row)
        except IntegrityError:
            earlier = await self.by_client_key(user_id, client_key) if client_key is not None else None
            if earlier is None:
                raise
            return earlier, False
        return StoredMessage.of(row), True

    async def by_client_key(self, user_id: str, client_key: str) -> StoredMessage | None:
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(InboundMessage).where(
                        InboundMessage.user_id == user_id, InboundMessage.client_key == client_key
                    )
                )
            ).scalar_one_or_none()
            return StoredMessage.of(row) if row else None

    async def claim(self, public_id: str, lease_s: float, owner: str) -> StoredMessage | None:
        """The message, taken for delivery by gateway `owner` for `lease_s` seconds; None when
        it is no longer pending or another gateway holds it. The row update is the arbiter
        between gateways on one database; within one, its per-resident lock orders requests."""
        now = time.time()
        async with self._sessions.begin() as session:
            row = (
                await session.execute(
                    update(InboundMessage)
                    .where(
                        InboundMessage.public_id == public_id,
                        InboundMessage.status == PENDING,
                        or_(
                            InboundMessage.lease_until.is_(None),
                            InboundMessage.lease_until < now,
                            InboundMessage.lease_owner == owner,
                        ),
                    )
                    .values(
                        lease_until=now + lease_s,
                        lease_owner=owner,
                        attempts=InboundMessage.attempts + 1,
                        updated_at=now,
                    )
                    .returning(InboundMessage)
                )
            ).scalar_one_or_none()
            if row is None:
                return None
            claimed = StoredMessage.of(row)
        # attempts as before this claim: more than none means Rasa may have seen the message
        return dataclasses.replace(claimed, attempts=claimed.attempts - 1)

    async def renew(self, public_ids: list[str], lease_s: float, owner: str) -> int:
        """Extend `owner`'s claims on `public_ids` by `lease_s` from now; how many it still held.
        A gateway renews the claims it is delivering, so a claim can be short and a dead
        gateway's runs out soon (bot/core/conversation.py)."""
        if not public_ids:
            return 0
        now = time.time()
        async with self._sessions.begin() as session:
            renewed = await session.execute(
                update(InboundMessage)
                .where(
                    InboundMessage.public_id.in_(public_ids),
                    InboundMessage.status == PENDING,
                    InboundMessage.lease_owner == owner,
                )
                .values(lease_until=now + lease_s)
            )
        return cast("CursorResult[Any]", renewed).rowcount or 0

    async def release_earlier(self, instance: str, owner: str) -> int:
        """Give back the claims still held by an earlier run of gateway `instance` (owners that
        begin with it, other than `owner`, this run): that process is gone, since only one
        process at a time can serve the instance's address. How many were given back."""
        now = time.time()
        async with self._sessions.begin() as session:
            released = await session.execute(
                update(InboundMessage)
                .where(
                    InboundMessage.status == PENDING,
                    InboundMessage.lease_until >= now,
                    InboundMessage.lease_owner.startswith(instance, autoescape=True),
                    InboundMessage.lease_owner != owner,
                )
                .values(lease_until=None, lease_owner=None, updated_at=now)
            )
        return cast("CursorResult[Any]", released).rowcount or 0

    async def release(self, public_id: str) -> None:
        """Give a claimed message back (Rasa could not be reached): any gateway may retry it."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(InboundMessage)
                .where(InboundMessage.public_id == public_id, InboundMessage.status == PENDING)
                .values(lease_until=None, lease_owner=None, updated_at=time.time())
            )

    async def finish(self, public_id: str, status: str, result: dict[str, Any]) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(InboundMessage)
                .where(InboundMessage.public_id == public_id, InboundMessage.status == PENDING)
                .values(status=status, result=result, updated_at=time.time(), lease_until=None, lease_owner=None)
            )

    async def hold(self, message_id: str, user_id: str, replies: list[dict[str, Any]]) -> None:
        now = time.time()
        async with self._sessions.begin() as session:
            for reply in replies:
                reasons = reply.get("blocked_because", [])
                kept = {k: v for k, v in reply.items() if k != "blocked_because"}
                session.add(
                    HeldReply(message_id=message_id, user_id=user_id, reply=kept, reasons=reasons, created_at=now)
                )

    async def held(self, message_id: str | None = None) -> list[dict[str, Any]]:
        query = select(HeldReply).order_by(HeldReply.id)
        if message_id is not None:
            query = query.where(HeldReply.message_id == message_id)
        async with self._sessions() as session:
            rows = (await session.execute(query)).scalars()
            return [{"message_id": r.message_id, "reply": r.reply, "reasons": r.reasons} for r in rows]

    async def get(self, public_id: str) -> StoredMessage | None:
        async with self._sessions() as session:
            row = (
                await session.execute(select(InboundMessage).where(InboundMessage.public_id == public_id))
            ).scalar_one_or_none()
            return StoredMessage.of(row) if row else None

    async def pending(self, user_id: str | None = None, limit: int = 100) -> list[StoredMessage]:
        """Pending messages, oldest first (the order residents sent them), those another
        gateway is delivering now included: a resident's later message waits for them."""
        query = select(InboundMessage).where(InboundMessage.status == PENDING)
        if user_id is not None:
            query = query.where(InboundMessage.user_id == user_id)
        async with self._sessions() as session:
            rows = (await session.execute(query.order_by(InboundMessage.seq).limit(limit))).scalars()
            return [StoredMessage.of(r) for r in rows]

    async def history(self, user_id: str, limit: int = 50) -> list[StoredMessage]:
        """The resident's latest messages with the replies they got, oldest first (a case's transcript)."""
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(InboundMessage)
                    .where(InboundMessage.user_id == user_id)
                    .order_by(InboundMessage.seq.desc())
                    .limit(limit)
                )
            ).scalars()
            return [StoredMessage.of(r) for r in reversed(list(rows))]
