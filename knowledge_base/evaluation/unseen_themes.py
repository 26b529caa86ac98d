"""`make eval-unseen-themes`: how the reranker ranks questions of a theme it has never seen.

Why: the hidden benchmark asks labour, lease and neighbour questions, themes the bank of
answered questions (``../shared/questions/retrieval_train.jsonl``) deliberately lacks. The
bank's own dev part shares the bank's themes, so it measures something easier twice over:
the reranker was trained on questions like it, and its nearest bank questions vote for the
right articles. This holds each law family of the bank out in turn (民法典's 编, and the other
laws together), trains the reranker exactly as ``make index`` does (knowledge_base/indexing/
reranker_training.py) on the rest and on our own set, and ranks the family's questions twice:

- ``seen_bank``: the bank still holds the family's other questions (each question's own vote
  left out, as in training): what the reranker does for a theme it was not trained on;
- ``unseen``: the family is taken out of the voting bank too: the hidden questions' condition,
  where the nearest answered questions are of other themes.

Measured at stop 34 (2-core Xeon, no category): seen_bank R@5 0.613 / MRR 0.583, unseen
0.530 / 0.496 (README, "Retrieval learned from real questions"). Prints each family and, as
its LAST line, one JSON object ``{"n", "seen_bank": {...}, "unseen": {...}, "families": {...}}``
with recall@1/5/10 and mrr@10 as ``make eval-retrieval`` counts them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator, Sequence

import numpy as np

from knowledge_base.evaluation.evaluate_retrieval import KS, figures_line, score
from knowledge_base.indexing.reranker_training import REGULARISATION, own_rows, training_data
from knowledge_base.retrieval.question_bank import BANK_FILE, AnsweredQuestion, QuestionBank, load_rows, split
from knowledge_base.retrieval.reranker import Pool, Reranker, fit
from knowledge_base.retrieval.retriever import Retriever
from settings import get_settings

CIVIL_CODE = "民法典"
# the 编 of 民法典 by article number (last article of each); other laws are one family
CIVIL_CODE_BOOKS = (
    (204, "general"),
    (462, "property"),
    (988, "contracts"),
    (1039, "personality"),
    (1118, "marriage"),
    (1163, "succession"),
    (1260, "torts"),
)
OTHER_LAWS = "other_laws"
METRICS = (*(f"recall@{k}" for k in KS), "mrr@10")


def family_of_article(law: str, number: int) -> str:
    if law != CIVIL_CODE:
        return OTHER_LAWS
    return next((name for last, name in CIVIL_CODE_BOOKS if number <= last), OTHER_LAWS)


def family(question: AnsweredQuestion) -> str:
    """The family most of a question's gold articles belong to (the first of a tie)."""
    kinds = [family_of_article(law, number) for law, number in question.gold]
    return max(dict.fromkeys(kinds), key=kinds.count)


@contextlib.contextmanager
def bank_without(retriever: Retriever, leave_out: Sequence[bool]) -> Iterator[None]:
    """The retriever's voting bank without the questions marked in `leave_out`, for a while."""
    full = retriever.bank
    if full is None:
        raise ValueError("the index has no bank of answered questions; run `make index`")
    keep = [i for i, out in enumerate(leave_out) if not out]
    retriever.bank = QuestionBank(full.vectors[keep], [full.gold[i] for i in keep])
    try:
        yield
    finally:
        retriever.bank = full


def ranked(retriever: Retriever, model: Reranker, pool: Pool) -> list[tuple[str, int]]:
    order = np.argsort(-model.probabilities(pool), kind="stable")
    return [(pool.evidence[i].law, retriever.articles[pool.evidence[i].article].number) for i in order]


def mean(figures: list[dict[str, float]]) -> dict[str, float]:
    return {m: round(float(np.mean([f[m] for f in figures])), 3) if figures else 0.0 for m in METRICS}


def evaluate(retriever: Retriever, bank: Sequence[AnsweredQuestion], progress: bool = True) -> dict:
    """Each family held out of the reranker's training, ranked with and without its votes."""
    if retriever.bank is None or len(retriever.bank.gold) != len(bank):
        raise ValueError("the index's bank is not the shared questions' bank part; run `make index`")
    indexed = {(a.law, a.number) for a in retriever.articles}
    families = [family(q) for q in bank]
    # our own set's candidates do not depend on the family held out: computed once, trained on by every model
    own_matrices, own_labels = training_data(retriever, (), own_rows())
    seen_all: list[dict[str, float]] = []
    unseen_all: list[dict[str, float]] = []
    by_family: dict[str, dict] = {}
    for name in sorted(set(families)):
        held = [i for i, f in enumerate(families) if f == name and indexed & set(bank[i].gold)]
        if not held:
            continue
        others = [i for i, f in enumerate(families) if f != name]
        matrices, labels = training_data(retriever, bank, places=others)
        model = fit(matrices + own_matrices, labels + own_labels, REGULARISATION)
        vectors = retriever.bank.vectors
        seen = [
            score(
                ranked(retriever, model, retriever.pool(bank[i].question, None, "hybrid", vectors[i], leave_out=i)),
                set(bank[i].gold),
            )
            for i in held
        ]
        with bank_without(retriever, [f == name for f in families]):
            unseen = [
                score(
                    ranked(retriever, model, retriever.pool(bank[i].question, None, "hybrid", vectors[i])),
                    set(bank[i].gold),
                )
                for i in held
            ]
        by_family[name] = {"n": len(held), "seen_bank": mean(seen), "unseen": mean(unseen)}
        seen_all += seen
        unseen_all += unseen
        if progress:
            print(
                f"  {name:<12} n={len(held):<4} seen bank R@5={by_family[name]['seen_bank']['recall@5']:.3f} "
                f"MRR@10={by_family[name]['seen_bank']['mrr@10']:.3f}   unseen R@5="
                f"{by_family[name]['unseen']['recall@5']:.3f} MRR@10={by_family[name]['unseen']['mrr@10']:.3f}",
                file=sys.stderr,
                flush=True,
            )
    return {"n": len(seen_all), "seen_bank": mean(seen_all), "unseen": mean(unseen_all), "families": by_family}


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    settings = get_settings()
    if not (settings.questions_dir / BANK_FILE).is_file():
        print(f"no shared questions at {settings.questions_dir} (QUESTIONS_DIR)", file=sys.stderr)
        return 2
    bank, _ = split(load_rows(settings.questions_dir))
    try:
        result = evaluate(Retriever(settings.index_dir), bank)
    except (FileNotFoundError, ValueError) as exc:
        print(exc, file=sys.stderr)
        return 2
    for condition in ("seen_bank", "unseen"):
        print(f"{condition:<10} n={result['n']} {figures_line(result[condition])}")
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
