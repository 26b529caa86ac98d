"""`make eval-nlu DATA=file.jsonl`: category accuracy of the trained model.

Reads lines ``{"text": ..., "category": ...}`` (other fields ignored, except an
optional ``intent`` used for the extra intent and emergency figures), parses
every text with the trained Rasa model exactly as the server would, and prints
a readable table followed, as the LAST line, by one JSON object:
``{"n", "accuracy", "macro_f1", "per_category", "confusion", "fallback_rate",
"accuracy_by_length", ...}``.

``fallback_rate`` is the share of texts that would get clarification buttons
instead of an answer (intent ``nlu_fallback``), over all texts and, as
``fallback_rate_legal``, over the legal questions (every category but
chitchat). ``accuracy_by_length`` splits the accuracy by the text's length in
characters (≤ 40, 41–120, > 120): a long complaint should be understood as
well as a short question.

Runs in the Rasa environment: ``python -m nlu.evaluate --model M --data F``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")

from nlu.taxonomy import load as load_taxonomy  # noqa: E402


def read_rows(path: Path) -> list[dict[str, Any]]:
    rows = []
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise SystemExit(f"{path}:{number}: not JSON ({exc.msg})") from None
            if (
                not isinstance(row, dict)
                or not isinstance(row.get("text"), str)
                or not isinstance(row.get("category"), str)
            ):
                raise SystemExit(f'{path}:{number}: needs string fields "text" and "category"')
            rows.append(row)
    if not rows:
        raise SystemExit(f"{path}: no rows")
    return rows


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def category_metrics(gold: list[str], pred: list[str], dispute: Iterable[str]) -> dict[str, Any]:
    labels = sorted(set(gold) | set(pred))
    confusion: dict[str, dict[str, int]] = {g: {} for g in sorted(set(gold))}
    for g, p in zip(gold, pred, strict=False):
        confusion[g][p] = confusion[g].get(p, 0) + 1
    per_category = {}
    tp = Counter(g for g, p in zip(gold, pred, strict=False) if g == p)
    gold_count, pred_count = Counter(gold), Counter(pred)
    for label in labels:
        precision = tp[label] / pred_count[label] if pred_count[label] else 0.0
        recall = tp[label] / gold_count[label] if gold_count[label] else 0.0
        per_category[label] = {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(_f1(precision, recall), 4),
            "support": gold_count[label],
        }
    supported = [c for c in labels if gold_count[c]]
    dispute_supported = [c for c in supported if c in set(dispute)]
    macro = sum(per_category[c]["f1"] for c in supported) / len(supported)
    result = {
        "n": len(gold),
        "accuracy": round(sum(tp.values()) / len(gold), 4),
        "macro_f1": round(macro, 4),
        "per_category": per_category,
        "confusion": confusion,
    }
    if dispute_supported:
        result["macro_f1_dispute"] = round(
            sum(per_category[c]["f1"] for c in dispute_supported) / len(dispute_supported), 4
        )
    return result


async def parse_all(model: Path, texts: list[str]) -> list[dict[str, Any]]:
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    return [await agent.parse_message(text) for text in texts]


LENGTH_BANDS = (("<=40", 0, 40), ("41-120", 41, 120), (">120", 121, 10**9))


def length_band(text: str) -> str:
    n = len(text.strip())
    return next(name for name, low, high in LENGTH_BANDS if low <= n <= high)


def accuracy_by_length(rows: list[dict[str, Any]], pred: list[str]) -> dict[str, dict[str, float | None]]:
    bands: dict[str, list[bool]] = {name: [] for name, _, _ in LENGTH_BANDS}
    for row, category in zip(rows, pred, strict=False):
        bands[length_band(row["text"])].append(category == row["category"])
    return {
        name: {"n": len(hits), "accuracy": round(sum(hits) / len(hits), 4) if hits else None}
        for name, hits in bands.items()
    }


def fallback_rates(rows: list[dict[str, Any]], intents: list[str]) -> dict[str, float | None]:
    fell = [i == "nlu_fallback" for i in intents]
    legal = [f for f, r in zip(fell, rows, strict=False) if r["category"] != "chitchat"]
    return {
        "fallback_rate": round(sum(fell) / len(fell), 4),
        "fallback_rate_legal": round(sum(legal) / len(legal), 4) if legal else None,
    }


def evaluate(model: Path, rows: list[dict[str, Any]]) -> tuple[dict[str, Any], list[str]]:
    taxonomy = load_taxonomy()
    parses = asyncio.run(parse_all(model, [r["text"] for r in rows]))
    gold = [r["category"] for r in rows]
    pred = []
    predicted_intents = []
    mistakes = []
    intent_hits = intent_total = 0
    emergency_hits = emergency_total = 0
    for row, parse in zip(rows, parses, strict=False):
        intent = (parse.get("intent") or {}).get("name")
        category = parse.get("category") or taxonomy.resolve(intent, parse.get("intent_ranking") or [])
        pred.append(category)
        predicted_intents.append(intent or "")
        if "intent" in row:
            intent_total += 1
            top = intent
            if intent == "nlu_fallback" and parse.get("intent_ranking"):
                top = next((r["name"] for r in parse["intent_ranking"] if r["name"] != "nlu_fallback"), top)
            intent_hits += top == row["intent"]
            if row["intent"] == "emergency":
                emergency_total += 1
                emergency_hits += intent == "emergency"
        if category != row["category"]:
            mistakes.append(f"  {row['category']:>11} → {category:<11} {intent or '':<24} {row['text'][:40]}")
    result = category_metrics(gold, pred, taxonomy.dispute_categories)
    result.update(fallback_rates(rows, predicted_intents))
    result["accuracy_by_length"] = accuracy_by_length(rows, pred)
    if intent_total:
        result["intent_accuracy"] = round(intent_hits / intent_total, 4)
    if emergency_total:
        result["emergency_recall"] = round(emergency_hits / emergency_total, 4)
    return result, mistakes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, type=Path)
    parser.add_argument("--data", required=True, type=Path)
    args = parser.parse_args(argv)
    if not args.data.is_file():
        print(f"no such file: {args.data}", file=sys.stderr)
        return 2
    logging.disable(logging.WARNING)
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)  # Rasa's debug events would print every text
    rows = read_rows(args.data)
    result, mistakes = evaluate(args.model, rows)
    print(f"{len(rows)} texts, {len(mistakes)} with the wrong category")
    for line in mistakes:
        print(line)
    for name, m in result["per_category"].items():
        print(f"  {name:<12} P={m['precision']:.3f} R={m['recall']:.3f} F1={m['f1']:.3f} n={m['support']}")
    print(
        f"  clarification buttons: {result['fallback_rate']:.3f} of all, "
        f"{result['fallback_rate_legal'] or 0:.3f} of legal questions"
    )
    for band, m in result["accuracy_by_length"].items():
        if m["n"]:
            print(f"  length {band:>7}: accuracy {m['accuracy']:.3f} (n={m['n']})")
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
