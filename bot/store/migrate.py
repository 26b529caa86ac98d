"""Creates or upgrades the gateway's schema with Alembic (bot/store/migrations).

Run at gateway start (`upgrade(engine)`), or by hand: `python -m bot.store.migrate`
(`make migrate`) against GATEWAY_DB_URL. A database created before
migrations existed (message tables made by create_all) is adopted: stamped at
the first revision, then upgraded, so no data is lost.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

MIGRATIONS = Path(__file__).with_name("migrations")
FIRST_REVISION = "0001"


def _config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection) -> None:
    config = _config(connection)
    tables = set(inspect(connection).get_table_names())
    if "inbound_messages" in tables and "alembic_version" not in tables:
        command.stamp(config, FIRST_REVISION)
    command.upgrade(config, "head")


async def upgrade(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade)


async def _main() -> None:
    from settings import get_settings

    engine = create_async_engine(get_settings().gateway_database_url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(_main())
    print("gateway database is at the newest schema")
    sys.exit(0)
