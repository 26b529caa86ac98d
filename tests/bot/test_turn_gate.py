"""The gateway's turns (bot/core/turn_gate.py): at most `limit` at once, the rest served in
arrival order, and a message that waited past its deadline refused so that it can be kept."""

from __future__ import annotations

import asyncio

import pytest

from bot.core.turn_gate import GatewayBusy, TurnGate


def test_turns_past_the_limit_wait_in_arrival_order_and_one_past_its_deadline_is_refused() -> None:
    async def scenario() -> tuple[list[str], int, int, int]:
        gate = TurnGate(limit=2, wait_s=0.2)
        release = asyncio.Event()
        order: list[str] = []
        most = [0, 0]  # in a turn now, most at once

        async def message(name: str, deadline: float | None) -> None:
            async with gate.turn(deadline):
                most[0] += 1
                most[1] = max(most)
                order.append(name)
                await release.wait()
                most[0] -= 1

        holders = [asyncio.create_task(message(n, gate.deadline())) for n in ("a", "b")]
        await asyncio.sleep(0.01)
        waiters = [asyncio.create_task(message(n, None)) for n in ("c", "d")]  # the retry worker's kind
        late = asyncio.create_task(message("late", gate.deadline()))
        await asyncio.sleep(0.01)
        assert gate.waiting == 3
        with pytest.raises(GatewayBusy):
            await late
        release.set()
        await asyncio.gather(*holders, *waiters)
        return order, most[1], gate.shed, gate.waiting

    order, most, shed, waiting = asyncio.run(scenario())
    assert order == ["a", "b", "c", "d"]
    assert most == 2
    assert shed == 1 and waiting == 0


def test_a_refused_message_does_not_take_a_turn_from_the_next() -> None:
    """A waiter that gave up must leave the queue: the next one gets the freed turn at once."""

    async def scenario() -> float:
        gate = TurnGate(limit=1, wait_s=0.05)
        loop = asyncio.get_running_loop()
        async with gate.turn(None):
            with pytest.raises(GatewayBusy):
                async with gate.turn(gate.deadline()):
                    pass
        began = loop.time()
        async with gate.turn(loop.time() + 0.01):
            return loop.time() - began

    assert asyncio.run(scenario()) < 0.01


def test_a_gate_needs_at_least_one_turn() -> None:
    with pytest.raises(ValueError):
        TurnGate(limit=0, wait_s=1)
