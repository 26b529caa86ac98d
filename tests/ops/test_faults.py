"""Faults: each process killed (SIGKILL, as a crash would) and restarted mid-conversation,
the database cut off for a while, and two gateways on one PostgreSQL.

What must hold: a resident's message is never lost (kept, then answered in
order once the failed part is back), errors are clear and in Chinese, and a
mediator's reply reaches the resident exactly once whichever gateway sends it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import time
import uuid
from collections.abc import Iterator

import asyncpg
import httpx
import psutil
import pytest

from bot.errors import NOT_SAVED_TEXT
from tests.helpers.console import Console, add_staff, say
from tests.helpers.fake_telegram import TOKEN, FakeTelegram
from tests.helpers.resident_stream import stored_messages
from tests.helpers.stack import free_port, resident_http, start_gateway
from tests.helpers.tcp_proxy import TcpProxy
from tests.ops.test_rasa_down import wait_answered

WAGES = "老板拖欠我三个月工资不给，怎么办"


def crash(stack, name: str) -> None:
    """SIGKILL the service's whole process group: no shutdown handlers run."""
    process = stack.service(name).process
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def kept(response: httpx.Response) -> str:
    assert response.status_code == 503, response.text
    body = response.json()["error"]
    assert body["code"] == "assistant_unavailable" and "保存" in body["message"]
    return body["message_id"]


def test_action_server_crash_keeps_the_message_and_answers_when_back(stack, client, tmp_path) -> None:
    """Also through a gateway whose health check finds an action server up, as behind the
    cluster's balancer, where a live instance answers for the one killed under Rasa's call:
    Rasa's own word that the action could not reach it keeps the message (it was handed to
    a mediator as a bug: tests/ops/test_cluster.py failed so once)."""
    import threading

    from tests.bot.test_citation_guard import Handler, ScriptedRasa

    resident, behind = (f"fault-actions-{uuid.uuid4().hex[:8]}" for _ in range(2))
    balancer = ScriptedRasa(("127.0.0.1", free_port()), Handler)  # 200 to every GET, /health too
    threading.Thread(target=balancer.serve_forever, daemon=True).start()
    url, gateway = start_gateway(stack, tmp_path, ACTION_URL=f"http://127.0.0.1:{balancer.server_address[1]}")
    try:
        with resident_http(url, timeout=30) as balanced:
            assert say(client, resident, "你好")["intent"] == "greet"
            crash(stack, "actions")
            try:
                message_id = kept(client.post("/api/v1/messages", json={"user_id": resident, "text": WAGES}))
                status = client.get(f"/api/v1/messages/{message_id}", params={"user_id": resident}).json()
                assert status["status"] == "pending"
                other_id = kept(balanced.post("/api/v1/messages", json={"user_id": behind, "text": WAGES}))
                time.sleep(3)  # its retry worker, finding "the action server" up, sends it again meanwhile
                status = balanced.get(f"/api/v1/messages/{other_id}", params={"user_id": behind}).json()
                assert status["status"] == "pending", status
            finally:
                stack.restart("actions")
            answered = wait_answered(client, message_id, resident, timeout_s=90)
            assert answered["intent"] == "labour_wage_arrears"
            assert any("相关法条" in r["text"] for r in answered["replies"]), answered["replies"]
            assert say(client, resident, WAGES)["replies"]  # and the conversation goes on
            other = wait_answered(balanced, other_id, behind, timeout_s=90)
            assert any("相关法条" in r["text"] for r in other["replies"]) and not other.get("case_id"), other
    finally:
        gateway.stop()
        balancer.shutdown()


def test_rasa_crash_keeps_messages_and_answers_them_in_order(stack, client) -> None:
    resident = f"fault-rasa-{uuid.uuid4().hex[:8]}"
    crash(stack, "rasa")
    try:
        ids = [
            kept(client.post("/api/v1/messages", json={"user_id": resident, "text": t}))
            for t in ("包工头欠我们工钱跑路了", "我想申请法律援助")
        ]
    finally:
        stack.restart("rasa")
    first, second = (wait_answered(client, i, resident, timeout_s=90) for i in ids)
    assert first["intent"] == "labour_wage_arrears" and second["intent"] == "request_legal_aid"
    assert "劳动争议" in second["replies"][0]["text"]  # understood after the first: order kept


