"""A learned reranker: the probability that a candidate article is one a legal
annotator would choose for the question, from what the retrievers say about it.

Why: reciprocal-rank fusion weighs every list alike and knows no scores. On
real questions (STARD's, ``../shared/questions/retrieval_train.jsonl``) an
article that dense, BM25 and the neighbours' votes agree on is usually right,
one that only BM25 ranks high usually is not, and an article of the law most
candidates come from is more likely than a stray one. A logistic regression on
such evidence (ranks, similarities, agreement, the law's share of the
candidates, the question's category enters as prior odds) learns those
weights from the answered questions of the bank, each scored with its own
vote left out. Its features say nothing about a topic or a law by name, so
what it learns from contract and tort questions carries to labour and lease
ones; its probability is also what decides whether a quote is shown at all
(actions/grounded_reply.py).

The law is too coarse a unit for 民法典, where half the candidates of any
civil question come from: the chapter is what a question lands in (a lease
question in 租赁合同, a neighbour one in 相邻关系), so the candidates' and the
votes' share of the chapter, and how many near-numbered articles of the same
law are candidates too, are features beside the law's. The character pairs a
question and an article share say what the dense vector blurs and BM25's
segmentation splits. Checked on the real questions by leaving each law family
out of training in turn (contracts, property, torts, personality rights,
general part, the rest), so that what is kept carries to themes the bank does
not have; learned intent → chapter priors measured better on the bank's dev
part but worse for a family left out, and were dropped (README).

The model is a few dozen numbers in JSON beside the index
(``reranker.json``), rebuilt by ``make index`` when the bank or the index
changes (knowledge_base/indexing/reranker_training.py), never committed.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

RERANKER_FILE = "reranker.json"
RRF_K = 10  # reciprocal-rank k, of the fusion (knowledge_base/retrieval/retriever.py) and of these features alike:
# small, to trust the top of each list (tuned on the dev set)
LAW_WINDOW = 20  # candidates whose laws make up "the law most candidates come from"
FEATURES = (
    "dense_rr",
    "dense_sim",
    "dense_gap",
    "lexical_rr",
    "lexical_rel",
    "issue_rr",
    "issue_hit",
    "bank_rr",
    "bank_vote",
    "fused",
    "law_share",
    "law_votes",
    "lists",
    "log_length",
    "chapter_share",
    "nearby",
    "overlap_article",
    "overlap_question",
    "chapter_votes",
    "parts_rr",
    "parts_sim",
    "parts_gap",
)
FEATURE_VERSION = "v3:" + ",".join(FEATURES)
NEARBY = 3  # articles this close in number, in the same law, count as neighbours of a candidate
_HAN = re.compile(r"[^\u4e00-\u9fff]")


def char_bigrams(text: str) -> np.ndarray:
    """The Chinese character pairs of `text`, each as one number (sorted,
    unique): a word-segmentation-free view of what a question and an article
    share (jieba splits lay and statute wording of one term differently:
    押金 / 押金条, 工伤 / 工伤保险). Numbers, not strings: a few hundred bytes
    an article where a set of strings costs tens of kilobytes. The characters kept
    (U+4E00–U+9FFF) need 16 bits each, so a pair fits 32."""
    han = np.frombuffer(_HAN.sub("", text).encode("utf-32-le"), dtype=np.uint32)
    return np.unique((han[:-1] << np.uint32(16)) | han[1:]) if len(han) > 1 else np.zeros(0, dtype=np.uint32)


def shared_pairs_each(asked: np.ndarray, each: Sequence[np.ndarray]) -> np.ndarray:
    """How many of `asked`'s character pairs each array of `each` holds (all as
    char_bigrams gives them: sorted, unique), in a few array operations for all the
    candidates of a question: one intersect1d per candidate article was ~170 NumPy
    calls a question, 8 % of the action server's busy time under load."""
    counts = np.zeros(len(each), dtype=np.int64)
    lengths = np.fromiter((len(p) for p in each), dtype=np.int64, count=len(each))
    if not len(asked) or not lengths.sum():
        return counts
    flat = np.concatenate(each)
    found = asked[np.minimum(np.searchsorted(asked, flat), len(asked) - 1)] == flat
    owner = np.repeat(np.arange(len(each)), lengths)
    return np.bincount(owner[found], minlength=len(each))


@dataclass
class Evidence:
    """What the retrievers said about one candidate article."""

    article: int
    law: str
    length: int
    dense_rank: int | None = None
    dense_sim: float = 0.0
    lexical_rank: int | None = None
    lexical_score: float = 0.0
    issue_rank: int | None = None
    bank_rank: int | None = None
    bank_vote: float = 0.0
    law_weight: float = 1.0  # how much the question's category favours the law (1: no category, or not its law)
    fused: float = 0.0  # reciprocal-rank fusion of the lists, before the law weight
    number: int = 0  # the article's number in its law
    chapter: str = ""  # its chapter heading (编/章), "" where the law has none
    overlap_article: float = 0.0  # share of the article's character pairs the question also has
    overlap_question: float = 0.0  # share of the question's character pairs the article also has
    parts_rank: int | None = None  # place among the articles whose best paragraph or item is nearest
    parts_sim: float = 0.0


