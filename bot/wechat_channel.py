"""WeChat: the mini-program's JSON API and the message-push endpoint
(小程序客服消息 / 公众号), both on the gateway core like every channel.

Mini-program: `wx.login` code → code2Session (WECHAT_API_BASE, so tests use a
local simulator) → a signed session token → send messages and long-poll for
mediators' replies. Push: GET verification (SHA-1 of sorted token, timestamp,
nonce), POST in XML or JSON, plaintext or 安全模式 (AES-256-CBC with the
EncodingAESKey; wechatpy does the crypto and XML). WeChat waits 5 s for a
push: the answer goes back passively when ready in WECHAT_PASSIVE_REPLY_S,
otherwise the push is acknowledged with `success` and the answer sent through
the customer-service message API. Wrong signatures get 403 and nothing is
processed; so does a timestamp more than five minutes from now, and a
plaintext push while an EncodingAESKey is configured; a replayed (timestamp,
nonce) within the window is acknowledged and ignored (bot/push_nonces.py,
in the database: it survives restarts and is shared by gateways).
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any, Optional

import httpx
import xmltodict
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.utils import check_signature

from bot.case_store import MessageView
from bot.conversation import Conversations
from bot.http_common import check_text, error, read_json
from bot.push_nonces import PushNonces, fresh
from bot.rate_limits import SLOW_DOWN, client_host
from settings import Settings

log = logging.getLogger(__name__)

CHANNEL = "wechat"
PREFIX = "wx:"
ONLY_TEXT = "抱歉，我目前只能看懂文字消息，请用文字描述您的问题。"
KEPT = "系统正忙，您的消息已经保存，恢复后会自动回复您；急事请拨打12348公共法律服务热线。"
LONG_POLL_S = 25.0


class WeChatClient:
    """The parts of WeChat's server API the assistant calls: code2Session, tokens, customer-service messages."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._http = httpx.AsyncClient(base_url=settings.wechat_api_base, timeout=10)
        self._token: Optional[str] = None
        self._token_expires = 0.0

    async def close(self) -> None:
        await self._http.aclose()

    async def code_to_openid(self, code: str) -> Optional[str]:
        response = await self._http.get("/sns/jscode2session", params={
            "appid": self.settings.wechat_appid, "secret": self.settings.wechat_secret,
            "js_code": code, "grant_type": "authorization_code"})
        body = response.json()
        return body.get("openid") if not body.get("errcode") else None

    async def access_token(self) -> str:
        if self._token is None or time.time() > self._token_expires:
            body = (await self._http.get("/cgi-bin/token", params={
                "grant_type": "client_credential", "appid": self.settings.wechat_appid,
                "secret": self.settings.wechat_secret})).json()
            if "access_token" not in body:
                raise RuntimeError(f"no access token (errcode {body.get('errcode')})")
            self._token, self._token_expires = body["access_token"], time.time() + int(body.get("expires_in", 7200)) - 60
        return self._token

    async def send_text(self, openid: str, text: str) -> None:
        body = {"touser": openid, "msgtype": "text", "text": {"content": text}}
        response = await self._http.post("/cgi-bin/message/custom/send", params={"access_token": await self.access_token()},
                                         content=json.dumps(body, ensure_ascii=False).encode("utf-8"),
                                         headers={"Content-Type": "application/json"})
        result = response.json()
        if result.get("errcode"):
            raise RuntimeError(f"custom/send errcode {result.get('errcode')}")


class WeChatChannel:
    def __init__(self, settings: Settings, conversations: Conversations) -> None:
        self.settings = settings
        self.conversations = conversations
        self.client = WeChatClient(settings)
        self.sessions = URLSafeTimedSerializer(settings.console_signing_key(), salt="wechat-session")
        self.nonces = PushNonces(conversations.store.engine)
        self._tasks: set[asyncio.Task] = set()
        self._pusher: Optional[asyncio.Task] = None
        conversations.late_reply_handlers[CHANNEL] = self.late_reply

    async def start(self) -> None:
        if self.settings.wechat_token:  # push residents; mini-program users long-poll instead
            self._pusher = asyncio.create_task(
                self.conversations.push_forever(CHANNEL, self.push, self.settings.push_interval_s))

    async def stop(self) -> None:
        if self._pusher:
            self._pusher.cancel()
        for task in list(self._tasks):
            task.cancel()
        await self.client.close()

    # -- delivery ----------------------------------------------------------------------
    async def send_replies(self, openid: str, replies: list[dict[str, Any]]) -> None:
        for reply in replies:
            await self.client.send_text(openid, reply_text(reply))

    async def late_reply(self, user_id: str, result: dict[str, Any]) -> None:
        if self.settings.wechat_token:  # residents of the push channel; mini-program users poll
            await self.send_replies(user_id[len(PREFIX):], result["replies"])

    async def push(self, resident: str, message: MessageView) -> None:
        """A mediator's (or the system's) message by customer-service message."""
        await self.client.send_text(resident[len(PREFIX):], message.text)

    # -- mini-program sessions -----------------------------------------------------------
    def session_token(self, openid: str) -> str:
        return self.sessions.dumps({"openid": openid})

    def openid_of(self, request: Request) -> Optional[str]:
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("bearer "):
            return None
        try:
            data = self.sessions.loads(header[7:].strip(), max_age=self.settings.wechat_session_max_age_s)
        except (BadSignature, SignatureExpired):
            return None
        return data.get("openid") if isinstance(data, dict) else None

    # -- push helpers ------------------------------------------------------------------
    def crypto(self) -> WeChatCrypto:
        return WeChatCrypto(self.settings.wechat_token, self.settings.wechat_encoding_aes_key, self.settings.wechat_appid)


