"""Read-only access to every article version the index was built from.

Separate from the retriever because two processes need it without the
embedding model: the action server quotes articles by id, and the gateway's
citation guard resolves 《法律》第N条 in every outgoing message. SQLite opened
read-only, so any number of readers can share the built file.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from knowledge_base.corpus.statutes import Article, normalise_law_name

ARTICLES_DB = "articles.db"


def _row_to_article(row: sqlite3.Row) -> Article:
    return Article(
        law=row["law"],
        title=row["title"],
        number=row["number"],
        label=row["label"],
        text=row["text"],
        status=row["status"],
        version_date=row["version_date"],
        source=row["source"],
        chapter=row["chapter"] or "",
        section=row["section"] or "",
    )


class ArticleStore:
    def __init__(self, index_dir: Path) -> None:
        path = Path(index_dir) / ARTICLES_DB
        if not path.is_file():
            raise FileNotFoundError(f"no article store at {path}; run `make index`")
        self._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.Lock()  # one connection shared by the server's threads

    def _query(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def indexed(self) -> list[Article]:
        """The articles in the search index, in index order (row id = position)."""
        return [_row_to_article(r) for r in self._query("SELECT * FROM articles WHERE indexed = 1 ORDER BY id")]

    def versions(self, law: str, number: int) -> list[Article]:
        """Every stored version of 《law》第number条: in force first, then newest."""
        rows = self._query(
            "SELECT * FROM articles WHERE law = ? AND number = ? ORDER BY indexed DESC, version_date DESC",
            (normalise_law_name(law), int(number)),
        )
        return [_row_to_article(r) for r in rows]

    def in_force(self, law: str, number: int, label: str | None = None) -> Article | None:
        for article in self.versions(law, number):
            if article.status == "现行有效" and (label is None or article.label == label):
                return article
        return None

    def close(self) -> None:
        self._db.close()
