"""A fuzz run through every public endpoint of a real gateway (Telegram and
WeChat on, against the local fakes) in front of the real Rasa and action server.

FUZZ_N requests (default 400 in the suite; `make fuzz` sends 10,000) from
tests/helpers/fuzz_inputs.py, eight at a time. What must hold: no 5xx except the
documented "kept" 503, only the statuses each endpoint documents, every
valid message answered, no stack trace in the gateway's log, the gateway
still healthy. The counts are printed as the last line (JSON).
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.helpers.fake_telegram import TOKEN, FakeTelegram
from tests.helpers.fake_wechat import APPID, SECRET, FakeWeChat
from tests.helpers.fuzz_inputs import Case, generate
from tests.helpers.stack import TEST_INTEGRATOR_KEY, free_port, start_gateway

WECHAT_TOKEN, TELEGRAM_SECRET = "fuzz-push-token", "fuzz-secret"
CONCURRENCY = 8


@pytest.fixture(scope="module")
def fuzz_gateway(stack, tmp_path_factory) -> Iterator[tuple[str, object]]:
    telegram, wechat = FakeTelegram(free_port()), FakeWeChat(free_port())
    var = tmp_path_factory.mktemp("fuzz")
    url, service = start_gateway(
        stack,
        var,
        WECHAT_APPID=APPID,
        WECHAT_SECRET=SECRET,
        WECHAT_TOKEN=WECHAT_TOKEN,
        WECHAT_API_BASE=wechat.base_url,
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_BASE_URL=telegram.base_url,
        TELEGRAM_WEBHOOK_URL="https://example.invalid/telegram/webhook",
        TELEGRAM_WEBHOOK_SECRET=TELEGRAM_SECRET,
    )
    yield url, service
    service.stop()
    telegram.shutdown()
    wechat.shutdown()


RECONNECTS = collections.Counter()


TOKENS: dict[str, str] = {}


async def _token(http: httpx.AsyncClient, user_id: str) -> str:
    """The resident's token, obtained as an integrator would (tests/conftest.py's key)."""
    if user_id not in TOKENS:
        issued = await http.post(
            "/api/v1/residents", json={"user_id": user_id}, headers={"Authorization": f"Bearer {TEST_INTEGRATOR_KEY}"}
        )
        assert issued.status_code == 201, issued.text
        TOKENS[user_id] = issued.json()["token"]
    return TOKENS[user_id]


async def _send(http: httpx.AsyncClient, case: Case) -> tuple[Case, int, dict | None]:
    headers = dict(case.headers)
    if case.resident is not None:
        headers["authorization"] = f"Bearer {await _token(http, case.resident)}"
    for attempt in range(2):
        try:
            response = await http.request(
                case.method, case.path, content=case.body, headers=headers, params=case.params
            )
            break
        except (httpx.ReadError, httpx.RemoteProtocolError) as exc:
            # a kept-alive connection the server closed just as it was reused (uvicorn
            # closes idle ones after 5 s): clients resend; counted, and only once
            RECONNECTS[case.kind] += 1
            if attempt:
                return case, -1, {"transport_error": type(exc).__name__}
    try:
        body = response.json()
    except ValueError:
        body = None
    return case, response.status_code, body


async def _run(url: str, cases: list[Case]) -> list[tuple[Case, int, dict | None]]:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(case: Case) -> tuple[Case, int, dict | None]:
        async with gate:
            return await _send(http, case)

    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        return await asyncio.gather(*(one(c) for c in cases))


def test_fuzz_public_endpoints(fuzz_gateway) -> None:
    url, service = fuzz_gateway
    n = int(os.environ.get("FUZZ_N", "400"))
    cases = generate(
        n, seed=int(os.environ.get("FUZZ_SEED", "20261125")), wechat_token=WECHAT_TOKEN, telegram_secret=TELEGRAM_SECRET
    )
    began = time.monotonic()
    results = asyncio.run(_run(url, cases))
    seconds = time.monotonic() - began

    counts: collections.Counter[str] = collections.Counter()
    wrong, unanswered, kept = [], [], []
    for case, status, body in results:
        counts[f"{case.kind} {status}"] += 1
        is_kept = status == 503 and (body or {}).get("error", {}).get("code") == "assistant_unavailable"
        if is_kept:
            kept.append((case, body))
        elif status not in case.allowed:
            wrong.append((case.kind, case.path, status, (case.body or b"")[:80], body))
        if case.valid and status == 200 and not (body or {}).get("replies"):
            unanswered.append((case.body[:80], body))
        if case.valid and status not in (200, 503):
            unanswered.append((case.body[:80], status, body))
    summary = {
        "requests": n,
        "seconds": round(seconds, 1),
        "valid_messages": sum(c.valid for c in cases),
        "kept_503": len(kept),
        "resent_after_dropped_connection": sum(RECONNECTS.values()),
        "wrong_status": len(wrong),
        "unanswered": len(unanswered),
        "by_kind_and_status": dict(sorted(counts.items())),
    }
    print("\n" + json.dumps(summary, ensure_ascii=False))

    assert not wrong, "\n".join(map(str, wrong[:8]))
    assert not unanswered, unanswered[:5]
    assert not any(k.endswith((" 500", " 502", " 504")) for k in counts), counts
    assert httpx.get(f"{url}/healthz").status_code == 200 and service.exited() is None
    log = service.log_path.read_text("utf-8", errors="replace")
    assert "Traceback" not in log, log[log.index("Traceback") - 300 : log.index("Traceback") + 1500]
