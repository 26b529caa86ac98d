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

A ticket is also a **lease** now. Rasa's ticket expires a fixed time (60 s) after it was
*drawn*, waiting included, so that a dead instance's ticket frees its conversation in
the end. But behind a dead instance's ticket the next turn waits most of those 60 s,
and then runs with the little of its own ticket that is left: once that runs out,
the next waiting turn is served while the first is still running. Two takes of one
conversation at once, answered twice (stop 28's cluster run; the checked save of
nlu/cached_tracker_store.py now refuses the second one's events). Each ticket now
lasts ``TURN_LOCK_LEASE_S`` (15 s) and the instance that drew it renews it every third
of that while the turn waits or runs: a living turn keeps its place however long it
waits, and a dead instance's tickets free the conversation within the lease instead
of a minute.

Installed by nlu/rasa_server.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

logger = logging.getLogger(__name__)

MUTEX_TIMEOUT_S = 5.0  # a mutex whose holder died is free again after this
MUTEX_WAIT_S = 5.0  # how long a step waits for the mutex before it fails as a lock error
MUTEX_POLL_S = 0.005  # the steps are synchronous Rasa code: wait in short sleeps
GUARDED = ("issue_ticket", "update_lock", "cleanup", "renew_ticket")  # cleanup calls finish_serving
RENEWALS_PER_LEASE = 3  # a lease is renewed every third of it: two renewals may fail or be late
POLL_S = 1.0  # Rasa's wait between two looks at a lock held by another turn


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


def renew_ticket(self: Any, conversation_id: str, ticket_number: int, lease_s: float) -> bool:
    """The ticket's expiry moved to `lease_s` from now; False when it is gone already (it
    expired: another turn may be served, and it is not brought back)."""
    lock = self.get_lock(conversation_id)
    ticket = None if lock is None else next((t for t in lock.tickets if t.number == ticket_number), None)
    if ticket is None or ticket.has_expired():
        return False
    ticket.expires = time.time() + lease_s
    self.save_lock(lock)
    return True


async def _keep(store: Any, conversation_id: str, ticket_number: int, lease_s: float) -> None:
    """Renews the ticket while its turn waits or runs; cancelled when the turn ends."""
    while True:
        await asyncio.sleep(lease_s / RENEWALS_PER_LEASE)
        try:
            kept = store.renew_ticket(conversation_id, ticket_number, lease_s)
        except Exception as error:  # Redis unreachable for now: the next renewal may reach it
            logger.warning("could not renew a turn's lock ticket: %s", type(error).__name__)
            continue
        if not kept:
            logger.warning("a turn's lock ticket ran out before its turn ended")
            return


def leased_lock(lease_s: Callable[[], float]) -> Callable[..., Any]:
    """Rasa's ``LockStore.lock``, each ticket drawn for `lease_s()` seconds and renewed by
    this process until its turn is over."""

    @contextlib.asynccontextmanager
    async def lock(
        self: Any,
        conversation_id: str,
        lock_lifetime: float | None = None,
        wait_time_in_seconds: float = POLL_S,
    ) -> AsyncIterator[Any]:
        lease = lock_lifetime or lease_s()
        ticket = self.issue_ticket(conversation_id, lease)
        keeper = asyncio.create_task(_keep(self, conversation_id, ticket, lease))
        try:
            yield await self._acquire_lock(conversation_id, ticket, wait_time_in_seconds)
        finally:
            keeper.cancel()
            self.cleanup(conversation_id, ticket)

    return lock


def install() -> None:
    from rasa.core.lock_store import RedisLockStore

    from settings import get_settings

    if not hasattr(RedisLockStore, "renew_ticket"):
        RedisLockStore.renew_ticket = renew_ticket
        RedisLockStore.lock = leased_lock(lambda: get_settings().turn_lock_lease_s)
    for name in GUARDED:
        method = getattr(RedisLockStore, name)
        if not hasattr(method, "__wrapped__"):
            setattr(RedisLockStore, name, _guarded(method))
