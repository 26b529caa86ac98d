"""Deadline reminders (#16): kept when the resident agrees, pushed through the real
python-telegram-bot client to the local fake Bot API at the due time of a frozen
clock and not before, once however many gateways take them, cancelled by one word,
purged with the rest."""

from __future__ import annotations

import asyncio
from datetime import date, datetime

from telegram import Bot

from bot.core.reminders import DeadlineReminders
from bot.store.messages import MessageStore
from bot.store.reminders import BEIJING, Reminder, ReminderStore
from bot.store.retention import purge
from tests.helpers.fake_telegram import TOKEN, FakeTelegram
from tests.helpers.stack import free_port

ARBITRATION = {"kind": "arbitration", "title": "申请劳动仲裁的最后一天", "last_day": "2025-09-01"}


def beijing(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> float:
    return datetime(year, month, day, hour, minute, tzinfo=BEIJING).timestamp()


class FrozenClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_reminder_reaches_telegram_at_its_due_time_and_not_before(tmp_path) -> None:
    telegram = FakeTelegram(free_port())

    async def scenario() -> None:
        store = MessageStore(f"sqlite+aiosqlite:///{tmp_path / 'g.db'}")
        await store.open()
        clock = FrozenClock(beijing(2025, 7, 1, 10))
        reminders = DeadlineReminders(ReminderStore(store.engine), clock=clock)
        other_gateway = DeadlineReminders(ReminderStore(store.engine), clock=clock)
        bot = Bot(TOKEN, base_url=telegram.base_url)
        await bot.initialize()

        async def send(reminder: Reminder) -> None:
            await bot.send_message(int(reminder.user_id.removeprefix("tg:")), reminder.text())

        try:
            reply = await reminders.asked("tg:501", ARBITRATION)
            assert "2025年8月2日和2025年8月25日在这里推送给您" in reply["text"] and "退订" in reply["text"]
            clock.now = beijing(2025, 8, 2, 8, 59)  # the day, before nine
            assert await reminders.push_due("tg:", send) == 0
            clock.now = beijing(2025, 8, 2, 9, 0)
            first, second = await asyncio.gather(reminders.push_due("tg:", send), other_gateway.push_due("tg:", send))
            assert first + second == 1  # two gateways, one message
            sent = telegram.wait_sent(501, 1)
            assert "申请劳动仲裁的最后一天是2025年9月1日，还有30天" in sent[0]["text"]
            clock.now = beijing(2025, 8, 25, 9, 30)
            assert await reminders.push_due("tg:", send) == 1
            assert "还有7天" in telegram.wait_sent(501, 2)[1]["text"]
            assert await reminders.push_due("tg:", send) == 0  # each once
        finally:
            await bot.shutdown()
            await store.close()

    try:
        asyncio.run(scenario())
    finally:
        telegram.shutdown()


def test_a_failed_send_is_retried_and_cancel_stops_everything(tmp_path) -> None:
    async def scenario() -> None:
        store = MessageStore(f"sqlite+aiosqlite:///{tmp_path / 'g.db'}")
        await store.open()
        clock = FrozenClock(beijing(2025, 7, 1, 10))
        reminders = DeadlineReminders(ReminderStore(store.engine), clock=clock)
        delivered: list[str] = []

        async def flaky(reminder: Reminder) -> None:
            if not delivered:
                delivered.append("failed once")
                raise OSError("telegram unreachable")
            delivered.append(reminder.text())

        try:
            await reminders.asked("tg:7", ARBITRATION)
            clock.now = beijing(2025, 8, 2, 9)
            assert await reminders.push_due("tg:", flaky) == 0  # the API failed: kept
            assert await reminders.push_due("tg:", flaky) == 1 and "还有30天" in delivered[-1]
            assert (
                reminders.is_cancel("退订") and reminders.is_cancel(" 取消提醒。") and not reminders.is_cancel("取消")
            )
            assert "1条" in (await reminders.cancel("tg:7"))["text"]  # the 7-day one was still pending
            assert "没有待发送" in (await reminders.cancel("tg:7"))["text"]
            clock.now = beijing(2025, 8, 25, 9)
            assert await reminders.push_due("tg:", flaky) == 0
        finally:
            await store.close()

    asyncio.run(scenario())


def test_past_days_are_skipped_repeats_replace_and_wechat_is_told_to_note_the_date(tmp_path) -> None:
    async def scenario() -> None:
        store = MessageStore(f"sqlite+aiosqlite:///{tmp_path / 'g.db'}")
        await store.open()
        clock = FrozenClock(beijing(2025, 8, 10, 12))  # past the 30-day reminder of 1 September
        reminders = DeadlineReminders(ReminderStore(store.engine), clock=clock)  # no WeChat template
        try:
            only_seven = await reminders.asked("web:abc", ARBITRATION)
            assert "2025年8月25日在您下次打开对话时显示" in only_seven["text"]
            await reminders.asked("web:abc", ARBITRATION)  # asked twice: still one reminder
            assert len(await reminders.store.pending("web:abc")) == 1
            too_late = await reminders.asked("web:abc", {**ARBITRATION, "last_day": "2025-08-12"})
            assert "来不及提前提醒" in too_late["text"]
            wechat = await reminders.asked("wx:openid", ARBITRATION)
            assert "记下来" in wechat["text"] and not await reminders.store.pending("wx:openid")
            # the web resident's next visit after the day shows it once
            clock.now = beijing(2025, 8, 25, 10)
            assert "还有7天" in (await reminders.due_for("web:abc"))[0]["text"]
            assert await reminders.due_for("web:abc") == []
            # purged with the rest: sent and cancelled ones past the retention period
            removed = await purge(store.engine, retention_days=30, now=beijing(2025, 10, 1))
            assert removed.reminders == 1
        finally:
            await store.close()

    asyncio.run(scenario())


def test_due_days_are_beijing_days() -> None:
    from bot.store.reminders import due_at

    now = beijing(2025, 8, 1, 23, 30)  # 15:30 UTC: already 1 August in Guangzhou
    assert due_at(date(2025, 8, 1), now) == now  # today: at once
    assert due_at(date(2025, 7, 31), now) is None
    assert due_at(date(2025, 8, 2), now) == beijing(2025, 8, 2, 9)


def test_wechat_residents_get_a_subscribe_message_and_a_refusal_is_not_retried(tmp_path) -> None:
    from bot.channels.wechat.channel import send_reminder
    from bot.channels.wechat.client import WeChatClient
    from settings import Settings
    from tests.helpers.fake_wechat import APPID, SECRET, FakeWeChat

    wechat = FakeWeChat(free_port())
    wechat.not_subscribed.add("openid-refused")

    async def scenario() -> None:
        store = MessageStore(f"sqlite+aiosqlite:///{tmp_path / 'g.db'}")
        await store.open()
        clock = FrozenClock(beijing(2025, 7, 1, 10))
        reminders = DeadlineReminders(ReminderStore(store.engine), pushed=("tg:", "wx:"), clock=clock)
        client = WeChatClient(Settings(wechat_api_base=wechat.base_url, wechat_appid=APPID, wechat_secret=SECRET))

        async def send(reminder: Reminder) -> None:
            await send_reminder(client, "TEMPLATE-1", reminder)

        try:
            assert "在这里推送给您" in (await reminders.asked("wx:openid-1", ARBITRATION))["text"]
            await reminders.asked("wx:openid-refused", ARBITRATION)
            clock.now = beijing(2025, 8, 2, 9)
            assert await reminders.push_due("wx:", send) == 1
            body = wechat.subscribed[0]
            assert body["touser"] == "openid-1" and body["template_id"] == "TEMPLATE-1"
            assert body["data"] == {
                "thing1": {"value": "申请劳动仲裁的最后一天"},
                "date2": {"value": "2025年9月1日"},
                "thing3": {"value": "还有30天，回复退订取消"},
            }
            assert await reminders.push_due("wx:", send) == 0  # the refused one was given up, not retried
            assert len(await reminders.store.pending("wx:openid-refused")) == 1  # its 7-day one is still due later
        finally:
            await client.close()
            await store.close()

    try:
        asyncio.run(scenario())
    finally:
        wechat.shutdown()
