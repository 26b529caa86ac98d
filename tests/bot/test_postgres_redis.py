"""The stack on the shared stores a deployment uses: Rasa's tracker and the
gateway's messages in PostgreSQL, Rasa's lock store in Redis (127.0.0.1)."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import httpx
import pytest

from ops.stack import Stack
from tests.helpers.stack import PG, ResidentAuth, stack_settings


async def _fetch(database: str, sql: str, *args: object) -> list:
    connection = await asyncpg.connect(f"{PG}/{database}")
    try:
        return await connection.fetch(sql, *args)
    finally:
        await connection.close()


@pytest.mark.redis
def test_stack_on_postgres_and_redis(database: str, tmp_path) -> None:
    settings = stack_settings(
        tmp_path,
        tracker_store_url=f"{PG}/{database}",
        lock_store_url="redis://127.0.0.1:6379/0",
        gateway_db_url=f"postgresql+asyncpg://postgres@127.0.0.1:5432/{database}",
    )
    with Stack(settings):
        resident = f"pg-{uuid.uuid4().hex[:8]}"
        body = httpx.post(
            f"http://127.0.0.1:{settings.gateway_port}/api/v1/messages",
            json={"user_id": resident, "text": "房东不退押金怎么办"},
            timeout=60,
            auth=ResidentAuth(),
        ).json()
        assert body["category"] == "lease"
        assert "相关法条（原文）" in body["replies"][0]["text"]
    events = asyncio.run(_fetch(database, "SELECT count(*) FROM events WHERE sender_id = $1", resident))
    assert events[0][0] >= 3
    stored = asyncio.run(_fetch(database, "SELECT status FROM inbound_messages WHERE user_id = $1", resident))
    assert [r["status"] for r in stored] == ["answered"]
