"""The gateway's assembly: settings, middleware, routers, error handlers. Nothing
is routed here; each router module says what its resource does (bot/api/,
bot/channels/, bot/web/), bot/lifespan.py what starts and stops with it."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.middleware.sessions import SessionMiddleware

from bot import errors
from bot.api import (
    API_DESCRIPTION,
    articles,
    console,
    conversations,
    handoff_cases,
    legal_aid_applications,
    messages,
    residents,
)
from bot.channels.telegram import webhook as telegram_webhook
from bot.channels.wechat import miniprogram
from bot.channels.wechat import push as wechat_push
from bot.core.hsts import HstsMiddleware
from bot.core.rate_limits import AddressLimitMiddleware, RateLimits
from bot.core.resident_tokens import ResidentTokens
from bot.lifespan import lifespan
from bot.web import pages
from settings import Settings, get_settings

ROUTERS = (
    residents.router,
    messages.router,
    conversations.router,
    articles.router,
    console.router,
    handoff_cases.router,
    legal_aid_applications.router,
    miniprogram.router,
    wechat_push.router,
    telegram_webhook.router,
    pages.router,
)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    # docs served by bot/web/pages.py from the gateway itself, not from a CDN; "/chat/" →
    # "/chat" by bot/errors.py, with a relative Location (Starlette's wrote the Host header in)
    app = FastAPI(
        title="海珠区公共法律服务智能助手 Gateway",
        version="1.0.0",
        description=API_DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        redirect_slashes=False,
    )
    app.state.settings = settings
    app.state.residents = ResidentTokens(
        settings.console_signing_key(), settings.resident_token_max_age_s, settings.integrator_keys
    )
    app.state.rate_limits = RateLimits.from_settings(settings)
    app.add_middleware(AddressLimitMiddleware, limits=lambda: app.state.rate_limits)
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.console_signing_key(),
        session_cookie="haizhu_console",
        max_age=settings.console_session_max_age_s,
        same_site="strict",
        https_only=settings.console_https_only,
    )
    if settings.console_https_only:  # behind TLS: browsers must not fall back to plain HTTP
        app.add_middleware(HstsMiddleware)
    app.mount(pages.DOCS_STATIC, pages.docs_static, name="docs-static")
    for router in ROUTERS:
        app.include_router(router)
    app.add_api_route("/healthz", healthz, include_in_schema=False)
    errors.install(app)
    return app


async def healthz() -> dict[str, str]:
    return {"status": "ok"}


app = create_app()
