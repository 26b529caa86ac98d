"""The shapes of the residents' API: what comes in (validated by these models,
which also write the OpenAPI spec) and what goes out."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field
from pydantic_core import PydanticCustomError

from bot.core.conversation import channel_of
from bot.core.text_input import ResidentText

MAX_USER_ID = 128
# Telegram chat ids are small numbers anyone can enumerate: the public API must not
# let a caller speak or read as tg:<id> (or wx:<openid>); those residents are served,
# and receive mediators' replies, through their own channel only
PUSHED_CHANNELS = ("telegram", "wechat")
RESERVED_ID = "user_id 不能以 tg: 或 wx: 开头：这两个前缀留给 Telegram 和微信渠道。"
MAX_ID = 2**63 - 1  # message ids are 64-bit; a larger `after` is refused (422), not passed to the database


def _user_id(value: str) -> str:
    if not value.strip():
        raise PydanticCustomError("invalid_user_id", "user_id 必须是非空字符串。")
    if len(value) > MAX_USER_ID or not value.isprintable():
        raise PydanticCustomError("invalid_user_id", f"user_id 不能超过{MAX_USER_ID}个字符，且不能包含控制字符。")
    if channel_of(value) in PUSHED_CHANNELS:
        raise PydanticCustomError("invalid_user_id", RESERVED_ID)
    return value


# an id a caller names (never trusted alone: it must match the token, or an integrator chose it)
UserId = Annotated[str, AfterValidator(_user_id)]


class MessageIn(BaseModel):
    user_id: UserId | None = Field(
        None,
        description=(
            "Optional: the resident's id, which must be the one the bearer token was issued to. "
            "The id comes from the token, never from this field alone."
        ),
    )
    text: ResidentText = Field(
        description="What the resident typed (UTF-8). Over 2,000 characters is truncated with a notice."
    )


class Button(BaseModel):
    title: str
    payload: str


class Reply(BaseModel):
    text: str
    buttons: list[Button] = []


class MessageOut(BaseModel):
    message_id: str
    replies: list[Reply]
    intent: str
    category: str = Field(description="labour | lease | gig_work | elevator | other_legal | chitchat")
    confidence: float
    entities: list[dict[str, Any]] = []
    truncated: bool = False
    case_id: str | None = Field(None, description="Set while a mediator has the conversation (intent `handoff`)")
    application_id: str | None = Field(None, description="Set when this message submitted a legal-aid application")


class ResidentIn(BaseModel):
    user_id: UserId | None = Field(
        None,
        description=(
            "Integrators only (Authorization: Bearer <one of INTEGRATOR_KEYS>): your own id for this resident, "
            "not starting with web:, tg: or wx:. Leave it out to get a fresh web: resident."
        ),
    )


class ResidentOut(BaseModel):
    user_id: str
    token: str = Field(description="Send it as `Authorization: Bearer <token>` on every resident endpoint")
    expires_in: int = Field(description="Seconds the token is accepted; then get a new resident")
