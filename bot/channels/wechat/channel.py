"""WeChat: the mini-program's JSON API and the message-push endpoint
(小程序客服消息 / 公众号), both on the gateway core like every channel.

Mini-program: `wx.login` code → code2Session (WECHAT_API_BASE, so tests use a
local simulator) → a signed session token → send messages and long-poll for
mediators' replies. Push: GET verification (SHA-1 of sorted token, timestamp,
nonce), POST in XML or JSON, plaintext or 安全模式 (AES-256-CBC with the
EncodingAESKey; wechatpy does the crypto and XML). WeChat waits 5 s for a
push: the answer goes back passively when ready in WECHAT_PASSIVE_REPLY_S,
otherwise the push is acknowledged with `success` and the answer sent through
the customer-service message API. Wrong signatures get 403 and nothing is
processed; so does a timestamp more than five minutes from now, and a
plaintext push while an EncodingAESKey is configured; a replayed (timestamp,
nonce) within the window is acknowledged and ignored (bot/store/push_nonces.py,
in the database: it survives restarts and is shared by gateways).
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import Request
from itsdangerous import URLSafeTimedSerializer
from wechatpy.crypto import WeChatCrypto

from bot.channels.wechat.client import NotSubscribed, WeChatClient
from bot.core.conversation import Conversations
from bot.core.reminders import Undeliverable
from bot.core.resident_tokens import signed_bearer
from bot.store.handoff_messages import MessageView
from bot.store.push_nonces import PushNonces
from bot.store.reminders import Reminder
from settings import Settings

CHANNEL = "wechat"
PREFIX = "wx:"
ONLY_TEXT = "抱歉，我目前只能看懂文字消息，请用文字描述您的问题。"
KEPT = "系统正忙，您的消息已经保存，恢复后会自动回复您；急事请拨打12348公共法律服务热线。"


class WeChatChannel:
    def __init__(self, settings: Settings, conversations: Conversations) -> None:
        self.settings = settings
        self.conversations = conversations
        self.client = WeChatClient(settings)
        self.sessions = URLSafeTimedSerializer(settings.console_signing_key(), salt="wechat-session")
        self.nonces = PushNonces(conversations.store.engine)
        self._tasks: set[asyncio.Task] = set()
        self._pusher: asyncio.Task | None = None
        self._reminder_pusher: asyncio.Task | None = None
        conversations.late_reply_handlers[CHANNEL] = self.late_reply

    async def start(self) -> None:
        if self.settings.wechat_token:  # push residents; mini-program users long-poll instead
            self._pusher = asyncio.create_task(
                self.conversations.push_forever(CHANNEL, self.push, self.settings.push_interval_s)
            )
        if self.settings.wechat_reminder_template_id and self.conversations.reminders is not None:
            self._reminder_pusher = asyncio.create_task(
                self.conversations.reminders.push_forever(PREFIX, self.remind, self.settings.reminder_interval_s)
            )

    async def stop(self) -> None:
        for task in (self._pusher, self._reminder_pusher):
            if task:
                task.cancel()
        for task in list(self._tasks):
            task.cancel()
        await self.client.close()

    def keep(self, task: asyncio.Task) -> None:
        """Hold a background answer until it is done (and cancel it at shutdown)."""
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- delivery ----------------------------------------------------------------------
    async def send_replies(self, openid: str, replies: list[dict[str, Any]]) -> None:
        for reply in replies:
            await self.client.send_text(openid, reply_text(reply))

    async def late_reply(self, user_id: str, result: dict[str, Any]) -> None:
        if self.settings.wechat_token:  # residents of the push channel; mini-program users poll
            await self.send_replies(user_id[len(PREFIX) :], result["replies"])

    async def remind(self, reminder: Reminder) -> None:
        """A deadline reminder as a subscribe message: WeChat allows a customer-service
        message only within 48 hours of the resident's last one, a reminder comes weeks later."""
        await send_reminder(self.client, self.settings.wechat_reminder_template_id, reminder)

    async def push(self, resident: str, message: MessageView) -> None:
        """A mediator's (or the system's) message by customer-service message."""
        await self.client.send_text(resident[len(PREFIX) :], message.text)

    # -- mini-program sessions -----------------------------------------------------------
    def session_token(self, openid: str) -> str:
        return self.sessions.dumps({"openid": openid})

    def openid_of(self, request: Request) -> str | None:
        return signed_bearer(
            self.sessions, request.headers.get("authorization"), self.settings.wechat_session_max_age_s, "openid"
        )

    # -- push helpers ------------------------------------------------------------------
    def crypto(self) -> WeChatCrypto:
        return WeChatCrypto(
            self.settings.wechat_token, self.settings.wechat_encoding_aes_key, self.settings.wechat_appid
        )


async def send_reminder(client: WeChatClient, template_id: str, reminder: Reminder) -> None:
    """The template's fields (README "Configuration"): thing1 what is due, date2 its last
    day, thing3 how many days are left (WeChat caps a thing at 20 characters)."""
    try:
        await client.send_subscribe(
            reminder.user_id[len(PREFIX) :],
            template_id,
            {
                "thing1": reminder.title[:20],
                "date2": reminder.day_text(),
                "thing3": f"还有{reminder.days_before}天，回复退订取消"[:20],
            },
        )
    except NotSubscribed as exc:
        raise Undeliverable(str(exc)) from exc


def reply_text(reply: dict[str, Any]) -> str:
    """A reply as plain text: WeChat's text messages have no buttons, so choices are listed."""
    text = reply.get("text") or ""
    buttons = reply.get("buttons") or []
    if buttons:
        text += "\n" + "\n".join(f"· {b['title']}" for b in buttons)
    return text
