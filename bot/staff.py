"""Staff accounts of the mediator console: argon2 password hashes, roles.

`python -m bot.staff add USERNAME --role mediator|admin --name 显示名`
creates or resets an account; the password comes from $STAFF_PASSWORD or is
asked for, never from the command line (shell history, process lists).
"""
from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
import time
from dataclasses import dataclass
from typing import Optional

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from bot.migrate import upgrade
from bot.models import Staff

ROLES = ("mediator", "admin")
MIN_PASSWORD = 10
_hasher = PasswordHasher()


@dataclass(frozen=True)
class StaffView:
    id: int
    username: str
    display_name: str
    role: str


class StaffStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def upsert(self, username: str, password: str, role: str, display_name: str) -> StaffView:
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}")
        if len(password) < MIN_PASSWORD:
            raise ValueError(f"password must have at least {MIN_PASSWORD} characters")
        async with self._sessions.begin() as session:
            row = (await session.execute(select(Staff).where(Staff.username == username))).scalar_one_or_none()
            if row is None:
                row = Staff(username=username, created_at=time.time())
                session.add(row)
            row.password_hash, row.role, row.display_name, row.active = (
                _hasher.hash(password), role, display_name, True)
            await session.flush()
            return StaffView(row.id, row.username, row.display_name, row.role)

    async def authenticate(self, username: str, password: str) -> Optional[StaffView]:
        async with self._sessions() as session:
            row = (await session.execute(select(Staff).where(Staff.username == username))).scalar_one_or_none()
        if row is None or not row.active:
            _hasher.hash(password)  # same work either way: no user enumeration by timing
            return None
        try:
            _hasher.verify(row.password_hash, password)
        except (VerificationError, InvalidHashError):
            return None
        return StaffView(row.id, row.username, row.display_name, row.role)

    async def get(self, staff_id: int) -> Optional[StaffView]:
        async with self._sessions() as session:
            row = await session.get(Staff, staff_id)
        return StaffView(row.id, row.username, row.display_name, row.role) if row and row.active else None


async def _add(username: str, role: str, name: str, password: str) -> StaffView:
    from settings import get_settings

    engine = create_async_engine(get_settings().gateway_database_url)
    try:
        await upgrade(engine)
        return await StaffStore(engine).upsert(username, password, role, name)
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Manage mediator console accounts.")
    sub = parser.add_subparsers(dest="command", required=True)
    add = sub.add_parser("add", help="create or reset an account")
    add.add_argument("username")
    add.add_argument("--role", choices=ROLES, default="mediator")
    add.add_argument("--name", required=True, help="the name residents and colleagues see")
    args = parser.parse_args(argv)
    password = os.environ.get("STAFF_PASSWORD") or getpass.getpass("密码 (password): ")
    try:
        staff = asyncio.run(_add(args.username, args.role, args.name, password))
    except ValueError as exc:
        print(f"未创建 (not created): {exc}", file=sys.stderr)
        return 1
    print(f"account {staff.username} ({staff.role}) ready")
    return 0


if __name__ == "__main__":
    sys.exit(main())
