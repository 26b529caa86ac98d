"""Rate limits of the gateway's public endpoints (the `limits` library, moving windows).

Three budgets, each an environment setting in `limits` notation ("20/minute"):
per client address on every public endpoint (a flood from one machine),
per resident on every endpoint that takes a message (one resident cannot
drown the mediators' queue or the assistant, whichever address they use), and
per address and user name on the logins (password guessing). Platform
callbacks (WeChat push, Telegram webhook) come from the platforms' servers
for all residents at once, so they are limited per resident only, after
their signature is checked. Counts live in the gateway process's memory
(bot/core/rate_limit_storage.py: limits' storage, its expiry swept cheaply),
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
from collections.abc import Callable
from typing import Any

from limits import RateLimitItem, parse, parse_many
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.core.rate_limit_storage import SweptMemoryStorage
from bot.errors import ApiError
from settings import Settings

log = logging.getLogger(__name__)

TOO_FAST = "您发送得太快了，请稍等{seconds}秒再试。急事请拨打12348公共法律服务热线。"
SLOW_DOWN = "您发送得太快了，请稍等一会儿再发。急事请拨打12348公共法律服务热线。"  # where no wait can be given
# reached by the platforms' servers for every resident, authenticated by signature/secret
PLATFORM_CALLBACKS = ("/wechat/push", "/telegram/webhook")
UNLIMITED = ("/healthz",)


class RateLimits:
    def __init__(
        self,
        per_address: str,
        per_resident: str,
        per_login: str,
        storage: str = "memory://",
        lockout: str = "5/minute;20/hour;50/day",
        cases_per_resident: str = "3/hour",
        cases_per_address: str = "10/hour",
        new_residents: str = "120/hour",
    ) -> None:
        options: dict[str, float | str | bool] = (
            {
                "implementation": "redispy",
                "key_prefix": "haizhu-limits",
                "socket_timeout": 0.5,
                "socket_connect_timeout": 0.5,
            }
            if storage.startswith("redis")
            else {}
        )
        backend = (
            SweptMemoryStorage() if storage.startswith("memory") else storage_from_string(f"async+{storage}", **options)
        )
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

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimits:
        return cls(
            settings.rate_limit_per_address,
            settings.rate_limit_per_resident,
            settings.rate_limit_login,
            settings.rate_limit_storage,
            settings.login_lockout,
            settings.case_limit_per_resident,
            settings.case_limit_per_address,
            settings.rate_limit_new_residents,
        )

    async def _wait(self, item: RateLimitItem, *key: str) -> float | None:
        """None when this hit is within budget, else when the window frees up (epoch seconds)."""
        try:
            if await self._limiter.hit(item, *key):
                return None
            return float((await self._limiter.get_window_stats(item, *key)).reset_time)
        except Exception as exc:  # the limiter's store is down: serve, say so in the log
            log.warning("rate limits not applied: their store failed (%s)", type(exc).__name__)
            return None

    async def _check(self, item: RateLimitItem, *key: str) -> None:
        reset = await self._wait(item, *key)
        if reset is not None:
            raise self._too_many(reset)

    @staticmethod
    def _too_many(reset: float) -> ApiError:
        seconds = max(1, math.ceil(reset - time.time()))
        return ApiError(
            429, "too_many_requests", TOO_FAST.format(seconds=seconds), headers={"Retry-After": str(seconds)}
        )

    async def address(self, host: str) -> None:
        """The 429 (ApiError) once this address has spent its budget on public endpoints."""
        await self._check(self.per_address, "address", host)

    async def resident(self, user_id: str) -> None:
        """The 429 (ApiError) once this resident has sent too many messages."""
        await self._check(self.per_resident, "resident", user_id)

    async def resident_may_send(self, user_id: str) -> bool:
        """The same budget for channels that answer in their own words, not with a 429."""
        return await self._wait(self.per_resident, "resident", user_id) is None

    async def new_resident(self, host: str) -> None:
        """The 429 once this address has been given too many resident identities (each
        identity brings a fresh per-resident budget, so they are budgeted too)."""
        await self._check(self.new_residents, "new-resident", host)

    async def login(self, host: str, username: str) -> None:
        """The 429 when this login may not be tried now: per address and name, and the
        account's lockout after too many failures (whatever the address)."""
        await self._check(self.per_login, "login", host, username[:64])
        try:
            for item in self.lockout:
                if not await self._limiter.test(item, "lockout", username[:64]):
                    stats = await self._limiter.get_window_stats(item, "lockout", username[:64])
                    raise self._too_many(stats.reset_time)
        except ApiError:
            raise
        except Exception as exc:
            log.warning("login lockout not applied: its store failed (%s)", type(exc).__name__)

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
            try:
                await self.limits().address(host)
            except ApiError as refused:  # outside the app's exception handlers: answer here
                await refused.response()(scope, receive, send)
                return
        await self.app(scope, receive, send)


def client_host(request: Any) -> str:
    return request.client.host if request.client else "unknown"
