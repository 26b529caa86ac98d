"""Residents talking to a running assistant while something is done to it, and what the
store and Rasa's trackers say afterwards: the cluster's faults (tests/ops/test_cluster.py)
and the same layout under systemd (tests/ops/test_cluster_under_systemd.py) are read by
the same counts."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable

import asyncpg
import httpx

from tests.helpers.console import Console
from tests.helpers.stack import DONE, PG, ResidentAuth

RESENDS = 5
QUESTIONS = ["老板拖欠我三个月工资", "房东不退押金怎么办", "你好", "外卖骑手送餐被撞了谁负责", "谢谢"]


class Stream:
    """`residents` residents sending one message after another through the front; each
    outcome and latency is counted under the phase (fault) it happened in."""

    def __init__(self, url: str, residents: int = 3) -> None:
        self.url, self.stop = url, threading.Event()
        self.ids = [f"cl-{uuid.uuid4().hex[:8]}" for _ in range(residents)]
        self.phase = "steady"
        self.outcomes: Counter[str] = Counter()
        self.by_phase: dict[str, Counter[str]] = defaultdict(Counter)
        self.latencies: dict[str, list[float]] = defaultdict(list)
        # (resident, message id, wall-clock time the resident was told) answered 503: kept for later
        self.kept: list[tuple[str, str, float]] = []
        self.sent: Counter[str] = Counter()
        self.resent: Counter[str] = Counter()  # requests sent again with the message's key
        self.unresolved: list[tuple[str, str]] = []  # (resident, key) still unknown after every resend
        # (wall-clock time, phase it ended in, the error) of each request that got no answer:
        # read beside the logs of that second; counted under the phase it ended in, for the
        # fault that ended it may have begun after it was sent
        self.drops: list[tuple[float, str, str]] = []
        self.threads = [threading.Thread(target=self.run, args=(r,), daemon=True) for r in self.ids]

    def count(self, phase: str, outcome: str, began: float) -> None:
        self.outcomes[outcome] += 1
        self.by_phase[phase][outcome] += 1
        self.latencies[phase].append((time.monotonic() - began) * 1000)

    def report(self) -> dict[str, dict[str, object]]:
        return {
            phase: {**counts, "p95_ms": round(sorted(ms)[int(0.95 * (len(ms) - 1))]) if ms else None}
            for phase, counts, ms in ((p, self.by_phase[p], self.latencies[p]) for p in self.by_phase)
        }

    def run(self, resident: str) -> None:
        with httpx.Client(base_url=self.url, timeout=60, auth=ResidentAuth()) as http:
            turn = 0
            while not self.stop.is_set():
                text = QUESTIONS[turn % len(QUESTIONS)]
                turn += 1
                self.sent[resident] += 1
                key = uuid.uuid4().hex  # as the web page does: a message lost on the way is sent again with it
                for attempt in range(RESENDS + 1):
                    if attempt:
                        self.resent[resident] += 1
                        time.sleep(1)
                    if self.send(http, resident, text, key):
                        break
                else:
                    self.unresolved.append((resident, key))
                time.sleep(0.2)

    def send(self, http: httpx.Client, resident: str, text: str, key: str) -> bool:
        """One request; False when whether the message was kept is not known (the
        connection broke, or the balancer's 502 or 504): the resident sends it again."""
        phase, began = self.phase, time.monotonic()
        try:
            response = http.post(
                "/api/v1/messages", json={"user_id": resident, "text": text}, headers={"Idempotency-Key": key}
            )
        except httpx.HTTPError as exc:
            self.count(self.phase, f"dropped ({type(exc).__name__})", began)
            self.drops.append((time.time(), self.phase, repr(exc)))
            return False
        outcome = str(response.status_code)
        try:
            error = response.json().get("error") or {} if response.status_code != 200 else {}
        except ValueError:  # HAProxy's own page: a resident's page could not read it (counted)
            error, outcome = {}, f"{outcome} not JSON"
        if error.get("message_id"):
            self.kept.append((resident, error["message_id"], time.time()))
            outcome += " kept"
        self.count(phase, outcome, began)
        return response.status_code not in (502, 504)

    def __enter__(self) -> Stream:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=90)


class Mediation:
    """A mediator and a resident talking through a case the whole time: each round the
    mediator writes (retried until a gateway takes it), the resident must see it and
    answers. Counted per phase: rounds begun, mediator messages the resident saw,
    resident answers the case took, and the status codes on the way."""

    def __init__(self, url: str, console: Console, case_id: str, resident: str) -> None:
        self.url, self.console, self.case_id, self.resident = url, console, case_id, resident
        self.stop, self.phase = threading.Event(), "steady"
        self.by_phase: dict[str, Counter[str]] = defaultdict(Counter)
        self.thread = threading.Thread(target=self.run, daemon=True)

    def _until(
        self,
        attempt: Callable[[], httpx.Response],
        done: Callable[[httpx.Response], bool],
        seconds: float = 30.0,
    ) -> httpx.Response | None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                result = attempt()
                if done(result):
                    return result
                self.by_phase[self.phase][f"status {result.status_code}"] += 1
            except (httpx.HTTPError, ValueError) as exc:  # ValueError: a balancer's page, not JSON
                self.by_phase[self.phase][type(exc).__name__] += 1
            time.sleep(0.3)
        return None

    def taken_by_case(self, response: httpx.Response) -> bool:
        """Forwarded to the case at once, or kept (503 with its id) and forwarded later."""
        body = response.json()
        if response.status_code == 503:
            return bool((body.get("error") or {}).get("message_id"))
        return response.status_code == 200 and body.get("case_id") == self.case_id

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30, auth=ResidentAuth()) as http:
            number = 0
            while not self.stop.is_set():
                number += 1
                self.round(http, number)
                time.sleep(0.5)

    def round(self, http: httpx.Client, number: int) -> None:
        phase, text = self.phase, f"调解员第{number}次回复"
        self.by_phase[phase]["rounds"] += 1
        path, inbox = f"/console/api/cases/{self.case_id}/messages", f"/api/v1/conversations/{self.resident}/messages"
        if self._until(lambda: self.console.post(path, {"text": text}), lambda r: r.status_code == 200):
            seen = self._until(
                lambda: http.get(inbox),
                lambda r: r.status_code == 200 and any(m["text"] == text for m in r.json()["messages"]),
            )
            self.by_phase[phase]["seen by resident"] += seen is not None
        answer = self._until(
            lambda: http.post("/api/v1/messages", json={"user_id": self.resident, "text": f"收到{number}"}),
            self.taken_by_case,
        )
        self.by_phase[phase]["resident answers taken"] += answer is not None

    def __enter__(self) -> Mediation:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=120)


