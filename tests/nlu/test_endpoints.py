"""Tracker and lock store URLs become the endpoints Rasa reads."""

from __future__ import annotations

import pytest

from ops.endpoints import TRACKER_STORE_CLASS, lock_store, tracker_store
from settings import Settings


def test_defaults_are_sqlite_and_in_memory(tmp_path) -> None:
    s = Settings(var_dir=tmp_path, tracker_store_url="", lock_store_url="", tracker_cache_mb=32)
    assert tracker_store(s) == {
        "type": TRACKER_STORE_CLASS,
        "cache_bytes": 32 * 2**20,
        "dialect": "sqlite",
        "db": str(tmp_path / "rasa-tracker.db"),
    }
    assert lock_store(s) == {"type": "in_memory"}


def test_postgres_and_redis_urls(tmp_path) -> None:
    s = Settings(
        var_dir=tmp_path,
        tracker_store_url="postgresql://rasa:p%40ss@db.local:5433/tracker",
        lock_store_url="redis://127.0.0.1:6379/2",
        tracker_cache_mb=0,
    )
    assert tracker_store(s) == {
        "type": TRACKER_STORE_CLASS,
        "cache_bytes": 0,
        "dialect": "postgresql",
        "url": "db.local",
        "port": 5433,
        "db": "tracker",
        "username": "rasa",
        "password": "p@ss",
    }
    assert lock_store(s)["type"] == "redis" and lock_store(s)["db"] == 2


def test_bad_urls_are_refused(tmp_path) -> None:
    with pytest.raises(ValueError):
        tracker_store(Settings(var_dir=tmp_path, tracker_store_url="mysql://x/y"))
    with pytest.raises(ValueError):
        lock_store(Settings(var_dir=tmp_path, lock_store_url="memcached://x"))
