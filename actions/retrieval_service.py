"""The statute retriever and the typical-case library, loaded once per action
server and shared by the actions.

Loading the embedding model and the index takes a few seconds, so it starts
in the background when the action server imports this package; an answer that
arrives before it is ready waits for it. With no index built (or a broken
one) the answers still come from the knowledge cards and say that article
quotations are unavailable: a missing index must not silence the assistant.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from knowledge_base.corpus.article_store import ArticleStore
from knowledge_base.corpus.typical_cases import TypicalCaseLibrary, load_typical_cases
from knowledge_base.retrieval.retriever import Retriever
from settings import get_settings

log = logging.getLogger(__name__)


@dataclass
class Grounding:
    retriever: Retriever
    cases: TypicalCaseLibrary


_lock = threading.Lock()
_loaded: Grounding | None = None
_failed = False


def _load() -> Grounding | None:
    settings = get_settings()
    retriever = Retriever(settings.index_dir)
    cases, problems = load_typical_cases(settings.typical_case_dirs)
    for problem in problems:
        log.warning("typical case skipped: %s", problem)
    vectors = retriever.encoder.encode([c.matching_text for c in cases], "query") if cases else None
    log.info("retrieval ready: %d articles, %d typical cases", len(retriever.articles), len(cases))
    return Grounding(retriever, TypicalCaseLibrary(cases, vectors))


def grounding() -> Grounding | None:
    """The loaded retriever and cases, or None when no usable index exists."""
    global _loaded, _failed
    with _lock:
        if _loaded is None and not _failed:
            try:
                _loaded = _load()
            except Exception as exc:  # no index yet, or an unreadable one: answer from the cards
                _failed = True
                log.error("statute retrieval unavailable (%s): answers will carry no quotations", exc)
        return _loaded


def article_store() -> ArticleStore | None:
    """The articles of the index the answers quote from (the gateway's citation guard
    checks against the same), also when the embedding model could not load."""
    loaded = grounding()
    if loaded is not None:
        return loaded.retriever.store
    try:
        return ArticleStore(get_settings().index_dir)
    except FileNotFoundError:
        return None


def warm_up_in_background() -> None:
    threading.Thread(target=grounding, name="grounding-warm-up", daemon=True).start()
