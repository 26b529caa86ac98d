"""`rasa run` with its token taken from the environment, not the command line.

Rasa reads its API token only from ``--auth-token``, where every local user
sees it in the process list (``ps``, /proc/<pid>/cmdline) and with it can
read every resident's transcript. This entry point (Rasa's environment) adds
``--auth-token $RASA_AUTH_TOKEN`` to the arguments inside the process and
hands over to Rasa's own command line: the process list shows only what
ops/stack.py passed. Before that it installs nlu/rasa_speedups.py (measured
hot spots of Rasa's server made cheap, behaviour unchanged),
nlu/incremental_states.py (a conversation's dialogue states described once per event,
not replayed for every policy call) and
nlu/idempotent_turns.py (a message Rasa answered already is not taken twice),
nlu/action_outages.py (a turn says which actions could not reach the action server), and
imports the tracker store the endpoints name (nlu/cached_tracker_store.py): Rasa
would fall back to a tracker store in memory, with only a warning, on a class it
cannot import, and every conversation would be forgotten at the next restart. That
module's ``install`` also keeps Rasa from wrapping the store in its fail-safe, which
answers from an empty conversation when the database cannot be read.

Run: ``python -m nlu.rasa_server --enable-api -i 127.0.0.1 -p 5005 --model …``.
"""

from __future__ import annotations

import os
import sys


def arguments(given: list[str], token: str) -> list[str]:
    """Rasa's command line: `rasa run`, what was given, and the token as one `=`-joined
    argument. Two arguments would do until a token starts with "-" (token_urlsafe gives
    one in 64): argparse then reads it as an option and Rasa exits with "expected one
    argument", as a restarted Rasa of the cluster test once did."""
    return ["rasa", "run", *given, f"--auth-token={token}"]


def main() -> None:
    token = os.environ.get("RASA_AUTH_TOKEN", "")
    if not token:
        raise SystemExit("RASA_AUTH_TOKEN is not set: Rasa's API and channel would answer anyone")
    if any(arg.startswith("--auth-token") for arg in sys.argv[1:]):
        raise SystemExit("pass the token in RASA_AUTH_TOKEN, not on the command line")
    sys.argv = arguments(sys.argv[1:], token)
    from rasa.__main__ import main as rasa_main

    from nlu import (  # noqa: F401
        action_outages,
        atomic_lock_store,
        cached_tracker_store,
        idempotent_turns,
        incremental_states,
        rasa_speedups,
    )

    rasa_speedups.install()
    incremental_states.install()
    idempotent_turns.install()
    action_outages.install()
    atomic_lock_store.install()
    cached_tracker_store.install()

    rasa_main()


if __name__ == "__main__":
    main()
