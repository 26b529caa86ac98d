"""The gateway's in-memory rate-limit counts (RATE_LIMIT_STORAGE=memory://, the
one-machine default): limits' own asyncio storage, with its expiry replaced.

Why: limits 5.8.0 starts a pass over every key after each hit, and hands each
key's entries to a thread of its own (`asyncio.to_thread`), one key after the
other; the pass runs again as soon as it ends while hits keep coming. The cost
grows with the residents and addresses seen in the last window, not with the
traffic: at 20 hits a second, more than half a core with 1,000 keys alive and up to
93 % with 10,000 (README, Privacy and security), most of a core of a 2-core gateway taken
from the residents once a few thousand of them wrote within the hour. Here the
expired entries are swept in one pass on the event loop (about a microsecond a
key, no thread), at most once every `sweep_s` (longer where the keys are so many
that a sweep would take more than a fiftieth of the time): entries outlive their
window by that much, and every budget is decided exactly as before (moving windows,
the library's own code).
"""

from __future__ import annotations

import bisect
import time

from limits.aio.storage import MemoryStorage

SWEEP_S = 1.0
# a sweep waits at least this many times its own length after it: however many keys
# are alive, the sweeps take at most about 1/50 of the event loop
SWEEP_SPACING = 50


class SweptMemoryStorage(MemoryStorage):
    def __init__(self, sweep_s: float = SWEEP_S) -> None:
        super().__init__()
        self.sweep_s = sweep_s
        self.next_sweep = time.time() + sweep_s

    # limits calls its private `__schedule_expiry` before every hit; the name it has
    # outside its class is this one (pinned limits==5.8.0; the test that the library's
    # own pass never starts fails if a release renames it)
    async def _MemoryStorage__schedule_expiry(self) -> None:
        now = time.time()
        if now >= self.next_sweep:
            began = time.perf_counter()
            self.sweep(now)
            self.next_sweep = now + max(self.sweep_s, SWEEP_SPACING * (time.perf_counter() - began))

    def sweep(self, now: float) -> None:
        """Drop what has expired. Runs between two awaits, and no hit awaits while it
        holds a key's lock, so no hit sees a key half swept."""
        for key, entries in list(self.events.items()):
            # newest first: most keys are wholly alive or wholly expired
            if not entries or entries[0].expiry <= now:
                del self.events[key]
                self.locks.pop(key, None)
            elif entries[-1].expiry <= now:
                self.events[key] = entries[: bisect.bisect_left(entries, -now, key=lambda entry: -entry.expiry)]
        for key, expires in list(self.expirations.items()):
            if expires <= now:
                self.storage.pop(key, None)
                del self.expirations[key]
                self.locks.pop(key, None)