def test_gateway_crash_keeps_open_cases_and_queued_messages(stack, tmp_path) -> None:
    proxy = TcpProxy(free_port(), stack.settings.rasa_port)
    proxy.enable()
    env = {"RASA_URL": f"http://127.0.0.1:{proxy.listen_port}", "RETRY_INTERVAL_S": "0.5", "RASA_TIMEOUT_S": "5"}
    with_case, queued = f"fault-gw-case-{uuid.uuid4().hex[:6]}", f"fault-gw-queue-{uuid.uuid4().hex[:6]}"
    url, service = start_gateway(stack, tmp_path, **env)
    try:
        with resident_http(url, timeout=30) as http:
            case_id = say(http, with_case, "我要转人工")["case_id"]
            proxy.disable()
            message_id = kept(http.post("/api/v1/messages", json={"user_id": queued, "text": WAGES}))
        os.killpg(service.process.pid, signal.SIGKILL)
        service.process.wait(timeout=10)

        url, service = start_gateway(stack, tmp_path, **env)  # same state directory, new process
        mediator = f"med-{uuid.uuid4().hex[:6]}"
        add_staff(dataclasses.replace(stack.settings, var_dir=tmp_path), mediator)
        with resident_http(url, timeout=30) as http:
            console = Console(url, mediator)
            waiting = console.http.get("/console/api/queue").json()["waiting"]
            assert len(waiting) == 1
            assert console.post(f"/console/api/cases/{waiting[0]['id']}/claim").status_code == 200
            assert console.http.get(f"/console/api/cases/{waiting[0]['id']}").json()["public_id"] == case_id
            # the resident still talks to the case, not to the bot
            assert say(http, with_case, "还在吗")["case_id"] == case_id
            assert http.get(f"/api/v1/messages/{message_id}", params={"user_id": queued}).json()["status"] == "pending"
            proxy.enable()
            assert wait_answered(http, message_id, queued)["intent"] == "labour_wage_arrears"
    finally:
        service.stop()
        proxy.close()


PG = "postgresql://postgres@127.0.0.1:5432"


def test_database_outage_gives_clear_errors_and_leaves_nothing_half_written(stack, database, tmp_path) -> None:
    proxy = TcpProxy(free_port(), 5432)
    proxy.enable()
    telegram = FakeTelegram(free_port())
    url, service = start_gateway(
        stack,
        tmp_path,
        GATEWAY_DB_URL=f"postgresql+asyncpg://postgres@127.0.0.1:{proxy.listen_port}/{database}",
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_BASE_URL=telegram.base_url,
        TELEGRAM_WEBHOOK_SECRET="s3cret",
        TELEGRAM_WEBHOOK_URL="https://example.invalid/telegram/webhook",
    )
    resident = f"fault-db-{uuid.uuid4().hex[:6]}"
    try:
        with resident_http(url, timeout=60) as http:
            assert say(http, resident, "你好")["intent"] == "greet"
            proxy.disable()
            for request in (
                lambda: http.post("/api/v1/messages", json={"user_id": resident, "text": "我要转人工"}),
                lambda: http.get("/api/v1/messages/abc", params={"user_id": resident}),
                lambda: http.get(f"/api/v1/conversations/{resident}/messages"),
                lambda: http.post("/console/api/login", json={"username": "x", "password": "y"}),
            ):
                response = request()
                assert response.status_code == 503, response.text
                assert response.json()["error"]["code"] == "store_unavailable"
                assert "12348" in response.json()["error"]["message"]
            # a Telegram resident is told the truth: not kept, send it again
            update = {"update_id": 9, **telegram.text_update(8001, "老板欠薪")}
            assert (
                http.post(
                    "/telegram/webhook", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret"}
                ).status_code
                == 200
            )
            assert telegram.wait_sent(8001, 1)[0]["text"] == NOT_SAVED_TEXT
            proxy.enable()
            deadline = time.monotonic() + 30
            while (
                response := http.post("/api/v1/messages", json={"user_id": resident, "text": "我要转人工"})
            ).status_code != 200:
                assert time.monotonic() < deadline, response.text
                time.sleep(0.5)
            assert response.json()["case_id"]
        log = (tmp_path / "gateway.log").read_text("utf-8")
        assert "Traceback" not in log and "database unavailable" in log
    finally:
        service.stop()
        proxy.close()
        telegram.shutdown()

    async def counts() -> tuple[int, int, int]:
        db = await asyncpg.connect(f"{PG}/{database}")
        try:
            return (
                await db.fetchval("SELECT count(*) FROM cases"),
                await db.fetchval(
                    "SELECT count(*) FROM cases c WHERE NOT EXISTS (SELECT 1 FROM case_events e WHERE e.case_id = c.id)"
                ),
                await db.fetchval("SELECT count(*) FROM inbound_messages WHERE status = 'pending'"),
            )
        finally:
            await db.close()

    cases, orphans, pending = asyncio.run(counts())
    # one case, the one opened after the outage, with its opening event; no message left half-done
    assert (cases, orphans, pending) == (1, 0, 0)


