"""The Telegram channel: python-telegram-bot v22 inside the gateway process.

It talks to the same gateway core as every channel (bot/core/conversation.py), so
a handoff, a mediator's reply and the citation guard behave as they do on the
HTTP API. Long polling for local use; webhook mode (Telegram's secret-token
header checked) when TELEGRAM_WEBHOOK_URL is set. Mediators' replies are
pushed from the case store within PUSH_INTERVAL_S.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
import time
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from telegram import Chat, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatAction, MessageLimit
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.core.conversation import Conversations
from bot.core.one_at_a_time import OneAtATime
from bot.core.rate_limits import RateLimits
from bot.errors import NOT_SAVED_TEXT, STORE_DOWN
from bot.store.handoff_messages import MessageView
from bot.store.models import ButtonPayload
from bot.store.reminders import Reminder
from settings import Settings

log = logging.getLogger(__name__)

CHANNEL = "telegram"
PREFIX = "tg:"
WELCOME = (
    "您好！我是海珠区公共法律服务智能助手。请直接说说您遇到的问题（工资、辞退、租房、骑手权益、加装电梯等），"
    "我会引用法律条文告诉您可以怎么办、去哪里办，也可以帮您找调解员或申请法律援助。\n"
    "我不是律师，回答仅供参考。发送 /human 转人工，/cancel 取消正在填写的申请，/help 查看帮助。\n"
    "隐私提示：您的消息会保存下来用于回答和转交工作人员，只有负责的工作人员能看到，"
    "保存{days}天后删除。继续发消息即表示您同意按上述方式处理。"
)
HELP = (
    "直接用文字描述您的问题即可，例如「老板拖欠我三个月工资」。\n"
    "/human 转人工调解员　/cancel 取消申请　/start 重新开始\n"
    "目前只能看懂文字消息。急事请拨打12348公共法律服务热线；遇到人身危险请拨打110。"
)
ONLY_TEXT = "抱歉，我目前只能看懂文字消息。请用文字描述您的问题；需要提交材料的话，可以转人工（/human）。"
EDITED = "修改后的消息不会重新回答。如需更正，请直接发一条新消息。"
TOO_FAST = "您发消息太快了，请稍等一分钟再发。您之前的消息都已收到。"
KEPT = "系统正忙，您的消息已经保存，恢复后会自动回复您；急事请拨打12348公共法律服务热线。"
EXPIRED = "这个按钮已经过期，请直接发文字告诉我您的选择。"
FROM_MEDIATOR = {"mediator": "【调解员】", "system": "【系统】"}
_SENTENCE_END = re.compile(r"[。！？!?\n]")


def split_text(text: str, limit: int = MessageLimit.MAX_TEXT_LENGTH) -> list[str]:
    """Pieces of at most `limit` characters, cut after a sentence end where possible."""
    pieces = []
    while len(text) > limit:
        ends = [m.end() for m in _SENTENCE_END.finditer(text, 0, limit)]
        cut = ends[-1] if ends and ends[-1] > limit // 2 else limit
        pieces.append(text[:cut])
        text = text[cut:]
    if text:
        pieces.append(text)
    return pieces


def chat_of(update: Update) -> Chat:
    """The update's chat: every handler here is registered for updates that have one."""
    chat = update.effective_chat
    assert chat is not None, "handler registered for chat updates only"
    return chat


