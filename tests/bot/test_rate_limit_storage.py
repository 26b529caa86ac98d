"""The gateway's in-memory rate-limit counts: the same budgets as limits' own
storage, expired entries still dropped, and the library's per-key thread pass
(which burned a core with thousands of residents alive) never started."""

from __future__ import annotations

import asyncio
import time

from limits import parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter

from bot.core.rate_limit_storage import SweptMemoryStorage


def test_every_budget_is_decided_as_by_the_library() -> None:
    item = parse("3/second")

    async def answers(storage: MemoryStorage) -> list[bool]:
        limiter = MovingWindowRateLimiter(storage)
        said = [await limiter.hit(item, "resident", name) for name in ("a", "a", "b", "a", "a", "b")]
        await asyncio.sleep(1.1)  # the window has moved past every hit
        said += [await limiter.hit(item, "resident", "a") for _ in range(4)]
        stats = await limiter.get_window_stats(item, "resident", "a")
        return [*said, stats.remaining == 0]

    async def both() -> tuple[list[bool], list[bool]]:
        return await answers(MemoryStorage()), await answers(SweptMemoryStorage(sweep_s=0.05))

    library, swept = asyncio.run(both())
    assert swept == library == [True, True, True, True, False, True, True, True, True, False, True]


def test_expired_entries_are_swept_without_the_library_pass() -> None:
    item = parse("5 per 2 seconds")

    async def until(moment: float) -> None:
        await asyncio.sleep(max(0.0, moment - time.time()))

    async def scenario() -> SweptMemoryStorage:
        storage = SweptMemoryStorage(sweep_s=0.3)
        limiter = MovingWindowRateLimiter(storage)
        for i in range(500):  # residents who wrote once and left
            await limiter.hit(item, "resident", f"r{i}")
        for _ in range(3):
            await limiter.hit(item, "resident", "stays")
        first = time.time()  # every hit so far expires by first + 2 s
        await until(first + 1.0)
        for _ in range(2):  # alive until at least first + 3 s
            await limiter.hit(item, "resident", "stays")
        await until(first + 2.2)
        await limiter.hit(parse("5/minute"), "resident", "new")  # a hit after the next sweep is due
        return storage

    storage = asyncio.run(scenario())
    assert storage.timer is None, "limits' own expiry pass ran: its private hook was renamed?"
    kept = {key.split("/")[2]: len(entries) for key, entries in storage.events.items()}
    assert kept == {"stays": 2, "new": 1}
    assert len(storage.locks) <= 2


def test_a_sweep_is_spaced_by_its_own_length() -> None:
    storage = SweptMemoryStorage(sweep_s=0.0)
    for i in range(20_000):
        storage.events[f"k{i}"] = []
    now = time.time()
    asyncio.run(storage._MemoryStorage__schedule_expiry())
    assert storage.events == {}
    assert storage.next_sweep > now  # never again on the very next hit, however short sweep_s