def _on_postgresql(database: str, **settings: str) -> dict[str, str]:
    """Settings of gateways that share `database` (and the console's secret), with `settings`."""
    return {
        "GATEWAY_DB_URL": f"postgresql+asyncpg://postgres@127.0.0.1:5432/{database}",
        "CONSOLE_SECRET": uuid.uuid4().hex,
        **settings,
    }


def _slow_rasa(stack, delay_s: float) -> TcpProxy:  # type: ignore[no-untyped-def]
    """The stack's Rasa behind a proxy that holds each request `delay_s` (Rasa "thinking")."""
    proxy = TcpProxy(free_port(), stack.settings.rasa_port, delay_s=delay_s)
    proxy.enable()
    return proxy


@pytest.fixture
def two_gateways(stack, database, tmp_path) -> Iterator[tuple[FakeTelegram, list[str]]]:
    telegram = FakeTelegram(free_port())
    common = _on_postgresql(
        database,
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_BASE_URL=telegram.base_url,
        TELEGRAM_WEBHOOK_SECRET="s3cret",
        TELEGRAM_WEBHOOK_URL="https://example.invalid/telegram/webhook",
        PUSH_INTERVAL_S="0.2",
    )
    started = [start_gateway(stack, tmp_path / name, **common) for name in ("a", "b")]
    yield telegram, [url for url, _ in started]
    for _, service in started:
        service.stop()
    telegram.shutdown()


def test_two_gateways_share_cases_and_deliver_each_reply_once(stack, two_gateways, database) -> None:
    telegram, (a, b) = two_gateways
    chat = 7001
    secret = {"X-Telegram-Bot-Api-Secret-Token": "s3cret"}
    update = {"update_id": 1, **telegram.text_update(chat, "我要转人工")}
    assert httpx.post(f"{a}/telegram/webhook", json=update, headers=secret).status_code == 200
    telegram.wait_sent(chat, 1)

    mediator = f"med-{uuid.uuid4().hex[:6]}"
    add_staff(
        dataclasses.replace(stack.settings, gateway_db_url=f"postgresql+asyncpg://postgres@127.0.0.1:5432/{database}"),
        mediator,
    )
    console_a = Console(a, mediator)
    waiting = console_a.http.get("/console/api/queue").json()["waiting"]
    # opened through gateway A (the newest case: this module's database also holds the outage test's)
    case = max(waiting, key=lambda c: c["number"])["id"]  # the newest
    console_b = Console(b, mediator)  # ... seen and claimed through gateway B
    assert console_b.post(f"/console/api/cases/{case}/claim").status_code == 200
    replies = [f"调解员第{i}次回复" for i in range(6)]
    for i, reply in enumerate(replies):
        console = console_a if i % 2 else console_b
        assert console.post(f"/console/api/cases/{case}/messages", {"text": reply}).status_code == 200

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not all(
        any(reply in m["text"] for m in telegram.sent(chat)) for reply in replies
    ):
        time.sleep(0.3)
    time.sleep(2)  # both pushers have had several more rounds to send anything twice
    sent = [m["text"] for m in telegram.sent(chat)]
    for reply in replies:
        assert sum(reply in t for t in sent) == 1, (reply, sent)


def test_a_turn_with_no_reply_goes_to_a_person(stack, tmp_path) -> None:
    """Everything up, yet no reply (an action failed on this input): retrying would
    fail again, so the message is kept as unanswered and a case opened for a person."""
    import threading

    from bot.core.conversation import NO_ANSWER, NO_ANSWER_TEXT
    from tests.bot.test_citation_guard import Handler, ScriptedRasa

    rasa = ScriptedRasa(("127.0.0.1", free_port()), Handler)
    rasa.reply = ""  # a webhook answer with no text in it
    threading.Thread(target=rasa.serve_forever, daemon=True).start()
    url, service = start_gateway(stack, tmp_path, RASA_URL=f"http://127.0.0.1:{rasa.server_address[1]}")
    mediator = f"med-{uuid.uuid4().hex[:6]}"
    add_staff(dataclasses.replace(stack.settings, var_dir=tmp_path), mediator)
    try:
        with resident_http(url, timeout=30) as http:
            body = say(http, "no-reply-1", "老板欠我工资")
            assert body["replies"][0]["text"] == NO_ANSWER_TEXT and body["case_id"]
            assert "排在第" in body["replies"][-1]["text"]
            stored = http.get(f"/api/v1/messages/{body['message_id']}", params={"user_id": "no-reply-1"}).json()
            assert stored["status"] == "unanswered"
            waiting = Console(url, mediator).http.get("/console/api/queue").json()["waiting"]
            assert [c["reason"] for c in waiting] == [NO_ANSWER]
    finally:
        service.stop()
        rasa.shutdown()