class Payloads:
    """Button payloads can exceed Telegram's 64-byte callback data: the token goes to
    Telegram, the payload stays in the gateway's database, so a button still works
    after a restart and whichever gateway receives the press."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def token(self, payload: str) -> str:
        token = "p" + hashlib.sha1(payload.encode("utf-8")).hexdigest()[:20]
        async with self._sessions() as session:
            if await session.get(ButtonPayload, token) is None:
                session.add(ButtonPayload(token=token, payload=payload, created_at=time.time()))
                try:
                    await session.commit()
                except IntegrityError:  # another gateway stored the same payload just now
                    await session.rollback()
        return token

    async def payload(self, token: str) -> str | None:
        async with self._sessions() as session:
            found = await session.get(ButtonPayload, token[:24])
            return found.payload if found else None


class TelegramChannel:
    def __init__(self, settings: Settings, conversations: Conversations, limits: RateLimits) -> None:
        self.settings = settings
        self.conversations = conversations
        self.payloads = Payloads(conversations.store.engine)
        self.limits = limits  # the per-resident budget every channel shares (memory or Redis)
        self._edited_seen: set[tuple[int, int]] = set()
        self._pusher: asyncio.Task | None = None
        self._poller: asyncio.Task | None = None  # polling mode: waits its turn, then polls
        self._reminder_pusher: asyncio.Task | None = None
        builder = ApplicationBuilder().token(settings.telegram_bot_token).base_url(settings.telegram_api_base_url)
        if settings.telegram_webhook_url:
            builder = builder.updater(None)
        self.app: Application = builder.build()
        self.app.add_handler(CommandHandler("start", self.on_start))
        self.app.add_handler(CommandHandler("help", self.on_help))
        self.app.add_handler(CommandHandler("human", self.on_command_text("/request_human")))
        self.app.add_handler(CommandHandler("cancel", self.on_command_text("/cancel")))
        self.app.add_handler(MessageHandler(filters.UpdateType.EDITED_MESSAGE, self.on_edited))
        self.app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, self.on_text))
        self.app.add_handler(CallbackQueryHandler(self.on_button))
        self.app.add_handler(MessageHandler(~filters.TEXT & ~filters.COMMAND, self.on_other))
        self.app.add_error_handler(self.on_error)
        conversations.late_reply_handlers[CHANNEL] = self.late_reply

    # -- lifecycle ---------------------------------------------------------------
    async def start(self) -> str:
        await self.app.initialize()
        await self.app.start()
        if self.settings.telegram_webhook_url:
            await self.app.bot.set_webhook(
                self.settings.telegram_webhook_url,
                secret_token=self.settings.telegram_webhook_secret or None,
                allowed_updates=Update.ALL_TYPES,
            )
            mode = "webhook"
        else:
            # one gateway of several polls at a time: two pollers conflict (409) and may both
            # answer one update before either confirms it (bot/core/one_at_a_time.py)
            self._poller = asyncio.create_task(
                OneAtATime(self.conversations.store.engine, "telegram polling").run_forever(
                    self._start_polling, self._stop_polling
                )
            )
            mode = "polling"
        self._pusher = asyncio.create_task(
            self.conversations.push_forever(CHANNEL, self.push, self.settings.push_interval_s)
        )
        if self.conversations.reminders is not None:
            self._reminder_pusher = asyncio.create_task(
                self.conversations.reminders.push_forever(PREFIX, self.remind, self.settings.reminder_interval_s)
            )
        log.info("telegram channel on (%s)", mode)
        return mode

    async def _start_polling(self) -> None:
        assert self.app.updater is not None  # ApplicationBuilder gives one unless told not to
        await self.app.updater.start_polling(poll_interval=0.0, timeout=10, allowed_updates=Update.ALL_TYPES)

    async def _stop_polling(self) -> None:
        """Confirms what it fetched (python-telegram-bot's cleanup), so the next poller does
        not fetch it again."""
        if self.app.updater and self.app.updater.running:
            await self.app.updater.stop()

    async def stop(self) -> None:
        for task in (self._pusher, self._reminder_pusher):
            if task:
                task.cancel()
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        await self._stop_polling()
        if self.app.running:
            await self.app.stop()
        await self.app.shutdown()

    async def feed(self, data: dict[str, Any]) -> None:
        """An update that arrived by webhook, handled before the webhook answers. Put on the
        update queue, it was acknowledged at once and lived only in this process's memory: a
        gateway killed then lost it, and Telegram, told 200, never sent it again. Now a gateway
        that dies with it leaves Telegram without an answer, and Telegram sends it again
        (to another gateway behind the balancer); its update_id keeps it one message."""
        await self.app.process_update(Update.de_json(data, self.app.bot))

    # -- sending -------------------------------------------------------------------
    async def keyboard(self, buttons: list[dict[str, str]]) -> InlineKeyboardMarkup | None:
        if not buttons:
            return None
        return InlineKeyboardMarkup(
            [
                [InlineKeyboardButton(b["title"][:60], callback_data=await self.payloads.token(b["payload"]))]
                for b in buttons
            ]
        )

    async def send_replies(self, chat_id: int, replies: list[dict[str, Any]]) -> None:
        for reply in replies:
            pieces = split_text(reply.get("text") or "")
            for index, piece in enumerate(pieces):
                last = index == len(pieces) - 1
                markup = await self.keyboard(reply.get("buttons") or []) if last else None
                await self.app.bot.send_message(chat_id, piece, reply_markup=markup)

    async def converse(self, chat_id: int, text: str, update_id: int | None = None) -> None:
        """`update_id`: Telegram sends an update again when no gateway acknowledged it; as the
        message's key it is the same message then (its reply sent again, not a new question)."""
        if not await self.limits.resident_may_send(f"{PREFIX}{chat_id}"):
            await self.app.bot.send_message(chat_id, TOO_FAST)
            return
        await self.app.bot.send_chat_action(chat_id, ChatAction.TYPING)
        key = f"tg-update-{update_id}" if update_id is not None else None
        outcome = await self.conversations.handle(f"{PREFIX}{chat_id}", text, client_key=key)
        if outcome.result is None:
            await self.app.bot.send_message(chat_id, KEPT)
            return
        await self.send_replies(chat_id, outcome.result["replies"])

    async def remind(self, reminder: Reminder) -> None:
        """A deadline reminder the resident asked for (bot/core/reminders.py)."""
        await self.app.bot.send_message(int(reminder.user_id[len(PREFIX) :]), reminder.text())

    async def late_reply(self, user_id: str, result: dict[str, Any]) -> None:
        """A kept message answered once Rasa was back."""
        await self.send_replies(int(user_id[len(PREFIX) :]), result["replies"])

    async def push(self, resident: str, message: MessageView) -> None:
        """A mediator's (or the system's) message to the resident's chat."""
        await self.app.bot.send_message(
            int(resident[len(PREFIX) :]), FROM_MEDIATOR.get(message.sender, "") + message.text
        )

    # -- handlers ------------------------------------------------------------------
    async def on_start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await chat_of(update).send_message(WELCOME.format(days=int(self.settings.case_retention_days)))

    async def on_help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await chat_of(update).send_message(HELP)

    def on_command_text(self, text: str):
        async def handler(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            await self.converse(chat_of(update).id, text, update.update_id)

        return handler

    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        await self.converse(chat_of(update).id, (message.text or "") if message else "", update.update_id)

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        await query.answer()
        payload = await self.payloads.payload(query.data or "")
        if payload is None:
            await chat_of(update).send_message(EXPIRED)
            return
        await self.converse(chat_of(update).id, payload, update.update_id)

    async def on_edited(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        edited = update.edited_message
        key = (chat_of(update).id, edited.message_id if edited else 0)
        if key not in self._edited_seen:  # however often it is edited, say it once
            self._edited_seen.add(key)
            await chat_of(update).send_message(EDITED)

    async def on_other(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.effective_chat is not None:
            await update.effective_chat.send_message(ONLY_TEXT)

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("telegram update failed: %s", type(context.error).__name__)
        if isinstance(update, Update) and update.effective_chat is not None:
            # with the database down the message was not kept: saying so is the truth
            text = NOT_SAVED_TEXT if isinstance(context.error, STORE_DOWN) else KEPT
            with contextlib.suppress(TelegramError):
                await update.effective_chat.send_message(text)
