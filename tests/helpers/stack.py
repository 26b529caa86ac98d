"""What tests share besides fixtures: the test stack's settings, a second gateway,
an integrator's client that speaks for chosen residents, the Rasa environment."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from bot.store.messages import MessageStore
from knowledge_base.indexing.index import ensure_index
from ops.stack import RASA_PROCESS_ENV, Service, Stack
from settings import ROOT, Settings

PG = "postgresql://postgres@127.0.0.1:5432"

# Every test gateway accepts this integrator key (INTEGRATOR_KEYS), and shares one
# signing key, so a resident's token from one gateway holds on the others as in a
# deployment with CONSOLE_SECRET set
TEST_INTEGRATOR_KEY = "test-integrator-" + os.urandom(8).hex()
TEST_CONSOLE_SECRET = os.urandom(24).hex()


class ResidentAuth(httpx.Auth):
    """Acts as an integrator: before a request that speaks for a resident id the test
    chose (the body's or query's `user_id`, or the conversation path), it asks the
    gateway for that id's token with the integrator key and sends it as the bearer,
    over real HTTP. A request that already carries Authorization is left alone, and an
    id the gateway will not issue (tg:, wx:, web:, malformed) goes without a token."""

    requires_response_body = True

    def __init__(self, integrator_key: str = TEST_INTEGRATOR_KEY) -> None:
        self.integrator_key = integrator_key
        self.tokens: dict[tuple[str, str], str | None] = {}

    @staticmethod
    def resident_named(request: httpx.Request) -> str | None:
        path = request.url.path
        if path.startswith("/api/v1/conversations/") and path.endswith("/messages"):
            return path.split("/")[4] or None
        if path.startswith("/api/v1/messages/"):
            return request.url.params.get("user_id")
        if path == "/api/v1/messages" and request.method == "POST":
            try:
                body = json.loads(request.content or b"null")
            except (ValueError, UnicodeDecodeError):
                return None
            named = body.get("user_id") if isinstance(body, dict) else None
            return named if isinstance(named, str) else None
        return None

    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
        named = self.resident_named(request)
        if named is not None and "authorization" not in request.headers:
            key = (str(request.url.copy_with(path="/", query=None)), named)
            if key not in self.tokens:
                issued = yield httpx.Request(
                    "POST",
                    request.url.copy_with(path="/api/v1/residents", query=None),
                    json={"user_id": named},
                    headers={"Authorization": f"Bearer {self.integrator_key}"},
                )
                self.tokens[key] = issued.json()["token"] if issued.status_code == 201 else None
            if self.tokens[key] is not None:
                request.headers["Authorization"] = f"Bearer {self.tokens[key]}"
        yield request


def resident_http(base_url: str, **kwargs: object) -> httpx.Client:
    """An HTTP client that speaks for the residents its requests name (ResidentAuth)."""
    return httpx.Client(base_url=base_url, auth=ResidentAuth(), **kwargs)  # type: ignore[arg-type]


def action_secret(stack: Stack) -> dict[str, str]:
    """The header Rasa sends the action server (actions/server.py refuses calls without it)."""
    return {"Authorization": f"Bearer {stack.settings.action_token()}"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# The test stack indexes these laws of laws.db plus the shared statutes: the
# laws its conversations need, small enough to embed in about a minute on a
# bare machine (and instantly once the embedding cache has them).
TEST_LAWSDB_LAWS = (
    "民法典",
    "劳动合同法",
    "劳动法",
    "劳动争议调解仲裁法",
    "社会保险法",
    "特种设备安全法",
    "法律援助法",
)
TEST_INDEX_DIR = ROOT / "var" / "test-index"
UNTHROTTLED = "1000000/minute"


def stack_settings(var_dir: Path, **overrides: object) -> Settings:
    """Settings of a test stack: free ports, its own state, the test index.

    Every process of a test stack must read the same index: the gateway's
    citation guard checks the action server's quotations against it."""
    values = dict(
        var_dir=var_dir,
        host="127.0.0.1",
        rasa_port=free_port(),
        action_port=free_port(),
        gateway_port=free_port(),
        rasa_url="",
        gateway_db_url="",
        tracker_store_url="",
        lock_store_url="",
        retry_interval_s=0.5,
        index_dir=TEST_INDEX_DIR,
        lawsdb_laws=":".join(TEST_LAWSDB_LAWS),
        # every test talks from 127.0.0.1; tests/bot/test_rate_limits.py sets its own
        rate_limit_per_address=UNTHROTTLED,
        rate_limit_per_resident=UNTHROTTLED,
        rate_limit_login=UNTHROTTLED,
        login_lockout="off",
        case_limit_per_resident=UNTHROTTLED,
        case_limit_per_address=UNTHROTTLED,  # tests/bot/test_rate_limits.py tests the lockout on its own gateway
        rate_limit_new_residents=UNTHROTTLED,
        integrator_keys=TEST_INTEGRATOR_KEY,
        console_secret=TEST_CONSOLE_SECRET,
    )
    values.update(overrides)
    settings = Settings(**values)
    ensure_index(settings, progress=False)  # up to date after the first call: reads the corpus only
    return settings


