"""The pages the gateway serves, each with its own static files and nothing from
another origin: the residents' chat (/chat), the mediator console and its admin
page (/console), and the API docs (/docs, Swagger UI from the pinned
swagger-ui-bundle-v2 package instead of a CDN)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from bot.errors import ApiError

WEB = Path(__file__).parent
CHAT, CONSOLE = WEB / "chat", WEB / "console"
CHAT_FILES = frozenset({"chat.js", "chat.css"})
CONSOLE_FILES = frozenset({"console.js", "admin.js", "console.css"})
# the pages load only their own scripts and styles: no inline code, no other origin
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
DOCS_STATIC = "/docs/static"
# Swagger UI's own files, served beside /docs (mounted by bot/app.py)
docs_static = StaticFiles(directory=str(swagger_ui_path))

router = APIRouter(include_in_schema=False)


def _page(folder: Path, name: str, allowed: frozenset[str] | None = None) -> FileResponse:
    if allowed is not None and name not in allowed:
        raise ApiError(404, "http_404", "没有这个地址。")
    return FileResponse(folder / name, headers=PAGE_HEADERS)


@router.get("/chat")
async def chat_page() -> FileResponse:
    return _page(CHAT, "index.html")


@router.get("/chat/static/{name}")
async def chat_static(name: str) -> FileResponse:
    return _page(CHAT, name, CHAT_FILES)


@router.get("/console")
async def console_page() -> FileResponse:
    return _page(CONSOLE, "index.html")


@router.get("/console/admin")
async def admin_page() -> FileResponse:
    return _page(CONSOLE, "admin.html")


@router.get("/console/static/{name}")
async def console_static(name: str) -> FileResponse:
    return _page(CONSOLE, name, CONSOLE_FILES)


@router.get("/docs")
async def docs(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url=request.app.openapi_url or "/openapi.json",
        title=f"{request.app.title} · API",
        swagger_js_url=f"{DOCS_STATIC}/swagger-ui-bundle.js",
        swagger_css_url=f"{DOCS_STATIC}/swagger-ui.css",
        swagger_favicon_url=f"{DOCS_STATIC}/favicon-32x32.png",
    )
