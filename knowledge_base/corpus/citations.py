"""Citation checking: every 《法律》第N条 in an outgoing message must resolve to an
indexed article, and is reported with its validity status.

A wrong citation is a real harm to a resident who acts on it, so a message
with an unresolvable citation is blocked by the caller rather than sent.

The text is normalised before it is checked, because a citation a resident
reads as one is one: 「第 999 条」, full-width digits, 條, a zero-width or
bidi character inside, 〈〉 «» <<>> 【】 or no brackets at all (「劳动合同法第999条」).
A citation without brackets counts when the words before 第 end with a law's
name in the index, or look like one (…法, …条例, …规定 …); 「本法第三条」 and
「前款第一项」 are references inside an article, not citations. A quotation
(「①《法》第N条（状态）」 then “…”) must be the article's own text, pieces
between 「……」 in order; its text is then not searched for bare citations
(statutes refer to laws this index does not hold, 《刑法》 among them).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from knowledge_base.chinese_numerals import NUMERAL_CHARS, parse_chinese_number
from knowledge_base.corpus.statutes import Article, normalise_law_name

# 《劳动合同法》第八十二条, 《中华人民共和国民法典》第278条, 《…》第六十七条之一
CITATION = re.compile(rf"《([^《》]{{1,80}})》\s*第([{NUMERAL_CHARS}\d]+)条(之[{NUMERAL_CHARS}]+)?")

Lookup = Callable[[str, int], Sequence[Article]]

_INVISIBLE = re.compile("[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
# a law's name in other brackets, right before 第: written 《》 for the check
_OTHER_BRACKETS = re.compile(r"(〈|«|‹|【|<<|<|＜)([^《》〈〉«»‹›【】<>＜＞\n]{1,80})(〉|»|›|】|>>|>|＞)(?=\s*第)")
# full-width digits and spaces folded (not NFKC: law names keep their full-width （一）)
_WIDTHS = str.maketrans(
    {**{chr(0xFF10 + d): str(d) for d in range(10)}, "\u3000": " ", "\u2002": " ", "\u2003": " ", "\u00a0": " "}
)
_NUMBER_RUN = re.compile(rf"第([\s{NUMERAL_CHARS}\d]+)条")
# words before 第 that name a law: the end of a run of CJK characters
BARE_CITATION = re.compile(rf"([\u4e00-\u9fff]{{2,40}})第([{NUMERAL_CHARS}\d]+)条(之[{NUMERAL_CHARS}]+)?")
_LAW_ENDINGS = ("法", "法典", "条例", "规定", "办法", "解释", "决定", "细则", "通则", "规则", "意见")
_INTERNAL_REFERENCE = re.compile(
    r"(本|前|该|此|上述|下列|其)(法|法典|条例|规定|办法|解释|决定|细则|通则|规则|意见|款|项|条)$"
)
# a quotation as actions/grounded_reply.py writes it; 第X部分 is a numbered part of a
# notice that has no articles (knowledge_base/corpus/statutes.py)
QUOTATION = re.compile(
    rf"《([^《》\n]{{1,80}})》(第[{NUMERAL_CHARS}\d]+(?:条(?:之[{NUMERAL_CHARS}]+)?|部分))（[^）\n]*）\n“([^”]*)”"
)


def normalise(text: str) -> str:
    """`text` as it is checked: widths folded, invisible characters dropped,
    條 as 条, any bracket style as 《》, no spaces inside 第…条 or before it."""
    text = (text or "").translate(_WIDTHS)
    text = _INVISIBLE.sub("", text).replace("條", "条")
    text = _OTHER_BRACKETS.sub(lambda m: f"《{m.group(2)}》", text)
    text = _NUMBER_RUN.sub(lambda m: "第" + re.sub(r"\s+", "", m.group(1)) + "条", text)
    return re.sub(r"(?<=[\u4e00-\u9fff》])[\s\u3000]+(?=第)", "", text)


@dataclass(frozen=True)
class Citation:
    text: str  # as written in the message
    law: str  # normalised
    number: int
    suffix: str  # 之一 …, or ""
    article: Article | None  # the version it resolves to, None if it does not

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
    """The bracketed citations of `text` (normalised first): (as written, law, number, 之…)."""
    found = []
    for match in CITATION.finditer(normalise(text)):
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
        versions = [
            a for a in lookup(law, number) if a.label.endswith(f"条{suffix}") or (not suffix and a.label.endswith("条"))
        ]
        report.citations.append(Citation(written, law, number, suffix, versions[0] if versions else None))
    return report


STATUS_WINDOW = 24  # characters after a citation in which its status must be stated


def problems(text: str, lookup: Lookup) -> list[str]:
    """Why `text` must not be sent as it is (empty: it may be sent).

    Every citation must resolve; one that resolves only to a version no longer
    in force must say so right after the citation (「（已废止）」, 「（历史版本…）」),
    so that a resident never takes old law for current law.
    """
    text = normalise(text)
    found, outside = quotation_problems(text, lookup)  # a verified quotation is the statute's own text
    for match in CITATION.finditer(outside):  # 「第1十条」: looks like a citation, names no article
        try:
            parse_chinese_number(match.group(2))
        except ValueError:
            found.append(f"malformed citation {match.group(0)}")
    report = check(outside, lookup)
    for citation in report.citations:
        if citation.article is None:
            found.append(f"unresolvable citation {citation.law} {citation.number}{citation.suffix}")
            continue
        if citation.article.status != "现行有效":
            start = outside.find(citation.text)
            after = outside[start + len(citation.text) : start + len(citation.text) + STATUS_WINDOW]
            if citation.article.status not in after:
                found.append(
                    f"{citation.law} {citation.number} is {citation.article.status} but the message does not say so"
                )
    found += bare_citation_problems(outside, lookup)
    return found


def quotation_problems(text: str, lookup: Lookup) -> tuple[list[str], str]:
    """(quotations whose text is not the cited article's own, `text` with the
    bodies of the verified ones blanked out)."""
    found, blanked = [], text
    for match in QUOTATION.finditer(text):
        law, label, body = normalise_law_name(match.group(1)), match.group(2), match.group(3)
        numeral = re.match(r"第(.+?)(?:条|部分)", label)
        try:
            number = parse_chinese_number(numeral.group(1) if numeral else "")
        except ValueError:
            continue  # reported as malformed
        articles = [a for a in lookup(law, number) if normalise(a.label) == label]
        if not articles:
            continue  # its citation is reported as unresolvable, its body checked like any text
        if any(_is_excerpt(body, normalise(a.text)) for a in articles):
            blanked = blanked[: match.start(3)] + " " * len(body) + blanked[match.end(3) :]
        else:
            found.append(f"quotation of {law} {number} is not the article's text")
    return found, blanked


def _is_excerpt(body: str, text: str) -> bool:
    position = 0
    for piece in (p for p in body.split("……") if p):
        found = text.find(piece, position)
        if found < 0:
            return False
        position = found + len(piece)
    return True


def bare_citation_problems(text: str, lookup: Lookup) -> list[str]:
    """Citations written without 《》 that name no indexed article."""
    found = []
    for match in BARE_CITATION.finditer(text):
        words, numeral, suffix = match.group(1), match.group(2), match.group(3) or ""
        if _INTERNAL_REFERENCE.search(words):
            continue
        try:
            number = parse_chinese_number(numeral)
        except ValueError:
            found.append(f"malformed citation {match.group(0)}")
            continue
        if not words.endswith(_LAW_ENDINGS):
            continue  # 「合同第五条」: no law named, nothing to resolve
        laws = (normalise_law_name(words[i:]) for i in range(len(words) - 1))  # longest name first
        if not any(a.label.endswith(f"条{suffix}") for law in laws for a in lookup(law, number)):
            found.append(f"unresolvable citation {words} {number}{suffix}")
    return found