# every service log a test started: a failing run prints the tail of each (tests/conftest.py)
SERVICE_LOGS: list[tuple[str, Path]] = []


def start_gateway(stack: Stack, var_dir: Path, port: int | None = None, **env: str) -> tuple[str, Service]:
    """A second real gateway process beside the test stack (its own port, a free one unless
    given, and state directory, the stack's Rasa and index), with `env` overriding settings;
    ready on return."""
    port = port or free_port()
    service = Service(
        "gateway-extra",
        [str(stack.settings.main_venv / "bin" / "python"), "-m", "bot"],
        f"http://127.0.0.1:{port}/healthz",
        var_dir / "gateway.log",
        {**stack.settings.as_env(), "GATEWAY_PORT": str(port), "HAIZHU_VAR_DIR": str(var_dir), **env},
    )
    service.start()
    SERVICE_LOGS.append((f"gateway-extra :{port}", service.log_path))
    deadline = time.monotonic() + 60
    while not service.healthy():
        assert service.exited() is None, service.log_path.read_text("utf-8", errors="replace")
        assert time.monotonic() < deadline, "gateway not ready in 60 s"
        time.sleep(0.2)
    return f"http://127.0.0.1:{port}", service


def _in_rasa_venv(program: str, args: tuple[str, ...], timeout: int) -> subprocess.CompletedProcess:
    """Run a program of the Rasa environment the way ops/stack.py runs Rasa."""
    env = {**os.environ, **RASA_PROCESS_ENV, "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        [str(ROOT / ".venv-rasa" / "bin" / program), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def rasa_cli(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return _in_rasa_venv("rasa", args, timeout)


def rasa_python(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return _in_rasa_venv("python", args, timeout)


def stored_message_ids(var_dir: Path, resident: str) -> list[str]:
    """The ids of the messages a gateway with state in `var_dir` (SQLite) kept for `resident`,
    oldest first: what a test counts to see that a message sent again was stored once."""

    async def read() -> list[str]:
        store = MessageStore(f"sqlite+aiosqlite:///{var_dir / 'gateway.db'}")
        try:
            return [m.public_id for m in await store.history(resident)]
        finally:
            await store.close()

    return asyncio.run(read())


# a kept message ends answered, or handed to a person when no answer could be made
DONE = ("answered", "handed_off")


def answer_of(http: httpx.Client, resident: str, text: str, wait_s: float = 60) -> dict:
    """The answer to `text`; a message the gateway kept (a cold or busy Rasa on a loaded
    machine) is waited for as a resident's page would, not taken as the answer."""
    body = http.post("/api/v1/messages", json={"user_id": resident, "text": text}).json()
    message_id = (body.get("error") or {}).get("message_id")
    deadline = time.monotonic() + wait_s
    while message_id and time.monotonic() < deadline:
        time.sleep(1)
        body = http.get(f"/api/v1/messages/{message_id}", params={"user_id": resident}).json()
        if body.get("status") in DONE:
            break
    return body
