"""The part of an article that answers a question: its paragraphs (款), items
(项) and, in a long paragraph, sentences.

Why: a long article quoted from its start often stops before the part that
decides the case. 劳动合同法第四十六条 lists seven cases of 经济补偿; a
resident whose fixed-term contract ran out needs (五), not (一)–(三).
民法典第二百七十八条 lists what owners decide in its first paragraph and the
thresholds that decide a lift in its second. The part shown is chosen by the
words it shares with the question (statute wording, knowledge_base/retrieval/colloquial.py),
each word weighted by how rare it is among the article's own parts, so words
every item repeats (用人单位, 劳动合同) do not decide. An item is shown with
the paragraph that introduces it (「有下列情形之一的，……：」), because an item
alone does not say what it is a case of. Skipped text is marked 「……」; the
text shown is always the indexed text, cut only between parts.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from knowledge_base.corpus.passages import ITEM
from knowledge_base.retrieval.colloquial import to_statute_wording
from knowledge_base.retrieval.lexical import tokens

_SENTENCE = re.compile(r"[^。；！？]*[。；！？]|[^。；！？]+$")
_CJK = re.compile(r"[\u4e00-\u9fff]+")
PART_MAX_CHARS = 260  # a paragraph longer than this is chosen from by sentence
SKIP = "……"
TOKEN_WEIGHT = 1.0  # per character of a shared word
BIGRAM_WEIGHT = 1.0
CHAR_WEIGHT = 0.3  # single characters: 续签 and 续订 share 续


@dataclass(frozen=True)
class Part:
    start: int  # offsets into the article text
    end: int
    lead: int | None = None  # for an item: the index of the paragraph that introduces it
    leads_items: bool = False  # a paragraph that introduces items (「有下列情形之一的……：」)

    def text(self, article_text: str) -> str:
        return article_text[self.start : self.end]


def split_parts(text: str) -> list[Part]:
    """Paragraphs and items in order; a paragraph over PART_MAX_CHARS as its sentences."""
    parts: list[Part] = []
    offset = 0
    last_paragraph: int | None = None
    for line in text.split("\n"):
        start, end = offset, offset + len(line)
        offset = end + 1
        if not line.strip():
            continue
        if ITEM.match(line) and last_paragraph is not None:
            parts.append(Part(start, end, lead=last_paragraph))
            lead = parts[last_paragraph]
            parts[last_paragraph] = Part(lead.start, lead.end, lead.lead, leads_items=True)
            continue
        if len(line) <= PART_MAX_CHARS:
            last_paragraph = len(parts)
            parts.append(Part(start, end))
            continue
        for match in _SENTENCE.finditer(line):
            if match.group(0).strip():
                parts.append(Part(start + match.start(), start + match.end()))
        last_paragraph = len(parts) - 1
    return parts


def _terms(text: str) -> dict[str, float]:
    """Words, character bigrams and characters of `text`, each with its weight."""
    wording = to_statute_wording(text)
    terms: dict[str, float] = {}
    for word in tokens(wording):
        if _CJK.fullmatch(word) and len(word) > 1:
            terms[word] = max(terms.get(word, 0.0), TOKEN_WEIGHT * len(word))
    for run in _CJK.findall(wording):
        for i in range(len(run)):
            terms.setdefault(run[i], CHAR_WEIGHT)
            if i + 1 < len(run):
                terms[run[i : i + 2]] = max(terms.get(run[i : i + 2], 0.0), BIGRAM_WEIGHT)
    return terms


def relevance(text: str, parts: list[Part], question: str) -> tuple[list[float], list[bool]]:
    """How much of the question each part carries (an item counts with its
    lead), and whether it shares a word with it that few other parts have:
    single characters and words most parts repeat rank parts but never make
    one worth showing instead of the article's start."""
    texts = [p.text(text) for p in parts]
    terms = _terms(question)
    present = [[t for t in terms if t in part] for part in texts]
    df: dict[str, int] = {}
    for found in present:
        for t in found:
            df[t] = df.get(t, 0) + 1
    n = len(parts)
    own = [sum(terms[t] * math.log(1 + n / df[t]) for t in found if df[t] < n) for found in present]
    scores = [own[i] + (0.5 * own[p.lead] if p.lead is not None else 0.0) for i, p in enumerate(parts)]
    distinctive = [any(len(t) > 1 and 2 * df[t] <= n for t in found) for found in present]
    return scores, distinctive


def focused_excerpt(text: str, question: str, max_chars: int) -> tuple[str, bool] | None:
    """The parts of `text` that answer `question`, with 「……」 where text is
    skipped, and whether anything was skipped; None when the question shares
    nothing with any part (the caller then quotes from the start)."""
    parts = split_parts(text)
    if len(parts) < 2:
        return None
    scores, distinctive = relevance(text, parts, question)
    candidates = [i for i, p in enumerate(parts) if not p.leads_items]
    best = max(candidates, key=lambda i: (scores[i], -i), default=None)
    if best is None or scores[best] <= 0 or not distinctive[best]:
        return None
    chosen = _with_lead(parts, best)
    used = sum(parts[i].end - parts[i].start for i in chosen)
    for i in sorted(candidates, key=lambda i: (-scores[i], i)):
        if i in chosen or not distinctive[i] or scores[i] < 0.5 * scores[best]:
            continue
        extra = _with_lead(parts, i)
        size = sum(parts[j].end - parts[j].start for j in extra - chosen)
        if used + size <= max_chars:
            chosen |= extra
            used += size
    return _render(text, parts, sorted(chosen))


def _with_lead(parts: list[Part], index: int) -> set[int]:
    """A part and, for an item, the paragraph that introduces it."""
    lead = parts[index].lead
    return {index} if lead is None else {index, lead}


def _render(text: str, parts: list[Part], chosen: list[int]) -> tuple[str, bool]:
    pieces: list[str] = []
    skipped = False
    previous_end = 0
    for index in chosen:
        part = parts[index]
        gap = text[previous_end : part.start]
        if gap.strip():
            pieces.append(SKIP)
            skipped = True
        elif pieces:
            pieces.append(gap)
        pieces.append(part.text(text))
        previous_end = part.end
    if text[previous_end:].strip():
        pieces.append(SKIP)
        skipped = True
    return "".join(pieces), skipped
