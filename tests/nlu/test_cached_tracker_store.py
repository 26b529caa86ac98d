"""nlu/cached_tracker_store.py reads less, never something else: run in Rasa's own
environment against a real SQLite file, the store that keeps conversations in memory
returns the tracker Rasa's SQLTrackerStore returns after every kind of change another
instance, a new session, the retention purge or an unsaved turn can make, it does
not read again the rows it has read, and its SQLite file is in write-ahead-log mode."""

from __future__ import annotations

import textwrap

import pytest

from tests.nlu.test_rasa_speedups import in_rasa

CHECK = textwrap.dedent(
    """
    import asyncio, json, sqlite3, sys, time
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import (
        ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered,
    )
    from rasa.shared.core.trackers import DialogueStateTracker
    from nlu.cached_tracker_store import CachedSQLTrackerStore

    db = sys.argv[1]
    domain = Domain.load("domain.yml")
    plain = SQLTrackerStore(domain, dialect="sqlite", db=db)
    cached = CachedSQLTrackerStore(domain, dialect="sqlite", db=db)
    now = [time.time()]

    def at():
        now[0] += 1.0
        return now[0]

    def turn(text):
        return [
            UserUttered(text, {"name": "ask_labour", "confidence": 0.9}, timestamp=at()),
            SlotSet("dispute_category", "labour", timestamp=at()),
            ActionExecuted("action_answer_topic", timestamp=at()),
            BotUttered("回答" + text, timestamp=at()),
            ActionExecuted("action_listen", timestamp=at()),
        ]

    def session():
        return [
            ActionExecuted("action_session_start", timestamp=at()),
            SessionStarted(timestamp=at()),
            ActionExecuted("action_listen", timestamp=at()),
        ]

    async def same(sender, step):
        theirs, ours = await plain.retrieve(sender), await cached.retrieve(sender)
        if theirs is None or ours is None:
            assert theirs is ours is None, step
            return ours
        assert [e.as_dict() for e in ours.events] == [e.as_dict() for e in theirs.events], step
        assert ours.current_slot_values() == theirs.current_slot_values(), step
        return ours

    async def add(sender, events):
        tracker = await plain.retrieve(sender) or DialogueStateTracker(sender, domain.slots)
        for event in events:
            tracker.update(event)
        await plain.save(tracker)

    async def main():
        assert await same("nobody", "no conversation") is None
        await add("a", session() + turn("欠薪"))
        await same("a", "first read")
        await add("a", turn("加班费"))  # written by another instance
        await same("a", "rows added elsewhere")
        first, second = await cached.retrieve("a"), await cached.retrieve("a")
        assert all(x is y for x, y in zip(first.events, second.events, strict=True))  # built once
        tracker = await cached.retrieve("a")
        tracker.update(UserUttered("未保存", timestamp=at()))  # a turn that failed before saving
        got = await same("a", "unsaved event")
        assert "未保存" not in [getattr(e, "text", None) for e in got.events]
        await add("a", session() + turn("押金"))  # a new session: only its events
        got = await same("a", "new session")
        assert [e.text for e in got.events if isinstance(e, UserUttered)] == ["押金"], got.events
        await add("a", turn("续租"))
        await same("a", "after the new session")
        with sqlite3.connect(db) as connection:  # the retention purge, outside Rasa
            connection.execute("DELETE FROM events WHERE sender_id = 'a' AND id = (SELECT max(id) FROM events)")
        await same("a", "rows purged")
        with sqlite3.connect(db) as connection:  # what was read is not read again
            for row_id, data in connection.execute("SELECT id, data FROM events WHERE sender_id = 'a'").fetchall():
                event = json.loads(data)
                if event.get("text") == "押金":
                    event["text"] = "改动"
                    connection.execute("UPDATE events SET data = ? WHERE id = ?", (json.dumps(event), row_id))
        assert "改动" in [getattr(e, "text", None) for e in (await plain.retrieve("a")).events]
        again = await cached.retrieve("a")
        assert "押金" in [getattr(e, "text", None) for e in again.events]
        for sender in ("b", "c", "d"):
            await add(sender, session() + turn(sender))
            await same(sender, "others")
        with sqlite3.connect(db) as connection:
            size = connection.execute("SELECT sum(length(data)) FROM events WHERE sender_id = 'b'").fetchone()[0]
        small = CachedSQLTrackerStore(domain, dialect="sqlite", db=db, cache_bytes=int(size * 1.5))
        for sender in ("b", "c", "d"):  # alike in size: one fits the bound, not two
            await small.retrieve(sender)
        assert list(small._conversations) == ["d"], list(small._conversations)
        assert 0 < small._kept_bytes <= size * 1.5
        tiny = CachedSQLTrackerStore(domain, dialect="sqlite", db=db, cache_bytes=size // 2)
        await same("b", "larger than the bound")
        assert await tiny.retrieve("b") is not None and not tiny._conversations
        off = CachedSQLTrackerStore(domain, dialect="sqlite", db=db, cache_bytes=0)
        got = await off.retrieve("a")  # the edited text, as Rasa reads it
        assert "改动" in [getattr(e, "text", None) for e in got.events] and not off._conversations
        with sqlite3.connect(db) as connection:
            assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert connection.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        # its SQLite file stays open between turns (SQLAlchemy 1.4 opened it for each)
        pool = cached.engine.pool
        assert type(pool).__name__ == "SingletonThreadPool", type(pool)
        held = pool.connect().dbapi_connection
        await cached.retrieve("a")
        assert pool.connect().dbapi_connection is held
        print("ok")

    asyncio.run(main())
    """
)


