"""A turn whose action server could not be reached says so to the gateway.

Rasa answers 200 when a custom action fails: it logs the error and goes on with
no reply. The gateway used to tell an outage (keep the message, send it again
later) from a bug (a person answers) by asking the action server's health
afterwards. Behind a balancer (ops/cluster.py) that question reaches whichever
instance is up, so a live one answered for the one that had just been killed
under Rasa's call: the message was marked unanswered and handed to a mediator
as a bug, though a retry would have answered it (tests/ops/test_cluster.py, a
CI run of stop 37). Rasa itself knows what went wrong, so it says: each
``RemoteAction.run`` that fails because the action server was out of reach
(refused, dropped mid-request, a balancer's 502/503/504, a timeout) is noted in
the turn's context, and the gateway channel (nlu/gateway_channel.py) lists
those actions in its answer. An action the server ran and failed (a 500, a
rejected answer) is not an outage and is not listed. Installed by
nlu/rasa_server.py.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

OUTAGE_STATUSES = frozenset({502, 503, 504})  # a balancer's: no instance, a dead one, too slow
_unreachable: ContextVar[list[str] | None] = ContextVar("haizhu_unreachable_actions", default=None)


@contextlib.contextmanager
def watching() -> Iterator[list[str]]:
    """The names of the actions that could not reach the action server during the block.
    A list, not a value: a task Rasa starts inside copies the context but shares it."""
    unreachable: list[str] = []
    token = _unreachable.set(unreachable)
    try:
        yield unreachable
    finally:
        _unreachable.reset(token)


def outage_of(error: BaseException) -> str | None:
    """How the action server was out of reach, if `error` (or what it was raised from or
    while handling) says it was: RemoteAction wraps aiohttp's error in a RasaException."""
    import aiohttp
    from rasa.utils.endpoints import ClientResponseError

    seen: set[int] = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, aiohttp.ClientConnectionError | TimeoutError):
            return type(cause).__name__
        if isinstance(cause, ClientResponseError) and cause.status in OUTAGE_STATUSES:
            return f"{type(cause).__name__} {cause.status}"
        cause = cause.__cause__ or cause.__context__
    return None


def is_outage(error: BaseException) -> bool:
    return outage_of(error) is not None


class OutageTracebackFilter(logging.Filter):
    """Rasa logs a custom action that failed with its whole traceback ("Encountered an
    exception while running action …"). When the action server was out of reach, an outage
    the gateway answers by keeping the message, the traceback tells the operator nothing
    the line does not, and a killed or restarted action server filled the journal with
    them (tests/ops/test_cluster_under_systemd.py): the record keeps its line and says how
    the server was out of reach, without the traceback. An action that ran and failed (a
    bug) keeps it. In ops/rasa_logging.yml."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        how = outage_of(error) if error is not None else None
        if how is not None:
            record.msg, record.args = f"{record.getMessage()} (action server out of reach: {how})", ()
            record.exc_info, record.exc_text = None, None
        return True


def install() -> None:
    from rasa.core.actions.action import RemoteAction

    original = RemoteAction.run

    async def run(self: RemoteAction, *args: Any, **kwargs: Any) -> Any:
        try:
            return await original(self, *args, **kwargs)
        except Exception as error:
            watched = _unreachable.get()
            if watched is not None and is_outage(error):
                watched.append(self.name())
            raise

    RemoteAction.run = run
