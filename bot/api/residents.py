"""`POST /api/v1/residents`: who a web or API resident is, as the gateway says
(bot/core/resident_tokens.py explains why a chosen id is not enough)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Security
from fastapi.responses import JSONResponse

from bot.api.deps import INTEGRATOR_KEY, body_spec, json_body, residents
from bot.api.schemas import ResidentIn, ResidentOut
from bot.core.rate_limits import client_host
from bot.core.resident_tokens import reserved
from bot.errors import ApiError, documented

router = APIRouter(prefix="/api/v1/residents", tags=["residents"])

INTEGRATORS_ONLY = "只有持接入密钥（INTEGRATOR_KEYS）的系统可以指定 user_id；普通居民请留空，由服务器分配。"
SHAPE = "请求体必须是JSON对象（可以为空）。"
ISSUED_PREFIXES = "user_id 不能以 web:、tg: 或 wx: 开头：这些由服务器和渠道分配。"


@router.post(
    "",
    status_code=201,
    response_model=ResidentOut,
    responses=documented(401, 403, 422, 429),
    openapi_extra=body_spec(ResidentIn, required=False),
)
async def new_resident(
    request: Request,
    body: Annotated[ResidentIn, Depends(json_body(ResidentIn, SHAPE, optional=True))],
    _key: Any = Security(INTEGRATOR_KEY),
) -> JSONResponse:
    """A resident identity and its token: a fresh `web:` id for anybody (what the web page
    does on first visit), or, with an integrator key, the token of an id the integrator chose."""
    tokens = residents(request)
    if body.user_id is None:
        await request.app.state.rate_limits.new_resident(client_host(request))
        issued = tokens.issue_new()
    else:
        if not tokens.is_integrator(request.headers.get("authorization")):
            raise ApiError(403, "integrator_key_required", INTEGRATORS_ONLY)
        if reserved(body.user_id):
            raise ApiError(422, "invalid_user_id", ISSUED_PREFIXES)
        issued = tokens.issue(body.user_id)
    return JSONResponse(
        {"user_id": issued.user_id, "token": issued.token, "expires_in": issued.expires_in},
        status_code=201,
        headers={"Cache-Control": "no-store"},
    )
