"""Fixtures that start the real processes: Rasa, the action server, the gateway.

The stack is started once per test session on free ports with its own state
directory, from the model `make test` trained, exactly as `make run` does.
Tests are put in tiers (pyproject.toml markers) by the fixtures they use, so
`make test-fast` runs what needs no trained model, no services and no browser.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hypothesis import settings as hypothesis_settings  # noqa: E402

from ops.stack import Stack  # noqa: E402
from settings import Settings  # noqa: E402
from tests.helpers.stack import PG, SERVICE_LOGS, free_port, resident_http, stack_settings, start_gateway  # noqa: E402
from tests.helpers.tcp_proxy import TcpProxy  # noqa: E402


async def _pg_admin(sql: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(f"{PG}/postgres")
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


# property tests draw the same examples on every run (a failure is reproducible, a pass is
# not luck), and keep no example database between runs; HYPOTHESIS_PROFILE=explore draws anew
hypothesis_settings.register_profile("repeatable", derandomize=True, database=None)
hypothesis_settings.register_profile("explore", derandomize=False, database=None)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))


@pytest.fixture(scope="session")
def full_corpus_in_force() -> frozenset[tuple[str, int]]:
    """(law, article) of every in-force article of the default corpus: what
    evaluation golds and hand-written tables may cite."""
    from knowledge_base.corpus.statutes import load_corpus
    from settings import get_settings

    return frozenset((a.law, a.number) for a in load_corpus(get_settings().statute_dirs).in_force())


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    """A throwaway PostgreSQL database on the local server, dropped afterwards."""
    import asyncio
    import uuid

    import asyncpg

    name = f"haizhu_test_{uuid.uuid4().hex[:8]}"
    try:
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(f"PostgreSQL at 127.0.0.1:5432 is required: {exc}")
    yield name
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return stack_settings(tmp_path_factory.mktemp("var"))


@pytest.fixture(scope="session")
def stack(settings: Settings) -> Iterator[Stack]:
    stack = Stack(settings)
    SERVICE_LOGS.extend((service.name, service.log_path) for service in stack.services)
    stack.start()
    yield stack
    stack.stop()


@pytest.fixture(scope="session")
def gateway_url(stack: Stack) -> str:
    return f"http://127.0.0.1:{stack.settings.gateway_port}"


@pytest.fixture
def gateway_behind_proxy(stack: Stack, tmp_path: Path) -> Iterator[tuple[str, TcpProxy]]:
    """A second real gateway that reaches the stack's Rasa through a proxy, off until
    enabled: Rasa unreachable, then back (its retry worker runs every 0.5 s)."""
    proxy = TcpProxy(free_port(), stack.settings.rasa_port)
    url, service = start_gateway(
        stack, tmp_path, RASA_URL=f"http://127.0.0.1:{proxy.listen_port}", RETRY_INTERVAL_S="0.5", RASA_TIMEOUT_S="5"
    )
    yield url, proxy
    service.stop()
    proxy.close()


@pytest.fixture
def client(gateway_url: str) -> Iterator[httpx.Client]:
    with resident_http(gateway_url, timeout=30) as c:
        yield c


# fixtures that bring a tier's needs with them (pyproject.toml markers)
TIER_OF_FIXTURE = {
    "stack": "stack",
    "settings": "stack",
    "gateway_url": "stack",
    "client": "stack",
    "database": "postgres",
    "browser": "browser",
    # the converted embedding model, an index built with it, or the trained NLU
    "small_index": "model",
    "models": "model",
    "int8_encoder": "model",
    "real_dev_result": "model",
    "heldout_result": "model",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with the tiers its fixtures need, beside the marks it states itself."""
    for item in items:
        for fixture in getattr(item, "fixturenames", ()):
            tier = TIER_OF_FIXTURE.get(fixture)
            if tier is not None and tier not in item.keywords:
                item.add_marker(getattr(pytest.mark, tier))


LOG_TAIL = 40


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int) -> None:
    """On a failing run, the tail of each stack process's log: a failure on a CI machine
    must be explainable from its output alone (one such run left nothing to go on)."""
    if not (terminalreporter.stats.get("failed") or terminalreporter.stats.get("error")):
        return
    for name, path in SERVICE_LOGS:
        if not path.is_file():
            continue
        lines = path.read_text("utf-8", errors="replace").splitlines()[-LOG_TAIL:]
        terminalreporter.write_sep("-", f"last {len(lines)} lines of {name} ({path})")
        terminalreporter.write_line("\n".join(lines))
