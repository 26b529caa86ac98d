"""#15: with several gateways on one database, a message is sent to Rasa by one of them
only. Before, each gateway's retry worker took every pending message, including one
another gateway was delivering that moment, and Rasa took it twice."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from bot.core.rasa_client import RasaClient, rasa_sender
from bot.store.messages import ANSWERED, MessageStore


def test_a_claimed_message_is_no_other_gateways_until_released_or_expired(tmp_path) -> None:
    async def scenario() -> None:
        url = f"sqlite+aiosqlite:///{tmp_path / 'g.db'}"
        a, b = MessageStore(url), MessageStore(url)
        await a.open()
        try:
            stored, _ = await a.add("r1", "房东不退押金", False, lease_s=30, owner="gw-a")
            assert stored.leased and (await b.get(stored.public_id)).leased
            assert await b.claim(stored.public_id, 30, "gw-b") is None  # gateway A is sending it
            again = await a.claim(stored.public_id, 30, "gw-a")  # its own claim, renewed
            assert again is not None and again.attempts == 1  # one earlier attempt: Rasa may have it
            await a.release(stored.public_id)  # Rasa was down: free for any gateway
            taken = await b.claim(stored.public_id, 0.2, "gw-b")
            assert taken is not None and taken.attempts == 2
            assert await a.claim(stored.public_id, 30, "gw-a") is None
            await asyncio.sleep(0.3)  # gateway B died with it: its claim runs out
            assert await a.claim(stored.public_id, 30, "gw-a") is not None
            await a.finish(stored.public_id, ANSWERED, {"replies": [{"text": "first"}]})
            await b.finish(stored.public_id, ANSWERED, {"replies": [{"text": "second"}]})  # too late
            done = await b.get(stored.public_id)
            assert done.status == ANSWERED and done.result == {"replies": [{"text": "first"}]} and not done.leased
            assert await b.claim(stored.public_id, 30, "gw-b") is None  # answered: nobody takes it
        finally:
            await a.close()
            await b.close()

    asyncio.run(scenario())


def test_a_gateway_renews_only_its_own_claims_on_pending_messages(tmp_path) -> None:
    async def scenario() -> None:
        store = MessageStore(f"sqlite+aiosqlite:///{tmp_path / 'g.db'}")
        await store.open()
        try:
            mine, _ = await store.add("r1", "房东不退押金", False, lease_s=1, owner="gw-a")
            done, _ = await store.add("r2", "谢谢", False, lease_s=1, owner="gw-a")
            await store.finish(done.public_id, ANSWERED, {"replies": []})
            theirs, _ = await store.add("r3", "工资", False, lease_s=1, owner="gw-b")
            ids = [mine.public_id, done.public_id, theirs.public_id]
            assert await store.renew(ids, 60, "gw-a") == 1  # its pending claim only
            await asyncio.sleep(1.1)
            assert (await store.get(mine.public_id)).leased
            assert not (await store.get(theirs.public_id)).leased  # gw-b's ran out: gw-b died
            assert await store.claim(theirs.public_id, 60, "gw-a") is not None
            assert await store.renew(ids, 60, "gw-b") == 0  # no longer gw-b's to renew
            assert await store.renew([], 60, "gw-a") == 0
        finally:
            await store.close()

    asyncio.run(scenario())


def test_a_gateway_started_again_gives_back_only_its_earlier_runs_claims(tmp_path) -> None:
    """Owners are an instance's hash then a run: a new run of instance "a1" frees the claims
    a dead run of it left, not its own, not another instance's, not a finished message's."""

    async def scenario() -> None:
        store = MessageStore(f"sqlite+aiosqlite:///{tmp_path / 'g.db'}")
        await store.open()
        try:
            dead, _ = await store.add("r1", "房东不退押金", False, lease_s=60, owner="a1" + "0" * 30)
            done, _ = await store.add("r2", "谢谢", False, lease_s=60, owner="a1" + "0" * 30)
            await store.finish(done.public_id, ANSWERED, {"replies": []})
            mine, _ = await store.add("r3", "工资", False, lease_s=60, owner="a1" + "1" * 30)
            other, _ = await store.add("r4", "电梯", False, lease_s=60, owner="b2" + "0" * 30)
            assert await store.release_earlier("a1", "a1" + "1" * 30) == 1
            assert not (await store.get(dead.public_id)).leased  # any gateway may deliver it now
            assert (await store.get(mine.public_id)).leased and (await store.get(other.public_id)).leased
            assert (await store.get(done.public_id)).status == ANSWERED
            assert await store.release_earlier("a1", "a1" + "1" * 30) == 0
        finally:
            await store.close()

    asyncio.run(scenario())


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_one_key_is_one_message_whichever_gateway_stores_it_first(engine: str, tmp_path, request) -> None:
    """Eight requests with one Idempotency-Key on eight gateways' stores at once (a resident's
    page sending again while the first is still on its way): one message is kept, and every
    request gets that one; the same key of another resident is another message."""
    if engine == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'g.db'}"
    else:
        url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{request.getfixturevalue('database')}"

    async def scenario() -> None:
        stores = [MessageStore(url) for _ in range(8)]
        await stores[0].open()
        try:
            key = "k" * 32
            added = await asyncio.gather(
                *(s.add("r1", "房东不退押金", False, 30, f"gw-{i}", client_key=key) for i, s in enumerate(stores))
            )
            assert sorted(fresh for _, fresh in added) == [False] * 7 + [True]
            assert len({stored.public_id for stored, _ in added}) == 1
            other, fresh = await stores[0].add("r2", "房东不退押金", False, client_key=key)
            assert fresh and other.public_id != added[0][0].public_id
            assert [m.public_id for m in await stores[0].history("r1")] == [added[0][0].public_id]
        finally:
            for s in stores:
                await s.close()

    asyncio.run(scenario())


def test_rasa_answers_a_message_it_took_before_from_its_tracker(stack) -> None:
    """A gateway that died after Rasa answered leaves the message pending; the next
    attempt must get the same answer without Rasa taking the message a second time."""
    settings = stack.settings
    resident, message_id = f"dup-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex

    async def turns() -> tuple:
        client = RasaClient(settings.rasa_base_url, 30, settings.action_base_url, settings.rasa_token())
        try:
            first = await client.send(resident, "房东不退押金怎么办", message_id=message_id)
            again = await client.send(resident, "房东不退押金怎么办", message_id=message_id, seen_before=True)
            other = await client.send(resident, "谢谢", message_id=uuid.uuid4().hex, seen_before=True)
            return first, again, other
        finally:
            await client.close()

    first, again, other = asyncio.run(turns())
    assert first.replies and again.replies == first.replies
    assert (again.intent, again.category) == (first.intent, first.category)
    assert other.intent == "thank"  # never taken before: taken now
    tracker = httpx.get(
        f"{settings.rasa_base_url}/conversations/{rasa_sender(resident)}/tracker",
        params={"token": settings.rasa_token()},
        timeout=30,
    ).json()
    users = [e for e in tracker["events"] if e["event"] == "user"]
    assert [e.get("message_id") for e in users].count(message_id) == 1
    assert len(users) == 2