async def stored_messages(database: str, residents: list[str]) -> list[asyncpg.Record]:
    """The residents' messages as the gateways stored them, oldest first."""
    connection = await asyncpg.connect(f"{PG}/{database}")
    try:
        return await connection.fetch(
            "SELECT user_id, text, status, public_id, attempts, updated_at FROM inbound_messages"
            " WHERE user_id = ANY($1::text[]) ORDER BY seq",
            residents,
        )
    finally:
        await connection.close()


async def taken_by_rasa(database: str, residents: list[str]) -> tuple[Counter[str | None], Counter[str | None]]:
    """How many times Rasa took each gateway message (its user events by message id), and
    how many of those takes answered (a bot message followed before the next user event):
    a take whose action failed gave the resident nothing and is taken again by design."""
    connection = await asyncpg.connect(f"{PG}/{database}")
    try:
        rows = await connection.fetch(
            "SELECT sender_id, type_name, data FROM events WHERE sender_id = ANY($1::text[]) ORDER BY id", residents
        )
    finally:
        await connection.close()
    taken: Counter[str | None] = Counter()
    answered: Counter[str | None] = Counter()
    current: dict[str, tuple[str | None, bool]] = {}
    for row in rows:
        if row["type_name"] == "user":
            message_id = json.loads(row["data"]).get("message_id")
            taken[message_id] += 1
            current[row["sender_id"]] = (message_id, False)
        elif row["type_name"] == "bot" and row["sender_id"] in current:
            message_id, counted = current[row["sender_id"]]
            if not counted:
                answered[message_id] += 1
                current[row["sender_id"]] = (message_id, True)
    return taken, answered


def phase_at(phases: list[tuple[float, str]], timestamp: float) -> str:
    """The phase (fault) that was under way at wall-clock `timestamp`."""
    return phase_began(phases, timestamp)[1]


def phase_began(phases: list[tuple[float, str]], timestamp: float) -> tuple[float, str]:
    """(when it began, name) of the phase under way at wall-clock `timestamp`; ("before" began
    at `timestamp` itself)."""
    return ([(began, name) for began, name in phases if began <= timestamp] or [(timestamp, "before")])[-1]


async def timeline(database: str, message_ids: list[str], phases: list[tuple[float, str]]) -> dict[str, list[str]]:
    """For a message taken more than once, its resident's events from its first take to a
    few after its last (type, action, seconds since the first, and for each take the
    phase it began in): what a failure is read by."""
    connection = await asyncpg.connect(f"{PG}/{database}")
    try:
        rows = await connection.fetch(
            "SELECT sender_id, type_name, action_name, timestamp, data FROM events ORDER BY id"
        )
    finally:
        await connection.close()
    by_sender: dict[str, list[asyncpg.Record]] = {}
    for row in rows:
        by_sender.setdefault(row["sender_id"], []).append(row)
    found: dict[str, list[str]] = {}
    for events in by_sender.values():
        ids = [json.loads(e["data"]).get("message_id") if e["type_name"] == "user" else None for e in events]
        for message_id in message_ids:
            takes = [i for i, m in enumerate(ids) if m == message_id]
            if takes:
                start = events[takes[0]]["timestamp"]
                found[message_id] = [
                    f"{e['type_name']}{'[' + e['action_name'] + ']' if e['action_name'] else ''}"
                    f"@{e['timestamp'] - start:.1f}s"
                    f"{'*' + phase_at(phases, e['timestamp']) if ids[i] == message_id else ''}"
                    for i, e in enumerate(events[takes[0] : takes[-1] + 8], start=takes[0])
                ]
    return found


def assert_kept_answered(url: str, stream: Stream, deadline: float) -> None:
    """Every message the residents were told was kept is answered by `deadline`."""
    with httpx.Client(base_url=url, timeout=30, auth=ResidentAuth()) as http:
        for resident, message_id, _ in stream.kept:
            while True:
                status = http.get(f"/api/v1/messages/{message_id}", params={"user_id": resident}).json()
                if status.get("status") in DONE or time.monotonic() > deadline:
                    break
                time.sleep(1)
            assert status.get("status") in DONE, status


def settled_messages(database: str, residents: list[str], deadline: float) -> list[asyncpg.Record]:
    """The residents' stored messages once none is pending any more, or as they are at `deadline`
    (a message a killed instance left pending is retried by the gateways, RETRY_INTERVAL_S)."""
    while True:
        stored = asyncio.run(stored_messages(database, residents))
        if not any(r["status"] == "pending" for r in stored) or time.monotonic() > deadline:
            return stored
        time.sleep(1)
