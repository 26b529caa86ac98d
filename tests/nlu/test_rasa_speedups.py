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
    import logging
    from rasa.core.policies import memoization, rule_policy
    states = [{"user": {"intent": "greet"}}]
    logging.getLogger("rasa").setLevel(logging.INFO)  # the server's level: nothing to copy
    assert memoization.copy.deepcopy(states) is states and rule_policy.copy.deepcopy(states) is states
    logging.getLogger("rasa").setLevel(logging.DEBUG)  # a debug line may be written: copied
    copied = rule_policy.copy.deepcopy(states)
    assert copied == states and copied is not states and copied[0]["user"] is not states[0]["user"]
    import asyncio, json
    from aiohttp import web
    from rasa.utils.endpoints import EndpointConfig

    async def action_call():  # what the action server receives: the same JSON, in UTF-8
        received = []

        async def webhook(request):
            received.append(await request.read())
            return web.json_response({"events": [], "responses": []})

        app = web.Application()
        app.router.add_post("/webhook", webhook)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        payload = {"tracker": {"events": [{"text": "房东不退押金/怎么办", "timestamp": 1796588126.8744342,
                                          "confidence": 2.5e-07, "ids": [1, None, True]}]},
                   "nan": float("nan")}
        await EndpointConfig(f"http://127.0.0.1:{port}/webhook").request(json=payload["tracker"], method="post")
        await EndpointConfig(f"http://127.0.0.1:{port}/webhook").request(json=payload, method="post")
        await runner.cleanup()
        assert json.loads(received[0]) == payload["tracker"], received[0]
        assert "房东不退押金/怎么办".encode() in received[0], received[0]  # not six bytes a character
        assert "NaN" in received[1].decode()  # what ujson refuses, the standard encoder writes

    asyncio.run(action_call())
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


LEASES = textwrap.dedent(
    """
    import asyncio, sys, time, uuid
    from rasa.core.lock_store import RedisLockStore
    if sys.argv[1] == "leased":
        from nlu.atomic_lock_store import install
        install()
    LEASE = 1.5
    prefix = "t" + uuid.uuid4().hex[:12]
    dead, one, two = (RedisLockStore(host="127.0.0.1", port=6379, db=9, key_prefix=prefix) for _ in range(3))
    conversation, began, held = uuid.uuid4().hex, time.monotonic(), {}

    async def turn(store, name, after_s, runs_s):
        await asyncio.sleep(after_s)
        async with store.lock(conversation, lock_lifetime=LEASE, wait_time_in_seconds=0.05):
            start = time.monotonic() - began
            await asyncio.sleep(runs_s)
            held[name] = (start, time.monotonic() - began)

    async def main():
        dead.issue_ticket(conversation, LEASE)  # an instance killed mid-turn: never given back
        await asyncio.gather(turn(one, "one", 0.5, 2.0), turn(two, "two", 1.0, 0.2))
        (a0, a1), (b0, b1) = sorted(held.values())
        overlap = max(0.0, min(a1, b1) - max(a0, b0))
        print(f"{overlap:.2f} {a0:.2f} {b0 - a1:.2f}")

    asyncio.run(main())
    one.delete_lock(conversation)
    """
)


@pytest.mark.redis
def test_a_turn_holds_its_lock_however_long_it_waited() -> None:
    """Rasa's ticket lasts a fixed time from when it was drawn: a turn that waited behind a
    killed instance's ticket runs with what is left of its own, and the next turn is served
    while it still runs. Leased (nlu/atomic_lock_store.py), the waiting and the running turn
    keep renewing theirs; the dead ticket still frees the conversation after one lease."""
    bare, leased = in_rasa(LEASES, "bare"), in_rasa(LEASES, "leased")
    assert bare.returncode == 0 and leased.returncode == 0, (bare.stderr[-2000:], leased.stderr[-2000:])
    overlap, _, _ = (float(x) for x in bare.stdout.split())
    assert overlap > 0.15  # the second turn (0.2 s) ran inside the first: what is guarded against
    overlap, first_served, gap = (float(x) for x in leased.stdout.split())
    assert overlap == 0.0, leased.stdout
    assert first_served < 1.5 + 0.6, leased.stdout  # the dead ticket ran out after its lease
    assert gap < 0.5, leased.stdout  # the second turn was served as the first ended, not dropped


