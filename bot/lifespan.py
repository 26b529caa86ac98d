"""What the gateway opens at start and closes at stop: the message and case stores,
the Rasa client, the citation guard's article lookup, the retry worker, and the
Telegram and WeChat channels when configured. A channel that cannot start is
logged and left off: the other channels still serve residents."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator

from fastapi import FastAPI

from bot.api.drafts import link_for
from bot.core import privacy
from bot.core.citation_guard import ArticleLookup, CitationGuard
from bot.core.conversation import Conversations
from bot.core.rasa_client import RasaClient
from bot.core.reminders import DeadlineReminders
from bot.core.turn_gate import TurnGate
from bot.store.drafts import DraftStore
from bot.store.handoff_cases import HandoffCaseStore
from bot.store.legal_aid_applications import ApplicationStore
from bot.store.messages import MessageStore
from bot.store.reminders import ReminderStore
from bot.store.staff_accounts import StaffStore
from settings import Settings

log = logging.getLogger(__name__)


async def _start_channels(app: FastAPI, settings: Settings) -> None:
    app.state.telegram = app.state.wechat = None
    if settings.telegram_bot_token:
        from bot.channels.telegram.channel import TelegramChannel

        telegram = TelegramChannel(settings, app.state.conversations, app.state.rate_limits)
        try:
            await telegram.start()
            app.state.telegram = telegram
        except Exception as exc:  # the other channels still serve residents
            log.error("telegram channel could not start (%s); it is off", type(exc).__name__)
    else:
        log.info("telegram channel off (no TELEGRAM_BOT_TOKEN)")
    if settings.wechat_appid or settings.wechat_token:
        from bot.channels.wechat.channel import WeChatChannel

        app.state.wechat = WeChatChannel(settings, app.state.conversations)
        await app.state.wechat.start()


def reminder_channels(settings: Settings) -> tuple[str, ...]:
    """The residents' id prefixes whose channel pushes deadline reminders."""
    return (("tg:",) if settings.telegram_bot_token else ()) + (
        ("wx:",) if settings.wechat_appid and settings.wechat_reminder_template_id else ()
    )


def gateway_instance(settings: Settings) -> str:
    """What stays the same across runs of one gateway instance and differs between any two
    running at once: its machine and the address it serves (one process per address)."""
    return f"{socket.gethostname()}|{settings.host}|{settings.gateway_port}"


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    privacy.install()
    store = MessageStore(settings.gateway_database_url)
    await store.open()
    rasa = RasaClient(settings.rasa_base_url, settings.rasa_timeout_s, settings.action_base_url, settings.rasa_token())
    app.state.articles = ArticleLookup(settings.index_dir)
    app.state.conversations = Conversations(
        store,
        rasa,
        settings.max_message_chars,
        CitationGuard(app.state.articles),
        HandoffCaseStore(store.engine),
        ApplicationStore(store.engine),
        TurnGate(settings.gateway_max_turns, settings.gateway_turn_wait_s),
        case_budget=app.state.rate_limits.may_open_case,
        # renewed while this gateway delivers the message (Conversations.renew_forever)
        lease_s=settings.gateway_lease_s,
        reminders=DeadlineReminders(ReminderStore(store.engine), pushed=reminder_channels(settings)),
        drafts=DraftStore(store.engine),
        draft_links=lambda public_id: {
            **link_for(settings.public_base_url, settings.console_signing_key(), public_id),
            "days": str(max(1, settings.draft_link_max_age_s // 86400)),
        },
        instance=gateway_instance(settings),
    )
    released = await app.state.conversations.release_earlier_claims()
    if released:  # the previous run died mid-delivery; the retry worker below delivers them at once
        log.warning("gave back %d message(s) the previous run of this gateway was delivering", released)
    app.state.staff = StaffStore(store.engine)
    worker = asyncio.create_task(
        app.state.conversations.retry_forever(settings.retry_interval_s, settings.handoff_wait_notice_s)
    )
    # until the last request is done: uvicorn finishes requests under way before this block ends
    renewal = asyncio.create_task(app.state.conversations.renew_forever())
    await _start_channels(app, settings)
    try:
        yield
    finally:
        for channel in (app.state.telegram, app.state.wechat):
            if channel is not None:
                await channel.stop()
        for task in (worker, renewal):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await rasa.close()
        await store.close()
