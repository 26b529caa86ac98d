"""What a resident and the mediator say to each other in a hand-off case, and its
delivery to the resident's channel (each pushed once, even with several gateways:
rows are taken with FOR UPDATE SKIP LOCKED)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.store.models import HandoffCase, HandoffMessage


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


class HandoffMessages:
    """The messages part of HandoffCaseStore (bot/store/handoff_cases.py)."""

    _sessions: async_sessionmaker[AsyncSession]

    async def add_message(self, case_id: int, sender: str, text: str, staff_id: int | None = None) -> MessageView:
        row = HandoffMessage(case_id=case_id, sender=sender, text=text, staff_id=staff_id, created_at=time.time())
        async with self._sessions.begin() as session:
            session.add(row)
            await session.flush()
            await session.execute(
                update(HandoffCase).where(HandoffCase.id == case_id).values(updated_at=row.created_at)
            )
        return MessageView(row.id, row.case_id, row.sender, row.text, row.created_at)

    async def take_undelivered(self, channel: str, limit: int = 50) -> list[tuple[str, MessageView]]:
        """(resident id, message) for mediator and system messages not yet pushed to `channel`,
        marked delivered in the same transaction (SKIP LOCKED: several gateways push each once)."""
        now = time.time()
        async with self._sessions.begin() as session:
            rows = list(
                (
                    await session.execute(
                        select(HandoffMessage, HandoffCase.resident_id)
                        .join(HandoffCase, HandoffCase.id == HandoffMessage.case_id)
                        .where(
                            HandoffCase.channel == channel,
                            HandoffMessage.sender != "resident",
                            HandoffMessage.delivered_at.is_(None),
                        )
                        .order_by(HandoffMessage.id)
                        .limit(limit)
                        .with_for_update(skip_locked=True, of=HandoffMessage)
                    )
                ).all()
            )
            for message, _ in rows:
                message.delivered_at = now
            return [(resident, MessageView(m.id, m.case_id, m.sender, m.text, m.created_at)) for m, resident in rows]

    async def undeliver(self, message_id: int) -> None:
        """The push failed: leave it for the next round."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(HandoffMessage).where(HandoffMessage.id == message_id).values(delivered_at=None)
            )

    async def messages(self, case_id: int) -> list[MessageView]:
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(HandoffMessage).where(HandoffMessage.case_id == case_id).order_by(HandoffMessage.id)
                )
            ).scalars()
            return [MessageView(r.id, r.case_id, r.sender, r.text, r.created_at) for r in rows]

    async def messages_for_resident(self, resident_id: str, after: int = 0) -> list[MessageView]:
        """What mediators (and the system) said to this resident, after message id `after`."""
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(HandoffMessage)
                    .join(HandoffCase, HandoffCase.id == HandoffMessage.case_id)
                    .where(
                        HandoffCase.resident_id == resident_id,
                        HandoffMessage.sender != "resident",
                        HandoffMessage.id > after,
                    )
                    .order_by(HandoffMessage.id)
                )
            ).scalars()
            return [MessageView(r.id, r.case_id, r.sender, r.text, r.created_at) for r in rows]
