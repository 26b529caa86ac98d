"""`make eval-retrieval DATA=file.jsonl`: how well retrieval finds the gold articles.

Reads lines ``{"question": str, "gold": [{"law": str, "article": int}], "category"?: str}``
and prints each part alone (BM25, dense, the legal-issue table, the bank of
answered questions), dense + BM25 fused without the table ("search"), the
four lists fused without the bank ("hybrid-bank") and with it ("fusion"), and
the full hybrid (the four lists ranked by the learned reranker,
knowledge_base/retrieval/reranker.py, when one is trained), each as recall@1/5/10
and MRR@10, then as its LAST line one JSON object for the hybrid:
``{"n", "recall@1", "recall@5", "recall@10", "mrr@10", "p50_ms", "p95_ms"}``
(plus "bm25", "dense", "issues", "bank", "search", "hybrid-bank" and "fusion" with the same
figures). recall@k is the share of a question's gold articles in the top k, averaged over questions; latencies are
per question end to end (normalise, embed, search, fuse). "shown" is what a
resident would see: of the quotes an answer keeps after withholding weak
matches, the share that are gold ("precision", a lower bound: annotators cite
one or two articles and others may apply too), and the share of questions
that get any quote and a gold one.

A line's ``category``, when given, steers retrieval as the NLU's would; a line
without one is first classified by the trained NLU model exactly as the
assistant does (``nlu/classify.py`` in Rasa's environment), so the figures are
those of the production path. The JSON line says which with
``"category_source": "given" | "nlu" | "mixed"``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from actions.grounded_reply import choose  # the very rule an answer uses to show or withhold quotes
from knowledge_base.corpus.statutes import normalise_law_name
from knowledge_base.retrieval.retriever import Retriever
from nlu.taxonomy import load as load_taxonomy
from settings import ROOT, get_settings

KS = (1, 5, 10)
MODES = ("bm25", "dense", "parts", "issues", "bank", "search", "hybrid-bank", "fusion", "hybrid")
_MODE_ARG = {
    "bm25": "lexical",
    "dense": "dense",
    "parts": "parts",
    "issues": "issues",
    "bank": "bank",
    "search": "search",
    "hybrid-bank": "hybrid-bank",
    "fusion": "fusion",
    "hybrid": "hybrid",
}


def read_rows(path: Path) -> list[dict[str, Any]]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            gold = {(normalise_law_name(g["law"]), int(g["article"])) for g in row["gold"]}
            assert isinstance(row["question"], str) and gold
        except (ValueError, KeyError, TypeError, AssertionError):
            raise SystemExit(
                f'{path}:{number}: needs "question" and a non-empty "gold" list of {{"law", "article"}}'
            ) from None
        rows.append({"question": row["question"], "gold": gold, "category": row.get("category")})
    if not rows:
        raise SystemExit(f"{path}: no rows")
    return rows


def classify_with_nlu(texts: list[str]) -> list[str]:
    """The NLU's category for each text, from the trained Rasa model."""
    settings = get_settings()
    python = settings.rasa_venv / "bin" / "python"
    if not python.exists() or not settings.rasa_model.exists():
        raise SystemExit(
            f"lines without a category need the trained NLU: {python} or {settings.rasa_model} missing (make model)"
        )
    payload = "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts)
    done = subprocess.run(
        [str(python), "-m", "nlu.classify", "--model", str(settings.rasa_model)],
        input=payload,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "ignore"},
        timeout=3600,
    )
    if done.returncode != 0:
        raise SystemExit(f"the NLU could not classify the questions: {done.stderr[-2000:]}")
    categories = [json.loads(line)["category"] for line in done.stdout.splitlines() if line.startswith("{")]
    if len(categories) != len(texts):
        raise SystemExit(f"the NLU answered {len(categories)} of {len(texts)} questions")
    return categories


def fill_categories(rows: list[dict[str, Any]]) -> str:
    """Give every row a category (the NLU's where none is given); returns the category_source."""
    missing = [r for r in rows if not r["category"]]
    if not missing:
        return "given"
    legal = set(load_taxonomy().legal_categories)
    for row, category in zip(missing, classify_with_nlu([r["question"] for r in missing]), strict=False):
        # as actions/answer_topic.py: a legal category steers retrieval, chitchat does not
        row["category"] = category if category in legal else None
    return "nlu" if len(missing) == len(rows) else "mixed"


