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
import getpass
import os
import sys

from bot.store.migrate import open_engine, run_tool, upgrade
from bot.store.staff_accounts import ROLES, StaffStore, StaffView


async def _with_store(work):
    from settings import get_settings

    engine = open_engine(get_settings())
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
        if not run_tool(_with_store(lambda store: store.disable(args.username))):
            print(f"没有这个账号 (no such account): {args.username}", file=sys.stderr)
            return 1
        print(f"account {args.username} disabled, its sessions ended")
        return 0
    password = os.environ.get("STAFF_PASSWORD") or getpass.getpass("密码 (password): ")
    try:
        staff = run_tool(_add(args.username, args.role, args.name, password))
    except ValueError as exc:
        print(f"未创建 (not created): {exc}", file=sys.stderr)
        return 1
    print(f"account {staff.username} ({staff.role}) ready")
    return 0


if __name__ == "__main__":
    sys.exit(main())
