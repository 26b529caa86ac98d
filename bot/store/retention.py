"""Purges personal data past its retention period (run daily from cron):
`python -m bot.store.retention` (`make purge`).

Closed or handed-back cases older than CASE_RETENTION_DAYS lose their
transcript, messages, entities and the resident's channel id; their category,
street, outcome, timings and history stay for the bureau's statistics.
Residents' messages in the gateway store older than the same period lose
their text and replies, held replies are deleted, and legal-aid
applications keep only their outcome, and deadline reminders already sent or
cancelled (or whose deadline has passed) and drafted applications are deleted. Rasa's tracker store holds the same
texts (every turn of every conversation): its events older than the period
are deleted.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, delete, inspect, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from bot.store.handoff_cases import CLOSED, RETURNED
from bot.store.migrate import open_engine, run_tool, upgrade
from bot.store.models import (
    DeadlineReminder,
    HandoffCase,
    HandoffMessage,
    HeldReply,
    InboundMessage,
    LegalAidApplication,
    ResidentDraft,
)
from bot.store.reminders import PENDING, today_in_beijing
from settings import Settings

PURGED_TEXT = "[已按保存期限清除]"


@dataclass(frozen=True)
class Purged:
    cases: int
    messages: int
    held: int
    applications: int = 0
    tracker_events: int = 0
    reminders: int = 0
    drafts: int = 0


async def purge(engine: AsyncEngine, retention_days: float, now: float | None = None) -> Purged:
    limit = (now or time.time()) - retention_days * 86400
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    async with sessions.begin() as session:
        old = list(
            (
                await session.execute(
                    select(HandoffCase).where(
                        HandoffCase.status.in_((CLOSED, RETURNED)),
                        HandoffCase.closed_at <= limit,
                        HandoffCase.purged_at.is_(None),
                    )
                )
            ).scalars()
        )
        for case in old:
            keep = {k: case.summary.get(k) for k in ("reason", "category", "intent", "topic", "street")}
            case.summary = {**keep, "purged": True}
            case.resident_id = f"purged-{case.id}"
            case.purged_at = time.time()
        if old:
            await session.execute(
                update(HandoffMessage).where(HandoffMessage.case_id.in_([c.id for c in old])).values(text=PURGED_TEXT)
            )
        messages = await session.execute(
            update(InboundMessage)
            .where(InboundMessage.created_at <= limit, InboundMessage.text != PURGED_TEXT)
            .values(text=PURGED_TEXT, result=None)
        )
        held = await session.execute(delete(HeldReply).where(HeldReply.created_at <= limit))
        applications = list(
            (
                await session.execute(
                    select(LegalAidApplication).where(
                        LegalAidApplication.created_at <= limit, LegalAidApplication.purged_at.is_(None)
                    )
                )
            ).scalars()
        )
        for application in applications:
            application.record = {"outcome": application.outcome, "purged": True}
            application.resident_id = f"purged-{application.id}"
            application.purged_at = time.time()
        # a pending reminder is kept until it is sent: the resident asked for it, and it is
        # due within a year and a month of being asked; one past its deadline is no use
        reminders = await session.execute(
            delete(DeadlineReminder).where(
                ((DeadlineReminder.status != PENDING) & (DeadlineReminder.created_at <= limit))
                | (DeadlineReminder.last_day < today_in_beijing(now or time.time()).isoformat())
            )
        )
        drafts = await session.execute(delete(ResidentDraft).where(ResidentDraft.created_at <= limit))
    removed = cast("CursorResult[Any]", messages).rowcount, cast("CursorResult[Any]", held).rowcount
    return Purged(
        len(old),
        removed[0] or 0,
        removed[1] or 0,
        len(applications),
        reminders=cast("CursorResult[Any]", reminders).rowcount or 0,
        drafts=cast("CursorResult[Any]", drafts).rowcount or 0,
    )


async def purge_trackers(url: str, retention_days: float, now: float | None = None) -> int:
    """Rasa's events (SQL tracker store, table `events`) older than the period, deleted; a
    store Rasa has not created yet has none."""
    limit = (now or time.time()) - retention_days * 86400
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            if not await connection.run_sync(lambda sync: inspect(sync).has_table("events")):
                return 0
            deleted = await connection.execute(text("DELETE FROM events WHERE timestamp <= :limit"), {"limit": limit})
            return cast("CursorResult[Any]", deleted).rowcount or 0
    finally:
        await engine.dispose()


async def purge_all(settings: Settings, now: float | None = None) -> Purged:
    """Both stores: the gateway's (its schema upgraded first) and Rasa's trackers."""
    engine = open_engine(settings)
    try:
        await upgrade(engine)
        done = await purge(engine, settings.case_retention_days, now)
    finally:
        await engine.dispose()
    events = await purge_trackers(settings.tracker_database_url, settings.case_retention_days, now)
    return dataclasses.replace(done, tracker_events=events)


async def _main() -> Purged:
    from settings import get_settings

    return await purge_all(get_settings())


if __name__ == "__main__":
    done = run_tool(_main())
    print(
        f"purged: {done.cases} cases, {done.messages} resident messages, {done.held} held replies, "
        f"{done.applications} legal-aid applications, {done.tracker_events} Rasa tracker events"
    )
    sys.exit(0)
