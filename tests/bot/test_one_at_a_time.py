"""One gateway at a time (bot/core/one_at_a_time.py) on the real PostgreSQL: two contenders,
one holds; the holder cancelled, the other takes over; the holder's connection cut by the
server, it stops before anyone else starts."""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
from sqlalchemy.ext.asyncio import create_async_engine

from bot.core.one_at_a_time import OneAtATime
from tests.helpers.stack import PG


def test_one_contender_holds_and_the_other_follows_when_it_stops_or_loses_its_connection(database: str) -> None:
    async def scenario() -> None:
        engines = [create_async_engine(f"postgresql+asyncpg://postgres@127.0.0.1:5432/{database}") for _ in "ab"]
        events: list[tuple[str, int]] = []
        running: set[int] = set()
        overlaps: list[tuple[int, set[int]]] = []  # a start while another held: must stay empty

        def work(number: int):  # type: ignore[no-untyped-def]
            async def start() -> None:
                if running:
                    overlaps.append((number, set(running)))
                running.add(number)
                events.append(("start", number))

            async def stop() -> None:
                running.discard(number)
                events.append(("stop", number))

            return start, stop

        holders = [OneAtATime(engine, "test work", check_s=0.2) for engine in engines]
        tasks = [asyncio.create_task(h.run_forever(*work(i))) for i, h in enumerate(holders)]
        try:
            await asyncio.sleep(1.5)
            assert len(running) == 1 and len(events) == 1, events
            (first,) = running
            other = 1 - first

            # the holder's connection ended by the server (a database restart, a network cut)
            admin = await asyncpg.connect(f"{PG}/{database}")
            try:
                # the only advisory lock in this throwaway database
                holder_pid = await admin.fetchval(
                    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
                    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                )
                assert holder_pid is not None
                await admin.execute("SELECT pg_terminate_backend($1)", holder_pid)
            finally:
                await admin.close()
            await asyncio.sleep(1.5)
            assert ("stop", first) in events, events
            assert len(running) == 1, events  # one of the two holds again

            # the holder stops (its gateway shut down): the other follows
            holder = next(iter(running))
            tasks[holder].cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await tasks[holder]
            await asyncio.sleep(1.5)
            assert running == {1 - holder}, events
            assert events[-1] == ("start", 1 - holder), events
            assert other in {n for kind, n in events if kind == "start"}
            assert overlaps == [], (overlaps, events)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for engine in engines:
                await engine.dispose()

    asyncio.run(scenario())
