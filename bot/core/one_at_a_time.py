"""Work only one of several gateways may do at a time, such as polling Telegram for updates.

Telegram answers two concurrent `getUpdates` with a 409 for the older one, and two pollers
that fetch the same update before either confirms it would both answer it: the resident
would read every reply twice. Gateways that share PostgreSQL elect one holder with a session
advisory lock. PostgreSQL releases it the moment the holder's connection ends, so a gateway
that dies is followed by another within `check_s`; a holder whose connection breaks stops
the work at its next check. On SQLite there is one gateway (`make run`), which just does it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.errors import STORE_DOWN

log = logging.getLogger(__name__)


def lock_key(name: str) -> int:
    """The advisory lock's 64-bit key for `name` (PostgreSQL's keys are signed bigints)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


class OneAtATime:
    def __init__(self, engine: AsyncEngine, name: str, check_s: float = 2.0) -> None:
        self.engine = engine
        self.name = name
        self.key = lock_key(name)
        self.check_s = check_s  # how often a waiting gateway asks, and the holder checks it still holds

    async def run_forever(self, start: Callable[[], Awaitable[None]], stop: Callable[[], Awaitable[None]]) -> None:
        """Call `start` when this process becomes the holder and `stop` when it no longer is
        (its connection lost, `start` failed, or this task cancelled at shutdown); until
        cancelled, asking again every `check_s` after each turn."""
        while True:
            try:
                if self.engine.dialect.name == "postgresql":
                    await self._hold_while_possible(start, stop)
                else:  # one gateway: it just does it
                    await self._hold(start, stop, None)
            except STORE_DOWN as exc:
                log.warning("%s: database unavailable (%s); asking again", self.name, type(exc).__name__)
            except Exception as exc:  # e.g. Telegram out of reach at start: try again
                log.warning("%s stopped (%s); asking again", self.name, type(exc).__name__)
            await asyncio.sleep(self.check_s)

    async def _hold_while_possible(
        self, start: Callable[[], Awaitable[None]], stop: Callable[[], Awaitable[None]]
    ) -> None:
        async with self.engine.connect() as connection:
            try:
                asked = await connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key})
                if asked.scalar():
                    log.info("%s: this gateway does it now", self.name)
                    await self._hold(start, stop, connection)
            finally:
                # never back into the pool holding (or maybe holding) the lock: closed, it is released
                await connection.invalidate()

    async def _hold(
        self,
        start: Callable[[], Awaitable[None]],
        stop: Callable[[], Awaitable[None]],
        connection: AsyncConnection | None,
    ) -> None:
        """The work from `start` to `stop`, for as long as `connection` (the lock's) answers."""
        try:
            await start()
            while True:  # a broken connection means the lock is gone: stop at once
                await asyncio.sleep(self.check_s)
                if connection is not None:
                    await connection.execute(text("SELECT 1"))
        finally:
            await stop()
