"""Simulated residents for `make bench`: closed-loop (each sends the next message when
the last is answered) and open-loop (messages arrive at a fixed rate, as many
residents at once as that takes, each pausing to read and think between two of
theirs), against the assistant's gateway or the bare Rasa bot alike.

Closed loop measures what the machine can do; open loop how residents fare at a
given demand: a closed loop slows its own senders when the service slows, so it
never shows the queue that builds when demand passes capacity.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

OUTCOMES = ("sent", "answered", "kept", "errors", "handed_off")
QUOTES_MARK = "相关法条"  # the heading of quoted articles (actions/grounded_reply.py)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))], 1)


class Texts:
    """Real questions handed out in turn, none a second time before all the others.

    Why: the action server keeps the vectors of recent messages (a resident's words
    are embedded once, for the classifier and for its answer). Residents do not send
    one another's questions word for word; a load cycling through a short list, as
    the bench's 150 did, is answered from that memory and measures it, not the
    service (open loop at 20 msg/s: p95 140 ms on a list already sent, 2.1 s at
    12 msg/s on one not yet sent). `at(position)` replays the same run of texts, so
    the bare bot gets the very messages the assistant got."""

    def __init__(self, pool: Sequence[str], position: int = 0) -> None:
        if not pool:
            raise ValueError("no texts to send")
        self.pool, self.position = list(pool), position

    def take(self) -> str:
        text = self.pool[self.position % len(self.pool)]
        self.position += 1
        return text

    def at(self, position: int) -> Texts:
        return Texts(self.pool, position)


class Target(Protocol):
    async def resident(self, http: httpx.AsyncClient) -> dict[str, str]: ...

    async def send(self, http: httpx.AsyncClient, who: dict[str, str], text: str) -> tuple[str, str | None]:
        """One message: "answered", "answered legal" (quoting statutes), "answered handed off"
        (a mediator has the conversation now), "kept" or "error <what>"; and a kept one's id."""
        ...

    async def answered(self, http: httpx.AsyncClient, who: dict[str, str], message_id: str) -> bool:
        """Whether a kept message has its answer now."""
        ...


class Gateway:
    """The assistant, as the web page uses it: an identity issued by the gateway, its
    token on every message."""

    async def resident(self, http: httpx.AsyncClient) -> dict[str, str]:
        issued = (await http.post("/api/v1/residents")).json()
        return {"Authorization": f"Bearer {issued['token']}"}

    async def send(self, http: httpx.AsyncClient, who: dict[str, str], text: str) -> tuple[str, str | None]:
        response = await http.post("/api/v1/messages", json={"text": text}, headers=who)
        try:
            body = response.json()
        except ValueError:
            return f"error {response.status_code} not JSON", None
        if response.status_code == 200:
            if body.get("case_id"):
                return "answered handed off", None
            legal = any(QUOTES_MARK in (r.get("text") or "") for r in body.get("replies", []))
            return ("answered legal" if legal else "answered"), None
        if response.status_code == 503 and body.get("error", {}).get("message_id"):
            return "kept", body["error"]["message_id"]
        return f"error {response.status_code} {body.get('error', {}).get('code', '')}".rstrip(), None

    async def answered(self, http: httpx.AsyncClient, who: dict[str, str], message_id: str) -> bool:
        response = await http.get(f"/api/v1/messages/{message_id}", headers=who)
        return response.status_code == 200 and response.json().get("status") != "pending"


class BareRasa:
    """The peer bot's REST channel (ops/peer.py)."""

    async def resident(self, http: httpx.AsyncClient) -> dict[str, str]:
        return {"sender": f"peer-{uuid.uuid4().hex[:12]}"}

    async def send(self, http: httpx.AsyncClient, who: dict[str, str], text: str) -> tuple[str, str | None]:
        response = await http.post("/webhooks/rest/webhook", json={"sender": who["sender"], "message": text})
        return (
            "answered" if response.status_code == 200 and response.json() else f"error {response.status_code}"
        ), None

    async def answered(self, http: httpx.AsyncClient, who: dict[str, str], message_id: str) -> bool:
        return False  # the bare bot keeps nothing


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    kept_latencies: list[float] = field(default_factory=list)  # until the 503 that said it was kept
    legal: list[float] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    kept: list[tuple[dict[str, str], str]] = field(default_factory=list)  # (resident, message id)
    error_kinds: Counter[str] = field(default_factory=Counter)  # a status and code, or the exception

    def error(self, kind: str) -> None:
        self.counts["errors"] += 1
        self.error_kinds[kind] += 1

    async def one(self, target: Target, http: httpx.AsyncClient, who: dict[str, str], text: str) -> bool:
        """Sends one message; False when the resident was handed to a person: their later
        messages would go to a mediator and skip the assistant, so a new resident
        takes their place (else the load drifts into cheap forwards, as it did here)."""
        self.counts["sent"] += 1
        began = time.perf_counter()
        try:
            outcome, kept_id = await target.send(http, who, text)
        except (httpx.HTTPError, ValueError) as exc:
            outcome, kept_id = f"error {type(exc).__name__}", None
        elapsed = (time.perf_counter() - began) * 1000
        if outcome.startswith("error"):
            self.error(outcome.removeprefix("error "))
            return True
        self.latencies.append(elapsed)
        if outcome == "kept":
            self.counts["kept"] += 1
            self.kept.append((who, kept_id or ""))
            self.kept_latencies.append(elapsed)
            return True
        self.counts["answered"] += 1
        if outcome == "answered legal":
            self.legal.append(elapsed)
        if outcome == "answered handed off":
            self.counts["handed_off"] += 1
            return False
        return True

    def summary(self, seconds: float) -> dict[str, Any]:
        c = self.counts
        return {
            **c,
            "lost": c["sent"] - c["answered"] - c["kept"],
            "p50_ms": percentile(self.latencies, 50),
            "p95_ms": percentile(self.latencies, 95),
            "p99_ms": percentile(self.latencies, 99),
            # past the gateway's turns: how long a resident waited to hear the message was kept
            "kept_p50_ms": percentile(self.kept_latencies, 50) if self.kept_latencies else None,
            "kept_p95_ms": percentile(self.kept_latencies, 95) if self.kept_latencies else None,
            "seconds": round(seconds, 1),
            "legal": {
                "n": len(self.legal),
                "p50_ms": percentile(self.legal, 50) if self.legal else None,
                "p95_ms": percentile(self.legal, 95) if self.legal else None,
            },
            "per_s": round(c["answered"] / seconds, 2) if seconds else 0.0,
            "error_kinds": dict(self.error_kinds),
        }


