"""The mediator console's JSON API (/console/api): sign in and out, the queue, quick
replies, statistics. The cases themselves are bot/api/handoff_cases.py, the legal-aid
applications bot/api/legal_aid_applications.py.

Sessions are signed cookies (Starlette's SessionMiddleware) naming a session kept on
the server, which expire after CONSOLE_SESSION_MAX_AGE_S; every state-changing
request must carry the session's CSRF token in the X-CSRF-Token header
(bot/api/deps.py). Every view and action is in the audit log.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import yaml
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from bot.api.deps import CurrentStaff, handoff_cases, staff_accounts
from bot.core.rate_limits import client_host
from bot.errors import ApiError
from bot.store.handoff_cases import HandoffCaseView

router = APIRouter(prefix="/console/api", tags=["console"])


class Login(BaseModel):
    username: str = Field(max_length=64)
    password: str = Field(max_length=256)


def load_quick_replies(request: Request) -> list[str]:
    """The operator's quick replies (KNOWLEDGE_DIR/quick_replies.yml); none when unreadable."""
    path = request.app.state.settings.knowledge_dir / "quick_replies.yml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    except (OSError, yaml.YAMLError):
        return []
    return [str(r) for r in data if isinstance(r, str)][:30]


def listing(case: HandoffCaseView) -> dict[str, Any]:
    """What any mediator may see in a list: no transcript, no personal data; `id` is the
    public id URLs take, `number` the row number, for display only."""
    return {
        "id": case.public_id,
        "number": case.id,
        "status": case.status,
        "category": case.category,
        "street": case.street,
        "reason": case.reason,
        "intent": case.intent,
        "waiting_s": round(time.time() - case.created_at),
        "assigned_to": case.assigned_to,
    }


@router.post("/login")
async def login(request: Request, body: Login) -> Any:
    await request.app.state.rate_limits.login(client_host(request), body.username)
    staff = await staff_accounts(request).authenticate(body.username, body.password)
    if staff is None:
        await request.app.state.rate_limits.login_failed(body.username)
        await handoff_cases(request).audit(None, "login_failed", detail={"username": body.username[:64]})
        raise ApiError(401, "bad_credentials", "用户名或密码不正确。")
    request.session.clear()
    request.session.update(
        {"sid": await staff_accounts(request).open_session(staff.id), "csrf": secrets.token_urlsafe(32)}
    )
    await handoff_cases(request).audit(staff.id, "login")
    return {
        "username": staff.username,
        "display_name": staff.display_name,
        "role": staff.role,
        "csrf_token": request.session["csrf"],
    }


@router.post("/logout")
async def logout(request: Request, staff: CurrentStaff) -> Any:
    await handoff_cases(request).audit(staff.id, "logout")
    await staff_accounts(request).end_session(str(request.session.get("sid") or ""))
    request.session.clear()
    return {"ok": True}


@router.get("/queue")
async def queue(request: Request, staff: CurrentStaff, category: str | None = None, street: str | None = None) -> Any:
    cases = handoff_cases(request)
    await cases.audit(staff.id, "view_queue", detail={"category": category, "street": street})
    waiting = await cases.queue(category, street)
    mine = await cases.assigned_to(staff.id)
    return {"waiting": [listing(c) for c in waiting], "mine": [listing(c) for c in mine]}


@router.get("/quick-replies")
async def quick_replies(request: Request, staff: CurrentStaff) -> Any:
    return {"replies": load_quick_replies(request)}


@router.get("/stats")
async def stats(request: Request, staff: CurrentStaff, days: int = 30) -> Any:
    if staff.role != "admin":
        raise ApiError(403, "forbidden", "只有管理员可以查看统计。")
    await handoff_cases(request).audit(staff.id, "view_stats")
    return await handoff_cases(request).statistics(max(1, min(days, 366)))
