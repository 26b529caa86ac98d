"""Drafts of a resident's application (bot/web/drafts.py renders them): stored from
the action server's custom message, fetched by the signed link the resident got."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from bot.store.models import ResidentDraft
from bot.web.drafts import KINDS


@dataclass(frozen=True)
class Draft:
    public_id: str
    user_id: str
    kind: str
    record: dict[str, Any]
    created_at: float


class DraftStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def create(self, user_id: str, record: dict[str, Any]) -> Draft:
        kind = str(record.get("kind"))
        if kind not in KINDS:
            raise ValueError(f"unknown draft kind {kind!r}")
        row = ResidentDraft(
            public_id=uuid.uuid4().hex, user_id=user_id, kind=kind, record=record, created_at=time.time()
        )
        async with self._sessions() as session:
            session.add(row)
            await session.commit()
        return Draft(row.public_id, user_id, kind, record, row.created_at)

    async def get(self, public_id: str) -> Draft | None:
        async with self._sessions() as session:
            row = await session.scalar(select(ResidentDraft).where(ResidentDraft.public_id == public_id))
            return Draft(row.public_id, row.user_id, row.kind, row.record, row.created_at) if row else None
