"""A bank of answered questions: real lay questions whose articles legal annotators chose.

Why: the article that decides a lay question often shares few words with it
(「定金不退」 is decided by 民法典第五百八十七条, which never says 不退), and a
small embedding model blurs statute wording. Questions, though, resemble
questions: the nearest answered questions to a resident's (by the same e5
embedding, the same dense-query wording) vote for their gold articles, and the
votes are one more ranked list in the reciprocal-rank fusion
(knowledge_base/retrieval/retriever.py). This is learned from data: nothing is written
per question, and a question with no near neighbour gets no votes.

The rows are ``../shared/questions/retrieval_train.jsonl`` (``QUESTIONS_DIR``,
STARD via the README there), read at build time and never copied into the
repository. They are split reproducibly (seeded hash of ``source_ref``) into
the bank (70 %) and a dev part that is only measured on; ``make index`` writes
both parts as ``build/real-questions/retrieval_{bank,dev}.jsonl`` and the
bank's vectors into the index directory (``question_bank/``), rebuilt when
the rows or the model change.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from knowledge_base.corpus.statutes import normalise_law_name

BANK_FILE = "retrieval_train.jsonl"
DEV_FRACTION = 0.3
SEED = "haizhu-question-bank-v1"
NEIGHBOURS = 10  # answered questions that vote
MIN_SIMILARITY = 0.88  # cosine below which a neighbour is no evidence (e5 scores are high overall;
# chosen by leave-one-out on the bank part, never on its dev part)
BANK_DIR = "question_bank"


@dataclass(frozen=True)
class AnsweredQuestion:
    question: str
    gold: tuple[tuple[str, int], ...]
    source_ref: str

    def as_json(self) -> str:
        return json.dumps(
            {
                "question": self.question,
                "source_ref": self.source_ref,
                "gold": [{"law": law, "article": n} for law, n in self.gold],
            },
            ensure_ascii=False,
        )


def load_rows(questions_dir: Path) -> list[AnsweredQuestion]:
    rows = []
    with open(questions_dir / BANK_FILE, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                raw = json.loads(line)
                gold = tuple((normalise_law_name(g["law"]), int(g["article"])) for g in raw["gold"])
                rows.append(AnsweredQuestion(raw["question"], gold, raw["source_ref"]))
    return rows


def split(
    rows: Iterable[AnsweredQuestion], dev_fraction: float = DEV_FRACTION
) -> tuple[list[AnsweredQuestion], list[AnsweredQuestion]]:
    """(bank, dev) by a seeded hash of source_ref: independent of file order."""
    bank: list[AnsweredQuestion] = []
    dev: list[AnsweredQuestion] = []
    for row in rows:
        digest = int(hashlib.sha256(f"{SEED}|{row.source_ref}".encode()).hexdigest(), 16)
        (dev if (digest % 1000) / 1000 < dev_fraction else bank).append(row)
    return bank, dev


def fingerprint(rows: Sequence[AnsweredQuestion], model: str) -> str:
    digest = hashlib.sha256(model.encode())
    for row in rows:
        digest.update(row.as_json().encode())
    return digest.hexdigest()[:24]


class QuestionBank:
    """Vectors of the bank's questions and their gold articles."""

    def __init__(self, vectors: np.ndarray, gold: list[list[tuple[str, int]]]) -> None:
        self.vectors = vectors.astype(np.float32)
        self.gold = gold

    @classmethod
    def load(cls, index_dir: Path) -> QuestionBank | None:
        folder = index_dir / BANK_DIR
        try:
            vectors = np.load(folder / "vectors.npy")
            meta = json.loads((folder / "bank.json").read_text("utf-8"))
        except (OSError, ValueError):
            return None
        return cls(vectors, [[(law, int(n)) for law, n in g] for g in meta["gold"]])

    def votes(
        self,
        vector: np.ndarray,
        neighbours: int = NEIGHBOURS,
        min_similarity: float = MIN_SIMILARITY,
        leave_out: int | None = None,
    ) -> list[tuple[tuple[str, int], float]]:
        """Gold articles of the nearest answered questions, best first: each
        neighbour adds its similarity above the floor to each of its articles.
        `leave_out` silences one bank question (its own vote, when it is asked)."""
        if not len(self.vectors):
            return []
        similarity = self.vectors @ vector.reshape(-1)
        if leave_out is not None:
            similarity[leave_out] = -1.0
        order = np.argsort(-similarity)[:neighbours]
        scores: dict[tuple[str, int], float] = {}
        for j in order:
            s = float(similarity[j])
            if s < min_similarity:
                break
            for key in self.gold[j]:
                scores[key] = scores.get(key, 0.0) + (s - min_similarity)
        return sorted(scores.items(), key=lambda kv: -kv[1])


def build_bank(
    index_dir: Path, load_model, model_name: str, questions_dir: Path, cache_path: Path, split_out: Path | None = None
) -> int | None:
    """Embed the bank part into `index_dir`/question_bank unless it is current
    (`load_model` is called only then); returns the bank's size (None without
    the shared file)."""
    from knowledge_base.embedding.embedding_cache import EmbeddingCache
    from knowledge_base.indexing.index import encode
    from knowledge_base.retrieval.colloquial import expand_for_dense

    if not (questions_dir / BANK_FILE).is_file():
        return None
    bank, dev = split(load_rows(questions_dir))
    if split_out is not None:
        split_out.mkdir(parents=True, exist_ok=True)
        for name, part in (("retrieval_bank.jsonl", bank), ("retrieval_dev.jsonl", dev)):
            (split_out / name).write_text("".join(r.as_json() + "\n" for r in part), encoding="utf-8")
    folder = index_dir / BANK_DIR
    stamp = fingerprint(bank, model_name)
    try:
        if json.loads((folder / "bank.json").read_text("utf-8")).get("fingerprint") == stamp:
            return len(bank)
    except (OSError, ValueError):
        pass
    # in the passages' cache: a fresh clone or a second index reuses the vectors
    cache = EmbeddingCache(cache_path, model_name, "query")
    try:
        vectors, _ = cache.vectors(
            [expand_for_dense(r.question) for r in bank], lambda batch: encode(load_model(), batch, "query")
        )
    finally:
        cache.close()
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "vectors.npy", vectors)
    (folder / "bank.json").write_text(
        json.dumps({"fingerprint": stamp, "gold": [list(r.gold) for r in bank]}, ensure_ascii=False), encoding="utf-8"
    )
    return len(bank)
