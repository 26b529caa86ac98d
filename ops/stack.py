"""Starts Rasa, the action server and the gateway together (`make run`).

Each runs in its own process group with its log under var/logs/, so one
Ctrl-C stops all three cleanly and a crash of one is reported, not hidden.
The same class starts the stack for the end-to-end tests.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from knowledge_base.indexing.index import ensure_index, read_manifest
from ops.endpoints import write_endpoints
from settings import ROOT, Settings, get_settings


@dataclass
class Service:
    name: str
    argv: list[str]
    health_url: str
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None
    _log: IO[bytes] | None = None

    def start(self) -> None:
        # residents' data: every file the service and this launcher write is the
        # owner's alone (0600, folders 0700), whatever the shell's umask
        previous = os.umask(PRIVATE_UMASK)
        try:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(self.log_path.parent, 0o700)
            self._log = open(self.log_path, "ab")  # noqa: SIM115 (held open for the process; closed in stop())
            os.chmod(self.log_path, 0o600)
            self.process = subprocess.Popen(
                self.argv,
                cwd=ROOT,
                env={**os.environ, **self.env},
                stdout=self._log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        finally:
            os.umask(previous)

    def healthy(self) -> bool:
        try:
            return httpx.get(self.health_url, timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False

    def exited(self) -> int | None:
        return self.process.poll() if self.process else None

    def stop(self, grace_s: float = 15.0) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
            except ProcessLookupError:
                pass
        if self._log:
            self._log.close()
        self.process = None


# how every Rasa process is run: our custom component importable, no telemetry,
# and TensorFlow/SQLAlchemy start-up noise kept out of the logs
RASA_PROCESS_ENV = {
    "PYTHONPATH": str(ROOT),
    "RASA_TELEMETRY_ENABLED": "false",
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
}


PRIVATE_UMASK = 0o077


class StackError(RuntimeError):
    pass


class Stack:
    def __init__(self, settings: Settings | None = None, gateway: bool = True) -> None:
        self.settings = settings or get_settings()
        s = self.settings
        logs = s.var_dir / "logs"
        endpoints = write_endpoints(s, s.var_dir / "endpoints.yml")
        common = {**s.as_env(), "PYTHONUNBUFFERED": "1"}
        rasa_env = {**common, **RASA_PROCESS_ENV}
        base, internal = f"http://{s.host}", f"http://{s.internal_host}"
        self.services = [
            Service(
                "rasa",
                # nlu/rasa_server.py: `rasa run` with the token from the environment, not the process list
                [
                    str(s.rasa_venv / "bin" / "python"),
                    "-m",
                    "nlu.rasa_server",
                    "--enable-api",
                    "-i",
                    s.internal_host,
                    "-p",
                    str(s.rasa_port),
                    "--model",
                    str(s.rasa_model),
                    "--endpoints",
                    str(endpoints),
                    "--credentials",
                    str(ROOT / "credentials.yml"),
                    "--logging-config-file",
                    str(ROOT / "ops" / "rasa_logging.yml"),
                ],
                f"{internal}:{s.rasa_port}/status?token={s.rasa_token()}",
                logs / "rasa.log",
                rasa_env,
            ),
            Service(
                "actions",
                [
                    str(s.main_venv / "bin" / "python"),
                    "-m",
                    "actions.server",
                    "--actions",
                    "actions",
                    "-p",
                    str(s.action_port),
                ],
                f"{internal}:{s.action_port}/health",
                logs / "actions.log",
                common,
            ),
        ]
        if gateway:
            self.services.append(
                Service(
                    "gateway",
                    [str(s.main_venv / "bin" / "python"), "-m", "bot"],
                    f"{base}:{s.gateway_port}/healthz",
                    logs / "gateway.log",
                    common,
                )
            )

    def service(self, name: str) -> Service:
        return next(s for s in self.services if s.name == name)

    def start(self, timeout_s: float = 180.0) -> float:
        """Start every service and wait until all answer; returns seconds taken."""
        began = time.monotonic()
        self.launch()
        self.wait_all(began + timeout_s)
        return time.monotonic() - began

    def launch(self) -> None:
        """Start every service without waiting (several stacks can then load at once)."""
        if not self.settings.rasa_model.exists():
            raise StackError(f"no trained model at {self.settings.rasa_model}: run `make model`")
        for service in self.services:
            service.start()

    def wait_all(self, deadline: float) -> None:
        for service in self.services:
            self.wait_ready(service, deadline)

    def wait_ready(self, service: Service, deadline: float) -> None:
        while not service.healthy():
            code = service.exited()
            if code is not None:
                self.stop()
                raise StackError(f"{service.name} exited with {code}; see {service.log_path}")
            if time.monotonic() > deadline:
                self.stop()
                raise StackError(f"{service.name} not ready in time; see {service.log_path}")
            time.sleep(0.3)

    def restart(self, name: str, timeout_s: float = 180.0) -> None:
        service = self.service(name)
        service.stop()
        service.start()
        self.wait_ready(service, time.monotonic() + timeout_s)

    def stop(self) -> None:
        for service in reversed(self.services):
            service.stop()

    def __enter__(self) -> Stack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Start Rasa, the action server and the gateway.")
    parser.parse_args(argv)
    stack = Stack()
    s = stack.settings
    print("正在启动 Rasa、动作服务器和网关… (starting; logs in %s)" % (s.var_dir / "logs"), flush=True)
    stopping = False

    def _stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    if read_manifest(s.index_dir) is None:
        print(
            "首次运行：正在构建法条索引，2核机器上约10–15分钟，中断后再次运行会从中断处继续。"
            " (first run: building the statute index, about 10–15 min on 2 cores; an interrupted"
            " build resumes where it stopped)",
            flush=True,
        )
    try:
        manifest, rebuilt, _ = ensure_index(s)
    except Exception as exc:  # the assistant still answers from its cards, without quotations
        print(f"法条索引构建失败，回答将不附法条原文 (statute index not built: {exc})", file=sys.stderr)
    else:
        state = f"built in {manifest.build_seconds} s" if rebuilt else "up to date"
        print(f"Statute index {state}: {manifest.article_count} articles in force.", flush=True)
    try:
        took = stack.start()
    except StackError as exc:
        print(f"启动失败: {exc}", file=sys.stderr)
        return 1
    print(f"Ready in {took:.1f} s:")
    print(f"  Rasa server     http://{s.internal_host}:{s.rasa_port}")
    print(f"  action server   http://{s.internal_host}:{s.action_port}/webhook")
    print(f"  gateway API     http://{s.host}:{s.gateway_port}/api/v1/messages  (docs: /docs)")
    if s.telegram_bot_token:
        mode = "webhook " + s.telegram_webhook_url if s.telegram_webhook_url else "long polling"
        print(f"  Telegram        on ({mode})")
    else:
        print("  Telegram        off (set TELEGRAM_BOT_TOKEN to turn it on)")
    print(f"  web chat        http://{s.host}:{s.gateway_port}/chat")
    print(f"  mediator console http://{s.host}:{s.gateway_port}/console")
    print("Chat in a terminal with `make chat`. Ctrl-C stops all three.", flush=True)
    try:
        while not stopping:
            for service in stack.services:
                code = service.exited()
                if code is not None:
                    print(f"{service.name} exited with {code}; see {service.log_path}", file=sys.stderr)
                    stopping = True
            time.sleep(0.5)
    finally:
        print("Stopping…", flush=True)
        stack.stop()
        print("Stopped.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
