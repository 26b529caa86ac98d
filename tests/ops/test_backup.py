"""#15 item 4: `make backup` while residents are writing, `make restore` into fresh
databases, every case, message and application read back; the retention purge
applies to what a restore brings back; damaged or misdirected restores refuse."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sqlite3
import threading
import time
import uuid
from pathlib import Path

from sqlalchemy.ext.asyncio import create_async_engine

from bot.store.handoff_cases import HandoffCaseStore
from bot.store.legal_aid_applications import ApplicationStore
from bot.store.messages import MessageStore
from bot.store.retention import PURGED_TEXT
from settings import Settings
from tests.helpers.console import Console, add_staff, backup_tool, say
from tests.helpers.stack import resident_http


def rows(path: Path, table: str, key: str) -> dict[str, tuple]:
    connection = sqlite3.connect(path)
    try:
        cursor = connection.execute(f"SELECT * FROM {table}")
        names = [d[0] for d in cursor.description]
        return {row[names.index(key)]: row for row in cursor}
    finally:
        connection.close()


class Writers:
    """Residents sending messages the whole time the backup runs."""

    def __init__(self, url: str) -> None:
        self.url, self.stop, self.sent = url, threading.Event(), 0
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        with resident_http(self.url, timeout=60) as http:
            while not self.stop.is_set():
                http.post("/api/v1/messages", json={"user_id": f"bk-{uuid.uuid4().hex[:6]}", "text": "房东不退押金"})
                self.sent += 1

    def __enter__(self) -> Writers:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=60)


async def read_back(settings: Settings, messages: list[str], cases: list[int], applications: list[str]) -> list:
    """Each record through the gateway's own stores, as a restored gateway would read it."""
    store = MessageStore(settings.gateway_database_url)
    try:
        case_store, application_store = HandoffCaseStore(store.engine), ApplicationStore(store.engine)
        return [
            [await store.get(m) for m in messages],
            [(await case_store.get(c), await case_store.messages(c)) for c in cases],
            [await application_store.get(a) for a in applications],
        ]
    finally:
        await store.close()


def test_backup_under_writes_restores_every_record_and_the_purge_applies(stack, tmp_path) -> None:
    settings = stack.settings
    url = f"http://127.0.0.1:{settings.gateway_port}"
    resident = f"bk-{uuid.uuid4().hex[:8]}"
    with resident_http(url, timeout=60) as client:
        say(client, resident, "公司拖欠我两个月工资")
        opened = say(client, resident, "我要转人工")
    add_staff(settings, "backup-m")
    console = Console(url, "backup-m")
    assert console.post(f"/console/api/cases/{opened['case_id']}/claim").status_code == 200
    assert console.post(f"/console/api/cases/{opened['case_id']}/messages", {"text": "您好，请讲"}).status_code == 200
    assert console.post(f"/console/api/cases/{opened['case_id']}/close", {"outcome": "调解成功"}).status_code == 200

    async def application() -> str:
        engine = create_async_engine(settings.gateway_database_url)
        try:
            made = await ApplicationStore(engine).create(resident, {"name": "张三", "outcome": "eligible"})
            return made.public_id
        finally:
            await engine.dispose()

    asyncio.run(application())
    with Writers(url) as writers:
        time.sleep(1)
        made = backup_tool(settings, "create", "--into", str(tmp_path / "backups"))
        time.sleep(1)
    assert made.returncode == 0, made.stderr
    assert writers.sent > 0
    folder = Path(made.stdout.strip().rsplit(" ", 1)[-1])
    manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
    assert [p["stores"] for p in manifest["parts"]] == [["gateway"], ["tracker"]]
    assert manifest["parts"][1]["tables"]["events"] > 0

    # into fresh databases (a new state folder): every record comes back as it was at the snapshot
    fresh = dataclasses.replace(settings, var_dir=tmp_path / "restored")
    done = backup_tool(fresh, "restore", str(folder))
    assert done.returncode == 0, done.stderr
    assert "retention purge after restore: 0 cases" in done.stdout
    copy = tmp_path / "backups" / folder.name / "gateway.sqlite"
    snapshot = {t: rows(copy, t, k) for t, k in (("inbound_messages", "public_id"), ("cases", "id"))}
    snapshot["legal_aid_applications"] = rows(copy, "legal_aid_applications", "public_id")
    assert len(snapshot["inbound_messages"]) == manifest["parts"][0]["tables"]["inbound_messages"]
    source = rows(Path(settings.var_dir / "gateway.db"), "inbound_messages", "public_id")
    assert set(snapshot["inbound_messages"]) <= set(source)  # nothing made up, nothing from elsewhere
    messages, cases, applications = asyncio.run(
        read_back(
            fresh, list(snapshot["inbound_messages"]), list(snapshot["cases"]), list(snapshot["legal_aid_applications"])
        )
    )
    assert all(m is not None and m.text == source[m.public_id][3] for m in messages)
    ours = next(c for c, _ in cases if c.public_id == opened["case_id"])
    assert ours.status == "closed" and ours.outcome == "调解成功"
    assert any(m.text == "您好，请讲" for c, found in cases if c.public_id == opened["case_id"] for m in found)
    assert any(a is not None and a.resident_id == resident for a in applications)
    tracker = rows(fresh.var_dir / "rasa-tracker.db", "events", "id")
    assert len(tracker) == manifest["parts"][1]["tables"]["events"]
    assert any(r[1] == resident for r in tracker.values())

    # a second restore over it refuses: it would replace what a live service wrote
    again = backup_tool(fresh, "restore", str(folder))
    assert again.returncode == 2 and "already holds data" in again.stderr and "Traceback" not in again.stderr

    # restored past the retention period: personal data goes again (trackers included)
    later = dataclasses.replace(settings, var_dir=tmp_path / "restored-later")
    purged = backup_tool(later, "restore", str(folder), CASE_RETENTION_DAYS="0.00001")
    assert purged.returncode == 0, purged.stderr
    kept = rows(later.var_dir / "gateway.db", "inbound_messages", "public_id")
    assert kept and all(r[3] == PURGED_TEXT for r in kept.values())
    assert not rows(later.var_dir / "rasa-tracker.db", "events", "id")
    case_row = rows(later.var_dir / "gateway.db", "cases", "public_id")[opened["case_id"]]
    assert "张三" not in str(rows(later.var_dir / "gateway.db", "legal_aid_applications", "public_id"))
    assert resident not in str(case_row)

    # a damaged copy is refused before anything is written
    (folder / "gateway.sqlite").write_bytes((folder / "gateway.sqlite").read_bytes()[:-10])
    damaged = backup_tool(dataclasses.replace(settings, var_dir=tmp_path / "r3"), "restore", str(folder))
    assert damaged.returncode == 2 and "damaged" in damaged.stderr
    assert not (tmp_path / "r3" / "gateway.db").exists()


def test_backup_of_an_unreachable_database_is_one_line(tmp_path) -> None:
    settings = Settings(var_dir=tmp_path, gateway_db_url="postgresql+asyncpg://postgres@127.0.0.1:1/nowhere")
    done = backup_tool(settings, "create", "--into", str(tmp_path / "b"))
    assert done.returncode == 2 and "数据库不可用" in done.stderr and "Traceback" not in done.stderr
    assert not list((tmp_path / "b").iterdir())  # nothing half-written left behind
