"""The gateway's one error type and the handlers that render every failure.

Routes and dependencies `raise ApiError(status, code, message)`; nothing
returns "a result or a response". Whatever else goes wrong ends here too:
validation (a Chinese message, never pydantic's English), unknown routes and
methods, a database outage (503: the message was not kept, send it again),
and anything unexpected (500 with no trace in the body, the trace in the
log). The body is always `{"error": {"code", "message", ...}}`, except where a
platform's protocol wants plain text (WeChat push).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

log = logging.getLogger(__name__)

# the database unreachable: asyncpg's refused connection arrives as a bare OSError
STORE_DOWN = (SQLAlchemyError, OSError)
HOTLINE = "急事请拨打12348公共法律服务热线。"
NOT_SAVED_TEXT = "系统暂时无法保存消息，这条消息没有收到，请稍后重新发送；" + HOTLINE

UNEXPECTED = "系统出了点问题，请稍后再试；" + HOTLINE

# What the balancer in front of the gateways answers itself when none could (ops/cluster.py
# writes them into HAProxy's configuration; deploy/haproxy/haproxy.cfg carries the same): in
# the API's shape and in Chinese, not HAProxy's English HTML page, which the web chat could
# not read and the cluster test's residents choked on. A 502 or 504 came from a gateway
# that took the request and then died or went silent: whether it kept the message is not
# known, so the resident is asked to send it again (an answer twice is better than none).
BALANCER_ERRORS: dict[int, tuple[str, str]] = {
    502: ("connection_lost", "连接中断，无法确认这条消息是否已经收到，请再发送一次；" + HOTLINE),
    503: ("service_unavailable", "系统暂时无法接收消息，这条消息没有收到，请稍后重新发送；" + HOTLINE),
    504: ("reply_timed_out", "回复超时，无法确认这条消息是否已经收到，请再发送一次；" + HOTLINE),
}
HTTP_MESSAGES = {404: "没有这个地址。", 405: "不支持这种请求方法。"}


class ApiError(Exception):
    """A refusal with its status, a stable machine-readable code and a Chinese message."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        plain_text: bool = False,
        **extra: Any,
    ) -> None:
        super().__init__(code)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}
        self.plain_text = plain_text  # a platform callback answered in its own protocol's words
        self.extra = {k: v for k, v in extra.items() if v is not None}

    def response(self) -> Response:
        if self.plain_text:
            return PlainTextResponse(self.message, status_code=self.status, headers=self.headers)
        return JSONResponse(
            {"error": {"code": self.code, "message": self.message, **self.extra}},
            status_code=self.status,
            headers=self.headers,
        )


class ErrorBody(BaseModel):
    code: str
    message: str
    message_id: str | None = None


class ErrorOut(BaseModel):
    error: ErrorBody


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route: these statuses carry the error body (for the OpenAPI spec)."""
    return {status: {"model": ErrorOut} for status in statuses}


def without_trailing_slash(request: Request) -> RedirectResponse | None:
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


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return exc.response()


async def _invalid(request: Request, exc: Exception) -> Response:
    return ApiError(422, "invalid_request", "请求格式不正确。").response()


async def _http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404 and (moved := without_trailing_slash(request)) is not None:
        return moved
    message = HTTP_MESSAGES.get(exc.status_code, "请求无法处理。")
    return ApiError(exc.status_code, f"http_{exc.status_code}", message).response()


async def _store_down(request: Request, exc: Exception) -> Response:
    # the database is unreachable or refused the write: each write is one
    # transaction, so nothing half-written stays behind; the caller must resend
    log.error("database unavailable on %s (%s)", request.url.path, type(exc).__name__)
    return ApiError(503, "store_unavailable", NOT_SAVED_TEXT).response()


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s", request.url.path)
    return ApiError(500, "internal_error", UNEXPECTED).response()


def install(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(StarletteHTTPException, _http)
    for outage in STORE_DOWN:  # the same errors the background loops treat as an outage
        app.add_exception_handler(outage, _store_down)
    app.add_exception_handler(Exception, _unexpected)
