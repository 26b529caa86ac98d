"""WeChat message push (小程序客服消息 / 公众号): `GET /wechat/push` answers WeChat's
verification, `POST /wechat/push` takes residents' messages in XML or JSON,
plaintext or 安全模式 (AES-256-CBC with the EncodingAESKey; wechatpy does the
crypto and XML).

WeChat waits 5 s for a push: the answer goes back passively when ready within
WECHAT_PASSIVE_REPLY_S, otherwise the push is acknowledged with `success` and the
answer sent through the customer-service message API. Wrong signatures get 403 and
nothing is processed; so does a timestamp more than five minutes from now, and a
plaintext push while an EncodingAESKey is configured; a replayed (timestamp, nonce)
within the window is acknowledged and ignored (bot/store/push_nonces.py, in the
database: it survives restarts and is shared by gateways). Refusals are plain text,
as WeChat's protocol has them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from typing import Annotated, Any

import xmltodict
from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse, Response
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.utils import check_signature

from bot.channels.wechat.channel import KEPT, ONLY_TEXT, PREFIX, WeChatChannel, reply_text
from bot.core.rate_limits import SLOW_DOWN
from bot.errors import ApiError
from bot.store.push_nonces import fresh

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)


def refused(status: int, words: str) -> ApiError:
    return ApiError(status, words.replace(" ", "_"), words, plain_text=True)


def signed_push(request: Request, signature: str = "", timestamp: str = "", nonce: str = "") -> WeChatChannel:
    """The channel, when push is on and the request carries WeChat's fresh signature."""
    wx: WeChatChannel | None = getattr(request.app.state, "wechat", None)
    if wx is None or not wx.settings.wechat_token:
        raise ApiError(404, "wechat_off", "未启用微信消息推送。")
    try:
        check_signature(wx.settings.wechat_token, signature, timestamp, nonce)
    except InvalidSignatureException:
        raise refused(403, "invalid signature") from None
    if not fresh(timestamp):  # a signed push of long ago is a replay, whatever its nonce
        raise refused(403, "stale timestamp")
    return wx


SignedPush = Annotated[WeChatChannel, Depends(signed_push)]


@dataclass(frozen=True)
class Push:
    message: dict[str, Any]
    is_json: bool
    safe: bool  # 安全模式: the answer goes back encrypted too


def _parse(raw: str, is_json: bool) -> Any:
    try:
        return json.loads(raw) if is_json else xmltodict.parse(raw)["xml"]
    except Exception:  # malformed XML or JSON (entity bombs included): nothing to process
        raise refused(400, "invalid body") from None


def read_push(wx: WeChatChannel, raw: str, encrypt_type: str, msg_signature: str, timestamp: str, nonce: str) -> Push:
    is_json = raw.lstrip().startswith("{")
    outer = _parse(raw, is_json)
    safe = encrypt_type == "aes"
    if wx.settings.wechat_encoding_aes_key and not safe:  # 安全模式 configured: nothing in the clear
        raise refused(403, "encryption required")
    inner = outer
    if safe:
        try:
            inner_raw = wx.crypto().decrypt_message(outer, msg_signature, timestamp, nonce)
        except InvalidSignatureException:
            raise refused(403, "invalid signature") from None
        except Exception:
            raise refused(400, "invalid body") from None
        inner = _parse(inner_raw, is_json)
    if not isinstance(inner, dict):  # <xml>text</xml>, a JSON list: no message in it
        raise refused(400, "invalid body")
    return Push(inner, is_json, safe)


@router.get("/wechat/push")
async def verify(wx: SignedPush, echostr: str = "") -> Any:
    return PlainTextResponse(echostr)


@router.post("/wechat/push")
async def push(
    request: Request,
    wx: SignedPush,
    timestamp: str = "",
    nonce: str = "",
    encrypt_type: str = "raw",
    msg_signature: str = "",
) -> Any:
    raw = (await request.body()).decode("utf-8", errors="replace")
    pushed = read_push(wx, raw, encrypt_type, msg_signature, timestamp, nonce)
    if not await wx.nonces.first_time(timestamp, nonce):
        return PlainTextResponse("success")
    inner = pushed.message
    openid, ours = str(inner.get("FromUserName") or ""), str(inner.get("ToUserName") or "")
    if not openid:
        return PlainTextResponse("success")

    def answer(text: str | None) -> Response:
        return passive(wx, text, openid, ours, pushed, nonce, timestamp)

    if inner.get("MsgType") != "text" or not str(inner.get("Content") or "").strip():
        return answer(ONLY_TEXT if inner.get("MsgType") != "event" else None)
    if not await request.app.state.rate_limits.resident_may_send(PREFIX + openid):
        return answer(SLOW_DOWN)
    # WeChat sends a push again (the same MsgId) when no answer came within 5 s: one message
    msg_id = str(inner.get("MsgId") or "")
    key = f"wx-msg-{msg_id}" if msg_id.isdigit() else None
    task = asyncio.create_task(wx.conversations.handle(PREFIX + openid, str(inner["Content"]), client_key=key))
    wx.keep(task)
    done, _ = await asyncio.wait({task}, timeout=wx.settings.wechat_passive_reply_s)
    if done:
        outcome = task.result()
        return answer(KEPT if outcome.result is None else "\n\n".join(reply_text(r) for r in outcome.result["replies"]))
    wx.keep(asyncio.create_task(answer_later(wx, openid, task)))
    return PlainTextResponse("success")


async def answer_later(wx: WeChatChannel, openid: str, task: asyncio.Task) -> None:
    """WeChat will not wait: the answer goes through the customer-service API."""
    try:
        outcome = await task
        replies = [{"text": KEPT}] if outcome.result is None else outcome.result["replies"]
        await wx.send_replies(openid, replies)
    except Exception:
        log.exception("slow wechat answer could not be sent")


def passive(
    wx: WeChatChannel, text: str | None, openid: str, ours: str, pushed: Push, nonce: str, timestamp: str
) -> Response:
    """A reply in the push's own response, in its format and mode."""
    if not text:
        return PlainTextResponse("success")
    message = {
        "ToUserName": openid,
        "FromUserName": ours,
        "CreateTime": int(time.time()),
        "MsgType": "text",
        "Content": text,
    }
    if pushed.is_json:
        body = json.dumps(message, ensure_ascii=False)
        if pushed.safe:
            encrypted = xmltodict.parse(wx.crypto().encrypt_message(body, nonce, timestamp))["xml"]
            body = json.dumps(encrypted, ensure_ascii=False)
        return Response(body, media_type="application/json")
    xml = xmltodict.unparse({"xml": message}, full_document=False)
    if pushed.safe:
        xml = wx.crypto().encrypt_message(xml, nonce, timestamp)
    return Response(xml, media_type="application/xml")
