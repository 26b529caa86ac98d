"""The bare Rasa bot `make bench` compares the assistant with (#15 item 3).

A plain Rasa 3.6 assistant on the same machine in the same run: JiebaTokenizer,
character n-grams and DIET, three intents made from the real questions'
categories, one rule each, no custom actions, Rasa's default in-memory tracker
store. What the assistant does beyond that (grounded answers, the citation
guard, the stored message, the hand-off check) is what the ratio prices.
Trained on first use into BUILD_DIR/peer (about a minute), again only when its
inputs change.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
from pathlib import Path

from ops.stack import RASA_PROCESS_ENV, Service
from settings import ROOT, Settings

PROJECT = ROOT / "ops" / "peer_bot"
# the real questions' categories, folded into the peer's three intents
INTENTS = {"labour": "labour", "gig_work": "labour", "lease": "housing", "elevator": "housing"}
# Rasa reads [text](entity) as an annotation: such characters are not the peer's business
ANNOTATION = re.compile(r"[\[\]\(\)\{\}]")


def training_examples(settings: Settings) -> dict[str, list[str]]:
    """The real questions' train split (BUILD_DIR/real-questions, `make real-questions`)."""
    path = settings.build_dir / "real-questions" / "train.jsonl"
    if not path.is_file():
        raise SystemExit(f"{path} is missing: run `make real-questions`")
    examples: dict[str, list[str]] = {"labour": [], "housing": [], "other": []}
    for line in path.read_text("utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            text = " ".join(ANNOTATION.sub(" ", row["text"]).split())
            if text:
                examples[INTENTS.get(row["category"], "other")].append(text)
    return examples


def nlu_yaml(examples: dict[str, list[str]]) -> str:
    lines = ['version: "3.1"', "nlu:"]
    for intent, texts in examples.items():
        lines += [f"  - intent: {intent}", "    examples: |"]
        lines += [f"      - {text}" for text in dict.fromkeys(texts)]
    return "\n".join(lines) + "\n"


def ensure_model(settings: Settings) -> Path:
    """The peer's trained model, trained when its inputs changed or it never was."""
    nlu = nlu_yaml(training_examples(settings))
    inputs = [PROJECT / "config.yml", PROJECT / "domain.yml", PROJECT / "data" / "rules.yml"]
    digest = hashlib.sha256(nlu.encode() + b"".join(p.read_bytes() for p in inputs)).hexdigest()[:16]
    folder = settings.build_dir / "peer"
    model = folder / f"peer-{digest}.tar.gz"
    if model.is_file():
        return model
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "nlu.yml").write_text(nlu, encoding="utf-8")
    print("Training the bare Rasa bot the benchmark compares with (about a minute)…", flush=True)
    subprocess.run(
        [
            str(settings.rasa_venv / "bin" / "rasa"),
            "train",
            "--config",
            str(inputs[0]),
            "--domain",
            str(inputs[1]),
            "--data",
            str(inputs[2]),
            str(folder / "nlu.yml"),
            "--out",
            str(folder),
            "--fixed-model-name",
            model.name.removesuffix(".tar.gz"),
        ],
        cwd=ROOT,
        env={**os.environ, **RASA_PROCESS_ENV},
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return model


def service(settings: Settings, port: int, model: Path) -> Service:
    """`rasa run` of the peer on loopback, its REST channel the only way in."""
    return Service(
        "peer-rasa",
        [
            str(settings.rasa_venv / "bin" / "rasa"),
            "run",
            "-i",
            settings.internal_host,
            "-p",
            str(port),
            "--model",
            str(model),
            "--credentials",
            str(PROJECT / "credentials.yml"),
        ],
        f"http://{settings.internal_host}:{port}/webhooks/rest/",
        settings.var_dir / "logs" / "peer-rasa.log",
        dict(RASA_PROCESS_ENV),
    )
