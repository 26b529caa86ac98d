"""The gateway's background workers run in rounds: push mediators' messages, retry
kept messages, push due reminders. A round that fails must not end the worker, and
a database outage is not a bug: one line each round, no traceback."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from bot.errors import STORE_DOWN

log = logging.getLogger(__name__)


async def every(interval_s: float, one_round: Callable[[], Awaitable[None]], what: str) -> None:
    """Run `one_round` every `interval_s` seconds until cancelled; `what` names it in the log."""
    while True:
        try:
            await one_round()
        except STORE_DOWN as exc:
            log.warning("%s round skipped: database unavailable (%s)", what, type(exc).__name__)
        except Exception:  # the worker must outlive any single bad round
            log.exception("%s round failed", what)
        await asyncio.sleep(interval_s)
