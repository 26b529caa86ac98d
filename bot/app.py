"""The gateway's assembly: settings, middleware, routers, error handlers. Nothing is
routed here: bot/api/main.py lists every router, bot/lifespan.py what starts and stops."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.middleware.sessions import SessionMiddleware

from bot import errors
from bot.api import API_DESCRIPTION
from bot.api.main import api_router
from bot.core.hsts import HstsMiddleware
from bot.core.rate_limits import AddressLimitMiddleware, RateLimits
from bot.core.resident_tokens import ResidentTokens
from bot.lifespan import lifespan
from bot.web import pages
from settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    # docs come from bot/web/pages.py, not a CDN; "/chat/" → "/chat" by bot/errors.py with a
    # relative Location (Starlette's redirect wrote the request's Host header into it)
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
    signing_key = settings.console_signing_key()
    app.state.residents = ResidentTokens(signing_key, settings.resident_token_max_age_s, settings.integrator_keys)
    app.state.rate_limits = RateLimits.from_settings(settings)
    app.add_middleware(AddressLimitMiddleware, limits=lambda: app.state.rate_limits)
    app.add_middleware(
        SessionMiddleware,
        secret_key=signing_key,
        session_cookie="haizhu_console",
        max_age=settings.console_session_max_age_s,
        same_site="strict",
        https_only=settings.console_https_only,
    )
    if settings.console_https_only:  # behind TLS: browsers must not fall back to plain HTTP
        app.add_middleware(HstsMiddleware)
    app.mount(pages.DOCS_STATIC, pages.docs_static, name="docs-static")
    app.include_router(api_router)
    errors.install(app)
    return app


app = create_app()
