"""The case store: residents handed to a person, what they and the mediator
said, every status change, and an audit log of staff views and actions.

Claiming is one conditional UPDATE (status must still be `waiting`), so two
mediators can never both hold a case, on SQLite or PostgreSQL alike.
"""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any, Optional

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from bot.store.models import AuditEntry, HandoffCase, HandoffCaseEvent, HandoffMessage

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
    category: Optional[str]
    intent: Optional[str]
    street: Optional[str]
    summary: dict[str, Any]
    assigned_to: Optional[int]
    outcome: Optional[str]
    created_at: float
    claimed_at: Optional[float]
    closed_at: Optional[float]

    @classmethod
    def of(cls, row: HandoffCase) -> "HandoffCaseView":
        return cls(row.id, row.public_id, row.resident_id, row.channel, row.status, row.reason, row.category,
                   row.intent, row.street, row.summary, row.assigned_to, row.outcome, row.created_at,
                   row.claimed_at, row.closed_at)


@dataclass(frozen=True)
class MessageView:
    id: int
    case_id: int
    sender: str
    text: str
    created_at: float

    def for_resident(self) -> dict[str, Any]:
        """How channels that poll show it to the resident."""
        return {"id": self.id, "from": self.sender, "text": self.text, "at": self.created_at}


class HandoffCaseStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def open_case_of(self, resident_id: str) -> Optional[HandoffCaseView]:
        async with self._sessions() as session:
            row = (await session.execute(
                select(HandoffCase).where(HandoffCase.resident_id == resident_id, HandoffCase.status.in_(OPEN))
                .order_by(HandoffCase.id.desc()).limit(1))).scalar_one_or_none()
            return HandoffCaseView.of(row) if row else None

    async def create(self, resident_id: str, reason: str, summary: dict[str, Any], channel: str = "api",
                     category: Optional[str] = None, intent: Optional[str] = None,
                     street: Optional[str] = None) -> HandoffCaseView:
        now = time.time()
        row = HandoffCase(public_id=uuid.uuid4().hex, resident_id=resident_id, channel=channel, status=WAITING,
                   reason=reason, category=category, intent=intent, street=street, summary=summary,
                   created_at=now, updated_at=now)
        async with self._sessions.begin() as session:
            session.add(row)
            await session.flush()
            session.add(HandoffCaseEvent(case_id=row.id, from_status=None, to_status=WAITING, actor="resident",
                                  note=reason, at=now))
        return HandoffCaseView.of(row)

    async def number_of(self, public_id: str) -> Optional[int]:
        """The row behind a case's public id: URLs carry the unguessable one, the
        store and its audit log the row number."""
        async with self._sessions() as session:
            return (await session.execute(select(HandoffCase.id).where(HandoffCase.public_id == public_id))).scalar_one_or_none()

    async def get(self, case_id: int) -> Optional[HandoffCaseView]:
        async with self._sessions() as session:
            row = await session.get(HandoffCase, case_id)
            return HandoffCaseView.of(row) if row else None

    async def queue_position(self, case: HandoffCaseView) -> int:
        """1 for the first waiting case, counting only cases still waiting."""
        async with self._sessions() as session:
            ahead = (await session.execute(select(func.count()).select_from(HandoffCase).where(
                HandoffCase.status == WAITING, HandoffCase.created_at <= case.created_at, HandoffCase.id <= case.id))).scalar_one()
            return int(ahead)

    async def queue(self, category: Optional[str] = None, street: Optional[str] = None) -> list[HandoffCaseView]:
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
            rows = list((await session.execute(
                select(HandoffCase).where(HandoffCase.status == WAITING, HandoffCase.created_at <= limit, HandoffCase.wait_notice_at.is_(None))
                .with_for_update(skip_locked=True)  # several gateways: each case is told once
            )).scalars())
            for row in rows:
                row.wait_notice_at = time.time()
            return [HandoffCaseView.of(r) for r in rows]

    async def assigned_to(self, staff_id: int) -> list[HandoffCaseView]:
        async with self._sessions() as session:
            rows = (await session.execute(select(HandoffCase).where(HandoffCase.assigned_to == staff_id, HandoffCase.status == CLAIMED)
                                          .order_by(HandoffCase.claimed_at))).scalars()
            return [HandoffCaseView.of(r) for r in rows]

    async def _transition(self, case_id: int, allowed: tuple[str, ...], to: str, actor: str,
                          note: Optional[str] = None, **values: Any) -> bool:
        """Move a case only if it is in one of `allowed`; False when someone else got there first."""
        now = time.time()
        async with self._sessions.begin() as session:
            current = (await session.execute(select(HandoffCase.status).where(HandoffCase.id == case_id))).scalar_one_or_none()
            result = await session.execute(
                update(HandoffCase).where(HandoffCase.id == case_id, HandoffCase.status.in_(allowed))
                .values(status=to, updated_at=now, **values))
            if result.rowcount != 1:
                return False
            session.add(HandoffCaseEvent(case_id=case_id, from_status=current, to_status=to, actor=actor,
                                  note=note, at=now))
            return True

    async def claim(self, case_id: int, staff_id: int, actor: str) -> bool:
        return await self._transition(case_id, (WAITING,), CLAIMED, actor, assigned_to=staff_id,
                                      claimed_at=time.time())

    async def return_to_bot(self, case_id: int, actor: str) -> bool:
        return await self._transition(case_id, OPEN, RETURNED, actor, closed_at=time.time())

    async def close(self, case_id: int, actor: str, outcome: str) -> bool:
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}")
        return await self._transition(case_id, (CLAIMED,), CLOSED, actor, note=outcome, outcome=outcome,
                                      closed_at=time.time())

    async def add_message(self, case_id: int, sender: str, text: str, staff_id: Optional[int] = None) -> MessageView:
        row = HandoffMessage(case_id=case_id, sender=sender, text=text, staff_id=staff_id, created_at=time.time())
        async with self._sessions.begin() as session:
            session.add(row)
            await session.flush()
            await session.execute(update(HandoffCase).where(HandoffCase.id == case_id).values(updated_at=row.created_at))
        return MessageView(row.id, row.case_id, row.sender, row.text, row.created_at)

    async def take_undelivered(self, channel: str, limit: int = 50) -> list[tuple[str, MessageView]]:
        """(resident id, message) for mediator and system messages not yet pushed to `channel`,
        marked delivered in the same transaction (SKIP LOCKED: several gateways push each once)."""
        now = time.time()
        async with self._sessions.begin() as session:
            rows = list((await session.execute(
                select(HandoffMessage, HandoffCase.resident_id).join(HandoffCase, HandoffCase.id == HandoffMessage.case_id)
                .where(HandoffCase.channel == channel, HandoffMessage.sender != "resident", HandoffMessage.delivered_at.is_(None))
                .order_by(HandoffMessage.id).limit(limit).with_for_update(skip_locked=True, of=HandoffMessage))).all())
            for message, _ in rows:
                message.delivered_at = now
            return [(resident, MessageView(m.id, m.case_id, m.sender, m.text, m.created_at)) for m, resident in rows]

    async def undeliver(self, message_id: int) -> None:
        """The push failed: leave it for the next round."""
        async with self._sessions.begin() as session:
            await session.execute(update(HandoffMessage).where(HandoffMessage.id == message_id).values(delivered_at=None))

    async def messages(self, case_id: int) -> list[MessageView]:
        async with self._sessions() as session:
            rows = (await session.execute(select(HandoffMessage).where(HandoffMessage.case_id == case_id)
                                          .order_by(HandoffMessage.id))).scalars()
            return [MessageView(r.id, r.case_id, r.sender, r.text, r.created_at) for r in rows]

    async def messages_for_resident(self, resident_id: str, after: int = 0) -> list[MessageView]:
        """What mediators (and the system) said to this resident, after message id `after`."""
        async with self._sessions() as session:
            rows = (await session.execute(
                select(HandoffMessage).join(HandoffCase, HandoffCase.id == HandoffMessage.case_id)
                .where(HandoffCase.resident_id == resident_id, HandoffMessage.sender != "resident", HandoffMessage.id > after)
                .order_by(HandoffMessage.id))).scalars()
            return [MessageView(r.id, r.case_id, r.sender, r.text, r.created_at) for r in rows]

    async def history(self, case_id: int) -> list[dict[str, Any]]:
        async with self._sessions() as session:
            rows = (await session.execute(select(HandoffCaseEvent).where(HandoffCaseEvent.case_id == case_id)
                                          .order_by(HandoffCaseEvent.id))).scalars()
            return [{"from": r.from_status, "to": r.to_status, "actor": r.actor, "note": r.note, "at": r.at}
                    for r in rows]

    async def statistics(self, days: int = 30) -> dict[str, Any]:
        """For the admin page: counts by category, street, status and outcome, claim delays, cases per day."""
        since = time.time() - days * 86400
        async with self._sessions() as session:
            rows = list((await session.execute(select(
                HandoffCase.category, HandoffCase.street, HandoffCase.status, HandoffCase.outcome, HandoffCase.created_at, HandoffCase.claimed_at)
                .where(HandoffCase.created_at >= since))).all())
        def count(values) -> dict[str, int]:
            counted: dict[str, int] = {}
            for value in values:
                counted[value or "未知"] = counted.get(value or "未知", 0) + 1
            return dict(sorted(counted.items(), key=lambda kv: -kv[1]))
        delays = sorted(r.claimed_at - r.created_at for r in rows if r.claimed_at)
        per_day = count(time.strftime("%Y-%m-%d", time.localtime(r.created_at)) for r in rows)
        return {
            "days": days, "cases": len(rows),
            "by_category": count(r.category for r in rows), "by_street": count(r.street for r in rows),
            "by_status": count(r.status for r in rows),
            "by_outcome": count(r.outcome for r in rows if r.outcome),
            "claim_delay_s": {"n": len(delays),
                              "median": delays[len(delays) // 2] if delays else None,
                              "max": delays[-1] if delays else None},
            "per_day": dict(sorted(per_day.items())),
        }

    async def audit(self, staff_id: Optional[int], action: str, case_id: Optional[int] = None,
                    detail: Optional[dict[str, Any]] = None) -> None:
        async with self._sessions.begin() as session:
            session.add(AuditEntry(staff_id=staff_id, action=action, case_id=case_id, detail=detail,
                                   at=time.time()))

    async def audit_log(self, case_id: Optional[int] = None) -> list[dict[str, Any]]:
        query = select(AuditEntry).order_by(AuditEntry.id)
        if case_id is not None:
            query = query.where(AuditEntry.case_id == case_id)
        async with self._sessions() as session:
            rows = (await session.execute(query)).scalars()
            return [{"staff_id": r.staff_id, "action": r.action, "case_id": r.case_id, "detail": r.detail,
                     "at": r.at} for r in rows]
