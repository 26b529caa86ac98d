"""Hybrid retrieval: dense (faiss) and lexical (BM25) fused by reciprocal rank,
deduplicated to articles, optionally boosted toward the laws that govern the
question's category.

Why both: dense vectors carry meaning across colloquial phrasing (「炒鱿鱼」 ~
解除劳动合同); BM25 anchors exact legal terms and numbers (押金, 二倍工资)
that a small embedding model blurs. Reciprocal-rank fusion needs no score
calibration between the two.
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Optional

import numpy as np
import yaml

from knowledge_base.index import encode, load_embedder, read_manifest
from knowledge_base.lexical import LexicalIndex
from knowledge_base.statutes import Article, normalise_law_name

RRF_K = 60
DEPTH = 100          # candidates taken from each list before fusion
CATEGORY_BOOST = 1.5
CATEGORY_LAWS_PATH = Path(__file__).with_name("category_laws.yml")


@dataclass(frozen=True)
class Hit:
    article: Article
    score: float
    dense_rank: Optional[int]
    lexical_rank: Optional[int]


@lru_cache(maxsize=1)
def category_laws() -> dict[str, list[tuple[str, int, int]]]:
    raw = yaml.safe_load(CATEGORY_LAWS_PATH.read_text(encoding="utf-8"))
    rules: dict[str, list[tuple[str, int, int]]] = {}
    for category, entries in raw.items():
        for entry in entries:
            if isinstance(entry, str):
                rules.setdefault(category, []).append((normalise_law_name(entry), 0, 10**6))
            else:
                rules.setdefault(category, []).append(
                    (normalise_law_name(entry["law"]), int(entry["from"]), int(entry["to"])))
    return rules


def governs(category: Optional[str], article: Article) -> bool:
    return any(article.law == law and lo <= article.number <= hi
               for law, lo, hi in category_laws().get(category or "", []))


def _row_to_article(row: sqlite3.Row) -> Article:
    return Article(law=row["law"], title=row["title"], number=row["number"], label=row["label"],
                   text=row["text"], status=row["status"], version_date=row["version_date"],
                   source=row["source"], chapter=row["chapter"] or "", section=row["section"] or "")


class Retriever:
    def __init__(self, directory: Path, model=None) -> None:
        import faiss

        manifest = read_manifest(directory)
        if manifest is None:
            raise FileNotFoundError(f"no index at {directory}; run `make index`")
        self.manifest = manifest
        self.model = model or load_embedder(manifest.model)
        self.dense = faiss.read_index(str(directory / "dense.faiss"))
        self.passage_article = np.load(directory / "passage_article.npy")
        self.lexical = LexicalIndex.load(directory / "bm25")
        self._db = sqlite3.connect(f"file:{directory / 'articles.db'}?mode=ro", uri=True, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        rows = self._db.execute("SELECT * FROM articles WHERE indexed = 1 ORDER BY id").fetchall()
        self.articles = [_row_to_article(r) for r in rows]

    # -- search ---------------------------------------------------------------
    def _ranked_articles(self, passage_ids: list[int]) -> list[int]:
        seen: dict[int, None] = {}
        for p in passage_ids:
            seen.setdefault(int(self.passage_article[p]), None)
        return list(seen)

    def dense_articles(self, text: str, depth: int = DEPTH) -> list[int]:
        vector = encode(self.model, [text], "query")
        _, ids = self.dense.search(vector, depth)
        return self._ranked_articles([i for i in ids[0] if i >= 0])

    def lexical_articles(self, text: str, depth: int = DEPTH) -> list[int]:
        return self._ranked_articles([p for p, _ in self.lexical.search(text, depth)])

    def search(self, text: str, category: Optional[str] = None, k: int = 5,
               mode: str = "hybrid") -> list[Hit]:
        dense = self.dense_articles(text) if mode in ("hybrid", "dense") else []
        lexical = self.lexical_articles(text) if mode in ("hybrid", "lexical") else []
        dense_rank = {a: r for r, a in enumerate(dense, 1)}
        lexical_rank = {a: r for r, a in enumerate(lexical, 1)}
        scores: dict[int, float] = {}
        for ranks in (dense_rank, lexical_rank):
            for article, rank in ranks.items():
                scores[article] = scores.get(article, 0.0) + 1.0 / (RRF_K + rank)
        if category:
            for article in scores:
                if governs(category, self.articles[article]):
                    scores[article] *= CATEGORY_BOOST
        best = sorted(scores, key=lambda a: -scores[a])[:k]
        return [Hit(self.articles[a], scores[a], dense_rank.get(a), lexical_rank.get(a)) for a in best]

    # -- citations ------------------------------------------------------------
    def versions(self, law: str, number: int) -> list[Article]:
        """Every indexed version of 《law》第number条, in force first."""
        rows = self._db.execute(
            "SELECT * FROM articles WHERE law = ? AND number = ? ORDER BY indexed DESC, version_date DESC",
            (normalise_law_name(law), int(number))).fetchall()
        return [_row_to_article(r) for r in rows]
