"""Deadline reminders: stored when a resident asks for them, taken once when due
(however many gateways run), cancelled by one word, purged with the rest.

A reminder is due at 09:00 Beijing time on its day (30 and 7 days before the
last day); one whose day has already passed when it is asked for is not
stored, and one whose day is today is due at once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from datetime import time as clock_time
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from bot.store.models import DeadlineReminder
from knowledge_base.chinese_numerals import chinese_date

BEIJING = timezone(timedelta(hours=8))
REMIND_AT = clock_time(9, 0)
DAYS_BEFORE = (30, 7)
PENDING, SENDING, SENT, CANCELLED, UNDELIVERABLE = "pending", "sending", "sent", "cancelled", "undeliverable"


@dataclass(frozen=True)
class Reminder:
    id: int
    user_id: str
    kind: str
    title: str
    last_day: date
    days_before: int
    due_at: float

    @classmethod
    def of(cls, row: DeadlineReminder) -> Reminder:
        return cls(
            row.id, row.user_id, row.kind, row.title, date.fromisoformat(row.last_day), row.days_before, row.due_at
        )

    def day_text(self) -> str:
        return chinese_date(self.last_day)

    def text(self) -> str:
        return (
            f"【期限提醒】{self.title}是{self.day_text()}，还有{self.days_before}天。"
            "请尽快准备材料、提出申请；需要帮助可以找调解员或申请法律援助，也可以拨打12348。"
            "（这是您设的提醒；回复「退订」不再提醒。）"
        )


def today_in_beijing(now: float) -> date:
    return datetime.fromtimestamp(now, BEIJING).date()


def due_at(day: date, now: float) -> float | None:
    """When the reminder for `day` is sent: 09:00 that day; now if `day` is today; never if past."""
    today = today_in_beijing(now)
    if day < today:
        return None
    if day == today:
        return now
    return datetime.combine(day, REMIND_AT, BEIJING).timestamp()


class ReminderStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def add(self, user_id: str, kind: str, title: str, last_day: date, now: float | None = None) -> list[date]:
        """The days it will remind on (none: every one has passed). Asking again for the
        same deadline replaces its earlier reminders, so nobody is reminded twice."""
        now = time.time() if now is None else now
        days = [(last_day - timedelta(days=n), n) for n in DAYS_BEFORE]
        async with self._sessions() as session:
            await session.execute(
                delete(DeadlineReminder).where(
                    DeadlineReminder.user_id == user_id,
                    DeadlineReminder.kind == kind,
                    DeadlineReminder.last_day == last_day.isoformat(),
                    DeadlineReminder.status == PENDING,
                )
            )
            kept = []
            for day, before in days:
                when = due_at(day, now)
                if when is None:
                    continue
                kept.append(day)
                session.add(
                    DeadlineReminder(
                        user_id=user_id,
                        kind=kind,
                        title=title,
                        last_day=last_day.isoformat(),
                        days_before=before,
                        due_at=when,
                        status=PENDING,
                        created_at=now,
                    )
                )
            await session.commit()
        return kept

    async def cancel_all(self, user_id: str) -> int:
        async with self._sessions() as session:
            done = await session.execute(
                update(DeadlineReminder)
                .where(DeadlineReminder.user_id == user_id, DeadlineReminder.status == PENDING)
                .values(status=CANCELLED)
            )
            await session.commit()
        return int(cast("CursorResult[Any]", done).rowcount or 0)

    async def pending(self, user_id: str) -> list[Reminder]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(DeadlineReminder)
                .where(DeadlineReminder.user_id == user_id, DeadlineReminder.status == PENDING)
                .order_by(DeadlineReminder.due_at)
            )
            return [Reminder.of(r) for r in rows]

    async def take_due(
        self, prefix: str = "", now: float | None = None, limit: int = 50, user_id: str | None = None
    ) -> list[Reminder]:
        """Due reminders of residents whose id starts with `prefix` (tg:) or of one
        resident, each taken by exactly one caller (pending → sending in one
        conditional update, so two gateways never send the same one)."""
        now = time.time() if now is None else now
        taken = []
        whose = (
            DeadlineReminder.user_id == user_id if user_id is not None else DeadlineReminder.user_id.startswith(prefix)
        )
        async with self._sessions() as session:
            rows = await session.scalars(
                select(DeadlineReminder)
                .where(DeadlineReminder.status == PENDING, DeadlineReminder.due_at <= now, whose)
                .order_by(DeadlineReminder.due_at)
                .limit(limit)
            )
            found = list(rows)
            if not found:  # the usual case, asked on every web and API message: no write to commit
                return []
            for row in found:
                claimed = await session.execute(
                    update(DeadlineReminder)
                    .where(DeadlineReminder.id == row.id, DeadlineReminder.status == PENDING)
                    .values(status=SENDING)
                )
                if cast("CursorResult[Any]", claimed).rowcount:
                    taken.append(Reminder.of(row))
            await session.commit()
        return taken

    async def sent(self, reminder_id: int, now: float | None = None) -> None:
        await self._set(reminder_id, SENT, time.time() if now is None else now)

    async def give_up(self, reminder_id: int) -> None:
        """The channel refused for good (a WeChat resident who did not subscribe)."""
        await self._set(reminder_id, UNDELIVERABLE, None)

    async def put_back(self, reminder_id: int) -> None:
        """The channel failed: the next round tries again."""
        await self._set(reminder_id, PENDING, None)

    async def _set(self, reminder_id: int, status: str, sent_at: float | None) -> None:
        async with self._sessions() as session:
            await session.execute(
                update(DeadlineReminder)
                .where(DeadlineReminder.id == reminder_id)
                .values(status=status, sent_at=sent_at)
            )
            await session.commit()
