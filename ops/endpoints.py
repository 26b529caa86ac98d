"""Writes the Rasa endpoints file for this run from the settings.

Rasa's SQL tracker store and Redis lock store take separate fields rather
than URLs; operators configure one URL each (TRACKER_STORE_URL,
LOCK_STORE_URL) and this turns them into what Rasa reads. The tracker store is
Rasa's SQL store that reads only the events it has not read before
(nlu/cached_tracker_store.py).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import yaml

from settings import TRACKER_SQLITE, Settings

TRACKER_STORE_CLASS = "nlu.cached_tracker_store.CachedSQLTrackerStore"


def tracker_store(settings: Settings) -> dict[str, Any]:
    cached = {"type": TRACKER_STORE_CLASS, "cache_bytes": int(settings.tracker_cache_mb * 2**20)}
    if not settings.tracker_store_url:
        return {**cached, "dialect": "sqlite", "db": str(settings.var_dir / TRACKER_SQLITE)}
    url = urlparse(settings.tracker_store_url)
    if url.scheme not in ("postgresql", "postgres"):
        raise ValueError("TRACKER_STORE_URL must be postgresql://user:password@host:port/database")
    spec: dict[str, Any] = {
        **cached,
        "dialect": "postgresql",
        "url": url.hostname or "127.0.0.1",
        "port": url.port or 5432,
        "db": url.path.lstrip("/") or "rasa",
    }
    if url.username:
        spec["username"] = unquote(url.username)
    if url.password:
        spec["password"] = unquote(url.password)
    return spec


def lock_store(settings: Settings) -> dict[str, Any]:
    if not settings.lock_store_url:
        return {"type": "in_memory"}
    url = urlparse(settings.lock_store_url)
    if url.scheme != "redis":
        raise ValueError("LOCK_STORE_URL must be redis://host:port/db")
    spec: dict[str, Any] = {
        "type": "redis",
        "url": url.hostname or "127.0.0.1",
        "port": url.port or 6379,
        "db": int(url.path.lstrip("/") or 0),
        "key_prefix": "haizhu",
    }
    if url.password:
        spec["password"] = unquote(url.password)
    return spec


def write_endpoints(settings: Settings, path: Path) -> Path:
    endpoints = {
        # Rasa fills ${ACTION_SERVER_TOKEN} from its environment: the secret is never written here
        "action_endpoint": {
            "url": f"{settings.action_base_url}/webhook",
            "headers": {"Authorization": "Bearer ${ACTION_SERVER_TOKEN}"},
        },
        "tracker_store": tracker_store(settings),
        "lock_store": lock_store(settings),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    # whole or not at all: under systemd a unit's ExecStartPost (ops/service.py --wait-ready)
    # writes it again while the Rasa it started may be reading it
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    partial.write_text(yaml.safe_dump(endpoints, allow_unicode=True, sort_keys=False), encoding="utf-8")
    os.replace(partial, path)
    return path
