"""`GET /api/v1/drafts/{link}?format=pdf|docx`: a resident's drafted application.

The link is the draft's id signed with CONSOLE_SECRET (its own salt) and valid
for DRAFT_LINK_MAX_AGE_S: the resident gets it in the reply and can open it in
any browser, Telegram or WeChat included, where no bearer token travels; a
forged, altered or expired link is 404, as if nothing were there.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from bot.errors import ApiError, documented
from bot.web.drafts import KINDS, render_docx, render_pdf

router = APIRouter(prefix="/api/v1/drafts", tags=["drafts"])
NOT_FOUND = "没有找到这份草稿，链接可能已经过期。请在对话中重新生成。"
MEDIA = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}


def draft_links(signing_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(signing_key, salt="draft-link")


def link_for(request_base: str, signing_key: str, public_id: str) -> dict[str, str]:
    token = draft_links(signing_key).dumps(public_id)
    return {fmt: f"{request_base}/api/v1/drafts/{token}?format={fmt}" for fmt in MEDIA}


@router.get("/{link}", responses=documented(404), response_class=Response)
async def download_draft(
    request: Request, link: str, format: Annotated[Literal["pdf", "docx"], Query()] = "pdf"
) -> Response:
    """The draft as PDF or as an editable Word document."""
    settings = request.app.state.settings
    try:
        public_id = draft_links(settings.console_signing_key()).loads(link, max_age=settings.draft_link_max_age_s)
    except BadSignature:  # SignatureExpired is one
        raise ApiError(404, "not_found", NOT_FOUND) from None
    draft = await request.app.state.conversations.drafts.get(str(public_id))
    if draft is None:
        raise ApiError(404, "not_found", NOT_FOUND)
    body = render_pdf(draft.record) if format == "pdf" else render_docx(draft.record)
    name = KINDS[draft.kind][0]
    return Response(
        body,
        media_type=MEDIA[format],
        headers={
            "Content-Disposition": f"attachment; filename=draft.{format}; filename*=UTF-8''{_quote(name)}.{format}",
            "Cache-Control": "no-store",
        },
    )


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text)
