"""The operator's and mediator's side of a test: staff accounts made with the real CLI,
the backup tool, a signed-in console client (cookie and CSRF token), and a resident's
message as an integrator."""

from __future__ import annotations

import os
import subprocess
from typing import Any

import httpx

from settings import ROOT, Settings

PASSWORD = "correct horse battery"


def staff_cli(settings: Settings, *args: str) -> subprocess.CompletedProcess:
    """`python -m bot.staff ARGS` against `settings`' database, as an operator runs it."""
    env = {**os.environ, **settings.as_env(), "STAFF_PASSWORD": PASSWORD}
    return subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "-m", "bot.staff", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def backup_tool(settings: Settings, *args: str, **extra: str) -> subprocess.CompletedProcess:
    """`python -m ops.backup ARGS` against `settings`' stores, as an operator runs it."""
    return subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "-m", "ops.backup", *args],
        cwd=ROOT,
        env={**os.environ, **settings.as_env(), **extra},
        capture_output=True,
        text=True,
        timeout=180,
    )


def add_staff(settings: Settings, username: str, role: str = "mediator") -> None:
    result = staff_cli(settings, "add", username, "--role", role, "--name", f"{username}调解员")
    assert result.returncode == 0, result.stderr


def say(client: httpx.Client, user: str, text: str) -> dict[str, Any]:
    response = client.post("/api/v1/messages", json={"user_id": user, "text": text})
    assert response.status_code == 200, response.text
    return response.json()


class Console:
    def __init__(self, base_url: str, username: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=30)
        body = self.http.post("/console/api/login", json={"username": username, "password": PASSWORD})
        assert body.status_code == 200, body.text
        self.csrf = body.json()["csrf_token"]

    def post(self, path: str, json: dict | None = None, csrf: bool = True) -> httpx.Response:
        return self.http.post(path, json=json or {}, headers={"X-CSRF-Token": self.csrf} if csrf else {})