def score(ranked: list[tuple[str, int]], gold: set[tuple[str, int]]) -> dict[str, float]:
    out = {f"recall@{k}": len(gold & set(ranked[:k])) / len(gold) for k in KS}
    first = next((i for i, key in enumerate(ranked[:10], 1) if key in gold), None)
    out["mrr@10"] = 1.0 / first if first else 0.0
    return out


def figures_line(f: dict[str, float]) -> str:
    """recall@1/5/10 and MRR@10 as every retrieval evaluation prints them."""
    return f"R@1={f['recall@1']:.3f} R@5={f['recall@5']:.3f} R@10={f['recall@10']:.3f} MRR@10={f['mrr@10']:.3f}"


def evaluate(retriever: Retriever, rows: list[dict[str, Any]]) -> tuple[dict[str, Any], list[str]]:
    sums = {m: {key: 0.0 for key in (*[f"recall@{k}" for k in KS], "mrr@10")} for m in MODES}
    latencies: list[float] = []
    shown = shown_gold = answered = gold_answered = 0
    misses = []
    indexed = {(a.law, a.number) for a in retriever.articles}
    for row in rows:
        missing = row["gold"] - indexed
        if missing:
            raise SystemExit(f"gold not in the index: {sorted(missing)} ({row['question']})")
        # the hybrid first: the parts reuse its query vector (Retriever.embed_queries keeps
        # recent ones), so the latency timed is the whole path, embedding included
        for mode in ("hybrid", *(m for m in MODES if m != "hybrid")):
            began = time.perf_counter()
            hits = retriever.search(row["question"], category=row["category"], k=10, mode=_MODE_ARG[mode])
            if mode == "hybrid":
                latencies.append((time.perf_counter() - began) * 1000)
            ranked = [(h.article.law, h.article.number) for h in hits]
            for key, value in score(ranked, row["gold"]).items():
                sums[mode][key] += value
            if mode == "hybrid":
                quoted = [(h.article.law, h.article.number) for h in choose(hits)]
                shown += len(quoted)
                shown_gold += len(row["gold"] & set(quoted))
                answered += bool(quoted)
                gold_answered += bool(row["gold"] & set(quoted))
            if mode == "hybrid" and not row["gold"] & set(ranked[:5]):
                top = "、".join(f"{law}{n}" for law, n in ranked[:3])
                misses.append(f"  {row['question'][:30]:<30} gold {sorted(row['gold'])} top {top}")
    n = len(rows)
    figures = {m: {k: round(v / n, 4) for k, v in sums[m].items()} for m in MODES}
    result = {
        "n": n,
        **figures["hybrid"],
        "p50_ms": round(float(np.percentile(latencies, 50)), 2),
        "p95_ms": round(float(np.percentile(latencies, 95)), 2),
        **{m: figures[m] for m in MODES if m != "hybrid"},
        # what a resident is shown: the quotes the answer keeps (actions/grounded_reply.py)
        "shown": {
            "precision": round(shown_gold / shown, 4) if shown else None,
            "quoted_share": round(answered / n, 4),
            "gold_quoted_share": round(gold_answered / n, 4),
            "quotes_per_answer": round(shown / answered, 2) if answered else 0.0,
        },
    }
    return result, misses


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, type=Path)
    args = parser.parse_args(argv)
    if not args.data.is_file():
        print(f"no such file: {args.data}", file=sys.stderr)
        return 2
    rows = read_rows(args.data)
    source = fill_categories(rows)
    retriever = Retriever(get_settings().index_dir)
    retriever.search("预热", k=1)  # load the model's lazy parts before timing
    result, misses = evaluate(retriever, rows)
    result["category_source"] = source
    print(f"{result['n']} questions (categories: {source}); gold outside the hybrid top 5: {len(misses)}")
    for line in misses:
        print(line)
    for mode in MODES:
        f = result if mode == "hybrid" else result[mode]
        print(f"  {mode:<11} {figures_line(f)}")
    seen = result["shown"]
    print(
        f"  shown quotes: precision {seen['precision']} (gold among the quotes an answer keeps), "
        f"{seen['quoted_share']:.3f} of questions quoted, {seen['gold_quoted_share']:.3f} with a gold quote, "
        f"{seen['quotes_per_answer']} per answer"
    )
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