def test_cached_store_returns_what_rasa_returns(tmp_path) -> None:
    done = in_rasa(CHECK, str(tmp_path / "tracker.db"))
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), (done.stdout[-2000:], done.stderr[-3000:])


SAVE = textwrap.dedent(
    """
    import asyncio, sys, threading, time
    from rasa.core.agent import Agent
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
    from nlu import cached_tracker_store
    from nlu.cached_tracker_store import CachedSQLTrackerStore, TrackerConflict

    dialect, db = sys.argv[1], sys.argv[2]
    where = dict(dialect=dialect, db=db) if dialect == "sqlite" else dict(
        dialect=dialect, host="127.0.0.1", port=5432, db=db, username="postgres")
    domain = Domain.load("domain.yml")
    plain = SQLTrackerStore(domain, **where)
    one, two = CachedSQLTrackerStore(domain, **where), CachedSQLTrackerStore(domain, **where)

    def turn(tracker, text):
        for event in (UserUttered(text, {"name": "ask_labour", "confidence": 0.9}, message_id=text),
                      ActionExecuted("action_answer_topic"), BotUttered("回答" + text),
                      ActionExecuted("action_listen")):
            tracker.update(event)

    def texts(tracker):
        return [e.text for e in tracker.events if isinstance(e, UserUttered)]

    async def main():
        # a new conversation, then turns saved by two instances in turn: Rasa reads what was meant
        first = await one.create_tracker("a")
        turn(first, "欠薪")
        await one.save(first)
        turn(first, "加班费")  # the same tracker saved again appends only what is new
        await one.save(first)
        other = await two.retrieve("a")
        turn(other, "押金")
        await two.save(other)
        theirs = await plain.retrieve("a")
        assert texts(theirs) == ["欠薪", "加班费", "押金"], texts(theirs)
        assert [e.as_dict() for e in (await one.retrieve("a")).events] == [e.as_dict() for e in theirs.events]
        # two turns that read the same conversation: the second to save is refused, writes nothing
        a, b = await one.retrieve("a"), await two.retrieve("a")
        turn(a, "续租")
        turn(b, "续租")
        await one.save(a)
        try:
            await two.save(b)
        except TrackerConflict:
            pass
        else:
            raise AssertionError("an overlapping turn was saved over the other")
        assert texts(await plain.retrieve("a")) == ["欠薪", "加班费", "押金", "续租"]
        # a tracker made as new where rows exist (the read failed, say) is refused too
        blank = one.init_tracker("a")
        turn(blank, "又一次")
        try:
            await one.save(blank)
        except TrackerConflict:
            pass
        else:
            raise AssertionError("an empty tracker was saved over a conversation")
        assert texts(await plain.retrieve("a")) == ["欠薪", "加班费", "押金", "续租"]
        # Rasa's agent is handed the store itself: a store that cannot read fails the turn
        cached_tracker_store.install()
        agent = Agent(domain=domain, tracker_store=one)
        assert agent.tracker_store is one
        one.engine.dispose()
        one.sessionmaker = lambda: (_ for _ in ()).throw(ConnectionError("database away"))
        try:
            await agent.tracker_store.retrieve("a")
        except ConnectionError:
            pass
        else:
            raise AssertionError("a failed read was answered as an empty conversation")
        if dialect == "postgresql":  # saves of one conversation wait for each other across instances
            import psycopg2
            holder = psycopg2.connect(host="127.0.0.1", port=5432, dbname=db, user="postgres")
            holder.autocommit = True
            holder.cursor().execute(
                "SELECT pg_advisory_lock(hashtextextended('rasa-tracker:a', 0))")
            tracker = await two.retrieve("a")
            turn(tracker, "等待")
            done = []
            saver = threading.Thread(target=lambda: done.append(asyncio.run(two.save(tracker)) or time.monotonic()))
            saver.start()
            saver.join(1.5)
            assert not done, "a save did not wait for another instance's save of the conversation"
            released = time.monotonic()
            holder.cursor().execute(
                "SELECT pg_advisory_unlock(hashtextextended('rasa-tracker:a', 0))")
            saver.join(10)
            assert done and done[0] >= released
            assert texts(await plain.retrieve("a"))[-1] == "等待"
        print("ok")

    asyncio.run(main())
    """
)


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_a_turn_is_saved_only_over_what_it_read(dialect: str, tmp_path, request) -> None:
    """The cluster test once stored one message's turn twice: two turns of one
    conversation overlapped and Rasa's save appended by count. Each save here appends
    the turn's own events only if the conversation is as the turn read it."""
    db = str(tmp_path / "tracker.db") if dialect == "sqlite" else request.getfixturevalue("database")
    done = in_rasa(SAVE, dialect, db)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), (done.stdout[-2000:], done.stderr[-3000:])
