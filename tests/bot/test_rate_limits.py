"""Rate limits of the public endpoints, on a real gateway with small budgets:
per resident on messages, per address on everything public, per address and
name on logins; each refusal a 429 in Chinese with Retry-After."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.helpers.stack import ResidentAuth, resident_http, start_gateway


def refused(response: httpx.Response) -> bool:
    if response.status_code != 429:
        return False
    assert response.json()["error"]["code"] == "too_many_requests" and "太快" in response.json()["error"]["message"]
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    return True


def test_budgets_per_resident_address_and_login(stack, tmp_path) -> None:
    url, service = start_gateway(
        stack,
        tmp_path,
        RATE_LIMIT_PER_RESIDENT="3/minute",
        RATE_LIMIT_PER_ADDRESS="40/minute",
        RATE_LIMIT_LOGIN="2/minute",
        RATE_LIMIT_NEW_RESIDENTS="2/minute",
    )
    try:
        with resident_http(url, timeout=30) as http:
            resident, other = (f"rl-{uuid.uuid4().hex[:6]}" for _ in range(2))
            for _ in range(3):
                assert http.post("/api/v1/messages", json={"user_id": resident, "text": "你好"}).status_code == 200
            assert refused(http.post("/api/v1/messages", json={"user_id": resident, "text": "你好"}))
            assert http.post("/api/v1/messages", json={"user_id": other, "text": "你好"}).status_code == 200

            for _ in range(2):
                assert (
                    http.post("/console/api/login", json={"username": "guess", "password": "x" * 8}).status_code == 401
                )
            assert refused(http.post("/console/api/login", json={"username": "guess", "password": "x" * 8}))

            # a fresh identity brings a fresh per-resident budget, so an address gets few of them
            assert [http.post("/api/v1/residents").status_code for _ in range(2)] == [201, 201]
            assert refused(http.post("/api/v1/residents"))

            # 13 requests so far from this address (2 integrator tokens, 5 messages, 3 logins, 3 new
            # residents); the rest of the 40 pass, then every public path is refused
            statuses = [
                http.get("/api/v1/articles", params={"law": "劳动法", "label": "第五十条"}).status_code
                for _ in range(27)
            ]
            assert statuses.count(200) == 27
            assert refused(http.get("/api/v1/articles", params={"law": "劳动法", "label": "第五十条"}))
            assert refused(http.get("/chat"))
            assert refused(http.post("/api/v1/messages", json={"user_id": f"rl-{uuid.uuid4().hex}", "text": "你好"}))
            assert http.get("/healthz").status_code == 200  # the supervisor's probe is never throttled
    finally:
        service.stop()


@pytest.mark.redis
def test_gateways_share_one_budget_in_redis_and_serve_when_it_is_down(stack, tmp_path) -> None:
    shared = {"RATE_LIMIT_PER_RESIDENT": "3/minute", "RATE_LIMIT_STORAGE": "redis://127.0.0.1:6379/3"}
    (a, service_a), (b, service_b) = (start_gateway(stack, tmp_path / n, **shared) for n in ("a", "b"))
    down_url, service_down = start_gateway(
        stack, tmp_path / "down", RATE_LIMIT_PER_RESIDENT="1/minute", RATE_LIMIT_STORAGE="redis://127.0.0.1:1/0"
    )
    try:
        resident = f"rl-shared-{uuid.uuid4().hex[:6]}"

        def hello(url: str) -> httpx.Response:
            return httpx.post(
                f"{url}/api/v1/messages", json={"user_id": resident, "text": "你好"}, auth=ResidentAuth(), timeout=30
            )

        for url in (a, a, b):
            assert hello(url).status_code == 200
        # a fourth through the other gateway: the budget is shared, not 3 per gateway
        assert refused(hello(b))

        for _ in range(2):  # the limiter's store unreachable: residents are still served
            assert hello(down_url).status_code == 200
        assert "rate limits not applied" in service_down.log_path.read_text("utf-8")
    finally:
        for service in (service_a, service_b, service_down):
            service.stop()


def guesses_from_six_addresses(http: httpx.Client) -> list[int]:
    """Six wrong passwords, each naming another address in X-Forwarded-For."""
    return [
        http.post(
            "/console/api/login",
            json={"username": "guess", "password": "x" * 8},
            headers={"X-Forwarded-For": f"203.0.113.{n}"},
        ).status_code
        for n in range(6)
    ]


def test_a_spoofed_forwarded_for_neither_escapes_nor_resets_a_limit(stack, tmp_path) -> None:
    """#13: from any loopback client uvicorn believed X-Forwarded-For, so naming a
    new address each time reset the login limit. Now only TRUSTED_PROXIES are believed."""
    url, service = start_gateway(stack, tmp_path, RATE_LIMIT_LOGIN="3/minute", RATE_LIMIT_PER_ADDRESS="1000/minute")
    try:
        with httpx.Client(base_url=url, timeout=30) as http:
            statuses = guesses_from_six_addresses(http)
            assert statuses[:3] == [401, 401, 401] and statuses[3:] == [429, 429, 429]
    finally:
        service.stop()
    # behind a configured proxy its header is the client's address: each address its own budget
    url, service = start_gateway(
        stack,
        tmp_path / "proxied",
        RATE_LIMIT_LOGIN="3/minute",
        RATE_LIMIT_PER_ADDRESS="1000/minute",
        TRUSTED_PROXIES="127.0.0.1",
        LOGIN_LOCKOUT="off",
    )
    try:
        with httpx.Client(base_url=url, timeout=30) as http:
            statuses = guesses_from_six_addresses(http)
            assert statuses == [401] * 6
    finally:
        service.stop()


def test_an_account_is_locked_after_failures_from_any_address_and_backs_off(stack, tmp_path) -> None:
    """#13: login lockout with back-off: failures of one account count whatever
    the address, in widening windows (3 a minute, then 4 an hour here)."""
    from tests.helpers.console import PASSWORD, add_staff

    url, service = start_gateway(
        stack,
        tmp_path,
        LOGIN_LOCKOUT="3/minute;4/hour",
        TRUSTED_PROXIES="127.0.0.1",
        RATE_LIMIT_PER_ADDRESS="1000/minute",
    )
    username = f"lock-{uuid.uuid4().hex[:6]}"
    add_staff(stack_settings_of(service, stack), username)
    try:
        with httpx.Client(base_url=url, timeout=30) as http:

            def attempt(password: str, n: int) -> httpx.Response:
                return http.post(
                    "/console/api/login",
                    json={"username": username, "password": password},
                    headers={"X-Forwarded-For": f"198.51.100.{n}"},
                )

            assert [attempt("wrong-" * 2, n).status_code for n in range(3)] == [401, 401, 401]
            locked = attempt(PASSWORD, 9)  # the right password, from a new address: still locked
            assert refused(locked) and int(locked.headers["Retry-After"]) <= 60
            other = http.post("/console/api/login", json={"username": "someone-else", "password": "x" * 12})
            assert other.status_code == 401  # other accounts are not locked
    finally:
        service.stop()


def stack_settings_of(service, stack):
    import dataclasses

    return dataclasses.replace(stack.settings, var_dir=service.log_path.parent)


def test_opening_cases_has_a_budget_per_resident_and_per_address(stack, tmp_path) -> None:
    """#13: anyone could open mediator cases without end (10 in 1.1 s)."""
    from bot.core.conversation import CASE_LIMIT_TEXT

    url, service = start_gateway(stack, tmp_path, CASE_LIMIT_PER_RESIDENT="1/hour", CASE_LIMIT_PER_ADDRESS="2/hour")
    try:
        with resident_http(url, timeout=60) as http:

            def say(user: str, text: str) -> dict:
                response = http.post("/api/v1/messages", json={"user_id": user, "text": text})
                assert response.status_code == 200, response.text
                return response.json()

            a, b, c = (f"case-{uuid.uuid4().hex[:6]}" for _ in range(3))
            assert say(a, "我要转人工").get("case_id")
            say(a, "结束人工")
            again = say(a, "我要转人工")  # the resident's budget is spent
            assert not again.get("case_id") and CASE_LIMIT_TEXT in " ".join(r["text"] for r in again["replies"])
            assert say(b, "我要转人工").get("case_id")  # the address's second case
            third = say(c, "我要转人工")  # a new id from the same address
            assert not third.get("case_id") and CASE_LIMIT_TEXT in " ".join(r["text"] for r in third["replies"])
    finally:
        service.stop()
