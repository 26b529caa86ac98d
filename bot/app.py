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

from fastapi import FastAPI, Query, Request, Security
from fastapi.security import HTTPBearer
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.routing import Match
from swagger_ui_bundle import swagger_ui_path

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
from bot.resident_tokens import ResidentTokens, reserved as reserved_id
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


API_DESCRIPTION = """Residents' messages in, the assistant's replies out.

**Who is speaking.** Every resident endpoint acts for the resident named by the bearer token in
`Authorization: Bearer <token>`, never for an id the request merely mentions.

* A web page or app with anonymous residents calls `POST /api/v1/residents` with no body once per
  resident, keeps the `token` (and `user_id`, a fresh `web:` id) and sends it on every call.
* A partner system whose users are already signed in holds an integrator key (`INTEGRATOR_KEYS`) and
  calls `POST /api/v1/residents` with `{"user_id": "<its own id>"}` and the key as bearer, then acts with
  the token it gets. Ids starting with `web:`, `tg:` or `wx:` cannot be chosen.

A missing, forged or expired token gets 401 (`not_authenticated`); a token used for somebody else's
id gets 403 (`not_your_resident`). Telegram and WeChat residents are served by their own channels.
"""


class Button(BaseModel):
    title: str
    payload: str


class Reply(BaseModel):
    text: str
    buttons: list[Button] = []


class MessageIn(BaseModel):
    user_id: str | None = Field(None, max_length=MAX_USER_ID, description=(
        "Optional: the resident's id, which must be the one the bearer token was issued to. "
        "The id comes from the token, never from this field alone."))
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


class ResidentIn(BaseModel):
    user_id: str | None = Field(None, max_length=MAX_USER_ID, description=(
        "Integrators only (Authorization: Bearer <one of INTEGRATOR_KEYS>): your own id for this resident, "
        "not starting with web:, tg: or wx:. Leave it out to get a fresh web: resident."))


class ResidentOut(BaseModel):
    user_id: str
    token: str = Field(description="Send it as `Authorization: Bearer <token>` on every resident endpoint")
    expires_in: int = Field(description="Seconds the token is accepted; then get a new resident")


RESIDENT_TOKEN = HTTPBearer(auto_error=False, scheme_name="ResidentToken", description=(
    "The token `POST /api/v1/residents` issued. Sending, reading replies and polling a conversation "
    "act for the resident it names, whatever id the request mentions."))
INTEGRATOR_KEY = HTTPBearer(auto_error=False, scheme_name="IntegratorKey", description=(
    "One of INTEGRATOR_KEYS: needed only to obtain the token of an id you choose."))
NOT_AUTHENTICATED = "缺少或无效的居民令牌：请先调用 POST /api/v1/residents 取得令牌，再以 Authorization: Bearer 发送。"
NOT_YOURS = "user_id 与居民令牌不符：令牌只能代表它所属的居民。"


class ErrorBody(BaseModel):
    code: str
    message: str
    message_id: str | None = None


class ErrorOut(BaseModel):
    error: ErrorBody


def _check_user_id(user_id: Any) -> JSONResponse | None:
    if not isinstance(user_id, str) or not user_id.strip():
        return error(422, "invalid_user_id", "user_id 必须是非空字符串。")
    if len(user_id) > MAX_USER_ID or not user_id.isprintable():
        return error(422, "invalid_user_id", f"user_id 不能超过{MAX_USER_ID}个字符，且不能包含控制字符。")
    if channel_of(user_id) in PUSHED_CHANNELS:
        return error(422, "invalid_user_id", RESERVED_ID)
    return None


def _validate(payload: Any) -> tuple[str | None, str] | JSONResponse:
    """(the id the body names, if any; the text), or the error: the body's shape is
    checked before the token so a malformed request learns nothing about identities."""
    if not isinstance(payload, dict):
        return error(422, "invalid_request", "请求体必须是JSON对象，包含 text 字段。")
    user_id = payload.get("user_id")
    if user_id is not None:
        refused = _check_user_id(user_id)
        if refused is not None:
            return refused
    text = check_text(payload.get("text"))
    return text if isinstance(text, JSONResponse) else (user_id, text)


def _resident(request: Request, named: str | None) -> str | JSONResponse:
    """The resident the bearer token was issued to (401 without one; 403 when the
    request names somebody else)."""
    user_id = request.app.state.residents.user_of(request.headers.get("authorization"))
    if user_id is None:
        return error(401, "not_authenticated", NOT_AUTHENTICATED)
    if named is not None and named != user_id:
        return error(403, "not_your_resident", NOT_YOURS)
    return user_id


