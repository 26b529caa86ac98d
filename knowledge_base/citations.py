"""Citation checking: every 《法律》第N条 in an outgoing message must resolve to an
indexed article, and is reported with its validity status.

A wrong citation is a real harm to a resident who acts on it, so a message
with an unresolvable citation is blocked by the caller rather than sent.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

from knowledge_base.chinese_numerals import NUMERAL_CHARS, parse_chinese_number
from knowledge_base.statutes import Article, normalise_law_name

# 《劳动合同法》第八十二条, 《中华人民共和国民法典》第278条, 《…》第六十七条之一
CITATION = re.compile(rf"《([^《》]{{1,80}})》\s*第([{NUMERAL_CHARS}\d]+)条(之[{NUMERAL_CHARS}]+)?")

Lookup = Callable[[str, int], Sequence[Article]]


@dataclass(frozen=True)
class Citation:
    text: str                 # as written in the message
    law: str                  # normalised
    number: int
    suffix: str               # 之一 …, or ""
    article: Optional[Article]  # the version it resolves to, None if it does not

    @property
    def resolved(self) -> bool:
        return self.article is not None


@dataclass
class CitationReport:
    citations: list[Citation] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.resolved for c in self.citations)

    @property
    def unresolved(self) -> list[Citation]:
        return [c for c in self.citations if not c.resolved]


def find_citations(text: str) -> list[tuple[str, str, int, str]]:
    found = []
    for match in CITATION.finditer(text):
        try:
            number = parse_chinese_number(match.group(2))
        except ValueError:
            continue
        found.append((match.group(0), normalise_law_name(match.group(1)), number, match.group(3) or ""))
    return found


def check(text: str, lookup: Lookup) -> CitationReport:
    """Resolve every citation in `text` with `lookup(law, number)` (all versions, in force first)."""
    report = CitationReport()
    for written, law, number, suffix in find_citations(text):
        versions = [a for a in lookup(law, number) if a.label.endswith(f"条{suffix}") or
                    (not suffix and a.label.endswith("条"))]
        report.citations.append(Citation(written, law, number, suffix, versions[0] if versions else None))
    return report


STATUS_WINDOW = 24  # characters after a citation in which its status must be stated


def problems(text: str, lookup: Lookup) -> list[str]:
    """Why `text` must not be sent as it is (empty: it may be sent).

    Every citation must resolve; one that resolves only to a version no longer
    in force must say so right after the citation (「（已废止）」, 「（历史版本…）」),
    so that a resident never takes old law for current law.
    """
    found: list[str] = []
    for match in CITATION.finditer(text):  # 「第1十条」: looks like a citation, names no article
        try:
            parse_chinese_number(match.group(2))
        except ValueError:
            found.append(f"malformed citation {match.group(0)}")
    report = check(text, lookup)
    for citation in report.citations:
        if citation.article is None:
            found.append(f"unresolvable citation {citation.law} {citation.number}{citation.suffix}")
            continue
        if citation.article.status != "现行有效":
            start = text.find(citation.text)
            after = text[start + len(citation.text): start + len(citation.text) + STATUS_WINDOW]
            if citation.article.status not in after:
                found.append(f"{citation.law} {citation.number} is {citation.article.status} "
                             "but the message does not say so")
    return found
