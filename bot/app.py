"""The gateway's HTTP API (FastAPI): `POST /api/v1/messages` and friends.

Bad input never reaches Rasa and never produces a stack trace: it gets a JSON
error with a clear status code and a Chinese message. A message Rasa cannot
take right now is kept and answered later (503 with its id).
"""
from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
from pathlib import Path
from typing import Any, AsyncIterator

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from bot import privacy
from bot.http_common import check_text, error, read_json
from bot.case_store import CaseStore
from bot.legal_aid import ApplicationStore
from bot.console_api import PAGE_HEADERS, ConsoleError, pages as console_pages, router as console_router
from bot.citation_guard import ArticleLookup, CitationGuard
from bot.conversation import NOT_SAVED_TEXT, STORE_DOWN, Conversations, channel_of
from bot.message_store import MessageStore
from bot.rasa_client import RasaClient
from bot.rate_limits import AddressLimitMiddleware, RateLimits, client_host
from bot.wechat_channel import router as wechat_router
from bot.staff import StaffStore
from settings import Settings, get_settings

log = logging.getLogger(__name__)

WEB_CHAT = Path(__file__).with_name("web_chat")

MAX_USER_ID = 128
# Telegram chat ids are small numbers anyone can enumerate: the public API must not
# let a caller speak or read as tg:<id> (or wx:<openid>); those residents are served,
# and receive mediators' replies, through their own channel only
PUSHED_CHANNELS = ("telegram", "wechat")
RESERVED_ID = "user_id 不能以 tg: 或 wx: 开头：这两个前缀留给 Telegram 和微信渠道。"
MAX_ID = 2**63 - 1  # message ids are 64-bit; a larger `after` is refused (422), not passed to the database


class Button(BaseModel):
    title: str
    payload: str


class Reply(BaseModel):
    text: str
    buttons: list[Button] = []


class MessageIn(BaseModel):
    user_id: str = Field(description="The resident's stable id on the calling channel", max_length=MAX_USER_ID)
    text: str = Field(description="What the resident typed (UTF-8). Over 2,000 characters is truncated with a notice.")


class MessageOut(BaseModel):
    message_id: str
    replies: list[Reply]
    intent: str
    category: str = Field(description="labour | lease | gig_work | elevator | other_legal | chitchat")
    confidence: float
    entities: list[dict[str, Any]] = []
    truncated: bool = False
    case_id: str | None = Field(None, description="Set while a mediator has the conversation (intent `handoff`)")
    application_id: str | None = Field(None, description="Set when this message submitted a legal-aid application")


class ErrorBody(BaseModel):
    code: str
    message: str
    message_id: str | None = None


class ErrorOut(BaseModel):
    error: ErrorBody


