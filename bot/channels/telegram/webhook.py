"""`POST /telegram/webhook`: updates from Telegram in webhook mode, accepted only
with the secret token given at setWebhook (X-Telegram-Bot-Api-Secret-Token)."""

from __future__ import annotations

import hmac
import json
import logging
from typing import Any

from fastapi import APIRouter, Request

from bot.errors import ApiError

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)
NOT_AN_UPDATE = "不是Telegram的更新。"


@router.post("/telegram/webhook")
async def telegram_webhook(request: Request) -> Any:
    channel = getattr(request.app.state, "telegram", None)
    settings = request.app.state.settings
    if channel is None or not settings.telegram_webhook_url:
        raise ApiError(404, "http_404", "没有这个地址。")
    secret = settings.telegram_webhook_secret
    given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
    if not secret or not hmac.compare_digest(given.encode("utf-8", "replace"), secret.encode("utf-8")):
        raise ApiError(403, "forbidden", "拒绝访问。")
    try:
        data = json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise ApiError(400, "invalid_json", "请求体不是合法的JSON。") from None
    if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
        raise ApiError(400, "invalid_update", NOT_AN_UPDATE)
    try:
        await channel.feed(data)
    except (TypeError, KeyError, ValueError) as exc:  # fields missing or of the wrong type
        log.warning("telegram update refused (%s)", type(exc).__name__)
        raise ApiError(400, "invalid_update", NOT_AN_UPDATE) from None
    return {"ok": True}
