"""`python -m ops.service rasa|actions|gateway`: one process of the assistant, started as
`make run` starts it (the same settings module, the same command line, the same
environment), in the foreground, for a supervisor such as systemd (deploy/systemd).

The process replaces this one (exec), so the supervisor's signals and restarts reach
the service itself and its output goes to the supervisor's journal. Before Rasa, the
endpoints file it reads is written from the settings (TRACKER_STORE_URL, LOCK_STORE_URL).
`--print` shows the command line instead of running it.

`--wait-ready` is the unit's ExecStartPost: it returns once the instance answers its
health check, so systemd counts the unit started only then. A rolling restart
(`systemctl restart haizhu-rasa@1`, then `@2`) then never takes the second instance down
while the first is still loading its model; with `Type=simple` alone, `systemctl restart`
returned at the fork, before Rasa could answer (6 s later with its model in the page
cache on 2 cores, half a minute and more from a cold disk).
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time

from ops.stack import Service, Stack
from settings import ROOT, get_settings

NAMES = ("rasa", "actions", "gateway")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.service")
    parser.add_argument("name", choices=NAMES)
    parser.add_argument("--print", action="store_true", help="print the command line and exit")
    parser.add_argument(
        "--wait-ready", action="store_true", help="wait until the instance answers its health check (ExecStartPost)"
    )
    args = parser.parse_args(argv)
    settings = get_settings()
    if args.wait_ready:
        return wait_ready(Stack(settings).service(args.name))
    settings.var_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    service = Stack(settings).service(args.name)  # writes var/endpoints.yml for Rasa
    if args.print:
        print(shlex.join(service.argv))
        return 0
    if args.name == "rasa" and not settings.rasa_model.exists():
        print(f"no trained model at {settings.rasa_model}: run `make model`", file=sys.stderr)
        return 2
    os.chdir(ROOT)
    os.umask(0o077)  # residents' data: the owner's alone, as under make run
    os.execve(service.argv[0], service.argv, {**os.environ, **service.env, "PYTHONUNBUFFERED": "1"})
    return 0  # not reached


def wait_ready(service: Service, poll_s: float = 0.5) -> int:
    """Until the instance answers; systemd's TimeoutStartSec bounds the wait, and a service
    that exits meanwhile fails its unit without this loop's help."""
    while not service.healthy():
        time.sleep(poll_s)
    print(f"{service.name} answers its health check", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