def _validate(payload: Any) -> tuple[str, str] | JSONResponse:
    if not isinstance(payload, dict):
        return error(422, "invalid_request", "请求体必须是JSON对象，包含 user_id 和 text 两个字段。")
    user_id = payload.get("user_id")
    if not isinstance(user_id, str) or not user_id.strip():
        return error(422, "invalid_user_id", "缺少 user_id，或 user_id 不是非空字符串。")
    if len(user_id) > MAX_USER_ID or not user_id.isprintable():
        return error(422, "invalid_user_id", f"user_id 不能超过{MAX_USER_ID}个字符，且不能包含控制字符。")
    if channel_of(user_id) in PUSHED_CHANNELS:
        return error(422, "invalid_user_id", RESERVED_ID)
    text = check_text(payload.get("text"))
    return text if isinstance(text, JSONResponse) else (user_id, text)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.var_dir.mkdir(parents=True, exist_ok=True)
        privacy.install()
        store = MessageStore(settings.gateway_database_url)
        await store.open()
        rasa = RasaClient(settings.rasa_base_url, settings.rasa_timeout_s, settings.action_base_url,
                          settings.rasa_token())
        app.state.articles = ArticleLookup(settings.index_dir)
        app.state.conversations = Conversations(store, rasa, settings.max_message_chars,
                                                 CitationGuard(app.state.articles), CaseStore(store.engine),
                                                 ApplicationStore(store.engine),
                                                 case_budget=app.state.rate_limits.may_open_case)
        app.state.staff = StaffStore(store.engine)
        worker = asyncio.create_task(app.state.conversations.retry_forever(settings.retry_interval_s,
                                                                        settings.handoff_wait_notice_s))
        app.state.telegram = None
        if settings.telegram_bot_token:
            from bot.telegram_channel import TelegramChannel

            app.state.telegram = TelegramChannel(settings, app.state.conversations, app.state.rate_limits)
            try:
                await app.state.telegram.start()
            except Exception as exc:  # the other channels still serve residents
                log.error("telegram channel could not start (%s); it is off", type(exc).__name__)
                app.state.telegram = None
        else:
            log.info("telegram channel off (no TELEGRAM_BOT_TOKEN)")
        app.state.wechat = None
        if settings.wechat_appid or settings.wechat_token:
            from bot.wechat_channel import WeChatChannel

            app.state.wechat = WeChatChannel(settings, app.state.conversations)
            await app.state.wechat.start()
        try:
            yield
        finally:
            if app.state.telegram is not None:
                await app.state.telegram.stop()
            if app.state.wechat is not None:
                await app.state.wechat.stop()
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
            await rasa.close()
            await store.close()

    app = FastAPI(
        title="海珠区公共法律服务智能助手 Gateway",
        version="1.0.0",
        description="Residents' messages in, the assistant's replies out.",
        lifespan=lifespan,
    )

    app.state.rate_limits = RateLimits(settings.rate_limit_per_address, settings.rate_limit_per_resident,
                                       settings.rate_limit_login, settings.rate_limit_storage, settings.login_lockout,
                                       settings.case_limit_per_resident, settings.case_limit_per_address)
    app.add_middleware(AddressLimitMiddleware, limits=lambda: app.state.rate_limits)
    app.add_middleware(SessionMiddleware, secret_key=settings.console_signing_key(),
                       session_cookie="haizhu_console", max_age=settings.console_session_max_age_s,
                       same_site="strict", https_only=settings.console_https_only)
    if settings.console_https_only:  # behind TLS: browsers must not fall back to plain HTTP
        @app.middleware("http")
        async def _hsts(request: Request, call_next: Any) -> Any:
            response = await call_next(request)
            response.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
            return response

    app.include_router(console_router(settings.console_session_max_age_s))
    app.include_router(console_pages())
    app.include_router(wechat_router(lambda request: getattr(request.app.state, "wechat", None)))

    @app.exception_handler(ConsoleError)
    async def _console(request: Request, exc: ConsoleError) -> JSONResponse:
        return error(exc.status, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error(422, "invalid_request", "请求格式不正确。")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        messages = {404: "没有这个地址。", 405: "不支持这种请求方法。"}
        return error(exc.status_code, f"http_{exc.status_code}", messages.get(exc.status_code, "请求无法处理。"))

    async def _store_down(request: Request, exc: Exception) -> JSONResponse:
        # the database is unreachable or refused the write: each write is one
        # transaction, so nothing half-written stays behind; the caller must resend
        log.error("database unavailable on %s (%s)", request.url.path, type(exc).__name__)
        return error(503, "store_unavailable", NOT_SAVED_TEXT)

    for outage in STORE_DOWN:  # the same errors the background loops treat as an outage
        app.add_exception_handler(outage, _store_down)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s", request.url.path)
        return error(500, "internal_error", "系统出了点问题，请稍后再试；急事请拨打12348公共法律服务热线。")

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post(
        "/api/v1/messages",
        response_model=MessageOut,
        responses={400: {"model": ErrorOut}, 413: {"model": ErrorOut}, 415: {"model": ErrorOut},
                   422: {"model": ErrorOut}, 429: {"model": ErrorOut}, 503: {"model": ErrorOut}},
        openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
            "schema": MessageIn.model_json_schema()}}}},
    )
    async def post_message(request: Request) -> Any:
        """Send a resident's message to the assistant and get its replies."""
        payload = await read_json(request)
        if isinstance(payload, JSONResponse):
            return payload
        checked = _validate(payload)
        if isinstance(checked, JSONResponse):
            return checked
        user_id, text = checked
        refused = await request.app.state.rate_limits.resident(user_id)
        if refused is not None:
            return refused
        outcome = await request.app.state.conversations.handle(user_id, text, address=client_host(request))
        if outcome.result is None:
            return error(
                503, "assistant_unavailable",
                "系统正忙，暂时无法回答。您的消息已经保存，恢复后会按顺序处理，可用 message_id 查询回复。",
                message_id=outcome.message.public_id,
            )
        return {"message_id": outcome.message.public_id, **outcome.result}

    @app.get("/api/v1/messages/{message_id}", responses={404: {"model": ErrorOut}})
    async def get_message(message_id: str, user_id: str) -> Any:
        """Status and replies of a kept message (only to the resident who sent it)."""
        stored = await app.state.conversations.store.get(message_id)
        if stored is None or stored.user_id != user_id or channel_of(user_id) in PUSHED_CHANNELS:
            return error(404, "not_found", "找不到这条消息。")
        return {"message_id": stored.public_id, "status": stored.status, **(stored.result or {})}

    @app.post("/telegram/webhook", include_in_schema=False)
    async def telegram_webhook(request: Request) -> Any:
        """Updates from Telegram in webhook mode; only with the secret token set at setWebhook."""
        channel = getattr(app.state, "telegram", None)
        if channel is None or not settings.telegram_webhook_url:
            return error(404, "http_404", "没有这个地址。")
        if not hmac.compare_digest(request.headers.get("X-Telegram-Bot-Api-Secret-Token", ""),
                                   settings.telegram_webhook_secret) or not settings.telegram_webhook_secret:
            return error(403, "forbidden", "拒绝访问。")
        try:
            data = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
            return error(400, "invalid_json", "请求体不是合法的JSON。")
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            return error(400, "invalid_update", "不是Telegram的更新。")
        try:
            await channel.feed(data)
        except (TypeError, KeyError, ValueError) as exc:  # fields missing or of the wrong type
            log.warning("telegram update refused (%s)", type(exc).__name__)
            return error(400, "invalid_update", "不是Telegram的更新。")
        return {"ok": True}

    @app.get("/api/v1/articles", responses={404: {"model": ErrorOut}})
    async def article(law: str, label: str) -> Any:
        """The whole in-force text of an article the assistant quoted (for citation cards)."""
        found = app.state.articles.find(law, label)
        if found is None:
            return error(404, "not_found", "找不到这一条。")
        return {"citation": found.citation, "status": found.status, "version_date": found.version_date,
                "chapter": found.chapter, "section": found.section, "text": found.text}

    @app.get("/chat", include_in_schema=False)
    async def chat_page() -> FileResponse:
        return FileResponse(WEB_CHAT / "index.html", headers=PAGE_HEADERS)

    @app.get("/chat/static/{name}", include_in_schema=False)
    async def chat_static(name: str) -> Any:
        if name not in {"chat.js", "chat.css"}:
            return error(404, "http_404", "没有这个地址。")
        return FileResponse(WEB_CHAT / name, headers=PAGE_HEADERS)

    @app.get("/api/v1/conversations/{user_id}/messages")
    async def mediator_messages(user_id: str, after: int = Query(0, ge=0, le=MAX_ID)) -> Any:
        """What mediators (and the handoff system) said to this resident since message `after`."""
        if channel_of(user_id) in PUSHED_CHANNELS:
            return error(404, "not_found", RESERVED_ID)
        found = await app.state.conversations.cases.messages_for_resident(user_id, after)
        return {"messages": [m.for_resident() for m in found]}

    return app


app = create_app()
