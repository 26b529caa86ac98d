"""nlu/rasa_speedups.py changes how fast Rasa checks, never what it accepts: run inside
Rasa's own environment, the patched server still refuses a malformed action answer with
Rasa's ValidationError and resolves every event type as before."""

from __future__ import annotations

import subprocess
import textwrap

import pytest

from settings import ROOT

CHECK = textwrap.dedent(
    """
    from jsonschema import ValidationError
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.core.events import Event, UserUttered, BotUttered, SlotSet
    from rasa.shared.utils.common import all_subclasses

    before = {c.type_name: Event.resolve_by_type(c.type_name) for c in all_subclasses(Event)}
    from nlu.rasa_speedups import install
    install()
    good = {"events": [{"event": "slot", "name": "x", "value": 1}], "responses": [{"text": "hi"}]}
    assert RemoteAction._validate_action_result(None, good) is True
    bad_answers = (
        {"events": "not a list"},
        {"events": [{"no_event_key": 1}]},
        {"events": [{"event": "slot", "timestamp": "yesterday"}]},
    )
    for bad in bad_answers:
        try:
            RemoteAction._validate_action_result(None, bad)
        except ValidationError as error:
            assert "Failed to validate Action server response" in error.message
        else:
            raise SystemExit(f"accepted {bad}")
    after = {name: Event.resolve_by_type(name) for name in before}
    assert after == before, (after, before)
    assert Event.resolve_by_type("user") is UserUttered and Event.resolve_by_type("bot") is BotUttered
    assert Event.resolve_by_type("slot") is SlotSet
    assert Event.resolve_by_type("no-such-event", default=SlotSet) is SlotSet
    try:
        Event.resolve_by_type("no-such-event")
    except ValueError:
        print("ok")
    """
)


def in_rasa(script: str, *args: str) -> subprocess.CompletedProcess:
    """`script` run by Rasa's own interpreter, with this checkout importable."""
    return subprocess.run(
        [str(ROOT / ".venv-rasa" / "bin" / "python"), "-c", script, *args],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "RASA_TELEMETRY_ENABLED": "false"},
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_patched_rasa_validates_and_resolves_as_rasa_does() -> None:
    done = in_rasa(CHECK)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-2000:]


REPLAY = textwrap.dedent(
    """
    from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
    from nlu.idempotent_turns import earlier_replies

    events = [
        UserUttered("房东不退押金", message_id="a"),
        ActionExecuted("action_answer_topic"),
        BotUttered("押金的问题…", data={"buttons": [{"title": "是", "payload": "/affirm"}], "custom": None}),
        ActionExecuted("action_listen"),
        UserUttered("公司欠薪", message_id="b"),
        ActionExecuted("action_answer_topic"),  # its action failed: no reply
        ActionExecuted("action_listen"),
    ]
    assert earlier_replies(events, "a") == [
        {"text": "押金的问题…", "buttons": [{"title": "是", "payload": "/affirm"}]}
    ], earlier_replies(events, "a")
    assert earlier_replies(events, "b") is None  # answered nothing: taken again
    assert earlier_replies(events, "never-seen") is None
    print("ok")
    """
)


def test_only_a_turn_that_answered_is_replayed() -> None:
    done = in_rasa(REPLAY)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-2000:]


TICKETS = textwrap.dedent(
    """
    import sys, threading, uuid
    from rasa.core.lock_store import RedisLockStore
    if sys.argv[1] == "guarded":
        from nlu.atomic_lock_store import install
        install()
    prefix = "t" + uuid.uuid4().hex[:12]
    stores = [RedisLockStore(host="127.0.0.1", port=6379, db=9, key_prefix=prefix) for _ in range(4)]
    duplicates = lost = 0
    for _ in range(30):
        conversation, drawn = uuid.uuid4().hex, []
        start = threading.Barrier(len(stores))
        def draw(store):
            start.wait()
            drawn.append(store.issue_ticket(conversation, 30))
        threads = [threading.Thread(target=draw, args=(s,)) for s in stores]
        [t.start() for t in threads]
        [t.join() for t in threads]
        duplicates += len(drawn) - len(set(drawn))
        lost += len(drawn) - len(stores[0].get_lock(conversation).tickets)
        for store in stores:  # each instance's turn ends: the lock goes once all are done
            store.cleanup(conversation, drawn.pop())
        if sys.argv[1] == "guarded":
            assert stores[0].get_lock(conversation) is None
        stores[0].delete_lock(conversation)
    print(duplicates, lost)
    """
)


@pytest.mark.redis
def test_two_rasa_instances_never_draw_the_same_ticket() -> None:
    """Rasa's Redis ticket lock is read, changed and written back: four instances
    drawing at once for one conversation draw the same ticket (two turns of one
    resident at once, a message answered twice); guarded (nlu/atomic_lock_store.py),
    never."""
    bare, guarded = in_rasa(TICKETS, "bare"), in_rasa(TICKETS, "guarded")
    assert bare.returncode == 0 and guarded.returncode == 0, (bare.stderr[-2000:], guarded.stderr[-2000:])
    assert int(bare.stdout.split()[0]) > 0  # the race is there to be guarded against
    assert guarded.stdout.split() == ["0", "0"]


TOKEN_ARGUMENT = textwrap.dedent(
    """
    from rasa.__main__ import create_argument_parser
    from nlu.rasa_server import arguments

    for token in ("-starts-with-a-dash", "plain_token-_x"):
        parsed = create_argument_parser().parse_args(arguments(["--enable-api", "-p", "5005"], token)[1:])
        assert parsed.auth_token == token and parsed.enable_api and parsed.port == 5005, parsed
    print("ok")
    """
)


def test_rasa_reads_a_token_that_starts_with_a_dash() -> None:
    """nlu/rasa_server.py hands Rasa its token; one in 64 random tokens starts with "-"."""
    done = in_rasa(TOKEN_ARGUMENT)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-2000:]
