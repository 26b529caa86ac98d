"""The parts of WeChat's server API the assistant calls: code2Session (mini-program
login), access tokens, customer-service messages and subscribe messages (deadline
reminders). WECHAT_API_BASE points it at a local simulator in tests."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from settings import Settings

# subscribe/send: the resident has not accepted (or has used up) the template's subscription
NOT_SUBSCRIBED = 43101
# the access token is not (or no longer) valid: 40001 invalid credential, 42001 expired, 40014 invalid
STALE_TOKEN = (40001, 40014, 42001)


class NotSubscribed(RuntimeError):
    """No retry helps: the mini-program must ask the resident to subscribe again."""


class WeChatClient:
    """The parts of WeChat's server API the assistant calls: code2Session, tokens, messages."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._http = httpx.AsyncClient(base_url=settings.wechat_api_base, timeout=10)
        self._token: str | None = None
        self._token_expires = 0.0

    async def close(self) -> None:
        await self._http.aclose()

    async def code_to_openid(self, code: str) -> str | None:
        response = await self._http.get(
            "/sns/jscode2session",
            params={
                "appid": self.settings.wechat_appid,
                "secret": self.settings.wechat_secret,
                "js_code": code,
                "grant_type": "authorization_code",
            },
        )
        body = response.json()
        return body.get("openid") if not body.get("errcode") else None

    async def access_token(self) -> str:
        """The stable access token (getStableAccessToken, normal mode). Every gateway asking
        gets the same one while it lives. The plain /cgi-bin/token issues a new token at each
        call and ends the one before: with several gateways, each one's start or renewal
        broke the others' tokens, and their customer-service messages failed (40001) until
        their own ran out, up to two hours."""
        if self._token is None or time.time() > self._token_expires:
            body = (
                await self._http.post(
                    "/cgi-bin/stable_token",
                    json={
                        "grant_type": "client_credential",
                        "appid": self.settings.wechat_appid,
                        "secret": self.settings.wechat_secret,
                    },
                )
            ).json()
            if "access_token" not in body:
                raise RuntimeError(f"no access token (errcode {body.get('errcode')})")
            self._token, self._token_expires = (
                body["access_token"],
                time.time() + int(body.get("expires_in", 7200)) - 60,
            )
        return self._token

    async def _call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST `body` with the access token; once more with a fresh token when WeChat says
        the one held is no longer valid (renewed by the platform, or refreshed elsewhere)."""
        result = await self._post(path, body)
        if result.get("errcode") in STALE_TOKEN:
            self._token = None
            result = await self._post(path, body)
        return result

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await self._http.post(
            path,
            params={"access_token": await self.access_token()},
            content=json.dumps(body, ensure_ascii=False).encode("utf-8"),
            headers={"Content-Type": "application/json"},
        )
        result: dict[str, Any] = response.json()
        return result

    async def send_text(self, openid: str, text: str) -> None:
        body = {"touser": openid, "msgtype": "text", "text": {"content": text}}
        result = await self._call("/cgi-bin/message/custom/send", body)
        if result.get("errcode"):
            raise RuntimeError(f"custom/send errcode {result.get('errcode')}")

    async def send_subscribe(self, openid: str, template_id: str, data: dict[str, str], page: str = "") -> None:
        """A subscribe message (订阅消息): the only kind WeChat lets a service send days later."""
        body = {
            "touser": openid,
            "template_id": template_id,
            "page": page,
            "data": {key: {"value": value} for key, value in data.items()},
            "lang": "zh_CN",
        }
        result = await self._call("/cgi-bin/message/subscribe/send", body)
        if result.get("errcode") == NOT_SUBSCRIBED:
            raise NotSubscribed(openid[:6])
        if result.get("errcode"):
            raise RuntimeError(f"subscribe/send errcode {result.get('errcode')}")
