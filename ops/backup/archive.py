"""A backup is one folder: a copy of each database and `manifest.json` (when, from
where, the schema revision, each file's SHA-256 and the rows of each table in it).

Restore refuses a database that already holds data unless told `force` (it
would replace a live service's records), loads each copy, checks every
table's rows against the manifest, upgrades the gateway's schema (a backup
may be older than the code) and runs the retention purge: a restore must not
bring back personal data the service had already let go of.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.store.retention import Purged, purge_all
from ops.backup.stores import BackupError, Database
from settings import Settings

MANIFEST = "manifest.json"
FORMAT = 1


@dataclass(frozen=True)
class Part:
    """A database of the backup and the stores (gateway, tracker) it holds."""

    stores: tuple[str, ...]
    database: Database

    @property
    def file(self) -> str:
        return "+".join(self.stores) + (".sqlite" if self.database.kind == "sqlite" else ".pgdump")


def parts(settings: Settings) -> list[Part]:
    """The gateway's store and Rasa's trackers; one part where both are one database."""
    gateway, tracker = Database.of(settings.gateway_database_url), Database.of(settings.tracker_database_url)
    if gateway.key == tracker.key:
        return [Part(("gateway", "tracker"), gateway)]
    return [Part(("gateway",), gateway), Part(("tracker",), tracker)]


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


async def create(settings: Settings, into: Path | None = None) -> Path:
    """A new backup folder under BACKUP_DIR (or `into`); written as `<name>.partial` and
    renamed when complete, so a folder without that suffix is always whole."""
    root = into or settings.backup_dir
    name = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    final = root / name
    staging = root / f"{name}.partial"
    staging.mkdir(mode=0o700, parents=True, exist_ok=False)
    try:
        await _write(settings, staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    staging.rename(final)
    return final


async def _write(settings: Settings, staging: Path) -> None:
    manifest: dict[str, Any] = {"format": FORMAT, "created_at": time.time(), "parts": []}
    for part in parts(settings):
        target = staging / part.file
        began = time.monotonic()
        tables = await part.database.dump(target)
        manifest["parts"].append(
            {
                "stores": list(part.stores),
                "kind": part.database.kind,
                "file": part.file,
                "source": part.database.described(),
                "sha256": sha256(target),
                "bytes": target.stat().st_size,
                "seconds": round(time.monotonic() - began, 2),
                "tables": tables,
            }
        )
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")


def read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    if not path.is_file():
        raise BackupError(f"{folder} is not a whole backup (no {MANIFEST})")
    manifest = json.loads(path.read_text("utf-8"))
    if manifest.get("format") != FORMAT:
        raise BackupError(f"backup format {manifest.get('format')} is not {FORMAT}")
    for part in manifest["parts"]:
        copy = folder / part["file"]
        if not copy.is_file() or sha256(copy) != part["sha256"]:
            raise BackupError(f"{copy.name} is missing or damaged (SHA-256 differs from the manifest)")
    return manifest


@dataclass(frozen=True)
class Restored:
    tables: dict[str, int]
    purged: Purged


async def restore(settings: Settings, folder: Path, force: bool = False) -> Restored:
    """The backup at `folder` brought into the configured stores (GATEWAY_DB_URL,
    TRACKER_STORE_URL), checked, upgraded and purged."""
    manifest = read_manifest(folder)
    targets = {part.stores: part.database for part in parts(settings)}
    by_store = {store: database for stores, database in targets.items() for store in stores}
    loads: list[tuple[Database, dict[str, Any]]] = []
    for part in manifest["parts"]:
        databases = {by_store[store].key: by_store[store] for store in part["stores"]}
        if len(databases) != 1:
            raise BackupError(f"the backup keeps {'+'.join(part['stores'])} in one database; configure them so")
        loads.append((next(iter(databases.values())), part))
    if len({database.key for database, _ in loads}) != len(loads):
        raise BackupError("the backup keeps the gateway and trackers apart; configure two databases")
    for database, _ in loads:
        if not force and any((await database.tables()).values()):
            raise BackupError(
                f"{database.described()} already holds data; restore into a fresh database, "
                "or stop the service and pass --force to replace it"
            )
    restored: dict[str, int] = {}
    for database, part in loads:
        await database.load(folder / part["file"])
        found = await database.tables()
        wrong = {t: (n, found.get(t)) for t, n in part["tables"].items() if found.get(t) != n}
        if wrong:
            raise BackupError(f"restored rows differ from the manifest (table: expected, found): {wrong}")
        restored.update({f"{'+'.join(part['stores'])}.{t}": n for t, n in part["tables"].items()})
    return Restored(restored, await purge_all(settings))
