"""WeChat push replay protection kept in the gateway's database.

WeChat signs (token, timestamp, nonce), so a captured push can be sent again
with a valid signature. A push is processed only if its timestamp is within
REPLAY_WINDOW_S of now and its (timestamp, nonce) was not seen before; the
pairs seen are kept in the database for the window (they were in one
process's memory: lost on restart, not shared between gateways).
"""

from __future__ import annotations

import time

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from bot.store.models import PushNonce

REPLAY_WINDOW_S = 300


def fresh(timestamp: str, now: float | None = None) -> bool:
    """Whether a push's timestamp is a number within the window of now."""
    try:
        sent = int(timestamp)
    except (TypeError, ValueError):
        return False
    return abs((now if now is not None else time.time()) - sent) <= REPLAY_WINDOW_S


class PushNonces:
    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def first_time(self, timestamp: str, nonce: str) -> bool:
        """Record (timestamp, nonce); False when it was recorded before (a replay)."""
        now = time.time()
        async with self._sessions() as session:
            await session.execute(delete(PushNonce).where(PushNonce.seen_at < now - 2 * REPLAY_WINDOW_S))
            session.add(PushNonce(key=f"{timestamp}|{nonce}"[:160], seen_at=now))
            try:
                await session.commit()
            except IntegrityError:
                await session.rollback()
                return False
        return True
