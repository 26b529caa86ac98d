"""How many Rasa turns one gateway asks for at once, and how long a resident's message waits
for one before it is kept (load shedding, #15).

Without it, past capacity every message went straight to Rasa and shared its CPU with all
the others: all of them slowed down together (at 40 messages a second on one 2-core machine,
p50 5.6 s and p95 8.8 to 13.4 s, growing for as long as the rush lasts) until Rasa's timeout
kept them anyway, and the requests piled up in Rasa's memory. With the gate, the gateway
sends at most GATEWAY_MAX_TURNS turns at once and the others wait in arrival order; a message
that found no turn within GATEWAY_TURN_WAIT_S is kept, as when Rasa is down (503 with its
id, answered in order by the retry worker once turns are free), and the messages let
through are answered at Rasa's own pace. What the gate bounds is the wait for a turn, not
what comes before it: at 80 messages a second on one 2-core machine (README, "Past
capacity") p95 fell from 17.7 to 8.9 s, not to 3 s, because HTTP, tokens and storing ran on
cores Rasa and the action server had saturated.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class GatewayBusy(Exception):
    """No turn came free before the message's deadline: keep it for the retry worker."""


class TurnGate:
    def __init__(self, limit: int, wait_s: float) -> None:
        if limit < 1:
            raise ValueError("GATEWAY_MAX_TURNS must be at least 1")
        self.limit = limit
        self.wait_s = wait_s
        self._slots = asyncio.Semaphore(limit)
        self.waiting = 0  # messages waiting for a turn now
        self.shed = 0  # messages kept since start because no turn came in time

    def deadline(self) -> float:
        """Until when (the event loop's clock) a message arriving now may wait for its turn."""
        return asyncio.get_running_loop().time() + self.wait_s

    @asynccontextmanager
    async def turn(self, deadline: float | None) -> AsyncIterator[None]:
        """One of the gateway's turns for as long as the block runs. Waits in arrival order,
        until `deadline` (then GatewayBusy), or with None as long as it takes (the retry
        worker: its messages are kept already, and it asks for one turn at a time)."""
        self.waiting += 1
        try:
            if deadline is None:
                await self._slots.acquire()
            else:
                try:
                    async with asyncio.timeout_at(deadline):
                        await self._slots.acquire()
                except TimeoutError:
                    self.shed += 1
                    raise GatewayBusy(f"no turn in {self.wait_s:g} s ({self.limit} in flight)") from None
        finally:
            self.waiting -= 1
        try:
            yield
        finally:
            self._slots.release()
