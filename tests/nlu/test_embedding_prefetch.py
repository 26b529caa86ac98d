"""The gateway channel fetches a message's e5 vector before Rasa's parse, without holding
Rasa's event loop (nlu/components/question_classifier.py `prefetch`). Run in Rasa's own
environment against a local HTTP server that answers /embed as the action server does:
the parse then takes the fetched vector from memory, even with the server gone; the
secret is sent; a payload, a refusal or a wrong shape leaves nothing behind."""

from __future__ import annotations

import textwrap

from tests.nlu.test_rasa_speedups import in_rasa

CHECK = textwrap.dedent(
    """
    import asyncio, os
    import numpy as np
    from aiohttp import web

    seen = []

    async def embed(request):
        seen.append((request.headers.get("Authorization"), (await request.json())["texts"]))
        texts = (await request.json())["texts"]
        if texts == ["拒绝我"]:
            return web.json_response({"error": "busy"}, status=503)
        if texts == ["形状不对"]:
            return web.json_response({"vectors": [[0.1] * 12]})
        vector = np.zeros(384); vector[len(texts[0])] = 1.0
        return web.json_response({"vectors": [vector.tolist()]})

    async def main():
        app = web.Application(); app.router.add_post("/embed", embed)
        runner = web.AppRunner(app); await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0); await site.start()
        port = site._server.sockets[0].getsockname()[1]
        os.environ["ACTION_URL"] = f"http://127.0.0.1:{port}"
        os.environ["ACTION_SERVER_TOKEN"] = "s3cret"
        from nlu.components import question_classifier as qc

        for text in ("  房东不退押金  ", "/affirm", "拒绝我", "形状不对", "   "):
            await qc.prefetch(text)
        assert seen == [("Bearer s3cret", [t]) for t in ("房东不退押金", "拒绝我", "形状不对")], seen
        assert list(qc._prefetched) == ["房东不退押金"], list(qc._prefetched)
        await qc.prefetch("房东不退押金")  # fetched once
        assert len(seen) == 3
        await runner.cleanup()
        await qc.close_prefetch()
        os.environ["ACTION_URL"] = "http://127.0.0.1:9"  # nothing answers there now
        vectors = await asyncio.get_running_loop().run_in_executor(None, qc._from_action_server, ["房东不退押金"])
        assert vectors.shape == (1, 384) and vectors[0, 6] == 1.0, vectors
        missing = await asyncio.get_running_loop().run_in_executor(None, qc._from_action_server, ["别的话"])
        assert missing is None
        print("ok")

    asyncio.run(main())
    """
)


def test_prefetched_vector_is_used_by_the_parse() -> None:
    done = in_rasa(CHECK)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), (done.stdout[-2000:], done.stderr[-3000:])
