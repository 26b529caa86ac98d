"""`POST /api/v1/messages` and `GET /api/v1/messages/{id}`: a resident's message to the
assistant, and a kept one's status. A message Rasa cannot take right now is kept and
answered later (503 with its id); the resident is always the token's."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from bot.api.deps import CurrentResident, IdempotencyKey, body_spec, handle_message, json_body, same_resident
from bot.api.schemas import MessageIn, MessageOut
from bot.core.rate_limits import client_host
from bot.errors import ApiError, documented

router = APIRouter(prefix="/api/v1/messages", tags=["messages"])

KEPT = "系统正忙，暂时无法回答。您的消息已经保存，恢复后会按顺序处理，可用 message_id 查询回复。"
SHAPE = "请求体必须是JSON对象，包含 text 字段。"


@router.post(
    "",
    response_model=MessageOut,
    responses=documented(400, 401, 403, 413, 415, 422, 429, 503),
    openapi_extra=body_spec(MessageIn),
)
async def post_message(
    request: Request,
    body: Annotated[MessageIn, Depends(json_body(MessageIn, SHAPE))],
    resident: CurrentResident,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Send a resident's message to the assistant and get its replies (as the token's resident).
    The body is checked before the token, so a malformed request learns nothing about identities.
    With an `Idempotency-Key` (8 to 64 letters, digits, `-`, `_`), sending the same message
    again (the connection broke, no answer came) is safe: the message sent first with that key
    answers, with its reply or, still kept, its 503; the same key with another text is 422."""
    user_id = same_resident(resident, body.user_id)
    await request.app.state.rate_limits.resident(user_id)
    outcome = await handle_message(
        request.app.state.conversations, user_id, body.text, idempotency_key, client_host(request)
    )
    if outcome.result is None:
        raise ApiError(503, "assistant_unavailable", KEPT, message_id=outcome.message.public_id)
    return {"message_id": outcome.message.public_id, **outcome.result}


@router.get("/{message_id}", responses=documented(401, 403, 404))
async def get_message(request: Request, message_id: str, resident: CurrentResident, user_id: str | None = None) -> Any:
    """Status and replies of a kept message (only to the resident who sent it)."""
    user_id = same_resident(resident, user_id)
    stored = await request.app.state.conversations.store.get(message_id)
    if stored is None or stored.user_id != user_id:  # tokens are never issued to tg:/wx: ids
        raise ApiError(404, "not_found", "找不到这条消息。")
    return {"message_id": stored.public_id, "status": stored.status, **(stored.result or {})}
