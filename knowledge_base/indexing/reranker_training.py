"""Trains the reranker (knowledge_base/retrieval/reranker.py) beside the index.

What it learns from:
- the bank of answered real questions (knowledge_base/retrieval/question_bank.py), each
  retrieved as the assistant would retrieve it with its own vote left out of
  the bank (else its gold would always top the votes);
- the project's own development set (``knowledge_base/evaluation/data/retrieval_dev.jsonl``:
  labour, lease and lift questions with their categories). The bank's
  questions are of other themes and carry no category, and the legal-issue
  table rarely fires on them, so trained on the bank alone the reranker learns
  to ignore the issue table and the category, and on labour questions it
  ranked worse than plain fusion (R@5 0.93 → 0.59 on that set, 0.59 → 0.40 on
  the blind set). The development set is therefore training data for the
  reranker; the held-out and blind sets and the bank's dev part stay measured
  only (README).

Every candidate is labelled by whether annotators (or, for the own set, we)
chose it. The model is rebuilt when the bank, the own set, the index or the
features change; training takes seconds (one search per question).
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from knowledge_base.corpus.statutes import normalise_law_name
from knowledge_base.indexing.index import model_location, read_manifest
from knowledge_base.retrieval.legal_issues import ISSUES
from knowledge_base.retrieval.query_encoder import engine_name
from knowledge_base.retrieval.question_bank import BANK_FILE, AnsweredQuestion, fingerprint, load_rows, split
from knowledge_base.retrieval.reranker import FEATURE_VERSION, RERANKER_FILE, Reranker, fit
from knowledge_base.retrieval.retriever import CATEGORY_LAWS, Retriever
from settings import get_settings

REGULARISATION = 1.0  # sklearn's C; 0.1 and 10 measured the same on the bank (5-fold)
# what is trained on, beyond the data: change to retrain (3: no votes where the bank lacks the theme)
TRAINING_VERSION = "3"
OWN_TRAINING_SET = Path(__file__).resolve().parents[1] / "evaluation" / "data" / "retrieval_dev.jsonl"


def own_rows(path: Path = OWN_TRAINING_SET) -> list[tuple[str, set[tuple[str, int]], str | None]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            raw = json.loads(line)
            rows.append(
                (
                    raw["question"],
                    {(normalise_law_name(g["law"]), int(g["article"])) for g in raw["gold"]},
                    raw.get("category"),
                )
            )
    return rows


def _labels(retriever, pool, gold: set[tuple[str, int]]) -> np.ndarray:
    return np.array([(e.law, retriever.articles[e.article].number) in gold for e in pool.evidence], dtype=np.int8)


def training_data(
    retriever,
    bank: Sequence[AnsweredQuestion],
    own: Sequence[tuple[str, set[tuple[str, int]], str | None]] = (),
    places: Sequence[int] | None = None,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per question: its candidates' features and whether each is gold.
    `bank` must be the bank's questions in the bank's order (their vectors are reused);
    `places`: only those of its questions (a law family held out, knowledge_base/evaluation/unseen_themes.py).
    A question none of whose gold articles is indexed (a smaller corpus, as
    the tests' index) is left out: it would only teach that nothing is right,
    and lower every probability the thresholds of actions/grounded_reply.py
    were chosen on."""
    indexed = {(a.law, a.number) for a in retriever.articles}
    matrices, labels = [], []
    for place in range(len(bank)) if places is None else places:
        row = bank[place]
        if indexed & set(row.gold):
            pool = retriever.pool(row.question, None, "hybrid", retriever.bank.vectors[place], leave_out=place)
            matrices.append(pool.matrix())
            labels.append(_labels(retriever, pool, set(row.gold)))
    for question, gold, category in own:
        if indexed & gold:
            pool = retriever.pool(question, category, "hybrid")
            matrices.append(pool.matrix())
            labels.append(_labels(retriever, pool, gold))
    return matrices, labels


def stamp(
    bank: Sequence[AnsweredQuestion], model_name: str, corpus_fingerprint: str, layout: str = "", query_engine: str = ""
) -> str:
    """What the reranker was trained from; `query_engine` embeds the questions whose candidates it
    learns from (int8 ONNX or torch), so changing EMBEDDING_ENGINE trains it again."""
    built_from = (
        fingerprint(bank, model_name),
        corpus_fingerprint,
        layout,
        FEATURE_VERSION,
        TRAINING_VERSION,
        query_engine,
    )
    digest = hashlib.sha256("|".join(built_from).encode())
    # what the candidates' evidence is computed from: the own set, the issue table, the category laws
    for path in (OWN_TRAINING_SET, get_settings().content(ISSUES), get_settings().content(CATEGORY_LAWS)):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:24]


def ensure_reranker(index_dir: Path, questions_dir: Path, progress: bool = True) -> Reranker | None:
    """The reranker beside the index, trained unless current; None without a bank."""
    manifest = read_manifest(index_dir)
    if manifest is None or not (questions_dir / BANK_FILE).is_file():
        return None
    bank, _ = split(load_rows(questions_dir))
    settings = get_settings()
    engine = engine_name(model_location(manifest.model), settings.embedding_engine, settings.embedding_bf16)
    wanted = stamp(bank, manifest.model, manifest.corpus_fingerprint, manifest.layout, engine)
    path = index_dir / RERANKER_FILE
    current = Reranker.load(path)
    if current is not None and current.meta.get("stamp") == wanted:
        return current
    retriever = Retriever(index_dir)
    if retriever.bank is None or len(retriever.bank.gold) != len(bank):
        return None
    began = time.monotonic()
    own = own_rows()
    if progress:
        print(
            f"Training the reranker on {len(bank)} answered questions and {len(own)} of our own…",
            file=sys.stderr,
            flush=True,
        )
    matrices, labels = training_data(retriever, bank, own)
    model = fit(matrices, labels, REGULARISATION)
    model.meta = {
        "stamp": wanted,
        "questions": len(matrices),
        "candidates": int(sum(len(y) for y in labels)),
        "seconds": round(time.monotonic() - began, 1),
    }
    path.unlink(missing_ok=True)
    model.save(path)
    return model
