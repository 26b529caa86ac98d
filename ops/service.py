"""`python -m ops.service rasa|actions|gateway`: one process of the assistant, started as
`make run` starts it (the same settings module, the same command line, the same
environment), in the foreground, for a supervisor such as systemd (deploy/systemd).

The process replaces this one (exec), so the supervisor's signals and restarts reach
the service itself and its output goes to the supervisor's journal. Before Rasa, the
endpoints file it reads is written from the settings (TRACKER_STORE_URL, LOCK_STORE_URL).
`--print` shows the command line instead of running it.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys

from ops.stack import Stack
from settings import ROOT, get_settings

NAMES = ("rasa", "actions", "gateway")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.service")
    parser.add_argument("name", choices=NAMES)
    parser.add_argument("--print", action="store_true", help="print the command line and exit")
    args = parser.parse_args(argv)
    settings = get_settings()
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


if __name__ == "__main__":
    sys.exit(main())