def _gateways(stack, database: str, tmp_path, rasa_delay_s: float, lease_s: float):  # type: ignore[no-untyped-def]
    """Gateway A, whose way to Rasa takes `rasa_delay_s` per request, and gateway B beside it
    on one PostgreSQL, both with claims of `lease_s` and retry workers every 0.3 s."""
    proxy = _slow_rasa(stack, rasa_delay_s)
    common = _on_postgresql(database, GATEWAY_LEASE_S=str(lease_s), RETRY_INTERVAL_S="0.3")
    a = start_gateway(stack, tmp_path / "a", RASA_URL=f"http://127.0.0.1:{proxy.listen_port}", **common)
    b = start_gateway(stack, tmp_path / "b", **common)
    return proxy, a, b


def test_a_gateway_renews_its_claim_on_a_message_rasa_takes_long_to_answer(stack, database, tmp_path) -> None:
    """A Rasa turn may outlast a claim (RASA_TIMEOUT_S 20 s, GATEWAY_LEASE_S 10 s): the living
    gateway renews it, and the other gateway's retry worker never takes the message."""
    proxy, (a, service_a), (_, service_b) = _gateways(stack, database, tmp_path, rasa_delay_s=3.0, lease_s=1.0)
    try:
        resident = f"slow-{uuid.uuid4().hex[:6]}"
        with resident_http(a, timeout=30) as http:
            began = time.monotonic()
            response = http.post("/api/v1/messages", json={"user_id": resident, "text": WAGES})
            took = time.monotonic() - began
        assert response.status_code == 200 and response.json()["replies"], response.text
        assert took > 3.0  # three claims' lives
        stored = asyncio.run(stored_messages(database, [resident]))
        assert [r["attempts"] for r in stored] == [1]  # A's claim alone: B never claimed it
    finally:
        service_a.stop()
        service_b.stop()
        proxy.close()


def test_a_gateway_killed_mid_message_holds_its_residents_next_ones_only_a_claims_life(
    stack, database, tmp_path
) -> None:
    """Gateway A dies while Rasa still has the resident's message: its claim is no longer
    renewed, and gateway B answers that message and the next within about a claim's life
    (before, a claim lasted 33 s whoever held it, and the resident's messages were kept as long)."""
    lease_s = 2.0
    proxy, (a, service_a), (b, service_b) = _gateways(stack, database, tmp_path, rasa_delay_s=60.0, lease_s=lease_s)
    resident = f"dead-{uuid.uuid4().hex[:6]}"
    try:
        with resident_http(a, timeout=5) as http_a, resident_http(b, timeout=30) as http_b:
            with pytest.raises(httpx.TimeoutException):  # A holds the message while Rasa "thinks"
                http_a.post("/api/v1/messages", json={"user_id": resident, "text": WAGES})
            os.killpg(service_a.process.pid, signal.SIGKILL)
            killed = time.monotonic()
            second = http_b.post("/api/v1/messages", json={"user_id": resident, "text": "谢谢"})
            second_id = (second.json().get("error") or {}).get("message_id") or second.json().get("message_id")
            assert second.status_code in (200, 503), second.text
            while time.monotonic() - killed < 30:
                body = http_b.get(f"/api/v1/messages/{second_id}", params={"user_id": resident}).json()
                if body.get("status") not in (None, "pending"):
                    break
                time.sleep(0.2)
            answered_after = time.monotonic() - killed
        assert body.get("status") == "answered", body
        # the claim's life, B's turn wait and a retry round, then two Rasa turns: well under 33 s
        assert answered_after < lease_s + 3 + 6, answered_after
        # the message A died with was answered first, by B, on its second claim
        rows = asyncio.run(stored_messages(database, [resident]))
        assert [(r["text"], r["status"]) for r in rows] == [(WAGES, "answered"), ("谢谢", "answered")]
        assert rows[0]["attempts"] == 2  # A's claim, then B's
        assert rows[0]["updated_at"] <= rows[1]["updated_at"]
        print(f"\nresident answered {answered_after:.1f} s after its gateway was killed (claims of {lease_s} s)")
    finally:
        service_a.stop()
        service_b.stop()
        proxy.close()


