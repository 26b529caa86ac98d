"""Rasa's SQL tracker store, reading from the database only what it has not read before.

Rasa rebuilds a conversation's tracker from its stored events on every message: it
reads and JSON-decodes every event of the conversation's session again. Profiled at
10 residents (py-spy, stop 26), that was a third of Rasa's CPU, growing with the length
of the conversation. Events are only ever appended (the table is ``events``, one row
per event, ids increasing), and one conversation's turns are serialised by the lock
store, so this store keeps each recent conversation's decoded events in memory and asks
the database only for rows with a higher id than it has seen.

It returns exactly the tracker Rasa's ``SQLTrackerStore.retrieve`` returns, which stays
the definition: the events of the latest session (timestamp at or after the latest
``session_started``), in id order. What it keeps is checked on every read, so it stays
right with several Rasa instances writing to the same database (the cluster) and after
the retention purge or a restore removed rows:

- the number of the conversation's rows up to the last id seen must be unchanged,
  else everything is read again;
- a new ``session_started`` row moves the session's start: everything is read again;
- only what this process read from the database is kept, never a tracker it was
  handed, so an event that was not saved is never served.

A SQLite store (one machine, `make run`) is switched to SQLite's write-ahead log, as the
gateway's is (bot/store/messages.py): one fsync per saved turn instead of several, with
synchronous left FULL, so a saved turn survives a power cut. The fsyncs of the rollback
journal were 8 % of Rasa's busy time at 10 residents, holding its event loop.

What is kept is bounded by the stored JSON of the events kept, ``cache_bytes``
(TRACKER_CACHE_MB; 0 turns the memory off), least recently used first out; decoded,
they take about three times that (measured on the bench's trackers), and Rasa's event
objects built from them are kept too, sharing the decoded values. A typical
conversation is 15 KB of JSON, the bench's longest 1 MB; one larger than the whole
bound is not kept. ops/endpoints.py names this class in the endpoints Rasa reads.

Saving is checked too. Rasa's ``SQLTrackerStore.save`` appends the tracker's events
past the number the database holds for the latest session: right only when the
tracker is exactly what the database held when the turn began. It is not when two
turns of one conversation overlap (a lock ticket that expired under a long turn after
Redis was cut), or when a turn ran on an empty tracker because the database could not
be read (Rasa's ``FailSafeTrackerStore`` answers None then, and saves to memory when
the write fails, so the resident gets an answer nobody kept). Then it writes a slice of
old events again or drops the turn's own: the cluster test saw one message's user
event and replies stored twice. So here:

- each tracker this store reads or creates remembers what the database held then
  (rows of the conversation, highest id, events in the tracker);
- ``save`` appends exactly the events added since, inside one transaction that first
  takes the conversation's advisory lock on PostgreSQL (saves of one conversation
  from every instance one after another, committed in id order, which also makes the
  read-after-last-id above exact) and checks that the database still holds what was
  read; if not, it raises ``TrackerConflict`` and writes nothing: the turn fails, the
  gateway keeps the message and sends it again with ``seen_before``
  (nlu/idempotent_turns.py), and the next try reads the conversation as it is;
- ``install()`` hands this store to Rasa's agent unwrapped, so a database that cannot
  be read or written fails the turn (the gateway keeps the message) instead of
  answering from an empty conversation or keeping the turn in one process's memory.

A tracker this store did not read (one Rasa's HTTP API builds from posted events) is
saved by Rasa's own rule, under the same lock.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import Event, SessionStarted, deserialise_events
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY
from sqlalchemy.orm import sessionmaker

DEFAULT_CACHE_BYTES = 32 * 2**20
STORED = "_haizhu_stored"  # the tracker attribute that remembers what the database held


class TrackerConflict(RuntimeError):
    """The conversation changed in the database after this turn read it: nothing saved."""


@dataclass(frozen=True)
class _Stored:
    """What the database held of a conversation when a tracker was read or last saved."""

    rows: int  # every row of the conversation, all sessions
    last_id: int  # its highest id (0: none)
    events: int  # events in the tracker then: the ones past this are the turn's


@dataclass
class _Conversation:
    """What was read of one conversation: every row up to `last_id` was seen (`rows` of
    them), and `events` are those of its latest session, decoded."""

    last_id: int
    rows: int
    session_start: float | None
    events: list[dict[str, Any]] = field(default_factory=list)
    size: int = 0  # bytes of the kept events' JSON
    decoded: list[Event] = field(default_factory=list)  # Rasa's events of `events[:decoded_upto]`
    decoded_upto: int = 0

    def rasa_events(self) -> list[Event]:
        """The session's events as Rasa's objects, building only those added since the
        last call: building them was 11 ms of a 300-event conversation's turn, every
        turn. Successive trackers share the objects, as they already shared the decoded
        JSON they hold; nlu/incremental_states.py then knows them at once."""
        if self.decoded_upto < len(self.events):
            self.decoded += deserialise_events(self.events[self.decoded_upto :])
            self.decoded_upto = len(self.events)
        return list(self.decoded)

    def take(self, timestamp: float | None, data: str) -> None:
        # SQL's `timestamp >= start` is not true for a NULL timestamp: neither is this
        if self.session_start is None or (timestamp is not None and timestamp >= self.session_start):
            self.events.append(json.loads(data))
            self.size += len(data)


class CachedSQLTrackerStore(SQLTrackerStore):
    engine: sa.engine.Engine  # made by SQLTrackerStore.__init__, replaced here for SQLite

    def __init__(self, *args: Any, cache_bytes: int | str = DEFAULT_CACHE_BYTES, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.engine.dialect.name == "sqlite":
            # SQLAlchemy 1.4 opens and closes a SQLite file for every session (NullPool), and
            # the last connection to close checkpoints the write-ahead log: 7 % of Rasa's busy
            # samples at 10 residents (stop 31). One connection per thread, kept open: Rasa's
            # server calls its store from the event loop's thread only (SingletonThreadPool
            # closes connections of threads past its pool_size, 5).
            url = self.engine.url
            self.engine.dispose()
            self.engine = sa.create_engine(url, poolclass=sa.pool.SingletonThreadPool)
            self.sessionmaker = sessionmaker(bind=self.engine)
            with self.engine.connect() as connection:  # kept in the file: once is enough
                connection.exec_driver_sql("PRAGMA journal_mode=WAL")
        self._cache_bytes = int(cache_bytes)
        self._kept_bytes = 0
        self._conversations: OrderedDict[str, _Conversation] = OrderedDict()

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        """The tracker of the conversation's latest session, as Rasa's own store gives it."""
        read = self._read(sender_id)
        if self.domain and read is not None and read.events:
            tracker = DialogueStateTracker.from_events(sender_id, read.rasa_events(), self.domain.slots)
            setattr(tracker, STORED, _Stored(read.rows, read.last_id, len(tracker.events)))
            return tracker
        return None

    def init_tracker(self, sender_id: str) -> DialogueStateTracker:
        """A new conversation's tracker: its first save expects no rows at all."""
        tracker = super().init_tracker(sender_id)
        setattr(tracker, STORED, _Stored(0, 0, 0))
        return tracker

    def session_events(self, sender_id: str) -> list[dict[str, Any]]:
        """The latest session's events (JSON as stored), from memory and the rows added since."""
        read = self._read(sender_id)
        return [] if read is None else list(read.events)

    def _read(self, sender_id: str) -> _Conversation | None:
        with self.session_scope() as session:
            known = self._conversations.pop(sender_id, None)
            if known is not None:
                self._kept_bytes -= known.size
            if known is not None and self._catch_up(session, sender_id, known):
                self._keep(sender_id, known)
                return known
            fresh = self._read_all(session, sender_id)
        if fresh is not None:
            self._keep(sender_id, fresh)
        return fresh

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Appends the turn's events if the conversation is still as the turn read it."""
        await self.stream_events(tracker)
        sender_id, stored = tracker.sender_id, getattr(tracker, STORED, None)
        with self.session_scope() as session:
            if self.engine.dialect.name == "postgresql":
                session.execute(
                    sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                    {"key": f"rasa-tracker:{sender_id}"},
                )
            if stored is None:  # not read here: Rasa's own rule
                new = list(self._additional_events(session, tracker))
            else:
                now = self._extent(session, sender_id)
                if now != (stored.rows, stored.last_id):
                    raise TrackerConflict(
                        f"conversation changed since it was read: rows/last id {now}, "
                        f"read {(stored.rows, stored.last_id)}"
                    )
                new = list(tracker.events)[stored.events :]
            added = [self._row(sender_id, event) for event in new]
            session.add_all(added)
            session.flush()  # the ids
            if stored is None:
                rows, last_id = self._extent(session, sender_id)
            else:
                rows, last_id = stored.rows + len(added), added[-1].id if added else stored.last_id
            session.commit()
        setattr(tracker, STORED, _Stored(rows, last_id, len(tracker.events)))

    def _extent(self, session: Any, sender_id: str) -> tuple[int, int]:
        """The conversation's row count and highest id (0 when it has none)."""
        event = self.SQLEvent
        rows, last_id = (
            session.query(sa.func.count(event.id), sa.func.max(event.id)).filter(event.sender_id == sender_id).one()
        )
        return int(rows), int(last_id or 0)

    def _row(self, sender_id: str, event: Event) -> Any:
        """The row Rasa's SQLTrackerStore.save writes for `event`, column for column."""
        data = event.as_dict()
        return self.SQLEvent(
            sender_id=sender_id,
            type_name=event.type_name,
            timestamp=data.get("timestamp"),
            intent_name=data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
            action_name=data.get("name"),
            data=json.dumps(data),
        )

    def _catch_up(self, session: Any, sender_id: str, known: _Conversation) -> bool:
        """Adds the rows written since `known` was read; False when what was read no longer
        holds (rows removed or restored, a new session) and all must be read again."""
        event = self.SQLEvent
        still_there = (
            session.query(sa.func.count(event.id))
            .filter(event.sender_id == sender_id, event.id <= known.last_id)
            .scalar()
        )
        if still_there != known.rows:
            return False
        new = self._rows(session, sender_id).filter(event.id > known.last_id).all()
        if any(row.type_name == SessionStarted.type_name for row in new):
            return False
        for row in new:
            known.take(row.timestamp, row.data)
        if new:
            known.last_id, known.rows = new[-1].id, known.rows + len(new)
        return True

    def _read_all(self, session: Any, sender_id: str) -> _Conversation | None:
        """Every row of the conversation in one query (one consistent read), the latest
        session's decoded; None for a conversation with none."""
        rows = self._rows(session, sender_id).all()
        if not rows:
            return None
        starts = [r.timestamp for r in rows if r.type_name == SessionStarted.type_name and r.timestamp is not None]
        conversation = _Conversation(last_id=rows[-1].id, rows=len(rows), session_start=max(starts, default=None))
        for row in rows:
            conversation.take(row.timestamp, row.data)
        return conversation

    def _rows(self, session: Any, sender_id: str) -> Any:
        """The conversation's rows, what a tracker needs of them, in id order."""
        event = self.SQLEvent
        return (
            session.query(event.id, event.type_name, event.timestamp, event.data)
            .filter(event.sender_id == sender_id)
            .order_by(event.id)
        )

    def _keep(self, sender_id: str, conversation: _Conversation) -> None:
        if self._cache_bytes <= 0 or conversation.size > self._cache_bytes:
            return  # the memory is off, or this one is larger than the whole bound: read each time
        self._conversations[sender_id] = conversation
        self._kept_bytes += conversation.size
        while self._kept_bytes > self._cache_bytes:
            self._kept_bytes -= self._conversations.popitem(last=False)[1].size


def install() -> None:
    """Rasa's agent takes the tracker store as it is, without ``FailSafeTrackerStore``."""
    from rasa.core.agent import Agent
    from rasa.core.tracker_store import InMemoryTrackerStore

    def _create_tracker_store(store: Any, domain: Any) -> Any:
        if store is None:
            return InMemoryTrackerStore(domain)
        store.domain = domain
        return store

    Agent._create_tracker_store = staticmethod(_create_tracker_store)
