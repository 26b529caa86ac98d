"""`GET /api/v1/articles`: the whole in-force text of an article the assistant quoted
(the web page's citation cards expand to it). Only indexed articles exist here."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from bot.errors import ApiError, documented

router = APIRouter(prefix="/api/v1/articles", tags=["articles"])


@router.get("", responses=documented(404))
async def article(request: Request, law: str, label: str) -> Any:
    """The whole in-force text of an article the assistant quoted (for citation cards)."""
    found = request.app.state.articles.find(law, label)
    if found is None:
        raise ApiError(404, "not_found", "找不到这一条。")
    return {
        "citation": found.citation,
        "status": found.status,
        "version_date": found.version_date,
        "chapter": found.chapter,
        "section": found.section,
        "text": found.text,
    }
