"""`make cv-nlu`: k-fold cross-validation of the NLU over the real questions.

Why beside `make eval-nlu`: the real dev split is small (a rare category has one
or two rows in it), so its figures move by a whole row at a time. This trains
the same classifier (nlu/components/question_classifier.py) on our own
examples plus k-1 folds of *all* real rows and measures the held-out fold
with the same decision rule (nlu/intent_decision.py), k times. Every real row
is then measured once, by a model that never saw it. Its figures are on rows
that were read while labelling them: report them as such.

Runs in the Rasa environment; the last line is JSON like eval-nlu's.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
from pathlib import Path

import numpy as np

from nlu import real_questions as rq
from nlu.evaluate import accuracy_by_length, category_metrics, fallback_rates
from nlu.intent_decision import decide
from nlu.taxonomy import load as load_taxonomy
from nlu.text_normaliser import fold_for_matching
from settings import get_settings

ROOT = Path(__file__).resolve().parents[1]


def own_examples() -> list[tuple[str, str, str]]:
    """(text, intent, category) of data/nlu, read by Rasa's own loader."""
    from rasa.shared.nlu.training_data.loading import load_data

    from nlu.components.question_classifier import example_category

    taxonomy = load_taxonomy()
    data = load_data(str(ROOT / "data" / "nlu"))
    return [
        (e.get("text"), e.get("intent"), example_category(e, taxonomy.category_of(e.get("intent"))))
        for e in data.intent_examples
        if e.get("text")
    ]


def fold_of(ref: str, k: int) -> int:
    return int(hashlib.sha256(f"cv|{ref}".encode()).hexdigest(), 16) % k


def cross_validate(k: int) -> dict:
    from nlu.components.question_classifier import (
        QuestionClassifier,
        _Head,
        embed,
        join_features,
        new_vectorizer,
        ranking_of,
    )

    config = QuestionClassifier.get_default_config()  # what config.yml sets, too
    c, weight, ngram_max = float(config["C"]), float(config["embedding_weight"]), int(config["ngram_max"])
    taxonomy = load_taxonomy()
    rows = rq.load(get_settings().questions_dir)
    own = own_examples()
    texts = sorted({t for t, _, _ in own} | {r.text for r in rows})
    vectors = dict(zip(texts, embed(texts), strict=False))
    gold: list[str] = []
    pred: list[str] = []
    intents: list[str] = []
    measured: list[rq.RealQuestion] = []
    for fold in range(k):
        train = own + [(r.text, r.intent, r.category) for r in rows if fold_of(r.source_ref, k) != fold]
        test = [r for r in rows if fold_of(r.source_ref, k) == fold]
        grams = new_vectorizer(ngram_max)
        grams.fit([fold_for_matching(t) for t, _, _ in train])

        def features(batch: list[str], grams=grams):  # this fold's vectoriser, bound now
            return join_features(grams, batch, np.stack([vectors[t] for t in batch]), weight)

        x = features([t for t, _, _ in train])
        intent_head = _Head.fit(x, [i for _, i, _ in train], c)
        category_head = _Head.fit(x, [cat for _, _, cat in train], c)
        xt = features([r.text for r in test])
        for row, ip, cp in zip(test, intent_head.probabilities(xt), category_head.probabilities(xt), strict=False):
            ranking = ranking_of(intent_head.classes, ip)[: int(config["ranking_length"])]
            decision = decide(
                taxonomy, row.text, ranking, dict(zip(category_head.classes, map(float, cp), strict=False))
            )
            gold.append(row.category)
            pred.append(decision.category)
            intents.append(decision.intent)
            measured.append(row)
        print(f"fold {fold + 1}/{k}: {len(test)} rows", file=sys.stderr)
    result = category_metrics(gold, pred, taxonomy.dispute_categories)
    as_rows = [{"text": r.text, "category": r.category} for r in measured]
    result.update(fallback_rates(as_rows, intents))
    result["accuracy_by_length"] = accuracy_by_length(as_rows, pred)
    result["k"] = k
    result["misses"] = [
        {"gold": g, "predicted": p, "source_ref": r.source_ref}
        for g, p, r in zip(gold, pred, measured, strict=False)
        if g != p
    ]
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args(argv)
    questions_dir = get_settings().questions_dir
    if not (questions_dir / rq.QUESTIONS_FILE).is_file():
        print(f"no {rq.QUESTIONS_FILE} in {questions_dir}", file=sys.stderr)
        return 2
    logging.disable(logging.WARNING)
    result = cross_validate(args.folds)
    for name, m in result["per_category"].items():
        print(f"  {name:<12} P={m['precision']:.3f} R={m['recall']:.3f} F1={m['f1']:.3f} n={m['support']}")
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
