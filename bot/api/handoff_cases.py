"""The console's hand-off cases (/console/api/cases/{id}): claim, read, reply, hand
back to the bot, close with an outcome. Only the mediator a case is assigned to,
or an admin, reads its transcript; URLs take the case's public id."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, field_validator

from bot.api.console import listing
from bot.api.deps import CurrentStaff, handoff_cases, public_id
from bot.errors import ApiError
from bot.store.handoff_cases import CLAIMED, OUTCOMES, HandoffCaseView
from bot.store.staff_accounts import StaffView

router = APIRouter(prefix="/console/api/cases", tags=["console"])

# control characters (a NUL, a bell) and the invisible or direction-changing ones a
# mediator's message must not carry to a resident (a right-to-left override turns
# 「退还押金2000元」 around on screen); newlines and tabs are text
_NOT_TEXT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")


class Reply(BaseModel):
    text: str = Field(min_length=1, max_length=2000)

    @field_validator("text")
    @classmethod
    def _readable(cls, value: str) -> str:
        if _NOT_TEXT.search(value):
            raise ValueError("control or direction characters")
        if not value.strip():
            raise ValueError("empty")
        return value


class Close(BaseModel):
    outcome: str


async def case_number(request: Request, case_id: str) -> int:
    """The row behind a public case id (404 when there is none)."""
    number = await handoff_cases(request).number_of(public_id(case_id))
    if number is None:
        raise ApiError(404, "not_found", "找不到这个案件。")
    return number


async def visible_case(request: Request, number: int, staff: StaffView) -> HandoffCaseView:
    case = await handoff_cases(request).get(number)
    if case is None:
        raise ApiError(404, "not_found", "找不到这个案件。")
    if staff.role != "admin" and case.assigned_to != staff.id:
        await handoff_cases(request).audit(staff.id, "denied_view", number)
        raise ApiError(403, "forbidden", "只有接手的调解员和管理员可以查看这个案件。")
    return case


@router.post("/{case_id}/claim")
async def claim(request: Request, case_id: str, staff: CurrentStaff) -> Any:
    number, cases = await case_number(request, case_id), handoff_cases(request)
    if not await cases.claim(number, staff.id, actor=f"staff:{staff.username}"):
        raise ApiError(409, "already_claimed", "这个案件已被其他调解员接手，或已结束。")
    await cases.audit(staff.id, "claim", number)
    await cases.add_message(number, "system", f"调解员{staff.display_name}已接手，会在这里回复您。")
    return {"ok": True}


@router.get("/{case_id}")
async def read(request: Request, case_id: str, staff: CurrentStaff) -> Any:
    number, cases = await case_number(request, case_id), handoff_cases(request)
    case = await visible_case(request, number, staff)
    await cases.audit(staff.id, "view_case", number)
    messages = await cases.messages(number)
    return {
        **listing(case),
        "public_id": case.public_id,
        "summary": case.summary,
        "outcome": case.outcome,
        "messages": [{"id": m.id, "sender": m.sender, "text": m.text, "at": m.created_at} for m in messages],
        "history": await cases.history(number),
        "outcomes": list(OUTCOMES),
    }


@router.post("/{case_id}/messages")
async def reply(request: Request, case_id: str, body: Reply, staff: CurrentStaff) -> Any:
    number, cases = await case_number(request, case_id), handoff_cases(request)
    case = await visible_case(request, number, staff)
    if case.status != CLAIMED or case.assigned_to != staff.id:
        raise ApiError(409, "not_yours", "只能回复自己接手、尚未结束的案件。")
    message = await cases.add_message(number, "mediator", body.text.strip(), staff.id)
    await cases.audit(staff.id, "reply", number, {"chars": len(body.text)})
    return {"id": message.id}


@router.post("/{case_id}/return")
async def give_back(request: Request, case_id: str, staff: CurrentStaff) -> Any:
    number, cases = await case_number(request, case_id), handoff_cases(request)
    await visible_case(request, number, staff)
    if not await cases.return_to_bot(number, actor=f"staff:{staff.username}"):
        raise ApiError(409, "not_open", "案件已经结束。")
    await cases.add_message(number, "system", "调解员已结束人工服务，智能助手继续为您服务。")
    await cases.audit(staff.id, "return_to_bot", number)
    return {"ok": True}


@router.post("/{case_id}/close")
async def close(request: Request, case_id: str, body: Close, staff: CurrentStaff) -> Any:
    number, cases = await case_number(request, case_id), handoff_cases(request)
    case = await visible_case(request, number, staff)
    if body.outcome not in OUTCOMES:
        raise ApiError(422, "bad_outcome", "结案结果必须是：" + "、".join(OUTCOMES))
    if case.assigned_to != staff.id and staff.role != "admin":
        raise ApiError(403, "forbidden", "只能结束自己接手的案件。")
    if not await cases.close(number, f"staff:{staff.username}", body.outcome):
        raise ApiError(409, "not_claimed", "只有已接手、未结束的案件可以结案。")
    await cases.add_message(number, "system", f"本次人工服务已结束（{body.outcome}）。智能助手继续为您服务。")
    await cases.audit(staff.id, "close", number, {"outcome": body.outcome})
    return {"ok": True}
