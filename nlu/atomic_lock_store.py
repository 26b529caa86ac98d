"""Rasa's Redis lock store, made atomic across Rasa instances.

Rasa serialises one conversation's turns with a ticket lock kept as one JSON value
in Redis, and changes it by reading the value, changing it in Python and writing it
back (``RedisLockStore.issue_ticket``, ``update_lock``, ``cleanup``). Two Rasa
instances that do so at the same moment overwrite each other: both draw the same
ticket and take the same resident's turns at once, or a ticket is lost. Measured
here with four stores on one Redis drawing tickets for one conversation at the same
moment, 50 times: 112 and 122 of the 200 tickets were duplicates, none once guarded
(tests/nlu/test_rasa_speedups.py). Behind
a load balancer that is a message answered twice: a gateway that gave up waiting
sends it again with ``seen_before`` (nlu/idempotent_turns.py), the other Rasa takes
the lock the first one still holds, finds no answer in the tracker yet, and answers
a second time (tests/ops/test_cluster.py caught it).

Each of those read-change-write steps now runs under a short Redis mutex of its
conversation (redis-py's ``Lock``: SET NX with an expiry, released by a script that
checks its token), so they happen one after another whatever instance runs them.
The in-memory lock store of a single Rasa is untouched: one process, one event loop.
Installed by nlu/rasa_server.py.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

MUTEX_TIMEOUT_S = 5.0  # a mutex whose holder died is free again after this
MUTEX_WAIT_S = 5.0  # how long a step waits for the mutex before it fails as a lock error
MUTEX_POLL_S = 0.005  # the steps are synchronous Rasa code: wait in short sleeps
GUARDED = ("issue_ticket", "update_lock", "cleanup")  # cleanup calls finish_serving itself


def _guarded(original: Callable[..., Any]) -> Callable[..., Any]:
    from rasa.core.lock_store import LockError
    from redis.exceptions import LockError as MutexError

    def step(self: Any, conversation_id: str, *args: Any, **kwargs: Any) -> Any:
        mutex = self.red.lock(
            f"{self.key_prefix}{conversation_id}:mutex",
            timeout=MUTEX_TIMEOUT_S,
            sleep=MUTEX_POLL_S,
            blocking_timeout=MUTEX_WAIT_S,
        )
        try:
            acquired = mutex.acquire()
        except Exception as error:  # Redis unreachable: as Rasa reports it for its own calls
            raise LockError(f"Error while acquiring lock. Error:\n{error}") from error
        if not acquired:
            raise LockError(f"Could not acquire lock for conversation_id '{conversation_id}'.")
        try:
            return original(self, conversation_id, *args, **kwargs)
        finally:
            # expired meanwhile (a step of over MUTEX_TIMEOUT_S): nothing left to free
            with contextlib.suppress(MutexError):
                mutex.release()

    step.__wrapped__ = original  # type: ignore[attr-defined]
    return step


def install() -> None:
    from rasa.core.lock_store import RedisLockStore

    for name in GUARDED:
        method = getattr(RedisLockStore, name)
        if not hasattr(method, "__wrapped__"):
            setattr(RedisLockStore, name, _guarded(method))
