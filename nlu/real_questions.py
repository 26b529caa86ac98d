"""Real residents' questions as training data, read from the shared folder at build time.

Why a build step and not a YAML file in ``nlu/data``: the questions come from
public datasets, several without a licence (``../shared/questions/README.md``),
so their texts stay in the shared folder and only their intents live here
(``nlu/real_question_intents.yml``, keyed by ``source_ref``). ``make model``
runs this module first: it splits the rows reproducibly (stratified by
category, a fixed seed, order-independent) into a part that is trained on and
a dev part that is only measured on, and writes

- ``<out>/nlu/real_questions.yml``: the training part as Rasa NLU data, passed
  to ``rasa train`` beside ``nlu/data``;
- ``<out>/train.jsonl`` and ``<out>/dev.jsonl``: ``{"text", "category",
  "intent", "source_ref"}`` lines for ``make eval-nlu``.

Pure Python plus PyYAML so that both virtual environments can run it.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import yaml

LABELS_PATH = Path(__file__).with_name("real_question_intents.yml")
QUESTIONS_FILE = "intents_train.jsonl"
DEV_FRACTION = 0.3
SEED = "haizhu-real-questions-v1"


@dataclass(frozen=True)
class RealQuestion:
    text: str
    category: str
    intent: str
    source_ref: str

    def as_json(self) -> str:
        return json.dumps(
            {"text": self.text, "category": self.category, "intent": self.intent,
             "source_ref": self.source_ref},
            ensure_ascii=False,
        )


def default_questions_dir() -> Path:
    """``QUESTIONS_DIR``, else ``../shared/questions`` beside the checkout."""
    configured = os.environ.get("QUESTIONS_DIR")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2] / "shared" / "questions"


def load_labels(path: Path = LABELS_PATH) -> dict[str, str]:
    with open(path, encoding="utf-8") as fh:
        return dict(yaml.safe_load(fh)["intents"])


def load(questions_dir: Path, labels: dict[str, str] | None = None) -> list[RealQuestion]:
    """Every labelled row; a row without an intent is an error, not a silent skip,
    so a new version of the shared file cannot quietly lose training data."""
    labels = load_labels() if labels is None else labels
    rows: list[RealQuestion] = []
    missing: list[str] = []
    with open(questions_dir / QUESTIONS_FILE, encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            raw = json.loads(line)
            ref = raw["source_ref"]
            if ref not in labels:
                missing.append(ref)
                continue
            rows.append(RealQuestion(raw["text"], raw["category"], labels[ref], ref))
    if missing:
        raise ValueError(f"{len(missing)} rows have no intent in {LABELS_PATH.name}, e.g. {missing[0]}")
    return rows


def _rank(ref: str) -> str:
    return hashlib.sha256(f"{SEED}|{ref}".encode()).hexdigest()


def split(rows: Iterable[RealQuestion], dev_fraction: float = DEV_FRACTION
          ) -> tuple[list[RealQuestion], list[RealQuestion]]:
    """(train, dev): in each category the rows with the smallest seeded hash of
    their source_ref go to dev, so the split does not depend on file order and
    a row added later does not move the others."""
    by_category: dict[str, list[RealQuestion]] = {}
    for row in rows:
        by_category.setdefault(row.category, []).append(row)
    train: list[RealQuestion] = []
    dev: list[RealQuestion] = []
    for category in sorted(by_category):
        ranked = sorted(by_category[category], key=lambda r: _rank(r.source_ref))
        n_dev = max(1, round(len(ranked) * dev_fraction)) if len(ranked) > 1 else 0
        dev += ranked[:n_dev]
        train += ranked[n_dev:]
    return train, dev


def training_text(text: str) -> str:
    """One line of Rasa training data: no line breaks, and no square brackets,
    which Rasa would read as an entity annotation."""
    flat = " ".join(text.split())
    return flat.replace("[", "【").replace("]", "】")


def rasa_nlu_yaml(rows: Iterable[RealQuestion], intent_category: dict[str, str]) -> str:
    """Rasa NLU data; a row whose category differs from its intent's fixed one
    (a request naming its dispute, a 定金 in a tenancy) carries it as metadata,
    which the category classifier learns (nlu/components/category_resolver.py)."""
    by_intent: dict[str, list[dict]] = {}
    for row in rows:
        example: dict = {"text": training_text(row.text)}
        if intent_category.get(row.intent) != row.category:
            example["metadata"] = {"category": row.category}
        by_intent.setdefault(row.intent, []).append(example)
    data = {"version": "3.1",
            "nlu": [{"intent": intent, "examples": examples}
                    for intent, examples in sorted(by_intent.items())]}
    header = ("# Generated by nlu/real_questions.py from the shared real questions;"
              " not for the repository.\n")
    return header + yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=1000)


def build(questions_dir: Path, out: Path) -> tuple[int, int]:
    from nlu.taxonomy import load as load_taxonomy

    taxonomy = load_taxonomy()
    rows = load(questions_dir)
    unknown = sorted({r.intent for r in rows} - set(taxonomy.intent_category))
    if unknown:
        raise ValueError(f"intents not in nlu/taxonomy.yml: {', '.join(unknown)}")
    train, dev = split(rows)
    (out / "nlu").mkdir(parents=True, exist_ok=True)
    (out / "nlu" / "real_questions.yml").write_text(
        rasa_nlu_yaml(train, dict(taxonomy.intent_category)), encoding="utf-8")
    for name, part in (("train.jsonl", train), ("dev.jsonl", dev)):
        (out / name).write_text("".join(r.as_json() + "\n" for r in part), encoding="utf-8")
    return len(train), len(dev)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions-dir", type=Path, default=None)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    questions_dir = args.questions_dir or default_questions_dir()
    if not (questions_dir / QUESTIONS_FILE).is_file():
        # a checkout without the shared folder still trains, on our own examples only
        (args.out / "nlu").mkdir(parents=True, exist_ok=True)
        (args.out / "nlu" / "real_questions.yml").write_text('version: "3.1"\nnlu: []\n', encoding="utf-8")
        for name in ("train.jsonl", "dev.jsonl"):
            (args.out / name).unlink(missing_ok=True)
        print(f"no {QUESTIONS_FILE} in {questions_dir}: training without real questions", file=sys.stderr)
        return 0
    n_train, n_dev = build(questions_dir, args.out)
    print(f"real questions: {n_train} to train on, {n_dev} in the dev split ({args.out})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
