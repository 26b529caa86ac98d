"""Categories of many texts with the trained model, for tools in the other environment.

`make eval-retrieval` runs in the main environment (torch, faiss) while the
NLU lives in Rasa's; a question without a category must still be retrieved
the way the assistant would retrieve it, with the category the NLU gives it.
This reads JSON lines ``{"text": ...}`` on stdin and writes, in the same order,
``{"intent", "category", "confidence"}`` lines: one process, one model load.

Runs in the Rasa environment: ``python -m nlu.classify --model M < in > out``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")


async def classify(model: Path, texts: list[str]) -> list[dict]:
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    out = []
    for text in texts:
        parse = await agent.parse_message(text)
        intent = parse.get("intent") or {}
        out.append(
            {
                "intent": intent.get("name"),
                "confidence": intent.get("confidence"),
                "category": parse.get("category") or "other_legal",
            }
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, type=Path)
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)  # Rasa's debug events would print every text
    texts = [json.loads(line)["text"] for line in sys.stdin if line.strip()]
    for row in asyncio.run(classify(args.model, texts)):
        print(json.dumps(row, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
