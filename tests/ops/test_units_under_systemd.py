"""#15 item 1 under a real systemd: the units of deploy/systemd, installed as README
"Deployment" says, booted by systemd as PID 1 (tests/helpers/systemd_machine.py), run the
assistant, restart what is killed and stop cleanly."""

from __future__ import annotations

import uuid

import httpx
import pytest

from ops.backup.archive import MANIFEST
from tests.helpers.stack import DONE, ResidentAuth, answer_of
from tests.helpers.systemd_machine import (
    BACKUPS,
    HAIZHU_UID,
    SystemdMachine,
    installed_settings,
    nspawn,
    trial_settings,
    wait_for,
)

KINDS = ("rasa", "actions", "gateway")
QUESTION = "公司拖欠我两个月工资，我该怎么办"
STOP_TIMEOUT_S = 20  # the units' TimeoutStopSec


def answered(body: dict) -> bool:
    """An answer in the request (no status) or, for a kept message, once it was polled."""
    return bool(body.get("replies")) and body.get("status", "answered") in DONE


@pytest.mark.slow
@pytest.mark.redis
@pytest.mark.stack
def test_systemd_runs_the_units_restarts_a_killed_process_and_stops_them(database: str, tmp_path) -> None:
    assert nspawn(), "systemd-nspawn (Debian's systemd-container: make nspawn) is needed"
    settings = trial_settings(tmp_path / "host", database)
    env, per_instance = installed_settings(settings)
    units = [f"haizhu-{kind}@1.service" for kind in KINDS]
    with (
        SystemdMachine(tmp_path / "machine", env, per_instance) as machine,
        httpx.Client(base_url=f"http://127.0.0.1:{settings.gateway_port}", timeout=60, auth=ResidentAuth()) as http,
    ):

        def healthy() -> bool:
            try:
                return http.get("/healthz").status_code == 200
            except httpx.HTTPError:
                return False

        # enabled through haizhu.target, started at boot, answering a resident end to end
        wait_for(healthy, "the gateway unit never answered /healthz")
        residents = [f"sd-{uuid.uuid4().hex[:6]}", f"sd-{uuid.uuid4().hex[:6]}"]
        first = answer_of(http, residents[0], QUESTION, wait_s=180)
        assert answered(first), first
        for kind, unit in zip(KINDS, units, strict=True):
            state = machine.show(unit, "ActiveState", "MainPID", "NRestarts")
            assert state["ActiveState"] == "active" and state["NRestarts"] == "0", (unit, state)
            # the service itself runs as the haizhu user (ops/service.py exec'd, no launcher)
            owner = machine.run("stat", "--format=%u", f"/proc/{state['MainPID']}").strip()
            assert owner == str(HAIZHU_UID), (unit, owner)
            folder = machine.root / "var" / "lib" / "haizhu" / f"haizhu-{kind}-1"
            assert folder.is_dir() and folder.stat().st_mode & 0o777 == 0o700 and folder.stat().st_uid == HAIZHU_UID

        # the timers are enabled, and the services they start work beside the running assistant
        for timer in ("haizhu-backup.timer", "haizhu-purge.timer"):
            assert machine.show(timer, "ActiveState")["ActiveState"] == "active", timer
        for job in ("haizhu-backup.service", "haizhu-purge.service"):
            machine.run("systemctl", "start", job, check=False, timeout=180)  # a oneshot: returns when done
            assert machine.show(job, "Result")["Result"] == "success", machine.journal(job)[-3000:]
        made = list((machine.root / BACKUPS.relative_to("/")).iterdir())
        assert len(made) == 1 and (made[0] / MANIFEST).is_file(), made

        # SIGKILL each service's process in turn: systemd starts it again and it answers again
        for unit in units:
            before = machine.show(unit, "MainPID")["MainPID"]
            machine.run("systemctl", "kill", "--signal=SIGKILL", "--kill-whom=main", unit)

            def restarted(unit: str = unit, before: str = before) -> bool:
                state = machine.show(unit, "ActiveState", "MainPID", "NRestarts")
                return state["NRestarts"] == "1" and state["ActiveState"] == "active" and state["MainPID"] != before

            wait_for(restarted, f"systemd did not restart {unit}", timeout_s=60)
        wait_for(healthy, "the restarted gateway never answered /healthz")
        again = answer_of(http, residents[1], QUESTION, wait_s=180)
        assert answered(again), again

        # the services' own output is in the journal, and no resident's words are
        journals = {unit: machine.journal(unit) for unit in units}
        assert "Uvicorn running" in journals["haizhu-gateway@1.service"]
        journals["haizhu-backup.service"] = machine.journal("haizhu-backup.service")
        for unit, journal in journals.items():
            assert QUESTION not in journal and not any(r in journal for r in residents), unit
            assert "Traceback" not in journal and "Read-only file system" not in journal, (unit, journal[-3000:])

        # `systemctl stop haizhu.target` stops every instance (PartOf=) within its TimeoutStopSec,
        # by its SIGTERM, not by the SIGKILL that follows a timeout
        machine.run("systemctl", "stop", "haizhu.target", timeout=120)

        def stopped() -> bool:  # "failed" after a stop timeout: the Result below says so
            return all(machine.show(unit, "ActiveState")["ActiveState"] in ("inactive", "failed") for unit in units)

        wait_for(stopped, "the units did not stop", timeout_s=STOP_TIMEOUT_S + 5)
        for unit in units:
            assert machine.show(unit, "Result")["Result"] == "success", (unit, machine.journal(unit)[-2000:])