@dataclass
class Pool:
    """Every candidate of one question, with what is needed to compare them."""

    evidence: list[Evidence] = field(default_factory=list)
    floor_sim: float = 0.0  # the lowest dense similarity seen: a candidate dense did not rank is below it
    floor_parts_sim: float = 0.0  # the same for the articles' parts

    def matrix(self) -> np.ndarray:
        if not self.evidence:
            return np.zeros((0, len(FEATURES)), dtype=np.float32)
        best_sim = max((e.dense_sim for e in self.evidence if e.dense_rank), default=self.floor_sim)
        best_parts = max((e.parts_sim for e in self.evidence if e.parts_rank), default=self.floor_parts_sim)
        best_lex = max((e.lexical_score for e in self.evidence), default=0.0) or 1.0
        top = sorted(self.evidence, key=lambda e: -e.fused)[:LAW_WINDOW]
        law_count: dict[str, int] = {}
        chapter_count: dict[tuple[str, str], int] = {}
        for e in top:
            law_count[e.law] = law_count.get(e.law, 0) + 1
            chapter_count[(e.law, e.chapter)] = chapter_count.get((e.law, e.chapter), 0) + 1
        votes_by_law: dict[str, float] = {}
        votes_by_chapter: dict[tuple[str, str], float] = {}
        for e in self.evidence:
            votes_by_law[e.law] = votes_by_law.get(e.law, 0.0) + e.bank_vote
            votes_by_chapter[(e.law, e.chapter)] = votes_by_chapter.get((e.law, e.chapter), 0.0) + e.bank_vote
        all_votes = sum(votes_by_law.values()) or 1.0
        rows = []
        for e in self.evidence:
            nearby = sum(1 for t in top if t is not e and t.law == e.law and abs(t.number - e.number) <= NEARBY)
            sim = e.dense_sim if e.dense_rank else self.floor_sim
            parts_sim = e.parts_sim if e.parts_rank else self.floor_parts_sim
            rows.append(
                [
                    1.0 / (RRF_K + e.dense_rank) if e.dense_rank else 0.0,
                    sim,
                    best_sim - sim,
                    1.0 / (RRF_K + e.lexical_rank) if e.lexical_rank else 0.0,
                    e.lexical_score / best_lex,
                    1.0 / (RRF_K + e.issue_rank) if e.issue_rank else 0.0,
                    1.0 if e.issue_rank else 0.0,
                    1.0 / (RRF_K + e.bank_rank) if e.bank_rank else 0.0,
                    e.bank_vote,
                    e.fused,
                    law_count.get(e.law, 0) / max(len(top), 1),
                    votes_by_law.get(e.law, 0.0) / all_votes,
                    sum(r is not None for r in (e.dense_rank, e.lexical_rank, e.issue_rank, e.bank_rank)) / 4,
                    math.log1p(e.length),
                    chapter_count.get((e.law, e.chapter), 0) / max(len(top), 1),
                    nearby / LAW_WINDOW,
                    e.overlap_article,
                    e.overlap_question,
                    votes_by_chapter.get((e.law, e.chapter), 0.0) / all_votes,
                    1.0 / (RRF_K + e.parts_rank) if e.parts_rank else 0.0,
                    parts_sim,
                    best_parts - parts_sim,
                ]
            )
        return np.asarray(rows, dtype=np.float32)


class Reranker:
    """Standardised features → logistic regression → P(gold)."""

    def __init__(
        self,
        mean: Sequence[float],
        scale: Sequence[float],
        coef: Sequence[float],
        intercept: float,
        meta: dict | None = None,
    ) -> None:
        self.mean = np.asarray(mean, dtype=np.float32)
        self.scale = np.asarray(scale, dtype=np.float32)
        self.coef = np.asarray(coef, dtype=np.float32)
        self.intercept = float(intercept)
        self.meta = meta or {}

    def probabilities(self, pool: Pool) -> np.ndarray:
        """P(gold) of each candidate. The question's category enters as prior
        odds: a law that governs it multiplies the odds by its weight
        (knowledge_base/content/category_laws.yml), as it multiplied the fused score;
        the bank's questions carry no category, so this is not learned."""
        x = pool.matrix()
        if not len(x):
            return np.zeros(0, dtype=np.float32)
        prior = np.log(np.array([e.law_weight for e in pool.evidence], dtype=np.float32))
        z = ((x - self.mean) / self.scale) @ self.coef + self.intercept + prior
        return 1.0 / (1.0 + np.exp(-z))

    def save(self, path: Path) -> None:
        path.write_text(
            json.dumps(
                {
                    "features": FEATURE_VERSION,
                    "mean": self.mean.tolist(),
                    "scale": self.scale.tolist(),
                    "coef": self.coef.tolist(),
                    "intercept": self.intercept,
                    **self.meta,
                },
                ensure_ascii=False,
                indent=1,
            ),
            encoding="utf-8",
        )

    @classmethod
    def load(cls, path: Path) -> Reranker | None:
        """The trained reranker, or None when absent or trained on other features."""
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if raw.get("features") != FEATURE_VERSION:
            return None
        meta = {k: v for k, v in raw.items() if k not in ("features", "mean", "scale", "coef", "intercept")}
        return cls(raw["mean"], raw["scale"], raw["coef"], raw["intercept"], meta)


def fit(matrices: Sequence[np.ndarray], labels: Sequence[np.ndarray], c: float = 1.0) -> Reranker:
    """A logistic regression on the pooled candidates of many questions."""
    from sklearn.linear_model import LogisticRegression

    x = np.concatenate(matrices)
    y = np.concatenate(labels)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=c, max_iter=2000)
    model.fit((x - mean) / scale, y)
    return Reranker(mean, scale, model.coef_[0], float(model.intercept_[0]))
