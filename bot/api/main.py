"""The gateway's HTTP API, resource by resource: what a newcomer reads first."""

from __future__ import annotations

from fastapi import APIRouter

from bot.api import (
    articles,
    console,
    conversations,
    drafts,
    handoff_cases,
    health,
    legal_aid_applications,
    messages,
    residents,
)
from bot.channels.telegram import webhook as telegram_webhook
from bot.channels.wechat import miniprogram
from bot.channels.wechat import push as wechat_push
from bot.web import pages

api_router = APIRouter()
# residents (web page, integrators)
api_router.include_router(residents.router)
api_router.include_router(messages.router)
api_router.include_router(conversations.router)
api_router.include_router(articles.router)
api_router.include_router(drafts.router)
# mediators and the bureau (the console)
api_router.include_router(console.router)
api_router.include_router(handoff_cases.router)
api_router.include_router(legal_aid_applications.router)
# the platforms' channels
api_router.include_router(miniprogram.router)
api_router.include_router(wechat_push.router)
api_router.include_router(telegram_webhook.router)
# pages and the probe
api_router.include_router(pages.router)
api_router.include_router(health.router)
