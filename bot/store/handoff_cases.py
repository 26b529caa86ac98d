"""The case store: residents handed to a person, what they and the mediator
said, every status change, and an audit log of staff views and actions.

Claiming is one conditional UPDATE (status must still be `waiting`), so two
mediators can never both hold a case, on SQLite or PostgreSQL alike.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from bot.store.handoff_messages import HandoffMessages
from bot.store.handoff_reports import HandoffReports
from bot.store.models import HandoffCase, HandoffCaseEvent

WAITING, CLAIMED, CLOSED, RETURNED = "waiting", "claimed", "closed", "returned"
OPEN = (WAITING, CLAIMED)
OUTCOMES = ("调解成功", "调解未成功", "转仲裁", "转法律援助", "转诉讼", "已解答", "其他")


@dataclass(frozen=True)
class HandoffCaseView:
    id: int
    public_id: str
    resident_id: str
    channel: str
    status: str
    reason: str
    category: str | None
    intent: str | None
    street: str | None
    summary: dict[str, Any]
    assigned_to: int | None
    outcome: str | None
    created_at: float
    claimed_at: float | None
    closed_at: float | None

    @classmethod
    def of(cls, row: HandoffCase) -> HandoffCaseView:
        return cls(
            row.id,
            row.public_id,
            row.resident_id,
            row.channel,
            row.status,
            row.reason,
            row.category,
            row.intent,
            row.street,
            row.summary,
            row.assigned_to,
            row.outcome,
            row.created_at,
            row.claimed_at,
            row.closed_at,
        )


class HandoffCaseStore(HandoffMessages, HandoffReports):
    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def open_case_of(self, resident_id: str) -> HandoffCaseView | None:
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(HandoffCase)
                    .where(HandoffCase.resident_id == resident_id, HandoffCase.status.in_(OPEN))
                    .order_by(HandoffCase.id.desc())
                    .limit(1)
                )
            ).scalar_one_or_none()
            return HandoffCaseView.of(row) if row else None

    async def create(
        self,
        resident_id: str,
        reason: str,
        summary: dict[str, Any],
        channel: str = "api",
        category: str | None = None,
        intent: str | None = None,
        street: str | None = None,
    ) -> HandoffCaseView:
        now = time.time()
        row = HandoffCase(
            public_id=uuid.uuid4().hex,
            resident_id=resident_id,
            channel=channel,
            status=WAITING,
            reason=reason,
            category=category,
            intent=intent,
            street=street,
            summary=summary,
            created_at=now,
            updated_at=now,
        )
        async with self._sessions.begin() as session:
            session.add(row)
            await session.flush()
            session.add(
                HandoffCaseEvent(
                    case_id=row.id, from_status=None, to_status=WAITING, actor="resident", note=reason, at=now
                )
            )
        return HandoffCaseView.of(row)

    async def number_of(self, public_id: str) -> int | None:
        """The row behind a case's public id: URLs carry the unguessable one, the
        store and its audit log the row number."""
        async with self._sessions() as session:
            return (
                await session.execute(select(HandoffCase.id).where(HandoffCase.public_id == public_id))
            ).scalar_one_or_none()

    async def get(self, case_id: int) -> HandoffCaseView | None:
        async with self._sessions() as session:
            row = await session.get(HandoffCase, case_id)
            return HandoffCaseView.of(row) if row else None

    async def queue_position(self, case: HandoffCaseView) -> int:
        """1 for the first waiting case, counting only cases still waiting."""
        async with self._sessions() as session:
            ahead = (
                await session.execute(
                    select(func.count())
                    .select_from(HandoffCase)
                    .where(
                        HandoffCase.status == WAITING,
                        HandoffCase.created_at <= case.created_at,
                        HandoffCase.id <= case.id,
                    )
                )
            ).scalar_one()
            return int(ahead)

    async def queue(self, category: str | None = None, street: str | None = None) -> list[HandoffCaseView]:
        query = select(HandoffCase).where(HandoffCase.status == WAITING)
        if category:
            query = query.where(HandoffCase.category == category)
        if street:
            query = query.where(HandoffCase.street == street)
        async with self._sessions() as session:
            rows = (await session.execute(query.order_by(HandoffCase.created_at, HandoffCase.id))).scalars()
            return [HandoffCaseView.of(r) for r in rows]

    async def overdue(self, older_than_s: float) -> list[HandoffCaseView]:
        """Waiting cases nobody claimed for `older_than_s` whose resident has not been told yet."""
        limit = time.time() - older_than_s
        async with self._sessions.begin() as session:
            rows = list(
                (
                    await session.execute(
                        select(HandoffCase)
                        .where(
                            HandoffCase.status == WAITING,
                            HandoffCase.created_at <= limit,
                            HandoffCase.wait_notice_at.is_(None),
                        )
                        .with_for_update(skip_locked=True)  # several gateways: each case is told once
                    )
                ).scalars()
            )
            for row in rows:
                row.wait_notice_at = time.time()
            return [HandoffCaseView.of(r) for r in rows]

    async def assigned_to(self, staff_id: int) -> list[HandoffCaseView]:
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(HandoffCase)
                    .where(HandoffCase.assigned_to == staff_id, HandoffCase.status == CLAIMED)
                    .order_by(HandoffCase.claimed_at)
                )
            ).scalars()
            return [HandoffCaseView.of(r) for r in rows]

    async def _transition(
        self, case_id: int, allowed: tuple[str, ...], to: str, actor: str, note: str | None = None, **values: Any
    ) -> bool:
        """Move a case only if it is in one of `allowed`; False when someone else got there first."""
        now = time.time()
        async with self._sessions.begin() as session:
            current = (
                await session.execute(select(HandoffCase.status).where(HandoffCase.id == case_id))
            ).scalar_one_or_none()
            result = await session.execute(
                update(HandoffCase)
                .where(HandoffCase.id == case_id, HandoffCase.status.in_(allowed))
                .values(status=to, updated_at=now, **values)
            )
            if cast("CursorResult[Any]", result).rowcount != 1:
                return False
            session.add(
                HandoffCaseEvent(case_id=case_id, from_status=current, to_status=to, actor=actor, note=note, at=now)
            )
            return True

    async def claim(self, case_id: int, staff_id: int, actor: str) -> bool:
        return await self._transition(case_id, (WAITING,), CLAIMED, actor, assigned_to=staff_id, claimed_at=time.time())

    async def return_to_bot(self, case_id: int, actor: str) -> bool:
        return await self._transition(case_id, OPEN, RETURNED, actor, closed_at=time.time())

    async def close(self, case_id: int, actor: str, outcome: str) -> bool:
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}")
        return await self._transition(
            case_id, (CLAIMED,), CLOSED, actor, note=outcome, outcome=outcome, closed_at=time.time()
        )
