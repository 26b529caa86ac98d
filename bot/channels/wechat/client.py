"""The parts of WeChat's server API the assistant calls: code2Session (mini-program
login), access tokens and customer-service messages. WECHAT_API_BASE points it at
a local simulator in tests."""

from __future__ import annotations

import json
import time

import httpx

from settings import Settings


class WeChatClient:
    """The parts of WeChat's server API the assistant calls: code2Session, tokens, customer-service messages."""

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
        if self._token is None or time.time() > self._token_expires:
            body = (
                await self._http.get(
                    "/cgi-bin/token",
                    params={
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

    async def send_text(self, openid: str, text: str) -> None:
        body = {"touser": openid, "msgtype": "text", "text": {"content": text}}
        response = await self._http.post(
            "/cgi-bin/message/custom/send",
            params={"access_token": await self.access_token()},
            content=json.dumps(body, ensure_ascii=False).encode("utf-8"),
            headers={"Content-Type": "application/json"},
        )
        result = response.json()
        if result.get("errcode"):
            raise RuntimeError(f"custom/send errcode {result.get('errcode')}")
