"""The WeChat mini-program's JSON API: `wx.login` code → code2Session → a signed
session token (Authorization: Bearer), then messages and a long poll for
mediators' replies, with the same validation and errors as /api/v1/messages."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from bot.api.deps import IdempotencyKey, body_spec, handle_message, json_body
from bot.channels.wechat.channel import KEPT, PREFIX, WeChatChannel
from bot.core.rate_limits import client_host
from bot.core.text_input import ResidentText
from bot.errors import ApiError, documented

LONG_POLL_S = 25.0
NO_CODE = "缺少登录凭证 code。"
router = APIRouter(prefix="/api/v1/wechat", tags=["wechat"])


class LoginIn(BaseModel):
    code: str = Field(min_length=1, max_length=128, description="The code `wx.login` gave the mini-program")


class WeChatMessageIn(BaseModel):
    text: ResidentText


def mini_program(request: Request) -> WeChatChannel:
    wx: WeChatChannel | None = getattr(request.app.state, "wechat", None)
    if wx is None or not wx.settings.wechat_appid:
        raise ApiError(404, "wechat_off", "未启用微信小程序接入。")
    return wx


def logged_in(request: Request, wx: Annotated[WeChatChannel, Depends(mini_program)]) -> str:
    """The resident's openid from the session token (401 without a valid one)."""
    openid = wx.openid_of(request)
    if openid is None:
        raise ApiError(401, "not_logged_in", "请先登录小程序。")
    return openid


MiniProgram = Annotated[WeChatChannel, Depends(mini_program)]
OpenId = Annotated[str, Depends(logged_in)]


@router.post("/login", responses=documented(401, 404, 422, 429, 503), openapi_extra=body_spec(LoginIn))
async def login(
    request: Request,
    wx: MiniProgram,
    body: Annotated[LoginIn, Depends(json_body(LoginIn, NO_CODE, shape_code="invalid_code"))],
) -> Any:
    """Exchange a `wx.login` code for a session token (Authorization: Bearer <token>)."""
    if not body.code.strip():
        raise ApiError(422, "invalid_code", NO_CODE)
    await request.app.state.rate_limits.login(client_host(request), "wechat")
    try:
        openid = await wx.client.code_to_openid(body.code)
    except (httpx.HTTPError, ValueError):
        raise ApiError(503, "wechat_unavailable", "暂时连不上微信服务器，请稍后再试。") from None
    if not openid:
        raise ApiError(401, "invalid_code", "登录凭证无效或已过期，请重新登录。")
    return {"token": wx.session_token(openid), "expires_in": wx.settings.wechat_session_max_age_s}


@router.post(
    "/messages", responses=documented(400, 401, 404, 413, 415, 422, 429, 503), openapi_extra=body_spec(WeChatMessageIn)
)
async def send(
    request: Request,
    wx: MiniProgram,
    openid: OpenId,
    body: Annotated[WeChatMessageIn, Depends(json_body(WeChatMessageIn, "请求体必须是JSON对象，包含 text 字段。"))],
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """A resident's message from the mini-program; same validation, errors and Idempotency-Key
    as /api/v1/messages."""
    await request.app.state.rate_limits.resident(PREFIX + openid)
    outcome = await handle_message(wx.conversations, PREFIX + openid, body.text, idempotency_key)
    if outcome.result is None:
        raise ApiError(503, "assistant_unavailable", KEPT, message_id=outcome.message.public_id)
    return {"message_id": outcome.message.public_id, **outcome.result}


@router.get("/updates", responses=documented(401, 404))
async def updates(
    request: Request,
    wx: MiniProgram,
    openid: OpenId,
    after: int = Query(0, ge=0, le=2**63 - 1),
    wait: float = Query(LONG_POLL_S, allow_inf_nan=False),
) -> Any:
    """Mediators' and system messages after id `after`; waits up to `wait` seconds for one (long poll)."""
    deadline = time.monotonic() + max(0.0, min(wait, LONG_POLL_S))
    while True:
        found = await wx.conversations.cases.messages_for_resident(PREFIX + openid, after)
        if found or time.monotonic() >= deadline or await request.is_disconnected():
            return {"messages": [m.for_resident() for m in found]}
        await asyncio.sleep(0.3)
