"""The console's legal-aid applications (/console/api/applications): listed with the
mobile masked, shown whole as JSON, HTML or PDF. An application holds the applicant's
name, mobile and street, so only admins and the mediator holding that resident's case
read it (every mediator used to read them all)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from bot.api.deps import CurrentStaff, handoff_cases, public_id
from bot.errors import ApiError
from bot.store.legal_aid_applications import ApplicationStore
from bot.store.staff_accounts import StaffView
from bot.web.application_documents import render_html, render_pdf

router = APIRouter(prefix="/console/api/applications", tags=["console"])


def applications(request: Request) -> ApplicationStore:
    store: ApplicationStore = request.app.state.conversations.applications
    return store


async def residents_of(request: Request, staff: StaffView) -> set[str] | None:
    """Whose applications `staff` may read: an admin everyone's (None), a mediator
    those of the residents whose case they have now."""
    if staff.role == "admin":
        return None
    return {c.resident_id for c in await handoff_cases(request).assigned_to(staff.id)}


@router.get("")
async def listed(request: Request, staff: CurrentStaff) -> Any:
    await handoff_cases(request).audit(staff.id, "view_applications")
    found = await applications(request).recent()
    allowed = await residents_of(request, staff)
    return {"applications": [a.listing() for a in found if allowed is None or a.resident_id in allowed]}


@router.get("/{application_id}")
async def application(request: Request, application_id: str, staff: CurrentStaff, format: str = "json") -> Any:
    found = await applications(request).get(public_id(application_id))
    if found is None:
        raise ApiError(404, "not_found", "找不到这份申请。")
    allowed = await residents_of(request, staff)
    audit = handoff_cases(request).audit
    if allowed is not None and found.resident_id not in allowed:
        await audit(staff.id, "denied_application", detail={"application": application_id})
        raise ApiError(403, "forbidden", "只有管理员和正在处理该居民案件的调解员可以查看这份申请。")
    await audit(staff.id, "view_application", detail={"application": application_id, "format": format})
    if format == "html":
        return HTMLResponse(render_html(found))
    if format == "pdf":
        return Response(
            render_pdf(found),
            media_type="application/pdf",
            headers={"Content-Disposition": f'inline; filename="legal-aid-{found.public_id}.pdf"'},
        )
    return {
        "id": found.public_id,
        "number": found.id,
        "public_id": found.public_id,
        "outcome": found.outcome,
        "record": found.record,
        "created_at": found.created_at,
    }
