"""Dependencies the routes declare: a request body read and validated into its
pydantic model, and the resident a bearer token speaks for. Each raises
ApiError, so a route body starts with everything it needs already checked.

Bodies are read by hand rather than by FastAPI's body parameters because the
residents' clients rely on the exact answers: 415 for another content type,
413 over 1 MB, 400 for invalid UTF-8 or JSON, 422 with a field's own code
(`invalid_user_id`, `invalid_text`, `empty_text`) and a Chinese message.
The model still feeds the OpenAPI spec (`body_spec`).
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Request, Security
from fastapi.security import HTTPBearer
from pydantic import BaseModel, ValidationError

from bot.core.conversation import ClientKeyReused, Conversations, Outcome
from bot.core.resident_tokens import ResidentTokens
from bot.errors import ApiError
from bot.store.handoff_cases import HandoffCaseStore
from bot.store.staff_accounts import StaffStore, StaffView

MAX_BODY_BYTES = 1_000_000
Model = TypeVar("Model", bound=BaseModel)

# a field's failures that carry no code of their own (a wrong type, a missing field)
FIELD_ERRORS = {
    "text": ("invalid_text", "缺少 text，或 text 不是字符串。"),
    "user_id": ("invalid_user_id", "user_id 必须是非空字符串。"),
    "code": ("invalid_code", "缺少登录凭证 code。"),
}
RESIDENT_TOKEN = HTTPBearer(
    auto_error=False,
    scheme_name="ResidentToken",
    description=(
        "The token `POST /api/v1/residents` issued. Sending, reading replies and polling a conversation "
        "act for the resident it names, whatever id the request mentions."
    ),
)
INTEGRATOR_KEY = HTTPBearer(
    auto_error=False,
    scheme_name="IntegratorKey",
    description=("One of INTEGRATOR_KEYS: needed only to obtain the token of an id you choose."),
)
NOT_AUTHENTICATED = "缺少或无效的居民令牌：请先调用 POST /api/v1/residents 取得令牌，再以 Authorization: Bearer 发送。"
NOT_YOURS = "user_id 与居民令牌不符：令牌只能代表它所属的居民。"


async def read_json(request: Request) -> Any:
    """The parsed JSON body."""
    if "json" not in request.headers.get("content-type", "").lower():
        raise ApiError(415, "unsupported_media_type", "请以 application/json 格式发送消息。")
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise ApiError(413, "payload_too_large", "消息太长了，请分几次发送。")
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "invalid_encoding", "消息必须是UTF-8编码。") from None
    try:
        return json.loads(decoded)
    except (json.JSONDecodeError, RecursionError):  # RecursionError: [[[[…]]]] nested too deep
        raise ApiError(400, "invalid_json", "请求体不是合法的JSON。") from None


def validated(
    model: type[Model], payload: Any, shape: str = "请求体必须是JSON对象。", shape_code: str = "invalid_request"
) -> Model:
    """`payload` as `model`, or the 422 of its first failing field."""
    if not isinstance(payload, dict):
        raise ApiError(422, shape_code, shape)
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else ""
        if first["type"] in ("invalid_user_id", "empty_text"):  # our own validators' codes
            raise ApiError(422, first["type"], first["msg"]) from None
        code, message = FIELD_ERRORS.get(field, (shape_code, shape))
        raise ApiError(422, code, message) from None


def json_body(
    model: type[Model], shape: str, optional: bool = False, shape_code: str = "invalid_request"
) -> Callable[[Request], Awaitable[Model]]:
    """A dependency giving the request's body as `model` (an empty body is `model()` when optional)."""

    async def read(request: Request) -> Model:
        if optional and not await request.body():
            return model()
        return validated(model, await read_json(request), shape, shape_code)

    return read


def body_spec(model: type[BaseModel], required: bool = True) -> dict[str, Any]:
    """`openapi_extra` describing a body read by `json_body`."""
    return {
        "requestBody": {"required": required, "content": {"application/json": {"schema": model.model_json_schema()}}}
    }


def residents(request: Request) -> ResidentTokens:
    tokens: ResidentTokens = request.app.state.residents
    return tokens


def current_resident(request: Request, _scheme: Any = Security(RESIDENT_TOKEN)) -> str:
    """The resident the bearer token was issued to (401 without a valid one); the
    security scheme only documents the header in the OpenAPI spec."""
    user_id = residents(request).user_of(request.headers.get("authorization"))
    if user_id is None:
        raise ApiError(401, "not_authenticated", NOT_AUTHENTICATED)
    return user_id


CurrentResident = Annotated[str, Depends(current_resident)]


def same_resident(resident: str, named: str | None) -> str:
    """`resident`, unless the request names somebody else (403)."""
    if named is not None and named != resident:
        raise ApiError(403, "not_your_resident", NOT_YOURS)
    return resident


# -- the mediator console ---------------------------------------------------------------
CSRF_HEADER = "X-CSRF-Token"


def handoff_cases(request: Request) -> HandoffCaseStore:
    store: HandoffCaseStore = request.app.state.conversations.cases
    return store


def staff_accounts(request: Request) -> StaffStore:
    store: StaffStore = request.app.state.staff
    return store


async def current_staff(request: Request) -> StaffView:
    """The signed-in account: its session must still exist on the server
    (bot/store/staff_accounts.py); a write must also carry the session's CSRF
    token and, when the browser names one, this site's Origin."""
    session = request.session
    max_age_s = request.app.state.settings.console_session_max_age_s
    staff = await staff_accounts(request).session_staff(str(session.get("sid") or ""), max_age_s)
    if staff is None:
        session.clear()
        raise ApiError(401, "not_logged_in", "请先登录。")
    if request.method not in ("GET", "HEAD"):
        if not hmac.compare_digest(request.headers.get(CSRF_HEADER, ""), session.get("csrf", "")):
            raise ApiError(403, "csrf", "请求缺少有效的CSRF令牌，请刷新页面后重试。")
        origin = request.headers.get("origin")
        if origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}":
            raise ApiError(403, "origin", "请求来自其他网站，已拒绝。")
    return staff


CurrentStaff = Annotated[StaffView, Depends(current_staff)]
PUBLIC_ID = re.compile(r"[0-9a-f]{32}")


def public_id(value: str) -> str:
    """`value` if it has the shape of a public id (uuid4 hex), else the 404 of a record
    that does not exist. URLs carry these, not row numbers: a mediator who counts up
    from their own case finds nothing (sequential ids were guessable, #13), and an
    id beyond any database integer is simply unknown (it was a 500)."""
    if not PUBLIC_ID.fullmatch(value):
        raise ApiError(404, "not_found", "找不到这条记录。")
    return value


KEY_REUSED = "这个 Idempotency-Key 已经用于另一条消息；新消息请使用新的 Idempotency-Key。"
# the resident's own key for a message: sent again with it (the connection broke, no answer
# came), it is the message first sent with it, never a second question
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=r"^[A-Za-z0-9_-]{8,64}$",
        description="Optional, 8 to 64 letters, digits, - and _: the same message sent again is answered once.",
    ),
]


async def handle_message(
    conversations: Conversations, user_id: str, text: str, key: str | None, address: str | None = None
) -> Outcome:
    """The message's outcome, as every resident-facing route asks for it: a key reused for
    another text is the resident's mistake, told in Chinese (422), not a guess."""
    try:
        return await conversations.handle(user_id, text, address=address, client_key=key)
    except ClientKeyReused:
        raise ApiError(422, "idempotency_key_reused", KEY_REUSED) from None
