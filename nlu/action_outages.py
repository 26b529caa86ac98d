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


def is_outage(error: BaseException) -> bool:
    """Whether `error`, or what it was raised from or while handling, means the action
    server was out of reach (RemoteAction wraps aiohttp's error in a RasaException)."""
    import aiohttp
    from rasa.utils.endpoints import ClientResponseError

    seen: set[int] = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, aiohttp.ClientConnectionError | TimeoutError):
            return True
        if isinstance(cause, ClientResponseError) and cause.status in OUTAGE_STATUSES:
            return True
        cause = cause.__cause__ or cause.__context__
    return False


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
