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

import httpx
import pytest

from tests.helpers.console import Console, add_staff
from tests.helpers.resident_stream import (
    Mediation,
    Stream,
    assert_kept_answered,
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
    trial_haproxy_config,
    trial_settings,
    wait_for,
)

KINDS = ("rasa", "actions", "gateway")
SETTLE_S = 3  # HAProxy's `rise 2` at `inter 1s`: a restarted instance is back in its balancer


@pytest.mark.slow
@pytest.mark.redis
@pytest.mark.stack
def test_a_rolling_restart_and_a_killed_instance_of_each_kind_lose_nothing(database: str, tmp_path) -> None:
    assert nspawn(), "systemd-nspawn (Debian's systemd-container: make nspawn) is needed"
    settings = trial_settings(tmp_path / "host", database)
    ports = [(settings.rasa_port, settings.action_port, settings.gateway_port), (free_port(), free_port(), free_port())]
    internal, front = (free_port(), free_port()), free_port()
    env, per_instance = installed_settings(settings, ports, internal)
    add_staff(settings, "sd-mediator")
    url = f"http://127.0.0.1:{front}"
    with SystemdMachine(tmp_path / "machine", env, per_instance) as machine:
        # README "Deployment": the balancers' file, then the second instance of each kind and
        # HAProxy enabled and started beside the first (which haizhu.target started at boot)
        config = trial_haproxy_config(front, [p[2] for p in ports], internal, [p[:2] for p in ports])
        (machine.root / "etc" / "haproxy" / "haproxy.cfg").write_text(config, "utf-8")
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

        def enter(phase: str) -> None:
            stream.phase = mediation.phase = phase

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

    sent, answered = sum(stream.sent.values()), stream.outcomes["200"]
    duplicated = sum(n - 1 for n in answered_takes.values() if n > 1)
    print(
        f"systemctl restart took {restarts} s; sent {sent}, answered at once {answered}, "
        f"kept and retried {len(stream.kept)}, sent again with their key {sum(stream.resent.values())}, "
        f"answered twice {duplicated}; by phase {stream.report()}; mediation {dict(mediation.by_phase)}"
    )
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


def _healthy(http: httpx.Client) -> bool:
    try:
        return http.get("/healthz").status_code == 200
    except httpx.HTTPError:
        return False
