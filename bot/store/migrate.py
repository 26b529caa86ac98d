"""Creates or upgrades the gateway's schema with Alembic (bot/store/migrations).

Run at gateway start (`upgrade(engine)`), or by hand: `python -m bot.store.migrate`
(`make migrate`) against GATEWAY_DB_URL. A database created before
migrations existed (message tables made by create_all) is adopted: stamped at
the first revision, then upgraded, so no data is lost.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot.errors import STORE_DOWN
from settings import Settings

T = TypeVar("T")

MIGRATIONS = Path(__file__).with_name("migrations")
FIRST_REVISION = "0001"


def _config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


# any number; one shared by every gateway of a deployment
MIGRATION_LOCK = 7_217_001


def _upgrade(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        # gateways starting together on one database migrate one after another (the
        # second then finds the schema at head): both creating alembic_version at once
        # made one of them exit (found with make cluster); held until this transaction ends
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
    config = _config(connection)
    tables = set(inspect(connection).get_table_names())
    if "inbound_messages" in tables and "alembic_version" not in tables:
        command.stamp(config, FIRST_REVISION)
    command.upgrade(config, "head")


async def upgrade(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade)


def open_engine(settings: Settings) -> AsyncEngine:
    """The gateway database's engine for a command-line tool; the default SQLite file's
    folder is made first (0700), as the gateway does at start."""
    if not settings.gateway_db_url:
        settings.var_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    return create_async_engine(settings.gateway_database_url)


def run_tool(work: Coroutine[Any, Any, T]) -> T:
    """`work` run to its end; an unreachable database is one line and exit status 2, no trace."""
    try:
        return asyncio.run(work)
    except STORE_DOWN as exc:
        print(f"数据库不可用 (gateway database unavailable: {type(exc).__name__})", file=sys.stderr)
        raise SystemExit(2) from None


async def _main() -> None:
    from settings import get_settings

    engine = open_engine(get_settings())
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


if __name__ == "__main__":
    run_tool(_main())
    print("gateway database is at the newest schema")
    sys.exit(0)
