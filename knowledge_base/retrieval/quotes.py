"""How an article is quoted to a resident: exact text, citation, status, version.

The text shown is the indexed text itself, never rewritten; of a long article
the paragraphs or items that answer the question are shown
(knowledge_base/retrieval/article_parts.py), else its start cut at a sentence boundary,
with skipped text marked "……" and the whole article one tap away
(actions/show_article.py). The citation line always carries the
validity status, so the citation guard can check it (knowledge_base/corpus/citations.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from knowledge_base.corpus.statutes import Article
from knowledge_base.retrieval.article_parts import SKIP, focused_excerpt

QUOTE_CHARS = 150  # an excerpt longer than this is trimmed
MARKERS = "①②③④⑤⑥⑦⑧⑨"
_SENTENCE_END = re.compile(r"[。；！？\n]")
_CLAUSE_END = re.compile(r"[，、：]")


@dataclass(frozen=True)
class Quote:
    article: Article
    text: str  # what is shown: the citation line and the (possibly trimmed) text
    trimmed: bool


def article_ref(article: Article) -> str:
    """A stable reference to one article, used in button payloads: law|number|label."""
    return f"{article.law}|{article.number}|{article.label}"


def parse_ref(ref: str) -> tuple[str, int, str] | None:
    parts = (ref or "").split("|")
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    return parts[0], int(parts[1]), parts[2]


def excerpt(text: str, max_chars: int = QUOTE_CHARS) -> tuple[str, bool]:
    """The longest prefix of whole sentences within max_chars (else whole clauses,
    else a hard cut), and whether anything was left out."""
    text = text.strip()
    if len(text) <= max_chars:
        return text, False
    ends = [m.end() for m in _SENTENCE_END.finditer(text, 0, max_chars)]
    if not ends:
        ends = [m.end() for m in _CLAUSE_END.finditer(text, 0, max_chars)]
    cut = ends[-1] if ends and ends[-1] >= max_chars // 3 else max_chars
    return text[:cut].rstrip(), True


def citation_line(article: Article) -> str:
    version = f" · {article.version_date}版" if article.version_date else ""
    return f"《{article.law}》{article.label}（{article.status}{version}）"


def quoted_body(text: str, question: str = "", max_chars: int = QUOTE_CHARS) -> tuple[str, bool]:
    """What is shown of an article's text for `question`, and whether part was skipped."""
    text = text.strip()
    if len(text) <= max_chars:
        return text, False
    focused = focused_excerpt(text, question, max_chars) if question else None
    if focused is not None:
        return focused
    body, trimmed = excerpt(text, max_chars)
    return body + (SKIP if trimmed else ""), trimmed


def quote(article: Article, position: int, question: str = "", max_chars: int = QUOTE_CHARS) -> Quote:
    body, trimmed = quoted_body(article.text, question, max_chars)
    marker = MARKERS[position] if position < len(MARKERS) else f"{position + 1}."
    return Quote(article, f"{marker}{citation_line(article)}\n“{body}”", trimmed)


def full_text(article: Article) -> str:
    where = " ".join(p for p in (article.chapter, article.section) if p)
    lines = [citation_line(article)]
    if where:
        lines.append(where)
    lines.append(article.text)
    return "\n".join(lines)
