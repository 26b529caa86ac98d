"""The operator's command-line tools (make migrate, make purge, bot.staff) on a fresh
machine and with the database away: an answer in one line, never a stack trace."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from settings import ROOT

UNREACHABLE = "postgresql+asyncpg://postgres@127.0.0.1:1/nowhere"


def tool(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_migrate_and_purge_make_the_state_folder_of_a_fresh_machine(tmp_path) -> None:
    """`make migrate` on a state folder that does not exist yet used to fail with a trace."""
    fresh = tmp_path / "var"
    done = tool("bot.store.migrate", HAIZHU_VAR_DIR=str(fresh), GATEWAY_DB_URL="")
    assert done.returncode == 0, done.stderr
    assert (fresh / "gateway.db").is_file() and (fresh.stat().st_mode & 0o777) == 0o700
    assert tool("bot.store.retention", HAIZHU_VAR_DIR=str(fresh), GATEWAY_DB_URL="").returncode == 0


@pytest.mark.parametrize("args", [("bot.store.migrate",), ("bot.store.retention",), ("bot.staff", "disable", "x")])
def test_an_unreachable_database_is_one_line_and_exit_2(args: tuple[str, ...], tmp_path) -> None:
    done = tool(*args, HAIZHU_VAR_DIR=str(tmp_path), GATEWAY_DB_URL=UNREACHABLE)
    assert done.returncode == 2
    assert "数据库不可用" in done.stderr and "Traceback" not in done.stderr
