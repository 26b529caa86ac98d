"""nlu/action_outages.py tells an action server out of reach from an action that failed:
Rasa's own RemoteAction, patched inside Rasa's environment, calls real local HTTP servers
that refuse, drop the connection, answer as a balancer with no live instance does, or as a
buggy action does."""

from __future__ import annotations

import json
import textwrap

from tests.nlu.test_rasa_speedups import in_rasa

CHECK = textwrap.dedent(
    """
    import asyncio, json, logging, socket
    from aiohttp import web
    from rasa.core.actions.action import RemoteAction
    from rasa.core.channels.channel import CollectingOutputChannel
    from rasa.core.nlg import TemplatedNaturalLanguageGenerator
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.utils.endpoints import EndpointConfig
    from nlu import action_outages

    action_outages.install()
    STATUSES = {"/no-instance": 503, "/dead-instance": 502, "/too-slow": 504, "/bug": 500,
                "/rejected": 400, "/fine": 200}

    async def answer(request):
        status = STATUSES[request.path]
        if status == 200:
            return web.json_response({"events": [], "responses": [{"text": "好的"}]})
        if status == 400:
            return web.json_response({"action_name": "action_x", "error": "slot"}, status=400)
        return web.Response(status=status, text="x")

    async def dropping(reader, writer):  # killed mid-request: reads, then closes without a word
        await reader.read(100)
        writer.close()

    async def main():
        app = web.Application()
        app.router.add_post("/{name}", answer)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        dropper = await asyncio.start_server(dropping, "127.0.0.1", 0)
        dropped_port = dropper.sockets[0].getsockname()[1]
        closed = socket.socket()
        closed.bind(("127.0.0.1", 0))
        refused_port = closed.getsockname()[1]
        closed.close()
        tracker, domain = DialogueStateTracker("s", []), Domain.empty()
        errors = {}

        async def outcome(url, watched=True):
            action = RemoteAction("action_x", EndpointConfig(url))
            run = action.run(CollectingOutputChannel(), TemplatedNaturalLanguageGenerator({}), tracker, domain)
            unreachable = None
            try:
                if watched:
                    with action_outages.watching() as unreachable:
                        await run
                else:
                    await run
            except Exception as error:
                errors[url] = error
                return type(error).__name__, unreachable
            return "ran", unreachable

        results = {name: await outcome(f"http://127.0.0.1:{port}{name}") for name in STATUSES}
        results["refused"] = await outcome(f"http://127.0.0.1:{refused_port}/webhook")
        results["dropped"] = await outcome(f"http://127.0.0.1:{dropped_port}/webhook")
        results["refused, not watched"] = await outcome(f"http://127.0.0.1:{refused_port}/webhook", False)
        dropper.close()
        await runner.cleanup()
        # each failure as Rasa's processor logs it, through the filter of ops/rasa_logging.yml
        logged = {}
        for url, error in errors.items():
            record = logging.LogRecord("rasa.core.processor", logging.ERROR, "processor.py", 1,
                                       "Encountered an exception while running action '%s'.", ("action_x",),
                                       (type(error), error, error.__traceback__))
            action_outages.OutageTracebackFilter().filter(record)
            name = {refused_port: "refused", dropped_port: "dropped"}.get(int(url.split(":")[2].split("/")[0]))
            logged[name or url.rsplit("/", 1)[-1]] = [record.exc_info is not None, record.getMessage()]
        results["logged"] = logged
        print(json.dumps(results))

    asyncio.run(main())
    """
)


def test_only_an_action_server_out_of_reach_is_reported() -> None:
    done = in_rasa(CHECK)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    assert results == {
        # a balancer's answers when no instance can take the call: an outage, kept and retried
        "/no-instance": ["RasaException", ["action_x"]],
        "/dead-instance": ["RasaException", ["action_x"]],
        "/too-slow": ["RasaException", ["action_x"]],
        "refused": ["RasaException", ["action_x"]],
        "dropped": ["RasaException", ["action_x"]],
        # the action server ran the action: a bug or a rejection, not an outage
        "/bug": ["RasaException", []],
        "/rejected": ["ActionExecutionRejection", []],
        "/fine": ["ran", []],
        # outside a turn of the gateway channel Rasa fails as it always did
        "refused, not watched": ["RasaException", None],
        "logged": results["logged"],
    }
    # Rasa's log: an outage in one line that says how, a bug with its traceback
    logged = results["logged"]
    line = "Encountered an exception while running action 'action_x'. (action server out of reach: "
    for name, how in (
        ("no-instance", "ClientResponseError 503"),
        ("dead-instance", "ClientResponseError 502"),
        ("too-slow", "ClientResponseError 504"),
    ):
        assert logged[name] == [False, f"{line}{how})"], (name, logged[name])
    for name in ("refused", "dropped"):
        assert logged[name][0] is False and logged[name][1].startswith(line), (name, logged[name])
    assert logged["bug"] == [True, "Encountered an exception while running action 'action_x'."]
    assert logged["rejected"][0] is True
