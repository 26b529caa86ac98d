"""From a resident's question to the statute part of an answer: which articles
to quote, whether to say we are unsure, which typical case to mention.

Pure functions over retrieval results, so the wording rules are testable
without a server; actions/answer_topic.py does the I/O.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from knowledge_base.corpus.typical_cases import TypicalCase
from knowledge_base.retrieval.quotes import MARKERS, Quote, article_ref, quote
from knowledge_base.retrieval.retriever import Hit, governs

MAX_QUOTES = 3
# With the learned reranker (knowledge_base/retrieval/reranker.py) each hit carries the
# probability that an annotator would cite it. Chosen on the reranker's own
# training questions (bank, each with its vote left out, and our dev set):
# at 0.2, 48 % of the quotes shown there were gold (a lower bound: annotators
# cite one or two articles, and others shown may apply too) and 79 % of the
# questions got a quote; at 0.5 precision is 55 % with 40 % of questions.
SHOW_PROBABILITY = 0.2  # below this an article is withheld as off-point
RELATIVE_PROBABILITY = 0.5  # and further quotes need half the best one's probability
SURE_PROBABILITY = 0.5  # the best quote this likely: shown without the caveat
# Without a trained reranker (no bank of answered questions): the fused ranks.
RELATIVE_SCORE = 0.7  # quote further hits only when they score this close to the best
AGREEMENT_RANK = 10  # dense and lexical both rank the best hit within this → confident
DENSE_SURE_RANK = 3  # or a governing law's article this high in the dense ranking
_FOLLOW_UP_START = re.compile(r"^(那|那么|如果|要是|假如|假设|还有|另外|可是|但是|但|而且|万一|同时|那如果|咁|噉)")
FOLLOW_UP_MAX_CHARS = 24

# how much exactly: a person's job, except where a statute fixes the sum (actions/calculation_form.py)
_ASKS_AMOUNT = re.compile(
    r"(拿|赔|补|要|得到|获得|判|领|追)(到|回)?(多少|几多|几钱)|具体(能|可以)?(拿|赔|补)?多少|一共(能|可以)?(拿|赔)?多少"
)
# questions only a person can answer: whether to sue, whether one will win
_ASKS_JUDGEMENT = re.compile(
    r"(该不该|要不要|应不应该|值不值得|好唔好|好不好|有没有必要)(去)?(起诉|告|打官司|申请仲裁|仲裁|上法院)"
    r"|(能|会|可以)(不能|唔能)?(赢|胜诉|告赢|打赢)|赢面|胜算|(打官司|起诉|仲裁|告)(的话)?(能|会)?(赢|胜诉)"
)
NEEDS_A_PERSON = (
    "您问的是具体能拿多少钱、要不要起诉或能不能赢，这要看证据和具体情况，我不能替您下结论。"
    "建议找调解员或申请法律援助，由专业人员帮您核算和评估。"
)
UNSURE = (
    "以下条文是按您的描述检索到的，不一定完全对应您的情况，请结合自己的实际情况看，"
    "拿不准的可以拨打12348公共法律服务热线核实。"
)
NOTHING_FOUND = "我没有在已收录的法律法规里找到与您的描述直接对应的条文，下面是一般性的办事指引。"
WITHHELD = (
    "我检索到的条文和您描述的情况对应得不够明确，为免误导，这次不列出法条原文。"
    "建议找调解员或申请法律援助，由专业人员结合您的情况找准适用的规定。"
)
UNAVAILABLE = "（法条检索暂时不可用，这次没有附上法条原文。）"
CASE_NOTE = "（典型案例仅供参考，不是法律条文，每个案件的结果取决于具体事实。）"


@dataclass
class Grounded:
    quotes: list[Quote] = field(default_factory=list)
    cases: list[TypicalCase] = field(default_factory=list)
    confident: bool = False
    available: bool = True
    withheld: bool = False  # articles were found but none matched well enough to show

    @property
    def refs(self) -> list[str]:
        return [article_ref(q.article) for q in self.quotes]

    def lines(self) -> list[str]:
        """The statute block of the answer, placed after the summary."""
        if not self.available:
            return [UNAVAILABLE]
        if not self.quotes:
            return [WITHHELD if self.withheld else NOTHING_FOUND]
        lines = ["相关法条（原文）："]
        if not self.confident:
            lines.append(UNSURE)
        lines += [q.text for q in self.quotes]
        return lines

    def case_lines(self) -> list[str]:
        if not self.cases:
            return []
        lines = ["典型案例："]
        for case in self.cases:
            teaser = case.teaser()
            lines.append(f"「{case.title}」" + (f"：{teaser}" if teaser else ""))
        lines.append(CASE_NOTE)
        return lines

    def buttons(self) -> list[dict[str, str]]:
        return [
            {"title": f"查看{MARKERS[i]}全文", "payload": f'/show_article{{"article_ref": "{article_ref(q.article)}"}}'}
            for i, q in enumerate(self.quotes)
            if q.trimmed
        ]


def choose(hits: Sequence[Hit], limit: int = MAX_QUOTES) -> list[Hit]:
    """With the reranker's probabilities: the first hits that are likely
    enough, none when even the best is not (an off-point article shown as the
    law misleads). Without: the best hit, and up to two more that score close
    to it and that the dense retriever also ranks near the top or that are key
    provisions of the issue spotted (a word overlap alone, such as 工资 in an
    article on disability pay, is not enough to quote an article)."""
    if not hits:
        return []
    if hits[0].probability is not None:
        best = hits[0].probability
        return [
            h
            for h in hits[:limit]
            if h.probability is not None
            and h.probability >= SHOW_PROBABILITY
            and h.probability >= RELATIVE_PROBABILITY * best
        ]
    best = hits[0].score
    return [hits[0]] + [
        h
        for h in hits[1:limit]
        if h.score >= RELATIVE_SCORE * best and (h.issue_rank or (h.dense_rank and h.dense_rank <= AGREEMENT_RANK))
    ]


def confident(hits: Sequence[Hit], category: str | None) -> bool:
    """Sure enough to present the quotes without a caveat: the reranker's
    probability of the best, when there is one; else both retrievers put
    the best article near the top; or it is a key provision of the issue the
    question raises and a retriever found it too; or it is from a law that
    governs the question's category and the dense retriever ranks it among its
    first few."""
    if not hits:
        return False
    top = hits[0]
    if top.probability is not None:
        return top.probability >= SURE_PROBABILITY
    if top.dense_rank and top.lexical_rank and max(top.dense_rank, top.lexical_rank) <= AGREEMENT_RANK:
        return True
    if top.issue_rank and (top.dense_rank or top.lexical_rank):
        return True
    return bool(category and governs(category, top.article) and top.dense_rank and top.dense_rank <= DENSE_SURE_RANK)


def ground(
    hits: Sequence[Hit], category: str | None, cases: Sequence[TypicalCase] = (), question: str = ""
) -> Grounded:
    """The quotes of the chosen hits, each showing the part that answers `question`."""
    chosen = choose(hits)
    return Grounded(
        [quote(h.article, i, question) for i, h in enumerate(chosen)],
        list(cases),
        confident(chosen, category),
        withheld=bool(hits) and not chosen,
    )


def needs_a_person(text: str) -> bool:
    """A question only a person can judge: a specific amount owed, whether to sue."""
    return asks_amount(text) or asks_judgement(text)


def asks_judgement(text: str) -> bool:
    """Whether to sue, whether one will win: never computed."""
    return bool(_ASKS_JUDGEMENT.search(text or ""))


def asks_amount(text: str) -> bool:
    """「我能拿多少」: on a topic with a calculator, computed instead of declined."""
    return bool(_ASKS_AMOUNT.search(text or ""))


def is_follow_up(text: str) -> bool:
    """A short message that leans on the previous question (「那试用期呢？」)."""
    text = text.strip()
    if not text or len(text) > FOLLOW_UP_MAX_CHARS:
        return False
    return bool(_FOLLOW_UP_START.match(text)) or text.rstrip("？?。 ").endswith("呢")
