"""Hand-off cases seen from the bureau: each case's history, the audit log of every
view and action by staff, and the statistics of the admin page."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.store.models import AuditEntry, HandoffCase, HandoffCaseEvent


class HandoffReports:
    """The reporting part of HandoffCaseStore (bot/store/handoff_cases.py)."""

    _sessions: async_sessionmaker[AsyncSession]

    async def history(self, case_id: int) -> list[dict[str, Any]]:
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(HandoffCaseEvent).where(HandoffCaseEvent.case_id == case_id).order_by(HandoffCaseEvent.id)
                )
            ).scalars()
            return [
                {"from": r.from_status, "to": r.to_status, "actor": r.actor, "note": r.note, "at": r.at} for r in rows
            ]

    async def statistics(self, days: int = 30) -> dict[str, Any]:
        """For the admin page: counts by category, street, status and outcome, claim delays, cases per day."""
        since = time.time() - days * 86400
        async with self._sessions() as session:
            rows = list(
                (
                    await session.execute(
                        select(
                            HandoffCase.category,
                            HandoffCase.street,
                            HandoffCase.status,
                            HandoffCase.outcome,
                            HandoffCase.created_at,
                            HandoffCase.claimed_at,
                        ).where(HandoffCase.created_at >= since)
                    )
                ).all()
            )

        def count(values) -> dict[str, int]:
            counted: dict[str, int] = {}
            for value in values:
                counted[value or "未知"] = counted.get(value or "未知", 0) + 1
            return dict(sorted(counted.items(), key=lambda kv: -kv[1]))

        delays = sorted(r.claimed_at - r.created_at for r in rows if r.claimed_at)
        per_day = count(time.strftime("%Y-%m-%d", time.localtime(r.created_at)) for r in rows)
        return {
            "days": days,
            "cases": len(rows),
            "by_category": count(r.category for r in rows),
            "by_street": count(r.street for r in rows),
            "by_status": count(r.status for r in rows),
            "by_outcome": count(r.outcome for r in rows if r.outcome),
            "claim_delay_s": {
                "n": len(delays),
                "median": delays[len(delays) // 2] if delays else None,
                "max": delays[-1] if delays else None,
            },
            "per_day": dict(sorted(per_day.items())),
        }

    async def audit(
        self, staff_id: int | None, action: str, case_id: int | None = None, detail: dict[str, Any] | None = None
    ) -> None:
        async with self._sessions.begin() as session:
            session.add(AuditEntry(staff_id=staff_id, action=action, case_id=case_id, detail=detail, at=time.time()))

    async def audit_log(self, case_id: int | None = None) -> list[dict[str, Any]]:
        query = select(AuditEntry).order_by(AuditEntry.id)
        if case_id is not None:
            query = query.where(AuditEntry.case_id == case_id)
        async with self._sessions() as session:
            rows = (await session.execute(query)).scalars()
            return [
                {"staff_id": r.staff_id, "action": r.action, "case_id": r.case_id, "detail": r.detail, "at": r.at}
                for r in rows
            ]
