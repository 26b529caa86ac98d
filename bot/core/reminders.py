"""Deadline reminders in the gateway: the resident's consent arrives from the
action server as a custom message ({"reminder": {...}}), the reminders are kept
in the case store and pushed through the resident's channel when due.

Telegram residents get them pushed, WeChat residents as a subscribe message
(when WECHAT_REMINDER_TEMPLATE_ID is set; else they are told to note the date
rather than promised a reminder that cannot arrive); web and API residents get
a due reminder at the top of their next reply and in their conversation's
poll (the page shows it on the next visit). 「退订」 (or 「取消提醒」) cancels
every pending reminder, answered by the gateway itself, Rasa up or not.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

from bot.core.workers import every
from bot.store.reminders import Reminder, ReminderStore
from knowledge_base.chinese_numerals import chinese_date

log = logging.getLogger(__name__)

CANCEL_WORDS = frozenset({"退订", "取消提醒", "不要提醒", "停止提醒", "TD", "td"})
CANCELLED_TEXT = "已为您取消全部{count}条期限提醒，不会再提醒您。"
NOTHING_TO_CANCEL = "您现在没有待发送的期限提醒。"
CANNOT_REMIND = "抱歉，在这个渠道我暂时不能按时给您发提醒。请把这个日期记下来（比如写进手机日历）：{title}是{day}。"


class Undeliverable(Exception):
    """A channel's refusal no retry will change (a WeChat resident who did not subscribe)."""


class DeadlineReminders:
    def __init__(
        self, store: ReminderStore, pushed: tuple[str, ...] = ("tg:",), clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.pushed = pushed  # id prefixes of the channels with a push worker (tg:, wx: with a template)
        self.clock = clock

    def remindable(self, user_id: str) -> bool:
        if user_id.startswith(self.pushed) or user_id.startswith("web:"):
            return True
        return ":" not in user_id  # an API resident: on the next visit

    def is_cancel(self, text: str) -> bool:
        return text.strip().strip("。.!！") in CANCEL_WORDS

    async def cancel(self, user_id: str) -> dict[str, Any]:
        count = await self.store.cancel_all(user_id)
        text = CANCELLED_TEXT.format(count=count) if count else NOTHING_TO_CANCEL
        return {"text": text, "buttons": []}

    async def asked(self, user_id: str, request: dict[str, Any]) -> dict[str, Any]:
        """The reply line for a resident who asked to be reminded of `request`
        ({"kind", "title", "last_day"}): what was set, or why nothing was."""
        try:
            last_day = date.fromisoformat(str(request.get("last_day")))
        except ValueError:
            return {"text": "抱歉，这个期限没能设成提醒。请记下日期，或找调解员帮您。", "buttons": []}
        title = str(request.get("title") or "期限")[:60]
        if not self.remindable(user_id):
            return {"text": CANNOT_REMIND.format(title=title, day=chinese_date(last_day)), "buttons": []}
        days = await self.store.add(user_id, str(request.get("kind") or "deadline")[:32], title, last_day, self.clock())
        if not days:
            return {
                "text": f"{title}（{chinese_date(last_day)}）已经很近了，来不及提前提醒，请尽快办理。",
                "buttons": [],
            }
        when = "和".join(chinese_date(d) for d in days)
        how = "在这里推送给您" if user_id.startswith(self.pushed) else "在您下次打开对话时显示"
        day = chinese_date(last_day)
        return {
            "text": f"好的，已设好提醒：{title}是{day}，我会在{when}{how}。回复「退订」可以随时取消。",
            "buttons": [],
        }

    async def due_for(self, user_id: str) -> list[dict[str, Any]]:
        """A web or API resident's due reminders, as replies (taken: shown once)."""
        if user_id.startswith(self.pushed) or not self.remindable(user_id):
            return []
        due = await self.store.take_due(now=self.clock(), user_id=user_id)
        for reminder in due:
            await self.store.sent(reminder.id, self.clock())
        return [{"text": r.text(), "buttons": []} for r in due]

    async def push_due(self, prefix: str, send: Callable[[Reminder], Awaitable[None]]) -> int:
        """One round: every due reminder of `prefix`'s residents, sent with `send(reminder)`;
        a failed send is put back for the next round, an undeliverable one is not."""
        sent = 0
        for reminder in await self.store.take_due(prefix, self.clock()):
            try:
                await send(reminder)
            except Undeliverable:
                log.warning("reminder %s via %s cannot be delivered; given up", reminder.id, prefix)
                await self.store.give_up(reminder.id)
                continue
            except Exception as exc:  # the channel's API failed: the next round tries again
                log.warning("reminder %s via %s failed (%s); retrying", reminder.id, prefix, type(exc).__name__)
                await self.store.put_back(reminder.id)
                continue
            await self.store.sent(reminder.id, self.clock())
            sent += 1
        return sent

    async def push_forever(self, prefix: str, send: Callable[[Reminder], Awaitable[None]], interval_s: float) -> None:
        async def one_round() -> None:
            count = await self.push_due(prefix, send)
            if count:
                log.info("%d deadline reminder(s) sent via %s", count, prefix)

        await every(interval_s, one_round, "reminder")
