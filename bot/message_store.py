"""The gateway's record of every resident message, so that none is lost.

A message is written before it is sent to Rasa and marked answered only when
Rasa replied; while Rasa is unreachable it stays ``pending`` and the retry
worker sends it later, in order. SQLite by default, PostgreSQL by URL
(SQLAlchemy async).
"""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any, Optional

from sqlalchemy import JSON, Float, Integer, String, Text, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

PENDING = "pending"
ANSWERED = "answered"
UNANSWERED = "unanswered"  # Rasa answered with nothing: kept for a person to follow up
HELD = "held"              # a reply failed the citation guard: the resident was told, staff review it


class Base(DeclarativeBase):
    pass


class InboundMessage(Base):
    __tablename__ = "inbound_messages"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, index=True)
    user_id: Mapped[str] = mapped_column(String(128), index=True)
    text: Mapped[str] = mapped_column(Text)
    truncated: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(16), index=True, default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON, nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)


class HeldReply(Base):
    """A reply the citation guard stopped: kept for staff, never shown to the resident."""

    __tablename__ = "held_replies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(32), index=True)
    user_id: Mapped[str] = mapped_column(String(128), index=True)
    reply: Mapped[dict[str, Any]] = mapped_column(JSON)
    reasons: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[float] = mapped_column(Float)


@dataclass(frozen=True)
class StoredMessage:
    public_id: str
    user_id: str
    text: str
    truncated: bool
    status: str
    attempts: int
    result: Optional[dict[str, Any]]

    @classmethod
    def of(cls, row: InboundMessage) -> "StoredMessage":
        return cls(row.public_id, row.user_id, row.text, row.truncated, row.status, row.attempts, row.result)


class MessageStore:
    def __init__(self, url: str) -> None:
        self.engine: AsyncEngine = create_async_engine(url)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    async def open(self) -> None:
        async with self.engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)

    async def close(self) -> None:
        await self.engine.dispose()

    async def add(self, user_id: str, text: str, truncated: bool) -> StoredMessage:
        now = time.time()
        row = InboundMessage(
            public_id=uuid.uuid4().hex, user_id=user_id, text=text, truncated=truncated,
            status=PENDING, attempts=0, result=None, created_at=now, updated_at=now,
        )
        async with self._sessions.begin() as session:
            session.add(row)
        return StoredMessage.of(row)

    async def finish(self, public_id: str, status: str, result: dict[str, Any]) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(InboundMessage)
                .where(InboundMessage.public_id == public_id)
                .values(status=status, result=result, updated_at=time.time(),
                        attempts=InboundMessage.attempts + 1)
            )

    async def hold(self, message_id: str, user_id: str, replies: list[dict[str, Any]]) -> None:
        now = time.time()
        async with self._sessions.begin() as session:
            for reply in replies:
                reasons = reply.get("blocked_because", [])
                kept = {k: v for k, v in reply.items() if k != "blocked_because"}
                session.add(HeldReply(message_id=message_id, user_id=user_id, reply=kept,
                                      reasons=reasons, created_at=now))

    async def held(self, message_id: Optional[str] = None) -> list[dict[str, Any]]:
        query = select(HeldReply).order_by(HeldReply.id)
        if message_id is not None:
            query = query.where(HeldReply.message_id == message_id)
        async with self._sessions() as session:
            rows = (await session.execute(query)).scalars()
            return [{"message_id": r.message_id, "reply": r.reply, "reasons": r.reasons} for r in rows]

    async def note_attempt(self, public_id: str) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(InboundMessage)
                .where(InboundMessage.public_id == public_id)
                .values(attempts=InboundMessage.attempts + 1, updated_at=time.time())
            )

    async def get(self, public_id: str) -> Optional[StoredMessage]:
        async with self._sessions() as session:
            row = (
                await session.execute(select(InboundMessage).where(InboundMessage.public_id == public_id))
            ).scalar_one_or_none()
            return StoredMessage.of(row) if row else None

    async def pending(self, user_id: Optional[str] = None, limit: int = 100) -> list[StoredMessage]:
        """Pending messages, oldest first (the order residents sent them)."""
        query = select(InboundMessage).where(InboundMessage.status == PENDING)
        if user_id is not None:
            query = query.where(InboundMessage.user_id == user_id)
        async with self._sessions() as session:
            rows = (await session.execute(query.order_by(InboundMessage.seq).limit(limit))).scalars()
            return [StoredMessage.of(r) for r in rows]
