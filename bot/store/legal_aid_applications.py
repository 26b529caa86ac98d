"""Legal-aid applications: stored from the intake form, listed for staff with the
mobile masked (bot/web/application_documents.py prints one whole)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from bot.core.privacy import mask_personal_data
from bot.store.models import LegalAidApplication


@dataclass(frozen=True)
class Application:
    id: int
    public_id: str
    resident_id: str
    outcome: str
    category: str | None
    street: str | None
    record: dict[str, Any]
    created_at: float

    @classmethod
    def of(cls, row: LegalAidApplication) -> Application:
        return cls(
            row.id, row.public_id, row.resident_id, row.outcome, row.category, row.street, row.record, row.created_at
        )

    def listing(self) -> dict[str, Any]:
        """For lists: no description, phone masked."""
        return {
            "id": self.public_id,
            "number": self.id,
            "outcome": self.outcome,
            "category": self.category,
            "street": self.street,
            "applicant": self.record.get("applicant_name"),
            "phone": mask_personal_data(self.record.get("applicant_phone") or ""),
            "created_at": self.created_at,
        }


class ApplicationStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def create(self, resident_id: str, record: dict[str, Any]) -> Application:
        row = LegalAidApplication(
            public_id=uuid.uuid4().hex,
            resident_id=resident_id,
            outcome=str(record.get("outcome")),
            category=record.get("intake_category"),
            street=record.get("applicant_street"),
            record=record,
            created_at=time.time(),
        )
        async with self._sessions.begin() as session:
            session.add(row)
        return Application.of(row)

    async def get(self, public_id: str) -> Application | None:
        async with self._sessions() as session:
            row = (
                await session.execute(select(LegalAidApplication).where(LegalAidApplication.public_id == public_id))
            ).scalar_one_or_none()
            return Application.of(row) if row and row.purged_at is None else None

    async def recent(self, limit: int = 100) -> list[Application]:
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(LegalAidApplication)
                    .where(LegalAidApplication.purged_at.is_(None))
                    .order_by(LegalAidApplication.id.desc())
                    .limit(limit)
                )
            ).scalars()
            return [Application.of(r) for r in rows]
