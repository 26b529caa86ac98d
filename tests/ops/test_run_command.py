"""`make run`'s launcher: all three ready, where they listen printed, Ctrl-C stops them all."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import httpx

from settings import ROOT
from tests.helpers.stack import TEST_INDEX_DIR, TEST_LAWSDB_LAWS, free_port


def test_launcher_starts_all_three_and_stops_on_ctrl_c(stack, tmp_path) -> None:
    ports = {"RASA_PORT": free_port(), "ACTION_PORT": free_port(), "GATEWAY_PORT": free_port()}
    # the test stack's index (built by the `stack` fixture), so the launcher finds it up to date
    env = {
        **os.environ,
        **{k: str(v) for k, v in ports.items()},
        "HAIZHU_VAR_DIR": str(tmp_path),
        "PYTHONUNBUFFERED": "1",
        "INDEX_DIR": str(TEST_INDEX_DIR),
        "LAWSDB_LAWS": ":".join(TEST_LAWSDB_LAWS),
    }
    process = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "python"), "-m", "ops.stack"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    deadline = time.monotonic() + 180
    try:
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Ctrl-C" in line:
                break
        output = "".join(lines)
        assert "Ready in" in output, output
        assert "Statute index up to date" in output, output
        for port in ports.values():
            assert f":{port}" in output
        gateway = f"http://127.0.0.1:{ports['GATEWAY_PORT']}"
        # the default deployment has no integrator key: a resident gets a server-issued id
        issued = httpx.post(f"{gateway}/api/v1/residents", timeout=30)
        assert issued.status_code == 201 and issued.json()["user_id"].startswith("web:")
        reply = httpx.post(
            f"{gateway}/api/v1/messages",
            json={"text": "你好"},
            timeout=30,
            headers={"Authorization": f"Bearer {issued.json()['token']}"},
        )
        assert reply.status_code == 200
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
    for port in ports.values():
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
        except httpx.ConnectError:
            continue
        raise AssertionError(f"something still listens on {port} after Ctrl-C")