def _without_trailing_slash(request: Request) -> RedirectResponse | None:
    """A relative redirect from `/path/` to `/path` when that is a route: relative, so
    no Host header ever reaches a Location; never to `//host` (an open redirect)."""
    path = request.url.path
    target = path.rstrip("/")
    if not path.endswith("/") or not target or target.startswith("//"):
        return None
    scope = {**request.scope, "path": target}
    if not any(route.matches(scope)[0] is Match.FULL for route in request.app.router.routes):
        return None
    return RedirectResponse(target + (f"?{request.url.query}" if request.url.query else ""), status_code=307)


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
        description=API_DESCRIPTION,
        lifespan=lifespan,
        docs_url=None, redoc_url=None,  # served below from the gateway itself, not from a CDN
    )
    # "/chat/" → "/chat" without Starlette's redirect, which wrote the request's Host header
    # into an absolute Location (a poisoned cache or a phishing link could point elsewhere)
    app.router.redirect_slashes = False
    app.mount("/docs/static", StaticFiles(directory=swagger_ui_path), name="docs-static")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=app.openapi_url or "/openapi.json", title=f"{app.title} · API",
                                   swagger_js_url="/docs/static/swagger-ui-bundle.js",
                                   swagger_css_url="/docs/static/swagger-ui.css",
                                   swagger_favicon_url="/docs/static/favicon-32x32.png")

    app.state.residents = ResidentTokens(settings.console_signing_key(), settings.resident_token_max_age_s,
                                         settings.integrator_keys)
    app.state.rate_limits = RateLimits(settings.rate_limit_per_address, settings.rate_limit_per_resident,
                                       settings.rate_limit_login, settings.rate_limit_storage, settings.login_lockout,
                                       settings.case_limit_per_resident, settings.case_limit_per_address,
                                       settings.rate_limit_new_residents)
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
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404 and (moved := _without_trailing_slash(request)) is not None:
            return moved
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
        "/api/v1/residents", status_code=201, response_model=ResidentOut,
        responses={401: {"model": ErrorOut}, 403: {"model": ErrorOut}, 422: {"model": ErrorOut},
                   429: {"model": ErrorOut}},
        openapi_extra={"requestBody": {"required": False, "content": {"application/json": {
            "schema": ResidentIn.model_json_schema()}}}},
    )
    async def new_resident(request: Request, _key: Any = Security(INTEGRATOR_KEY)) -> Any:
        """A resident identity and its token: a fresh `web:` id for anybody (what the web page
        does on first visit), or, with an integrator key, the token of an id the integrator chose."""
        residents: ResidentTokens = request.app.state.residents
        payload = await read_json(request) if await request.body() else {}
        if isinstance(payload, JSONResponse):
            return payload
        if not isinstance(payload, dict):
            return error(422, "invalid_request", "请求体必须是JSON对象（可以为空）。")
        chosen = payload.get("user_id")
        if chosen is None:
            refused = await request.app.state.rate_limits.new_resident(client_host(request))
            if refused is not None:
                return refused
            issued = residents.issue_new()
        else:
            if not residents.is_integrator(request.headers.get("authorization")):
                return error(403, "integrator_key_required",
                             "只有持接入密钥（INTEGRATOR_KEYS）的系统可以指定 user_id；普通居民请留空，由服务器分配。")
            refused = _check_user_id(chosen)
            if refused is None and reserved_id(chosen):
                refused = error(422, "invalid_user_id", "user_id 不能以 web:、tg: 或 wx: 开头：这些由服务器和渠道分配。")
            if refused is not None:
                return refused
            issued = residents.issue(chosen)
        return JSONResponse({"user_id": issued.user_id, "token": issued.token, "expires_in": issued.expires_in},
                            status_code=201, headers={"Cache-Control": "no-store"})

    @app.post(
        "/api/v1/messages",
        response_model=MessageOut,
        responses={400: {"model": ErrorOut}, 401: {"model": ErrorOut}, 403: {"model": ErrorOut},
                   413: {"model": ErrorOut}, 415: {"model": ErrorOut},
                   422: {"model": ErrorOut}, 429: {"model": ErrorOut}, 503: {"model": ErrorOut}},
        openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
            "schema": MessageIn.model_json_schema()}}}},
    )
    async def post_message(request: Request, _token: Any = Security(RESIDENT_TOKEN)) -> Any:
        """Send a resident's message to the assistant and get its replies (as the token's resident)."""
        payload = await read_json(request)
        if isinstance(payload, JSONResponse):
            return payload
        checked = _validate(payload)
        if isinstance(checked, JSONResponse):
            return checked
        named, text = checked
        user_id = _resident(request, named)
        if isinstance(user_id, JSONResponse):
            return user_id
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

    @app.get("/api/v1/messages/{message_id}", responses={401: {"model": ErrorOut}, 403: {"model": ErrorOut},
                                                         404: {"model": ErrorOut}})
    async def get_message(request: Request, message_id: str, user_id: str | None = None,
                          _token: Any = Security(RESIDENT_TOKEN)) -> Any:
        """Status and replies of a kept message (only to the resident who sent it)."""
        user_id = _resident(request, user_id)
        if isinstance(user_id, JSONResponse):
            return user_id
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

    @app.get("/api/v1/conversations/{user_id}/messages", responses={401: {"model": ErrorOut},
                                                                    403: {"model": ErrorOut}})
    async def mediator_messages(request: Request, user_id: str, after: int = Query(0, ge=0, le=MAX_ID),
                                _token: Any = Security(RESIDENT_TOKEN)) -> Any:
        """What mediators (and the handoff system) said to this resident since message `after`
        (`user_id` must be the token's resident)."""
        if channel_of(user_id) in PUSHED_CHANNELS:
            return error(404, "not_found", RESERVED_ID)
        user_id = _resident(request, user_id)
        if isinstance(user_id, JSONResponse):
            return user_id
        found = await app.state.conversations.cases.messages_for_resident(user_id, after)
        return {"messages": [m.for_resident() for m in found]}

    return app


app = create_app()
