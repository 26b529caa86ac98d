"""The action server: rasa-sdk's app, bound to loopback and behind a shared secret.

``python -m rasa_sdk`` listens on 0.0.0.0 (``SANIC_HOST``) and answers
``/webhook`` for anyone: whoever reaches it can run any action on any
resident's tracker (submit a legal-aid form, open a hand-off). rasa-sdk has
no authentication of its own, so this entry point builds the same app
(``rasa_sdk.endpoint.create_app_for_serve``), adds one request middleware that
refuses every path but ``/health`` without ``Authorization: Bearer
<ACTION_SERVER_TOKEN>`` (Rasa sends it: ops/endpoints.py), and binds it to
``INTERNAL_HOST`` (127.0.0.1 by default). The secret comes from the
environment, never the command line.

Run: ``python -m actions.server -p 5055``.
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import logging
import os

from rasa_sdk.endpoint import create_app_for_serve
from rasa_sdk.executor import ActionExecutor
from sanic import HTTPResponse, Request, Sanic, response

OPEN_PATHS = frozenset({"/health"})
log = logging.getLogger(__name__)


def authorised(request: Request) -> bool:
    token = os.environ.get("ACTION_SERVER_TOKEN", "")
    header = request.headers.get("authorization", "")
    return bool(token) and hmac.compare_digest(header.encode(), f"Bearer {token}".encode())


async def require_secret(request: Request):
    """No body is read or echoed for a refused call."""
    if request.path not in OPEN_PATHS and not authorised(request):
        return response.json({"error": "unauthorised"}, status=401)
    return None


MAX_EMBED_TEXTS = 8
MAX_EMBED_CHARS = 4000


async def embed(request: Request) -> HTTPResponse:
    """e5 query vectors for Rasa's classifier (nlu/components/question_classifier.py), from
    the int8 encoder this process holds anyway, the one the classifier is trained on: the
    words' vector is kept for the answer action, which would embed the same text again.
    503 where this process embeds questions otherwise (another model or engine): Rasa
    then embeds them itself."""
    from actions.retrieval_service import grounding

    texts = (request.json or {}).get("texts") if isinstance(request.json, dict) else None
    if (
        not isinstance(texts, list)
        or not 0 < len(texts) <= MAX_EMBED_TEXTS
        or not all(isinstance(t, str) and len(t) <= MAX_EMBED_CHARS for t in texts)
    ):
        return response.json({"error": f"texts: 1 to {MAX_EMBED_TEXTS} strings"}, status=422)
    loop = asyncio.get_running_loop()
    loaded = await loop.run_in_executor(None, grounding)
    if loaded is None:
        return response.json({"error": "embedding model not loaded"}, status=503)
    if not loaded.retriever.serves_classifier:
        return response.json({"error": "not the classifier's encoder"}, status=503)
    vectors = await loop.run_in_executor(None, loaded.retriever.embed_queries, texts)
    # the answer's dense query, embedded while Rasa parses instead of before it can start
    # (one resident: about 5 ms off each legal answer); the answer waits for it if it comes first
    prepared = loop.run_in_executor(None, loaded.retriever.prepare_dense_queries, texts)
    prepared.add_done_callback(_log_failure)
    return response.json({"vectors": vectors.tolist()})


def _log_failure(done: asyncio.Future) -> None:
    """A dense query that failed to embed ahead is embedded by the answer itself; logged, not raised."""
    if not done.cancelled() and done.exception() is not None:
        log.warning("embedding the dense query ahead failed: %s", type(done.exception()).__name__)


def build_app(package: str) -> Sanic:
    """The action server's app: rasa-sdk's, behind the secret, with the classifier's encoder."""
    executor = ActionExecutor()
    executor.register_package(package)
    app = create_app_for_serve(executor, cors_origins=None)
    app.register_middleware(require_secret, "request")
    app.add_route(embed, "/embed", methods=["POST"])
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-p", "--port", type=int, default=5055)
    parser.add_argument("--actions", default="actions")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s - %(message)s")
    from settings import get_settings

    if not os.environ.get("ACTION_SERVER_TOKEN"):
        raise SystemExit("ACTION_SERVER_TOKEN is not set: the action server refuses to run open")
    from actions.calculators.wage_standards import configured

    try:
        configured(get_settings())
    except ValueError as exc:  # LOCAL_AVERAGE_WAGE and the like: a typo must not become a cap
        raise SystemExit(f"wage setting: {exc}") from None
    # one process, which holds the listening socket itself: under Sanic's worker manager the
    # main process kept it open after SIGTERM had stopped the worker, so connections made in
    # that moment were accepted, never served and reset when it exited (HAProxy's 502 `SH--`
    # in a rolling restart, tests/ops/test_cluster_under_systemd.py), and its spawned worker
    # and resource tracker were left for systemd to kill. systemd restarts the service itself.
    app = build_app(args.actions)
    app.prepare(host=get_settings().internal_host, port=args.port, single_process=True, access_log=False)
    Sanic.serve_single(app)


if __name__ == "__main__":
    main()
