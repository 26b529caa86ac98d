"""The mediator console's JSON API (/console/api): log in, the queue, claim,
read a case, reply, hand back to the bot, close with an outcome.

Sessions are signed cookies (Starlette's SessionMiddleware) that expire
after CONSOLE_SESSION_MAX_AGE_S; every state-changing request must carry the
session's CSRF token in the X-CSRF-Token header. Only the mediator a case is
assigned to, or an admin, reads its transcript; every view and action is in
the audit log.
"""
from __future__ import annotations

import hmac
import re
import secrets
import time
from pathlib import Path
from typing import Any, Optional

import yaml
from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field, field_validator

from bot.case_store import CLAIMED, OUTCOMES, CaseStore, CaseView
from bot.legal_aid import render_html, render_pdf
from bot.rate_limits import client_host
from bot.staff import StaffStore, StaffView

CSRF_HEADER = "X-CSRF-Token"
QUICK_REPLIES = Path(__file__).resolve().parents[1] / "knowledge_base" / "quick_replies.yml"
WEB = Path(__file__).with_name("console_web")
# the console pages load only their own scripts and styles: no inline code, no other origin
PAGE_HEADERS = {"Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'",
                "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}


def load_quick_replies() -> list[str]:
    try:
        data = yaml.safe_load(QUICK_REPLIES.read_text(encoding="utf-8")) or []
    except (OSError, yaml.YAMLError):
        return []
    return [str(r) for r in data if isinstance(r, str)][:30]


def pages() -> APIRouter:
    """The console's pages (static files under bot/console_web)."""
    web = APIRouter(include_in_schema=False)

    @web.get("/console")
    async def console_page() -> FileResponse:
        return FileResponse(WEB / "index.html", headers=PAGE_HEADERS)

    @web.get("/console/admin")
    async def admin_page() -> FileResponse:
        return FileResponse(WEB / "admin.html", headers=PAGE_HEADERS)

    @web.get("/console/static/{name}")
    async def static(name: str) -> Any:
        if name not in {"console.js", "admin.js", "console.css"}:
            return error(404, "http_404", "没有这个地址。")
        return FileResponse(WEB / name, headers=PAGE_HEADERS)

    return web


def error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": {"code": code, "message": message}})


class ConsoleError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        self.status, self.code, self.message = status, code, message


class Login(BaseModel):
    username: str = Field(max_length=64)
    password: str = Field(max_length=256)


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


PUBLIC_ID = re.compile(r"[0-9a-f]{32}")


def public_id(value: str) -> str:
    """`value` if it has the shape of a public id (uuid4 hex), else the 404 of a record
    that does not exist. URLs carry these, not row numbers: a mediator who counts up
    from their own case finds nothing (sequential ids were guessable, #13), and an
    id beyond any database integer is simply unknown (it was a 500)."""
    if not PUBLIC_ID.fullmatch(value):
        raise ConsoleError(404, "not_found", "找不到这条记录。")
    return value


def router(max_age_s: int) -> APIRouter:
    api = APIRouter(prefix="/console/api")

    def cases(request: Request) -> CaseStore:
        return request.app.state.conversations.cases

    def staff_store(request: Request) -> StaffStore:
        return request.app.state.staff

    async def current(request: Request) -> StaffView:
        """The signed-in account: its session must still exist on the server (bot/staff.py)."""
        session = request.session
        staff = await staff_store(request).session_staff(str(session.get("sid") or ""), max_age_s)
        if staff is None:
            session.clear()
            raise ConsoleError(401, "not_logged_in", "请先登录。")
        if request.method not in ("GET", "HEAD"):
            if not hmac.compare_digest(request.headers.get(CSRF_HEADER, ""), session.get("csrf", "")):
                raise ConsoleError(403, "csrf", "请求缺少有效的CSRF令牌，请刷新页面后重试。")
            origin = request.headers.get("origin")
            if origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}":
                raise ConsoleError(403, "origin", "请求来自其他网站，已拒绝。")
        return staff

    async def case_number(request: Request, case_id: str) -> int:
        number = await cases(request).number_of(public_id(case_id))
        if number is None:
            raise ConsoleError(404, "not_found", "找不到这个案件。")
        return number

    async def visible_case(request: Request, number: int, staff: StaffView) -> CaseView:
        case = await cases(request).get(number)
        if case is None:
            raise ConsoleError(404, "not_found", "找不到这个案件。")
        if staff.role != "admin" and case.assigned_to != staff.id:
            await cases(request).audit(staff.id, "denied_view", number)
            raise ConsoleError(403, "forbidden", "只有接手的调解员和管理员可以查看这个案件。")
        return case

    def listing(case: CaseView) -> dict[str, Any]:
        """What any mediator may see in a list: no transcript, no personal data."""
        return {"id": case.public_id, "number": case.id, "status": case.status, "category": case.category, "street": case.street,
                "reason": case.reason, "intent": case.intent, "waiting_s": round(time.time() - case.created_at),
                "assigned_to": case.assigned_to}

    @api.post("/login")
    async def login(request: Request, body: Login) -> Any:
        refused = await request.app.state.rate_limits.login(client_host(request), body.username)
        if refused is not None:
            return refused
        staff = await staff_store(request).authenticate(body.username, body.password)
        if staff is None:
            await request.app.state.rate_limits.login_failed(body.username)
            await cases(request).audit(None, "login_failed", detail={"username": body.username[:64]})
            return error(401, "bad_credentials", "用户名或密码不正确。")
        request.session.clear()
        request.session.update({"sid": await staff_store(request).open_session(staff.id),
                                "csrf": secrets.token_urlsafe(32)})
        await cases(request).audit(staff.id, "login")
        return {"username": staff.username, "display_name": staff.display_name, "role": staff.role,
                "csrf_token": request.session["csrf"]}

    @api.post("/logout")
    async def logout(request: Request, staff: StaffView = Depends(current)) -> Any:
        await cases(request).audit(staff.id, "logout")
        await staff_store(request).end_session(str(request.session.get("sid") or ""))
        request.session.clear()
        return {"ok": True}

    @api.get("/queue")
    async def queue(request: Request, category: Optional[str] = None, street: Optional[str] = None,
                    staff: StaffView = Depends(current)) -> Any:
        await cases(request).audit(staff.id, "view_queue", detail={"category": category, "street": street})
        waiting = await cases(request).queue(category, street)
        mine = await cases(request).assigned_to(staff.id)
        return {"waiting": [listing(c) for c in waiting], "mine": [listing(c) for c in mine]}

    @api.get("/quick-replies")
    async def quick_replies(request: Request, staff: StaffView = Depends(current)) -> Any:
        return {"replies": load_quick_replies()}

    @api.get("/stats")
    async def stats(request: Request, days: int = 30, staff: StaffView = Depends(current)) -> Any:
        if staff.role != "admin":
            raise ConsoleError(403, "forbidden", "只有管理员可以查看统计。")
        await cases(request).audit(staff.id, "view_stats")
        return await cases(request).statistics(max(1, min(days, 366)))

    async def residents_of(request: Request, staff: StaffView) -> Optional[set[str]]:
        """Whose legal-aid applications `staff` may read: an admin everyone's (None),
        a mediator those of the residents whose case they have now (an application
        holds the applicant's name, mobile and street: every mediator read them all)."""
        if staff.role == "admin":
            return None
        return {c.resident_id for c in await cases(request).assigned_to(staff.id)}

    @api.get("/applications")
    async def applications(request: Request, staff: StaffView = Depends(current)) -> Any:
        await cases(request).audit(staff.id, "view_applications")
        found = await request.app.state.conversations.applications.recent()
        allowed = await residents_of(request, staff)
        return {"applications": [a.listing() for a in found if allowed is None or a.resident_id in allowed]}

    @api.get("/applications/{application_id}")
    async def application(request: Request, application_id: str, format: str = "json",
                          staff: StaffView = Depends(current)) -> Any:
        found = await request.app.state.conversations.applications.get(public_id(application_id))
        if found is None:
            return error(404, "not_found", "找不到这份申请。")
        allowed = await residents_of(request, staff)
        if allowed is not None and found.resident_id not in allowed:
            await cases(request).audit(staff.id, "denied_application", detail={"application": application_id})
            raise ConsoleError(403, "forbidden", "只有管理员和正在处理该居民案件的调解员可以查看这份申请。")
        await cases(request).audit(staff.id, "view_application", detail={"application": application_id,
                                                                          "format": format})
        if format == "html":
            return HTMLResponse(render_html(found))
        if format == "pdf":
            return Response(render_pdf(found), media_type="application/pdf", headers={
                "Content-Disposition": f'inline; filename="legal-aid-{found.public_id}.pdf"'})
        return {"id": found.public_id, "number": found.id, "public_id": found.public_id, "outcome": found.outcome,
                "record": found.record,
                "created_at": found.created_at}

    @api.post("/cases/{case_id}/claim")
    async def claim(request: Request, case_id: str, staff: StaffView = Depends(current)) -> Any:
        number = await case_number(request, case_id)
        if not await cases(request).claim(number, staff.id, actor=f"staff:{staff.username}"):
            return error(409, "already_claimed", "这个案件已被其他调解员接手，或已结束。")
        await cases(request).audit(staff.id, "claim", number)
        await cases(request).add_message(number, "system", f"调解员{staff.display_name}已接手，会在这里回复您。")
        return {"ok": True}

    @api.get("/cases/{case_id}")
    async def read(request: Request, case_id: str, staff: StaffView = Depends(current)) -> Any:
        number = await case_number(request, case_id)
        case = await visible_case(request, number, staff)
        await cases(request).audit(staff.id, "view_case", number)
        messages = await cases(request).messages(number)
        return {**listing(case), "public_id": case.public_id, "summary": case.summary, "outcome": case.outcome,
                "messages": [{"id": m.id, "sender": m.sender, "text": m.text, "at": m.created_at} for m in messages],
                "history": await cases(request).history(number), "outcomes": list(OUTCOMES)}

    @api.post("/cases/{case_id}/messages")
    async def reply(request: Request, case_id: str, body: Reply, staff: StaffView = Depends(current)) -> Any:
        number = await case_number(request, case_id)
        case = await visible_case(request, number, staff)
        if case.status != CLAIMED or case.assigned_to != staff.id:
            return error(409, "not_yours", "只能回复自己接手、尚未结束的案件。")
        message = await cases(request).add_message(number, "mediator", body.text.strip(), staff.id)
        await cases(request).audit(staff.id, "reply", number, {"chars": len(body.text)})
        return {"id": message.id}

    @api.post("/cases/{case_id}/return")
    async def give_back(request: Request, case_id: str, staff: StaffView = Depends(current)) -> Any:
        number = await case_number(request, case_id)
        await visible_case(request, number, staff)
        if not await cases(request).return_to_bot(number, actor=f"staff:{staff.username}"):
            return error(409, "not_open", "案件已经结束。")
        await cases(request).add_message(number, "system", "调解员已结束人工服务，智能助手继续为您服务。")
        await cases(request).audit(staff.id, "return_to_bot", number)
        return {"ok": True}

    @api.post("/cases/{case_id}/close")
    async def close(request: Request, case_id: str, body: Close, staff: StaffView = Depends(current)) -> Any:
        number = await case_number(request, case_id)
        case = await visible_case(request, number, staff)
        if body.outcome not in OUTCOMES:
            return error(422, "bad_outcome", "结案结果必须是：" + "、".join(OUTCOMES))
        if case.assigned_to != staff.id and staff.role != "admin":
            return error(403, "forbidden", "只能结束自己接手的案件。")
        if not await cases(request).close(number, f"staff:{staff.username}", body.outcome):
            return error(409, "not_claimed", "只有已接手、未结束的案件可以结案。")
        await cases(request).add_message(number, "system", f"本次人工服务已结束（{body.outcome}）。智能助手继续为您服务。")
        await cases(request).audit(staff.id, "close", number, {"outcome": body.outcome})
        return {"ok": True}

    return api

