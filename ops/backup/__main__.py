"""`python -m ops.backup create [--into DIR]` (`make backup`) and
`python -m ops.backup restore FOLDER [--force]` (`make restore BACKUP=FOLDER`),
against the stores the environment configures (README "Backups")."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import asyncpg

from bot.errors import STORE_DOWN
from ops.backup.archive import create, restore
from ops.backup.stores import BackupError
from settings import get_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.backup")
    commands = parser.add_subparsers(dest="command", required=True)
    made = commands.add_parser("create", help="copy both stores while the service runs")
    made.add_argument("--into", type=Path, help="folder to write under (default BACKUP_DIR)")
    back = commands.add_parser("restore", help="bring a backup into the configured stores")
    back.add_argument("folder", type=Path)
    back.add_argument("--force", action="store_true", help="replace data already there (service stopped)")
    args = parser.parse_args(argv)
    settings = get_settings()
    try:
        if args.command == "create":
            print(f"backup written: {asyncio.run(create(settings, args.into))}")
            return 0
        done = asyncio.run(restore(settings, args.folder, args.force))
    except BackupError as exc:
        print(f"备份/恢复未完成 (backup/restore stopped): {exc}", file=sys.stderr)
        return 2
    except (*STORE_DOWN, asyncpg.PostgresError) as exc:
        print(f"数据库不可用 (database unavailable: {type(exc).__name__})", file=sys.stderr)
        return 2
    rows = ", ".join(f"{table} {count}" for table, count in sorted(done.tables.items()))
    print(f"restored and checked against the manifest: {rows}")
    purged = done.purged
    print(
        f"retention purge after restore: {purged.cases} cases, {purged.messages} messages, "
        f"{purged.applications} applications, {purged.tracker_events} tracker events"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
