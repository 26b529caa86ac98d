"""Purges personal data past its retention period (run daily from cron):
`python -m bot.store.retention` (`make purge`).

Closed or handed-back cases older than CASE_RETENTION_DAYS lose their
transcript, messages, entities and the resident's channel id; their category,
street, outcome, timings and history stay for the bureau's statistics.
Residents' messages in the gateway store older than the same period lose
their text and replies, held replies are deleted, and legal-aid
applications keep only their outcome.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from bot.store.handoff_cases import CLOSED, RETURNED
from bot.store.migrate import open_engine, run_tool, upgrade
from bot.store.models import HandoffCase, HandoffMessage, HeldReply, InboundMessage, LegalAidApplication

PURGED_TEXT = "[已按保存期限清除]"


@dataclass(frozen=True)
class Purged:
    cases: int
    messages: int
    held: int
    applications: int = 0


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
    removed = cast("CursorResult[Any]", messages).rowcount, cast("CursorResult[Any]", held).rowcount
    return Purged(len(old), removed[0] or 0, removed[1] or 0, len(applications))


async def _main() -> Purged:
    from settings import get_settings

    settings = get_settings()
    engine = open_engine(settings)
    try:
        await upgrade(engine)
        return await purge(engine, settings.case_retention_days)
    finally:
        await engine.dispose()


if __name__ == "__main__":
    done = run_tool(_main())
    print(
        f"purged: {done.cases} cases, {done.messages} resident messages, {done.held} held replies, "
        f"{done.applications} legal-aid applications"
    )
    sys.exit(0)
