"""Rate limits of the gateway's public endpoints (the `limits` library, moving windows).

Three budgets, each an environment setting in `limits` notation ("20/minute"):
per client address on every public endpoint (a flood from one machine),
per resident on every endpoint that takes a message (one resident cannot
drown the mediators' queue or the assistant, whichever address they use), and
per address and user name on the logins (password guessing). Platform
callbacks (WeChat push, Telegram webhook) come from the platforms' servers
for all residents at once, so they are limited per resident only, after
their signature is checked. Counts live in the gateway process's memory,
or in Redis (RATE_LIMIT_STORAGE=redis://…) so that several gateways share one
budget; the asyncio API throughout, so a Redis round trip never blocks the
gateway's event loop. If that Redis is unreachable the limits are not applied
(and logged): a broken limiter must not turn residents away. The client address is the one
uvicorn reports: X-Forwarded-For only from TRUSTED_PROXIES (bot/__main__.py),
none by default.
"""
from __future__ import annotations

import logging
import math
import time
from typing import Any, Callable

from limits import RateLimitItem, parse, parse_many
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.http_common import error

log = logging.getLogger(__name__)

TOO_FAST = "您发送得太快了，请稍等{seconds}秒再试。急事请拨打12348公共法律服务热线。"
SLOW_DOWN = "您发送得太快了，请稍等一会儿再发。急事请拨打12348公共法律服务热线。"  # where no wait can be given
# reached by the platforms' servers for every resident, authenticated by signature/secret
PLATFORM_CALLBACKS = ("/wechat/push", "/telegram/webhook")
UNLIMITED = ("/healthz",)


class RateLimits:
    def __init__(self, per_address: str, per_resident: str, per_login: str, storage: str = "memory://",
                 lockout: str = "5/minute;20/hour;50/day", cases_per_resident: str = "3/hour",
                 cases_per_address: str = "10/hour", new_residents: str = "120/hour") -> None:
        options = {"implementation": "redispy", "key_prefix": "haizhu-limits", "socket_timeout": 0.5,
                   "socket_connect_timeout": 0.5} if storage.startswith("redis") else {}
        backend = storage_from_string(f"async+{storage}", **options)
        self._limiter = MovingWindowRateLimiter(backend)
        self.per_address: RateLimitItem = parse(per_address)
        self.per_resident: RateLimitItem = parse(per_resident)
        self.per_login: RateLimitItem = parse(per_login)
        # failed logins of one account from anywhere, in widening windows: a guesser
        # who waits out the minute meets the hour, then the day (back-off)
        self.new_residents: RateLimitItem = parse(new_residents)
        self.cases_per_resident: RateLimitItem = parse(cases_per_resident)
        self.cases_per_address: RateLimitItem = parse(cases_per_address)
        self.lockout: list[RateLimitItem] = parse_many(lockout) if lockout.strip().lower() not in ("", "off") else []

    async def _check(self, item: RateLimitItem, *key: str) -> JSONResponse | None:
        try:
            if await self._limiter.hit(item, *key):
                return None
            reset = (await self._limiter.get_window_stats(item, *key)).reset_time
        except Exception as exc:  # the limiter's store is down: serve, say so in the log
            log.warning("rate limits not applied: their store failed (%s)", type(exc).__name__)
            return None
        return self._too_many(reset)

    @staticmethod
    def _too_many(reset: float) -> JSONResponse:
        seconds = max(1, math.ceil(reset - time.time()))
        response = error(429, "too_many_requests", TOO_FAST.format(seconds=seconds))
        response.headers["Retry-After"] = str(seconds)
        return response

    async def address(self, host: str) -> JSONResponse | None:
        return await self._check(self.per_address, "address", host)

    async def resident(self, user_id: str) -> JSONResponse | None:
        """None if the resident may send another message now, else the 429 to answer."""
        return await self._check(self.per_resident, "resident", user_id)

    async def new_resident(self, host: str) -> JSONResponse | None:
        """None if this address may be given another resident identity now, else the 429
        (each identity brings a fresh per-resident budget, so they are budgeted too)."""
        return await self._check(self.new_residents, "new-resident", host)

    async def login(self, host: str, username: str) -> JSONResponse | None:
        """None if this login may be tried now, else the 429: per address and name,
        and the account's lockout after too many failures (whatever the address)."""
        refused = await self._check(self.per_login, "login", host, username[:64])
        if refused is not None:
            return refused
        try:
            for item in self.lockout:
                if not await self._limiter.test(item, "lockout", username[:64]):
                    stats = await self._limiter.get_window_stats(item, "lockout", username[:64])
                    return self._too_many(stats.reset_time)
        except Exception as exc:
            log.warning("login lockout not applied: its store failed (%s)", type(exc).__name__)
        return None

    async def may_open_case(self, user_id: str, address: str | None) -> bool:
        """Whether a hand-off case may be opened now for this resident (and address,
        when the message came with one): anyone could open cases without end,
        each one a mediator's time. A store that is down never stops a case."""
        try:
            if address is not None and not await self._limiter.test(self.cases_per_address, "case", address):
                return False
            if not await self._limiter.hit(self.cases_per_resident, "case-resident", user_id):
                return False
            if address is not None:
                await self._limiter.hit(self.cases_per_address, "case", address)
        except Exception as exc:
            log.warning("case limits not applied: their store failed (%s)", type(exc).__name__)
        return True

    async def login_failed(self, username: str) -> None:
        """Count a failed login against the account's lockout."""
        try:
            for item in self.lockout:
                await self._limiter.hit(item, "lockout", username[:64])
        except Exception as exc:
            log.warning("login lockout not counted: its store failed (%s)", type(exc).__name__)


class AddressLimitMiddleware:
    """Pure ASGI (no response buffering, long polls unaffected): the per-address budget."""

    def __init__(self, app: ASGIApp, limits: Callable[[], RateLimits]) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and path not in UNLIMITED and not path.startswith(PLATFORM_CALLBACKS):
            host = (scope.get("client") or ("unknown", 0))[0]
            refused = await self.limits().address(host)
            if refused is not None:
                await refused(scope, receive, send)
                return
        await self.app(scope, receive, send)


def client_host(request: Any) -> str:
    return request.client.host if request.client else "unknown"
