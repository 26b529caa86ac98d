"""The two kinds of database a backup copies, each with its own consistent copy.

SQLite: the online backup API (a snapshot of one moment, writers carry on;
copying the file could catch a half-written page or miss the WAL).
PostgreSQL: pg_dump in its custom format, run inside a snapshot this module
exports (`pg_export_snapshot`), so the row counts written to the manifest are
those of exactly the rows dumped, however busy the service is.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from sqlalchemy.engine import URL, make_url


class BackupError(Exception):
    """A backup or restore that cannot go on; its message is for the operator."""


@dataclass(frozen=True)
class Database:
    """One store, from its SQLAlchemy URL (GATEWAY_DB_URL, or the tracker store's)."""

    url: URL

    @classmethod
    def of(cls, url: str) -> Database:
        parsed = make_url(url)
        if parsed.get_backend_name() not in ("sqlite", "postgresql"):
            raise BackupError(f"unsupported database {parsed.get_backend_name()}")
        return cls(parsed)

    @property
    def kind(self) -> str:
        return self.url.get_backend_name()

    @property
    def path(self) -> Path:
        return Path(self.url.database or "")

    @property
    def key(self) -> tuple[str, ...]:
        """Two stores with one key are one database (the cluster keeps both in one)."""
        if self.kind == "sqlite":
            return ("sqlite", str(self.path.resolve()))
        return ("postgresql", self.url.host or "", str(self.url.port or 5432), self.url.database or "")

    def described(self) -> str:
        """Where it is, without its password (for the manifest and the operator)."""
        return self.url.render_as_string(hide_password=True)

    # PostgreSQL: libpq's environment, so that no password shows in a process list
    def pg_env(self) -> dict[str, str]:
        env = {
            "PGHOST": self.url.host or "127.0.0.1",
            "PGPORT": str(self.url.port or 5432),
            "PGDATABASE": self.url.database or "",
        }
        if self.url.username:
            env["PGUSER"] = self.url.username
        if self.url.password:
            env["PGPASSWORD"] = str(self.url.password)
        return {**os.environ, **env}

    async def _pg_connect(self) -> asyncpg.Connection:
        return await asyncpg.connect(
            host=self.url.host or "127.0.0.1",
            port=self.url.port or 5432,
            user=self.url.username or None,
            password=str(self.url.password) if self.url.password else None,
            database=self.url.database,
        )

    # ------------------------------------------------------------------ copy
    async def dump(self, target: Path) -> dict[str, int]:
        """A consistent copy of the whole database at `target`; the rows of each table in it."""
        if self.kind == "sqlite":
            return await asyncio.to_thread(self._sqlite_dump, target)
        return await self._pg_dump(target)

    def _sqlite_dump(self, target: Path) -> dict[str, int]:
        if not self.path.is_file():
            raise BackupError(f"no database at {self.path}")
        source = sqlite3.connect(self.path, timeout=30)
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)
            return sqlite_counts(copy)
        finally:
            copy.close()
            source.close()

    async def _pg_dump(self, target: Path) -> dict[str, int]:
        if shutil.which("pg_dump") is None:
            raise BackupError("pg_dump is not installed (Debian: postgresql-client)")
        connection = await self._pg_connect()
        try:
            async with connection.transaction(isolation="repeatable_read", readonly=True):
                snapshot = await connection.fetchval("SELECT pg_export_snapshot()")
                counts = await pg_counts(connection)
                done = await asyncio.to_thread(
                    subprocess.run,
                    ["pg_dump", "--format=custom", "--no-owner", f"--snapshot={snapshot}", f"--file={target}"],
                    env=self.pg_env(),
                    capture_output=True,
                    text=True,
                )
                if done.returncode != 0:
                    raise BackupError(f"pg_dump failed: {done.stderr.strip()[-300:]}")
        finally:
            await connection.close()
        return counts

    # --------------------------------------------------------------- restore
    async def tables(self) -> dict[str, int]:
        """Rows of each table now (none for a database that does not exist yet)."""
        if self.kind == "sqlite":
            if not self.path.is_file():
                return {}
            connection = sqlite3.connect(self.path)
            try:
                return sqlite_counts(connection)
            finally:
                connection.close()
        connection = await self._pg_connect()
        try:
            return await pg_counts(connection)
        finally:
            await connection.close()

    async def load(self, source: Path) -> None:
        """Replace this database's contents by the copy at `source`."""
        if self.kind == "sqlite":
            await asyncio.to_thread(self._sqlite_load, source)
            return
        done = await asyncio.to_thread(
            subprocess.run,
            [
                "pg_restore",
                "--clean",
                "--if-exists",
                "--no-owner",
                "--single-transaction",
                f"--dbname={self.url.database}",
                str(source),
            ],
            env=self.pg_env(),
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise BackupError(f"pg_restore failed: {done.stderr.strip()[-300:]}")

    def _sqlite_load(self, source: Path) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        staged = self.path.with_name(self.path.name + ".restoring")
        staged.unlink(missing_ok=True)
        copy, into = sqlite3.connect(source), sqlite3.connect(staged)
        try:
            copy.backup(into)
        finally:
            into.close()
            copy.close()
        for stale in (self.path.with_name(self.path.name + suffix) for suffix in ("-wal", "-shm")):
            stale.unlink(missing_ok=True)
        os.replace(staged, self.path)


def sqlite_counts(connection: sqlite3.Connection) -> dict[str, int]:
    names = [
        row[0]
        for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
    ]
    return {name: connection.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in names}


async def pg_counts(connection: asyncpg.Connection) -> dict[str, int]:
    names = [
        r["tablename"]
        for r in await connection.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        )
    ]
    return {name: await connection.fetchval(f'SELECT count(*) FROM "{name}"') for name in names}
