"""What every JSON endpoint of the gateway shares: the error shape and the
reading of a request body, so each channel answers bad input the same way
(a Chinese message and the right status, never a stack trace)."""
from __future__ import annotations

import json
import re
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

MAX_BODY_BYTES = 1_000_000


def error(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(status_code=status, content={"error": body})


async def read_json(request: Request) -> Any:
    """The parsed JSON body, or the error response to send instead."""
    if "json" not in request.headers.get("content-type", "").lower():
        return error(415, "unsupported_media_type", "请以 application/json 格式发送消息。")
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        return error(413, "payload_too_large", "消息太长了，请分几次发送。")
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError:
        return error(400, "invalid_encoding", "消息必须是UTF-8编码。")
    try:
        return json.loads(decoded)
    except (json.JSONDecodeError, RecursionError):  # RecursionError: [[[[…]]]] nested too deep
        return error(400, "invalid_json", "请求体不是合法的JSON。")


# control characters (tabs and line breaks kept) and lone surrogates (valid in JSON
# escapes, not in UTF-8: no database or log could store them)
_UNSTORABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def storable_text(text: str) -> str:
    """What the resident wrote, less what no store can hold (surrogates become U+FFFD)."""
    return _UNSTORABLE.sub(lambda m: "" if m.group(0) < "\ud800" else "\ufffd", text)


def check_text(text: Any) -> str | JSONResponse:
    if not isinstance(text, str):
        return error(422, "invalid_text", "缺少 text，或 text 不是字符串。")
    text = storable_text(text)
    if not text.strip():
        return error(422, "empty_text", "消息内容是空的，请输入您想咨询的问题。")
    return text