def test_a_gateway_restarted_after_a_kill_gives_back_at_once_what_its_last_run_was_delivering(
    stack, database, tmp_path
) -> None:
    """Gateway A dies while Rasa still has the resident's message and is started again on its
    address, as systemd does (Restart=always): the new run gives back the dead run's claim
    and delivers the message at once, not when the claim runs out (30 s here)."""
    lease_s = 30.0
    proxy = _slow_rasa(stack, 60.0)
    common = _on_postgresql(database, GATEWAY_LEASE_S=str(lease_s), RETRY_INTERVAL_S="0.3")
    url, first = start_gateway(stack, tmp_path / "a", RASA_URL=f"http://127.0.0.1:{proxy.listen_port}", **common)
    port = int(url.rsplit(":", 1)[1])
    resident = f"back-{uuid.uuid4().hex[:6]}"
    again = None
    try:
        # the message is A's while Rasa "thinks"
        with resident_http(url, timeout=5) as http, pytest.raises(httpx.TimeoutException):
            http.post("/api/v1/messages", json={"user_id": resident, "text": WAGES})
        os.killpg(first.process.pid, signal.SIGKILL)
        first.process.wait(timeout=10)
        killed = time.monotonic()
        # the same address and settings, now with Rasa at hand
        _, again = start_gateway(stack, tmp_path / "a", port, **common)
        restarted = time.monotonic() - killed
        while time.monotonic() - killed < lease_s:
            rows = asyncio.run(stored_messages(database, [resident]))
            if rows and rows[0]["status"] != "pending":
                break
            time.sleep(0.2)
        answered_after = time.monotonic() - killed
        assert [(r["text"], r["status"]) for r in rows] == [(WAGES, "answered")]
        assert rows[0]["attempts"] == 2  # the dead run's claim, then the new run's
        # the restart, a retry round and one Rasa turn: far inside the claim's 30 s
        assert answered_after < restarted + 8, (answered_after, restarted)
        assert "gave back 1 message(s)" in again.log_path.read_text("utf-8")
        print(f"\nanswered {answered_after:.1f} s after the kill, its gateway back in {restarted:.1f} s")
    finally:
        first.stop()
        if again is not None:
            again.stop()
        proxy.close()


def _process_on_port(port: int) -> int | None:
    """The process whose TCP connection has local port `port`."""
    return next((c.pid for c in psutil.net_connections(kind="tcp") if c.laddr and c.laddr.port == port), None)


def test_two_gateways_polling_telegram_take_turns_and_answer_each_update_once(stack, database, tmp_path) -> None:
    """Telegram in polling mode on two gateways of one PostgreSQL (the cluster's layout, no
    TELEGRAM_WEBHOOK_URL): one polls at a time, as Telegram requires (a second getUpdates
    ends the first with 409, and updates fetched by both were answered twice); when the
    poller is killed, the other takes over and the residents' next messages are answered."""
    telegram = FakeTelegram(free_port())
    common = _on_postgresql(database, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE_URL=telegram.base_url)
    started = [start_gateway(stack, tmp_path / name, **common)[1] for name in ("a", "b")]
    chats = iter(range(7100, 7200))

    def ask(residents: int) -> list[int]:
        asked = [next(chats) for _ in range(residents)]
        for chat in asked:
            telegram.send_text(chat, "你好")
        for chat in asked:
            telegram.wait_sent(chat, 1, timeout=60)
        return asked

    try:
        answered = ask(3)
        time.sleep(5)  # both gateways up through several rounds of asking for the turn
        assert telegram.conflicts == []  # never two getUpdates at once
        poller = _process_on_port(telegram.pollers[-1])
        (victim,) = [s for s in started if s.process.pid == poller]
        os.killpg(victim.process.pid, signal.SIGKILL)
        killed = time.monotonic()
        answered += ask(3)
        took = time.monotonic() - killed
        time.sleep(2)  # time to answer anything twice
        for chat in answered:
            texts = [m["text"] for m in telegram.sent(chat)]
            assert texts and len(texts) == len(set(texts)), (chat, texts)
        # PostgreSQL frees the dead poller's turn at once; the other asks every 2 s
        assert took < 20, took
        print(f"\nthe other gateway polled and answered three residents {took:.1f} s after the poller's kill")
    finally:
        for service in started:
            service.stop()
        telegram.shutdown()
