"""The Telegram channel: the real python-telegram-bot client in a real gateway
process, talking to a local fake Bot API server (tests/helpers/fake_telegram.py) that
feeds scripted updates and records every call; Rasa and the action server are
the real test stack."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator

import httpx
import pytest

from bot.channels.telegram.channel import EDITED, ONLY_TEXT, TOO_FAST, split_text
from bot.core.conversation import ENDED_TEXT
from ops.stack import Service
from tests.helpers.console import Console, add_staff
from tests.helpers.fake_telegram import TOKEN, FakeTelegram
from tests.helpers.stack import free_port, start_gateway, stored_message_ids

WEBHOOK = {"TELEGRAM_WEBHOOK_URL": "https://example.invalid/telegram/webhook", "TELEGRAM_WEBHOOK_SECRET": "s3cret"}
SECRET = {"X-Telegram-Bot-Api-Secret-Token": "s3cret"}  # what Telegram sends with each update


def telegram_gateway(stack, tmp_path, telegram: FakeTelegram, **extra: str) -> tuple[str, Service]:
    return start_gateway(
        stack,
        tmp_path,
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_BASE_URL=telegram.base_url,
        RATE_LIMIT_PER_RESIDENT="6/minute",
        PUSH_INTERVAL_S="0.3",
        **extra,
    )


@pytest.fixture(scope="module")
def polling(stack, tmp_path_factory) -> Iterator[tuple[FakeTelegram, str, Service]]:
    telegram = FakeTelegram(free_port())
    url, service = telegram_gateway(stack, tmp_path_factory.mktemp("tg"), telegram)
    yield telegram, url, service
    service.stop()
    telegram.shutdown()


def texts(calls: list[dict]) -> list[str]:
    return [c["text"] for c in calls]


def test_long_replies_are_split_at_sentence_ends() -> None:
    text = "第一句话。" * 1000
    pieces = split_text(text, 4096)
    assert "".join(pieces) == text and all(len(p) <= 4096 for p in pieces)
    assert all(p.endswith("。") for p in pieces)
    assert split_text("短。") == ["短。"]


def test_start_question_and_button(polling) -> None:
    telegram, _, _ = polling
    chat = 1001
    telegram.send_text(chat, "/start")
    welcome = telegram.wait_sent(chat, 1)[0]["text"]
    assert "隐私提示" in welcome and "/human" in welcome
    telegram.send_text(chat, "老板拖欠我三个月工资不给")
    answer = telegram.wait_sent(chat, 2)[-1]
    assert "【拖欠工资】" in answer["text"] and "相关法条（原文）" in answer["text"]
    assert telegram.sent(chat, "sendChatAction")
    keyboard = answer["reply_markup"]["inline_keyboard"]
    assert all(len(row[0]["callback_data"].encode()) <= 64 for row in keyboard)
    mediation = next(row[0] for row in keyboard if row[0]["text"] == "找调解员")
    telegram.press(chat, mediation["callback_data"])
    reply = telegram.wait_sent(chat, 3)[-1]["text"]
    assert "【找调解员】" in reply
    assert telegram.called("answerCallbackQuery")
    assert all(len(t) <= 4096 for t in texts(telegram.sent(chat)))


def test_non_text_and_edits(polling) -> None:
    telegram, _, _ = polling
    chat = 1002
    telegram.send_photo(chat)
    assert telegram.wait_sent(chat, 1)[0]["text"] == ONLY_TEXT
    original = telegram.send_text(chat, "你好")["message"]["message_id"]
    telegram.wait_sent(chat, 2)
    telegram.edit(chat, original, "你好呀")
    telegram.edit(chat, original, "你好呀呀")
    telegram.wait_sent(chat, 3)
    time.sleep(1.5)
    assert texts(telegram.sent(chat)).count(EDITED) == 1


def test_rate_limit_is_polite(polling) -> None:
    telegram, _, _ = polling
    chat = 1003
    for _ in range(7):
        telegram.send_text(chat, "你好")
    telegram.wait_sent(chat, 7)
    assert TOO_FAST in texts(telegram.sent(chat))


def test_handoff_both_ways_in_telegram(polling, stack) -> None:
    telegram, url, _ = polling
    chat = 1004
    telegram.send_text(chat, "/human")
    queued = telegram.wait_sent(chat, 2)
    assert any("排在第" in t for t in texts(queued))
    # this gateway has its own database (its var dir): the mediator's account goes there
    add_staff(dataclasses.replace(stack.settings, var_dir=polling[2].log_path.parent), "tg-med")
    console = Console(url, "tg-med")
    case = console.http.get("/console/api/queue").json()["waiting"][0]
    assert console.post(f"/console/api/cases/{case['id']}/claim").status_code == 200
    before = len(telegram.sent(chat))
    started = time.monotonic()
    assert (
        console.post(f"/console/api/cases/{case['id']}/messages", {"text": "您好，我是调解员小王。"}).status_code == 200
    )
    pushed = telegram.wait_sent(chat, before + 2, timeout=5)  # the claim notice and the reply
    assert time.monotonic() - started < 2.0
    assert "【调解员】您好，我是调解员小王。" in texts(pushed)
    telegram.send_text(chat, "我在赤岗，老板欠我工资")
    forwarded = telegram.wait_sent(chat, before + 3)[-1]["text"]
    assert "已送达调解员" in forwarded
    detail = console.http.get(f"/console/api/cases/{case['id']}").json()
    assert any(m["sender"] == "resident" and "老板欠我工资" in m["text"] for m in detail["messages"])
    telegram.send_text(chat, "结束人工")
    assert telegram.wait_sent(chat, before + 4)[-1]["text"] == ENDED_TEXT


def test_webhook_needs_the_secret_token(stack, tmp_path) -> None:
    telegram = FakeTelegram(free_port())
    url, service = telegram_gateway(
        stack,
        tmp_path,
        telegram,
        TELEGRAM_WEBHOOK_URL="https://example.invalid/telegram/webhook",
        TELEGRAM_WEBHOOK_SECRET="s3cret-token",
    )
    try:
        hook = telegram.called("setWebhook")
        assert hook and hook[0]["secret_token"] == "s3cret-token"
        update = {"update_id": 1, **telegram.text_update(2001, "你好")}
        assert httpx.post(f"{url}/telegram/webhook", json=update).status_code == 403
        assert (
            httpx.post(
                f"{url}/telegram/webhook", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"}
            ).status_code
            == 403
        )
        time.sleep(1)
        assert telegram.sent(2001) == []
        ok = httpx.post(
            f"{url}/telegram/webhook", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-token"}
        )
        assert ok.status_code == 200
        assert "您好" in telegram.wait_sent(2001, 1)[0]["text"]
        assert not telegram.called("getUpdates")
    finally:
        service.stop()
        telegram.shutdown()


def test_an_update_sent_again_is_one_message(stack, tmp_path) -> None:
    """#15: the webhook answers once the update is handled (on the update queue it was
    acknowledged first and lived only in memory: a gateway killed then lost it, and
    Telegram, told 200, never sent it again). An update Telegram sends again (no gateway
    acknowledged it) is the same message: its reply is sent again, the question is not
    taken a second time."""
    telegram = FakeTelegram(free_port())
    chat = 2201
    url, service = telegram_gateway(stack, tmp_path, telegram, **WEBHOOK)
    try:
        update = {"update_id": 71, **telegram.text_update(chat, "房东不退押金怎么办")}
        assert httpx.post(f"{url}/telegram/webhook", json=update, headers=SECRET, timeout=60).status_code == 200
        first = telegram.sent(chat)  # handled before the webhook answered: nothing to wait for
        assert first and "押金" in first[0]["text"], first
        assert httpx.post(f"{url}/telegram/webhook", json=update, headers=SECRET, timeout=60).status_code == 200
        again = telegram.sent(chat)[len(first) :]
        assert [m["text"] for m in again] == [m["text"] for m in first]
        stored = stored_message_ids(tmp_path, f"tg:{chat}")
        assert len(stored) == 1, stored
    finally:
        service.stop()
        telegram.shutdown()


def test_buttons_still_work_after_a_gateway_restart(stack, tmp_path) -> None:
    """Button payloads live in the gateway's database, not in one process's memory."""
    telegram = FakeTelegram(free_port())
    chat = 2101
    url, service = telegram_gateway(stack, tmp_path, telegram, **WEBHOOK)
    try:
        update = {"update_id": 1, **telegram.text_update(chat, "老板拖欠我三个月工资不给")}
        assert httpx.post(f"{url}/telegram/webhook", json=update, headers=SECRET).status_code == 200
        keyboard = telegram.wait_sent(chat, 1)[-1]["reply_markup"]["inline_keyboard"]
        mediation = next(row[0] for row in keyboard if row[0]["text"] == "找调解员")["callback_data"]
        service.stop()
        url, service = telegram_gateway(stack, tmp_path, telegram, **WEBHOOK)  # same database, new process
        press = {**telegram.press(chat, mediation), "update_id": 2}  # press() numbers its own for polling
        assert httpx.post(f"{url}/telegram/webhook", json=press, headers=SECRET).status_code == 200
        assert "【找调解员】" in telegram.wait_sent(chat, 2)[-1]["text"]
    finally:
        service.stop()
        telegram.shutdown()
