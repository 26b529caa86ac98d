"""#15 item 1: every process supervised by systemd, with the same settings module and
command line as `make run` (ops/service.py, deploy/systemd)."""

from __future__ import annotations

import configparser
import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import psutil
import pytest

from ops.service import NAMES
from settings import ROOT
from tests.helpers.stack import free_port

UNITS = ROOT / "deploy" / "systemd"


def unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(path, encoding="utf-8")
    return parser


def test_systemd_accepts_every_unit(tmp_path) -> None:
    """systemd's own checker, on the units as installed for this checkout (an instance of
    each template); it prints every directive it cannot parse."""
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze (Debian's systemd package) is needed to check the units"
    checked = []
    for path in UNITS.iterdir():
        text = path.read_text("utf-8").replace("/opt/haizhu", str(ROOT))
        name = path.name.replace("@.", "@1.")
        (tmp_path / name).write_text(text, encoding="utf-8")
        checked.append(str(tmp_path / name))
    done = subprocess.run([analyze, "verify", "--man=no", *checked], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and not done.stderr.strip() and not done.stdout.strip(), done.stderr + done.stdout


def test_each_process_unit_runs_its_service_and_the_target_wants_all() -> None:
    for name in NAMES:
        service = unit(UNITS / f"haizhu-{name}@.service")["Service"]
        assert service["ExecStart"].split()[-3:] == ["-m", "ops.service", name]
        assert service["Restart"] == "always" and service["User"] == "haizhu"
        # started once it answers (a rolling restart waits for it), within its own start timeout
        assert service["ExecStartPost"].split()[-4:] == ["-m", "ops.service", name, "--wait-ready"]
        assert int(service["TimeoutStartSec"]) >= 120
        lines = (UNITS / f"haizhu-{name}@.service").read_text("utf-8").splitlines()
        assert "Environment=HAIZHU_VAR_DIR=%S/haizhu/%p-%i" in lines  # its own state folder
    wants = unit(UNITS / "haizhu.target")["Unit"]["Wants"].split()
    assert sorted(wants) == sorted(f"haizhu-{name}@1.service" for name in NAMES)


@pytest.mark.stack
def test_a_supervised_process_is_the_service_itself(stack, tmp_path) -> None:
    """The unit's command becomes the action server (exec): the supervisor's SIGTERM and
    its restarts reach the service, not a launcher in between."""
    settings = dataclasses.replace(stack.settings, var_dir=tmp_path / "actions-2", action_port=free_port())
    process = subprocess.Popen(
        [sys.executable, "-m", "ops.service", "actions"],
        start_new_session=True,  # its own process group, as a unit's (KillMode=mixed kills it whole)
        cwd=ROOT,
        env={**os.environ, **settings.as_env()},
        stdout=(tmp_path / "actions.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{settings.action_base_url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, "the action server did not start"
            time.sleep(0.5)
        assert "actions.server" in " ".join(psutil.Process(process.pid).cmdline())
        # one process serving (actions/server.py): no manager holding the port for a worker
        assert not psutil.Process(process.pid).children(recursive=True)
        process.send_signal(signal.SIGTERM)
        # the service itself received it (a worker still loading the model may take longer
        # than systemd's TimeoutStopSec to finish; systemd then kills it, as done below)
        log = tmp_path / "actions.log"
        deadline = time.monotonic() + 30
        while f"Stopping worker [{process.pid}]" not in log.read_text("utf-8", errors="replace"):
            assert time.monotonic() < deadline, "the action server did not get the signal"
            time.sleep(0.2)
    finally:
        if process.poll() is None:
            try:
                process.wait(timeout=20)  # the unit's TimeoutStopSec
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.send_response(200 if self.path == "/health" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_waiting_for_an_instance_ends_when_it_answers_and_not_before(tmp_path) -> None:
    """The units' ExecStartPost: systemd counts an instance started only when this returns."""
    port = free_port()
    env = {**os.environ, "HAIZHU_VAR_DIR": str(tmp_path), "ACTION_PORT": str(port), "INTERNAL_HOST": "127.0.0.1"}
    waiting = subprocess.Popen(
        [sys.executable, "-m", "ops.service", "actions", "--wait-ready"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        time.sleep(3)
        assert waiting.poll() is None, waiting.communicate()[0]  # nothing answers on the port yet
        server = ThreadingHTTPServer(("127.0.0.1", port), _Health)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        assert waiting.wait(timeout=30) == 0
        assert "answers its health check" in waiting.communicate()[0]
        server.shutdown()
        server.server_close()
    finally:
        if waiting.poll() is None:
            waiting.kill()
            waiting.wait()


def test_rasa_without_a_model_is_one_line(tmp_path) -> None:
    env = {**os.environ, "HAIZHU_VAR_DIR": str(tmp_path), "RASA_MODEL": str(tmp_path / "none.tar.gz")}
    done = subprocess.run(
        [sys.executable, "-m", "ops.service", "rasa"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and "make model" in done.stderr and "Traceback" not in done.stderr


def test_haproxy_accepts_the_example_configuration(tmp_path) -> None:
    """deploy/haproxy/haproxy.cfg checked by HAProxy itself (`make haproxy` installs it),
    with a throwaway certificate where the bureau's goes."""
    pem = tmp_path / "haizhu.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=haizhu.test"]
        + ["-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem")],
        check=True,
        capture_output=True,
        timeout=60,
    )
    pem.write_bytes((tmp_path / "cert.pem").read_bytes() + (tmp_path / "key.pem").read_bytes())
    config = tmp_path / "haproxy.cfg"
    text = (ROOT / "deploy" / "haproxy" / "haproxy.cfg").read_text("utf-8")
    config.write_text(text.replace("/etc/haproxy/certs/haizhu.pem", str(pem)), encoding="utf-8")
    done = subprocess.run(["/usr/sbin/haproxy", "-c", "-f", str(config)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
