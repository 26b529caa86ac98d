"""Rasa SDK custom actions: grounded answers, full article text, routing,
clarification, the legal-aid intake and handoff.

The action server imports every module of this package
(`python -m actions.server`, rasa-sdk's app behind a secret). Its web server (Sanic) runs a
manager process and a worker process that serves the requests, and both
import this package; the statute index (1.3 GB with the embedding model)
starts loading in the background only in the worker, so the first resident's
answer does not wait for it and the manager does not hold a second copy
(found with `make bench`: 2.7 GB before, the model loaded twice).
"""

import os

from actions.retrieval_service import warm_up_in_background

if os.environ.get("SANIC_WORKER_NAME"):
    warm_up_in_background()
