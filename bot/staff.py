"""Staff accounts of the mediator console: argon2 password hashes, roles.

`python -m bot.staff add USERNAME --role mediator|admin --name 显示名`
creates or resets an account; the password comes from $STAFF_PASSWORD or is
asked for, never from the command line (shell history, process lists).
`python -m bot.staff disable USERNAME` locks an account out. Sessions are
kept on the server (console_sessions): a reset or a disable ends every
session of the account, a logout ends its own.
"""
from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import secrets
import sys
import time
from dataclasses import dataclass
from typing import Optional

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from bot.migrate import upgrade
from bot.models import ConsoleSession, Staff

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
            # a new password ends every session signed in with the old one
            await session.execute(delete(ConsoleSession).where(ConsoleSession.staff_id == row.id))
            return StaffView(row.id, row.username, row.display_name, row.role)

    async def disable(self, username: str) -> bool:
        """Lock the account out and end its sessions; False when there is no such account."""
        async with self._sessions.begin() as session:
            row = (await session.execute(select(Staff).where(Staff.username == username))).scalar_one_or_none()
            if row is None:
                return False
            row.active = False
            await session.execute(delete(ConsoleSession).where(ConsoleSession.staff_id == row.id))
        return True

    async def open_session(self, staff_id: int) -> str:
        sid = secrets.token_urlsafe(32)
        async with self._sessions.begin() as session:
            session.add(ConsoleSession(sid=sid, staff_id=staff_id, created_at=time.time()))
        return sid

    async def session_staff(self, sid: str, max_age_s: float) -> Optional[StaffView]:
        """The active account of a live session, or None (ended, expired, account disabled)."""
        if not sid:
            return None
        async with self._sessions() as session:
            found = await session.get(ConsoleSession, sid[:64])
            if found is None or time.time() - found.created_at > max_age_s:
                return None
            row = await session.get(Staff, found.staff_id)
        return StaffView(row.id, row.username, row.display_name, row.role) if row and row.active else None

    async def end_session(self, sid: str) -> None:
        async with self._sessions.begin() as session:
            await session.execute(delete(ConsoleSession).where(ConsoleSession.sid == sid[:64]))

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


async def _with_store(work):
    from settings import get_settings

    engine = create_async_engine(get_settings().gateway_database_url)
    try:
        await upgrade(engine)
        return await work(StaffStore(engine))
    finally:
        await engine.dispose()


async def _add(username: str, role: str, name: str, password: str) -> StaffView:
    return await _with_store(lambda store: store.upsert(username, password, role, name))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Manage mediator console accounts.")
    sub = parser.add_subparsers(dest="command", required=True)
    add = sub.add_parser("add", help="create or reset an account")
    add.add_argument("username")
    add.add_argument("--role", choices=ROLES, default="mediator")
    add.add_argument("--name", required=True, help="the name residents and colleagues see")
    off = sub.add_parser("disable", help="lock an account out and end its sessions")
    off.add_argument("username")
    args = parser.parse_args(argv)
    if args.command == "disable":
        if not asyncio.run(_with_store(lambda store: store.disable(args.username))):
            print(f"没有这个账号 (no such account): {args.username}", file=sys.stderr)
            return 1
        print(f"account {args.username} disabled, its sessions ended")
        return 0
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