def reply_text(reply: dict[str, Any]) -> str:
    """A reply as plain text: WeChat's text messages have no buttons, so choices are listed."""
    text = reply.get("text") or ""
    buttons = reply.get("buttons") or []
    if buttons:
        text += "\n" + "\n".join(f"· {b['title']}" for b in buttons)
    return text


def router(get_channel) -> APIRouter:
    api = APIRouter()

    def channel(request: Request) -> Optional[WeChatChannel]:
        return get_channel(request)

    def logged_in(request: Request) -> tuple[WeChatChannel, str] | JSONResponse:
        """The channel and the resident's openid from the session token, or the error to send."""
        wx = channel(request)
        if wx is None:
            return error(404, "wechat_off", "未启用微信小程序接入。")
        openid = wx.openid_of(request)
        if openid is None:
            return error(401, "not_logged_in", "请先登录小程序。")
        return wx, openid

    def signed_push(request: Request, signature: str, timestamp: str, nonce: str) -> WeChatChannel | Response:
        """The channel when push is on and the request carries WeChat's signature, else the response to send."""
        wx = channel(request)
        if wx is None or not wx.settings.wechat_token:
            return error(404, "wechat_off", "未启用微信消息推送。")
        try:
            check_signature(wx.settings.wechat_token, signature, timestamp, nonce)
        except InvalidSignatureException:
            return PlainTextResponse("invalid signature", status_code=403)
        if not fresh(timestamp):  # a signed push of long ago is a replay, whatever its nonce
            return PlainTextResponse("stale timestamp", status_code=403)
        return wx

    @api.post("/api/v1/wechat/login", tags=["wechat"])
    async def login(request: Request) -> Any:
        """Exchange a `wx.login` code for a session token (Authorization: Bearer <token>)."""
        wx = channel(request)
        if wx is None or not wx.settings.wechat_appid:
            return error(404, "wechat_off", "未启用微信小程序接入。")
        payload = await read_json(request)
        if isinstance(payload, JSONResponse):
            return payload
        code = payload.get("code") if isinstance(payload, dict) else None
        if not isinstance(code, str) or not code.strip() or len(code) > 128:
            return error(422, "invalid_code", "缺少登录凭证 code。")
        refused = await request.app.state.rate_limits.login(client_host(request), "wechat")
        if refused is not None:
            return refused
        try:
            openid = await wx.client.code_to_openid(code)
        except (httpx.HTTPError, ValueError):
            return error(503, "wechat_unavailable", "暂时连不上微信服务器，请稍后再试。")
        if not openid:
            return error(401, "invalid_code", "登录凭证无效或已过期，请重新登录。")
        return {"token": wx.session_token(openid), "expires_in": wx.settings.wechat_session_max_age_s}

    @api.post("/api/v1/wechat/messages", tags=["wechat"])
    async def send(request: Request) -> Any:
        """A resident's message from the mini-program; same validation and errors as /api/v1/messages."""
        resident = logged_in(request)
        if isinstance(resident, JSONResponse):
            return resident
        wx, openid = resident
        payload = await read_json(request)
        if isinstance(payload, JSONResponse):
            return payload
        if not isinstance(payload, dict):
            return error(422, "invalid_request", "请求体必须是JSON对象，包含 text 字段。")
        text = check_text(payload.get("text"))
        if isinstance(text, JSONResponse):
            return text
        refused = await request.app.state.rate_limits.resident(PREFIX + openid)
        if refused is not None:
            return refused
        outcome = await wx.conversations.handle(PREFIX + openid, text)
        if outcome.result is None:
            return error(503, "assistant_unavailable", KEPT, message_id=outcome.message.public_id)
        return {"message_id": outcome.message.public_id, **outcome.result}

    @api.get("/api/v1/wechat/updates", tags=["wechat"])
    async def updates(request: Request, after: int = Query(0, ge=0, le=2**63 - 1),
                      wait: float = Query(LONG_POLL_S, allow_inf_nan=False)) -> Any:
        """Mediators' and system messages after id `after`; waits up to `wait` seconds for one (long poll)."""
        resident = logged_in(request)
        if isinstance(resident, JSONResponse):
            return resident
        wx, openid = resident
        deadline = time.monotonic() + max(0.0, min(wait, LONG_POLL_S))
        while True:
            found = await wx.conversations.cases.messages_for_resident(PREFIX + openid, after)
            if found or time.monotonic() >= deadline or await request.is_disconnected():
                return {"messages": [m.for_resident() for m in found]}
            await asyncio.sleep(0.3)

    @api.get("/wechat/push", include_in_schema=False)
    async def verify(request: Request, signature: str = "", timestamp: str = "", nonce: str = "",
                     echostr: str = "") -> Any:
        wx = signed_push(request, signature, timestamp, nonce)
        return wx if isinstance(wx, Response) else PlainTextResponse(echostr)

    @api.post("/wechat/push", include_in_schema=False)
    async def push(request: Request, signature: str = "", timestamp: str = "", nonce: str = "",
                   encrypt_type: str = "raw", msg_signature: str = "") -> Any:
        wx = signed_push(request, signature, timestamp, nonce)
        if isinstance(wx, Response):
            return wx
        raw = (await request.body()).decode("utf-8", errors="replace")
        is_json = raw.lstrip().startswith("{")
        try:
            outer = json.loads(raw) if is_json else xmltodict.parse(raw)["xml"]
        except Exception:  # malformed XML or JSON: nothing to process
            return PlainTextResponse("invalid body", status_code=400)
        safe = encrypt_type == "aes"
        if wx.settings.wechat_encoding_aes_key and not safe:  # 安全模式 configured: nothing in the clear
            return PlainTextResponse("encryption required", status_code=403)
        if safe:
            try:
                inner_raw = wx.crypto().decrypt_message(outer, msg_signature, timestamp, nonce)
            except InvalidSignatureException:
                return PlainTextResponse("invalid signature", status_code=403)
            except Exception:
                return PlainTextResponse("invalid body", status_code=400)
            try:
                inner = json.loads(inner_raw) if is_json else xmltodict.parse(inner_raw)["xml"]
            except Exception:
                return PlainTextResponse("invalid body", status_code=400)
        else:
            inner = outer
        if not isinstance(inner, dict):  # <xml>text</xml>, a JSON list: no message in it
            return PlainTextResponse("invalid body", status_code=400)
        if not await wx.nonces.first_time(timestamp, nonce):
            return PlainTextResponse("success")
        openid, ours = str(inner.get("FromUserName") or ""), str(inner.get("ToUserName") or "")
        if not openid:
            return PlainTextResponse("success")
        if inner.get("MsgType") != "text" or not str(inner.get("Content") or "").strip():
            text = ONLY_TEXT if inner.get("MsgType") != "event" else None
            return passive(wx, text, openid, ours, is_json, safe, nonce, timestamp)
        if await request.app.state.rate_limits.resident(PREFIX + openid) is not None:
            return passive(wx, SLOW_DOWN, openid, ours, is_json, safe, nonce, timestamp)
        task = asyncio.create_task(wx.conversations.handle(PREFIX + openid, str(inner["Content"])))
        wx._tasks.add(task)
        done, _ = await asyncio.wait({task}, timeout=wx.settings.wechat_passive_reply_s)
        if done:
            wx._tasks.discard(task)
            outcome = task.result()
            text = KEPT if outcome.result is None else "\n\n".join(reply_text(r) for r in outcome.result["replies"])
            return passive(wx, text, openid, ours, is_json, safe, nonce, timestamp)

        async def later() -> None:  # WeChat will not wait: answer through the customer-service API
            try:
                outcome = await task
                replies = [{"text": KEPT}] if outcome.result is None else outcome.result["replies"]
                await wx.send_replies(openid, replies)
            except Exception:
                log.exception("slow wechat answer could not be sent")
            finally:
                wx._tasks.discard(task)
        wx._tasks.add(asyncio.create_task(later()))
        return PlainTextResponse("success")

    return api


def passive(wx: WeChatChannel, text: Optional[str], openid: str, ours: str, is_json: bool, safe: bool,
            nonce: str, timestamp: str) -> Response:
    """A reply in the push's own response, in its format and mode."""
    if not text:
        return PlainTextResponse("success")
    message = {"ToUserName": openid, "FromUserName": ours, "CreateTime": int(time.time()), "MsgType": "text",
               "Content": text}
    if is_json:
        body = json.dumps(message, ensure_ascii=False)
        if safe:
            encrypted = xmltodict.parse(wx.crypto().encrypt_message(body, nonce, timestamp))["xml"]
            body = json.dumps(encrypted, ensure_ascii=False)
        return Response(body, media_type="application/json")
    xml = xmltodict.unparse({"xml": message}, full_document=False)
    if safe:
        xml = wx.crypto().encrypt_message(xml, nonce, timestamp)
    return Response(xml, media_type="application/xml")
