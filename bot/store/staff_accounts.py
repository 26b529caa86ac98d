"""Staff accounts of the mediator console: argon2 password hashes, roles, and the
server-side sessions that make a logout, a password reset or a disable final
(the console's cookie only names a session kept here)."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from bot.store.models import ConsoleSession, Staff

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
                _hasher.hash(password),
                role,
                display_name,
                True,
            )
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

    async def session_staff(self, sid: str, max_age_s: float) -> StaffView | None:
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

    async def authenticate(self, username: str, password: str) -> StaffView | None:
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

    async def get(self, staff_id: int) -> StaffView | None:
        async with self._sessions() as session:
            row = await session.get(Staff, staff_id)
        return StaffView(row.id, row.username, row.display_name, row.role) if row and row.active else None