async def closed_loop(
    target: Target,
    url: str,
    texts: Texts,
    concurrency: int,
    messages: int | None = None,
    seconds: float | None = None,
) -> dict[str, Any]:
    """`concurrency` residents each send one message after another (the next after the reply),
    `messages` in all or for `seconds`."""
    tally = Tally()
    stop_at = time.monotonic() + seconds if seconds else None
    budget = [messages or 0]

    async def resident(http: httpx.AsyncClient) -> None:
        who = await target.resident(http)
        while True:
            if stop_at is not None and time.monotonic() >= stop_at:
                return
            if stop_at is None:
                if budget[0] <= 0:
                    return
                budget[0] -= 1
            if not await tally.one(target, http, who, texts.take()):
                who = await target.resident(http)

    began = time.monotonic()
    limits = httpx.Limits(max_connections=concurrency + 5)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:
        await asyncio.gather(*(resident(http) for _ in range(concurrency)))
    return {"concurrency": concurrency, **tally.summary(time.monotonic() - began)}


async def open_loop(
    target: Target,
    url: str,
    texts: Texts,
    rate: float,
    seconds: float,
    think_s: float = 8.0,
    drain_s: float = 300.0,
) -> dict[str, Any]:
    """Messages arriving `rate` a second for `seconds`, each from a resident not waiting for
    an answer and past their `think_s` pause since the last one (a new resident when none
    is); the latency includes any queue. A request is given up after 30 s (an error).
    Messages the gateway kept (past its turns: bot/core/turn_gate.py) are then awaited for
    up to `drain_s`: how long after the rush the last was answered, and how many never were."""
    tally = Tally()
    idle: list[tuple[float, dict[str, str]]] = []  # (free from, resident)
    residents = [0]
    in_flight: set[asyncio.Task[None]] = set()

    async def message(http: httpx.AsyncClient, text: str) -> None:
        now = time.monotonic()
        ready = next((i for i, (free, _) in enumerate(idle) if free <= now), None)
        if ready is None:
            residents[0] += 1
            try:
                who = await target.resident(http)
            except (httpx.HTTPError, ValueError) as exc:  # no identity, so no message: an error residents see
                tally.counts["sent"] += 1
                tally.error(f"identity {type(exc).__name__}")
                return
        else:
            who = idle.pop(ready)[1]
        if await tally.one(target, http, who, text):
            idle.append((time.monotonic() + think_s, who))

    began = time.monotonic()
    limits = httpx.Limits(max_connections=400)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as http:
        for n in itertools.count():
            due = began + n / rate
            if due >= began + seconds:
                break
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            task = asyncio.create_task(message(http, texts.take()))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        await asyncio.gather(*in_flight)
        summary = tally.summary(time.monotonic() - began)
        drained = await drain(target, http, tally.kept, drain_s)
    return {"rate": rate, "residents": residents[0], "think_s": think_s, **summary, **drained}


async def drain(
    target: Target, http: httpx.AsyncClient, kept: list[tuple[dict[str, str], str]], limit_s: float
) -> dict[str, Any]:
    """Waits for kept messages' answers, oldest first: `kept_unanswered` (must be 0) and
    `drained_s`, the seconds until the last was answered."""
    began, waiting = time.monotonic(), list(kept)
    while waiting and time.monotonic() - began < limit_s:
        try:
            if await target.answered(http, *waiting[0]):
                waiting.pop(0)
                continue
        except (httpx.HTTPError, ValueError):
            pass
        await asyncio.sleep(0.5)
    return {"kept_unanswered": len(waiting), "drained_s": round(time.monotonic() - began, 1) if kept else 0.0}
