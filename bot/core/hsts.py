"""Strict-Transport-Security on every response when the console is HTTPS-only
(CONSOLE_HTTPS_ONLY=1, behind TLS): browsers must not fall back to plain HTTP."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


class HstsMiddleware:
    """Pure ASGI, so long polls and streamed files pass through unbuffered."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_hsts(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), HSTS]
            await send(message)

        await self.app(scope, receive, with_hsts)