ONE_TAKE = textwrap.dedent(
    """
    import asyncio, sys, uuid
    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
    from rasa.core.lock_store import InMemoryLockStore, RedisLockStore
    from rasa.core.processor import MessageProcessor

    taken = []
    async def turn(self, message):  # Rasa's turn, slow, answering unless told not to
        taken.append(message.message_id)
        await asyncio.sleep(0.3)
        if message.text != "沉默":
            message.output_channel.messages.append({"text": "答"})
        return message.output_channel.messages

    MessageProcessor.handle_message = turn
    from nlu.idempotent_turns import TurnInProgress, install
    install()

    class NoTracker:
        async def retrieve(self, sender):
            return None

    def processor(store):
        p = object.__new__(MessageProcessor)
        p.tracker_store, p.lock_store = NoTracker(), store
        return p

    def message(text, message_id):
        return UserMessage(text, CollectingOutputChannel(), "resident", message_id=message_id,
                           metadata={"seen_before": True})

    async def main():
        if sys.argv[1] == "redis":
            prefix = "t" + uuid.uuid4().hex[:12]
            one, two = (RedisLockStore(host="127.0.0.1", port=6379, db=9, key_prefix=prefix) for _ in range(2))
        else:
            one = two = InMemoryLockStore()
        first, second = await asyncio.gather(
            MessageProcessor.handle_message(processor(one), message("房东不退押金", "m1")),
            MessageProcessor.handle_message(processor(two), message("房东不退押金", "m1")),
            return_exceptions=True,
        )
        assert taken == ["m1"], taken  # the copy did not take it while the first ran
        assert first == [{"text": "答"}] and isinstance(second, TurnInProgress), (first, second)
        for _ in range(2):  # a take with no reply gives its claim back: taken again
            assert await MessageProcessor.handle_message(processor(two), message("沉默", "m2")) == []
        assert taken == ["m1", "m2", "m2"], taken
        untagged = UserMessage("你好", CollectingOutputChannel(), "resident")
        assert await MessageProcessor.handle_message(processor(one), untagged) == [{"text": "答"}]
        print("ok")

    asyncio.run(main())
    """
)


@pytest.mark.parametrize("store", ["memory", pytest.param("redis", marks=pytest.mark.redis)])
def test_a_message_is_taken_by_one_turn_at_a_time(store: str) -> None:
    """Two turns of one message id at once (a copy sent while the first still ran,
    after Rasa's ticket expired under it): the second fails and is kept, not answered."""
    done = in_rasa(ONE_TAKE, store)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-2000:]


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


LEAN = textwrap.dedent(
    """
    import copy
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.utils.endpoints import EndpointConfig

    def parse(text, entities):
        return {"intent": {"name": "wage_arrears", "confidence": 0.8},
                "intent_ranking": [{"name": "wage_arrears", "confidence": 0.8}, {"name": "greet", "confidence": 0.2}],
                "category_probabilities": {"labour": 0.9}, "text_tokens": [[0, 2]], "entities": entities,
                "category": "labour", "text": text, "message_id": text}

    meta = {"model_id": "m", "assistant_id": "a"}
    employer = [{"entity": "employer", "value": "某某公司", "start": 0, "end": 4}]
    events = [
        UserUttered("某某公司欠薪", parse_data=parse("某某公司欠薪", employer), metadata=meta),
        ActionExecuted("action_answer_topic", metadata=meta),
        BotUttered("欠薪的问题…", data={"buttons": [{"title": "是", "payload": "/affirm"}]}, metadata=meta),
        SlotSet("dispute_category", "labour", metadata=meta),
        ActionExecuted("action_listen", metadata=meta),
        UserUttered("怎么申请仲裁", parse_data=parse("怎么申请仲裁", []), metadata=meta),
        ActionExecuted("action_listen", metadata=meta),
    ]
    tracker = DialogueStateTracker.from_events("web:x", events, slots=[])
    first_parse = copy.deepcopy(events[0].parse_data)
    action = RemoteAction("action_answer_topic", EndpointConfig("http://127.0.0.1:1/webhook"))
    rasa_own = action._action_call_format(tracker, Domain.empty())
    from nlu.rasa_speedups import install
    install()
    lean = action._action_call_format(tracker, Domain.empty())
    sent, own = lean["tracker"]["events"], rasa_own["tracker"]["events"]
    assert [e["event"] for e in sent] == [e["event"] for e in own]
    assert sent[5:] == own[5:]  # the latest user turn and after: whole
    assert {k: v for k, v in lean["tracker"].items() if k != "events"} == {
        k: v for k, v in rasa_own["tracker"].items() if k != "events"}
    dropped = {"intent_ranking", "category_probabilities", "text_tokens", "metadata"}
    assert sent[0]["parse_data"] == {k: v for k, v in own[0]["parse_data"].items() if k not in dropped}, sent[0]
    assert sent[0]["parse_data"]["entities"] == employer and sent[0]["text"] == "某某公司欠薪"
    for mine, theirs in zip(sent[:5], own[:5]):
        assert "metadata" not in mine and theirs.get("metadata") == meta
        assert {k: v for k, v in mine.items() if k != "parse_data"} == {
            k: v for k, v in theirs.items() if k not in ("parse_data", "metadata")}
    assert events[0].parse_data == first_parse  # the event itself untouched
    print("ok")
    """
)


def test_the_action_server_is_sent_earlier_turns_without_what_no_action_reads() -> None:
    done = in_rasa(LEAN)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-2000:]
