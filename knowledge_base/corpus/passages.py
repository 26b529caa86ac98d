"""Articles → passages that fit the embedding window.

Most articles fit whole; a long one (some run to thousands of characters) is
cut into overlapping windows, at sentence ends where possible, each pointing
back to its article so retrieval always answers with whole articles.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from knowledge_base.corpus.statutes import Article

MAX_CHARS = 320  # about 250 XLM-R tokens of Chinese, under a 256-token window with the heading
OVERLAP = 64
_SENTENCE_END = re.compile(r"[。；！？\n]")


@dataclass(frozen=True)
class Passage:
    article: int  # index into the indexed article list
    part: int  # 0 for the first (or only) window
    text: str  # what is embedded and matched: heading + window


def heading(article: Article) -> str:
    return f"《{article.law}》{article.label}"


def windows(text: str, max_chars: int = MAX_CHARS, overlap: int = OVERLAP) -> list[str]:
    """Overlapping windows of at most max_chars, cut after a sentence end when
    one falls in the second half of the window."""
    if len(text) <= max_chars:
        return [text]
    out: list[str] = []
    start = 0
    while start < len(text):
        end = min(start + max_chars, len(text))
        if end < len(text):
            ends = [m.end() for m in _SENTENCE_END.finditer(text, start + max_chars // 2, end)]
            end = ends[-1] if ends else end
        out.append(text[start:end])
        if end >= len(text):
            break
        start = max(end - overlap, start + 1)
    return out


def split_articles(articles: list[Article]) -> list[Passage]:
    passages = []
    for index, article in enumerate(articles):
        head = heading(article)
        for part, window in enumerate(windows(article.text)):
            passages.append(Passage(index, part, f"{head} {window}"))
    return passages
