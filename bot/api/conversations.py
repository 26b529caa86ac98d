"""`GET /api/v1/conversations/{user_id}/messages`: what mediators (and the hand-off
system) said to a web or API resident; Telegram and WeChat residents get them pushed."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from bot.api.deps import CurrentResident, same_resident
from bot.api.schemas import MAX_ID, PUSHED_CHANNELS, RESERVED_ID
from bot.core.conversation import channel_of
from bot.errors import ApiError, documented

router = APIRouter(prefix="/api/v1/conversations", tags=["conversations"])


def api_resident(user_id: str) -> str:
    """The path's resident, unless it is a Telegram or WeChat one (404 before any token check)."""
    if channel_of(user_id) in PUSHED_CHANNELS:
        raise ApiError(404, "not_found", RESERVED_ID)
    return user_id


@router.get("/{user_id}/messages", responses=documented(401, 403, 404))
async def mediator_messages(
    request: Request,
    user_id: Annotated[str, Depends(api_resident)],
    resident: CurrentResident,
    after: int = Query(0, ge=0, le=MAX_ID),
) -> Any:
    """Mediators' and system messages to this resident since message `after` (newest last;
    `user_id` must be the token's resident), and deadline reminders that fell due
    since the last visit (each returned once)."""
    same_resident(resident, user_id)
    conversations = request.app.state.conversations
    found = await conversations.cases.messages_for_resident(user_id, after)
    due = await conversations.reminders.due_for(user_id) if conversations.reminders else []
    return {"messages": [m.for_resident() for m in found], "reminders": [{"text": r["text"]} for r in due]}
