"""#15 items 1 and 2 under a real systemd: two instances of each process (the units of
deploy/systemd, @1 and @2) behind Debian's HAProxy running deploy/haproxy/haproxy.cfg, all
booted by systemd (tests/helpers/systemd_machine.py), while residents and a mediator keep
talking. An operator's rolling restart (each instance in turn, as an upgrade does) and a
SIGKILL of one instance of each kind must lose nothing and answer nobody twice."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
import pytest

from tests.helpers.console import Console, add_staff
from tests.helpers.resident_stream import (
    Mediation,
    Stream,
    assert_kept_answered,
    phase_began,
    settled_messages,
    taken_by_rasa,
    timeline,
)
from tests.helpers.stack import ResidentAuth, answer_of, free_port
from tests.helpers.systemd_machine import (
    HAIZHU_UID,
    SystemdMachine,
    installed_settings,
    nspawn,
    trial_certificate,
    trial_haproxy_config,
    trial_settings,
    wait_for,
)

KINDS = ("rasa", "actions", "gateway")
SETTLE_S = 3  # HAProxy's `rise 2` at `inter 1s`: a restarted instance is back in its balancer


@pytest.mark.slow
@pytest.mark.redis
@pytest.mark.stack
def test_a_rolling_restart_and_a_killed_instance_of_each_kind_lose_nothing(
    database: str, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert nspawn(), "systemd-nspawn (Debian's systemd-container: make nspawn) is needed"
    settings = trial_settings(tmp_path / "host", database)
    ports = [(settings.rasa_port, settings.action_port, settings.gateway_port), (free_port(), free_port(), free_port())]
    internal, front = (free_port(), free_port()), free_port()
    env, per_instance = installed_settings(settings, ports, internal)
    env["CONSOLE_HTTPS_ONLY"] = "1"  # behind the TLS front, as deploy/haizhu.env.example has it
    add_staff(settings, "sd-mediator")
    # residents reach the front over TLS, as they will, trusting the trial's certificate
    url, trusted = f"https://127.0.0.1:{front}", tmp_path / "front.pem"
    monkeypatch.setenv("SSL_CERT_FILE", str(trusted))  # every httpx client below (trust_env)
    with SystemdMachine(tmp_path / "machine", env, per_instance) as machine:
        # README "Deployment": the balancers' file and the front's certificate, then the
        # second instance of each kind and HAProxy enabled and started beside the first
        # (which haizhu.target started at boot)
        config = trial_haproxy_config(front, [p[2] for p in ports], internal, [p[:2] for p in ports])
        (machine.root / "etc" / "haproxy" / "haproxy.cfg").write_text(config, "utf-8")
        trial_certificate(machine.root, trusted)
        second = [f"haizhu-{kind}@2.service" for kind in KINDS]
        began = time.monotonic()
        machine.run("systemctl", "enable", "--now", *second, "haproxy.service", timeout=400)
        print(f"\n@2 of each and HAProxy started (each answering) in {time.monotonic() - began:.0f} s")
        units = [f"haizhu-{kind}@{n}.service" for kind in KINDS for n in (1, 2)]
        wait_for(lambda: all(machine.show(u, "ActiveState")["ActiveState"] == "active" for u in units), "not all up")

        # HAProxy serves as its own unprivileged user, not as the root that started it
        master = machine.show("haproxy.service", "MainPID")["MainPID"]
        workers = machine.run("ps", "--no-headers", "-o", "uid=", "--ppid", master).split()
        assert workers and all(uid != "0" for uid in workers), workers
        for unit in units:
            pid = machine.show(unit, "MainPID")["MainPID"]
            assert machine.run("stat", "--format=%u", f"/proc/{pid}").strip() == str(HAIZHU_UID), unit

        case_resident = f"sd-case-{uuid.uuid4().hex[:6]}"
        with httpx.Client(base_url=url, timeout=120, auth=ResidentAuth()) as http:
            wait_for(lambda: _healthy(http), "the front never answered /healthz")
            opened = answer_of(http, case_resident, "我要转人工", wait_s=180)
        assert opened.get("case_id"), opened
        console = Console(url, "sd-mediator")
        assert console.post(f"/console/api/cases/{opened['case_id']}/claim").status_code == 200
        mediation = Mediation(url, console, opened["case_id"], case_resident)
        restarts: dict[str, float] = {}
        phases: list[tuple[float, str]] = []  # (wall-clock time it began, phase)

        def enter(phase: str) -> None:
            stream.phase = mediation.phase = phase
            phases.append((time.time(), phase))

        with Stream(url, residents=2) as stream, mediation:
            time.sleep(4)
            # the operator's rolling restart: `systemctl restart` returns once the instance
            # answers again (the units' ExecStartPost), then HAProxy takes it back
            for unit in units:
                enter(f"restart {unit}")
                began = time.monotonic()
                machine.run("systemctl", "restart", unit, timeout=400)
                restarts[unit] = round(time.monotonic() - began, 1)
                time.sleep(SETTLE_S)
            enter("steady")
            time.sleep(4)
            # a process dies: systemd starts it again, the other instance carries on meanwhile
            for kind in KINDS:
                unit = f"haizhu-{kind}@1.service"
                before = machine.show(unit, "MainPID", "NRestarts")
                enter(f"{kind}@1 killed")
                machine.run("systemctl", "kill", "--signal=SIGKILL", "--kill-whom=main", unit)

                def back(unit: str = unit, before: dict[str, str] = before) -> bool:
                    state = machine.show(unit, "ActiveState", "MainPID", "NRestarts")
                    return (
                        state["ActiveState"] == "active"
                        and state["MainPID"] != before["MainPID"]
                        and int(state["NRestarts"]) == int(before["NRestarts"]) + 1
                    )

                wait_for(back, f"systemd did not start {unit} again", timeout_s=300)
                time.sleep(SETTLE_S)
            enter("steady")
            time.sleep(4)

        # every kept message is answered once all are back; none is left pending
        deadline = time.monotonic() + 120
        assert_kept_answered(url, stream, deadline)
        stored = settled_messages(database, stream.ids, deadline)
        taken, answered_takes = asyncio.run(taken_by_rasa(database, stream.ids))
        journals = {unit: machine.journal(unit) for unit in (*units, "haproxy.service")}
        around_drops = _journals_around(machine, (*units, "haproxy.service"), [t for t, _, _ in stream.drops])

    sent, answered = sum(stream.sent.values()), stream.outcomes["200"]
    duplicated = sum(n - 1 for n in answered_takes.values() if n > 1)
    print(
        f"systemctl restart took {restarts} s; sent {sent}, answered at once {answered}, "
        f"kept and retried {len(stream.kept)}, sent again with their key {sum(stream.resent.values())}, "
        f"answered twice {duplicated}; by phase {stream.report()}; mediation {dict(mediation.by_phase)}"
    )
    print(f"kept, then answered within (s of the phase's start): {_kept_by_phase(stream, stored, phases)}")
    for moment, phase, error in stream.drops:  # requests that got no answer, beside the logs of that moment
        print(f"no answer at {moment:.3f} ({phase}): {error}")
    print(around_drops)
    # a request the killed gateway had gets no answer, by HAProxy's design: when an instance
    # closes before answering a request that was not the first on its client's connection,
    # HAProxy closes that connection without an answer or a log line, so that the client
    # sends it again (the page does, with the message's key: bot/web/chat/chat.js). Nowhere
    # else: a rolling restart, or a Rasa or action server killed, leaves no request unanswered
    assert all(phase == "gateway@1 killed" for _, phase, _ in stream.drops), stream.drops
    # a rolling restart is invisible to residents: every message in it answered at once (an
    # action server stopping under Sanic's worker manager reset a call in each of its restarts,
    # and the resident was told the message was kept)
    for phase, counts in stream.by_phase.items():
        if phase.startswith("restart"):
            assert set(counts) == {"200"}, (phase, counts)
    twice = [m for m, n in answered_takes.items() if m and n > 1]
    assert duplicated == 0, asyncio.run(timeline(database, twice, []))
    by_status = Counter(r["status"] for r in stored)
    assert by_status.get("pending", 0) == 0, by_status
    assert len(stored) >= answered + len(stream.kept) and len(stored) <= sent, (len(stored), sent)
    assert not stream.unresolved, stream.unresolved
    for phase, counts in mediation.by_phase.items():
        assert counts["rounds"] >= 1 and counts["seen by resident"] == counts["rounds"], (phase, counts)
        assert counts["resident answers taken"] == counts["rounds"], (phase, counts)
    # the services' journals and HAProxy's: no traceback, no resident's id, no secret
    assert "/api/v1/conversations/.../messages" in journals["haproxy.service"]  # it logs requests
    for unit, journal in journals.items():
        assert "Traceback" not in journal, (unit, journal[-3000:])
        assert not any(r in journal for r in (*stream.ids, case_resident)), unit
        assert settings.rasa_token() not in journal and settings.action_token() not in journal, unit


def _kept_by_phase(
    stream: Stream, stored: Sequence[Mapping[str, Any]], phases: list[tuple[float, str]]
) -> dict[str, tuple[int, float]]:
    """For each phase, how many messages the residents were told were kept in it, and how many
    seconds after the phase began the last of them was answered (all are, by then)."""
    answered_at = {row["public_id"]: row["updated_at"] for row in stored}
    found: dict[str, tuple[int, float]] = {}
    for _, message_id, told in stream.kept:
        began, phase = phase_began(phases, told)
        count, latest = found.get(phase, (0, 0.0))
        found[phase] = (count + 1, max(latest, round(answered_at[message_id] - began, 1)))
    return found


def _journals_around(machine: SystemdMachine, units: tuple[str, ...], moments: list[float], span_s: float = 3) -> str:
    """The units' journal lines logged within `span_s` of each moment (a request that got
    no answer), in time order: what such a failure is read by."""
    if not moments:
        return ""
    lines = []
    for unit in units:
        for line in machine.run("journalctl", "--no-pager", "--output=short-unix", f"--unit={unit}").splitlines():
            stamp, _, rest = line.partition(" ")
            try:
                logged = float(stamp)
            except ValueError:
                continue
            if any(abs(logged - moment) <= span_s for moment in moments):
                lines.append((logged, f"{logged:.3f} {unit}: {rest}"))
    return "\n".join(text for _, text in sorted(lines))


def _healthy(http: httpx.Client) -> bool:
    try:
        return http.get("/healthz").status_code == 200
    except httpx.HTTPError:
        return False
