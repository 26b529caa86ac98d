"""A computation as the resident reads it: the sum, how it was reached, the
articles it rests on quoted from the index, and what it assumed.

A computation whose articles are not all in the index is not shown: an
amount without its law is exactly the unsupported figure a resident must not
act on, so `ArticleMissing` makes the caller say so and offer a person.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from actions.calculators.computation import Cited, Computation
from actions.calculators.deadlines import Deadline
from knowledge_base.chinese_numerals import chinese_date
from knowledge_base.corpus.statutes import Article
from knowledge_base.retrieval.quotes import article_ref, quote

Lookup = Callable[[str, int], Article | None]  # the in-force article, or None
QUOTE_CHARS = 260  # a calculation quotes more of an article than an answer does: its rule is the point


class ArticleMissing(LookupError):
    def __init__(self, cited: Cited) -> None:
        super().__init__(f"{cited.law} {cited.article} is not in the index")
        self.cited = cited


@dataclass(frozen=True)
class Rendered:
    text: str
    refs: list[str]  # law|number|label of each quoted article, for 「查看全文」


def _quotes(articles: Sequence[Cited], lookup: Lookup, first_marker: int = 0) -> tuple[list[str], list[str]]:
    lines, refs = [], []
    for position, cited in enumerate(articles, start=first_marker):
        article = lookup(cited.law, cited.article)
        if article is None:
            raise ArticleMissing(cited)
        shown = quote(article, position, question=cited.why, max_chars=QUOTE_CHARS)
        lines.append(f"{shown.text}\n（{cited.why}）")
        refs.append(article_ref(article))
    return lines, refs


def render_computation(computation: Computation, lookup: Lookup) -> Rendered:
    quotes, refs = _quotes(computation.articles, lookup)
    lines = [f"按您提供的情况，{computation.title}这样算："]
    lines += [f"· {step}" for step in computation.steps]
    lines.append(f"结果：{computation.formula}")
    lines.append("")
    lines.append("依据（法条原文）：")
    lines += quotes
    lines.append("")
    lines.append("前提和说明：")
    lines += [f"· {a}" for a in computation.assumptions]
    return Rendered("\n".join(lines), refs)


def _days_left(deadline: Deadline, today: date) -> str:
    left = deadline.days_left(today)
    if left < 0:
        return "按这个日期算已经超过一年；但时效可能因您主张过权利等原因中断，请尽快咨询调解员或法律援助。"
    if left <= 30:
        return f"只剩{left}天，请尽快申请。"
    return f"距今还有{left}天。"


def render_deadline(deadline: Deadline, lookup: Lookup, first_marker: int = 0, today: date | None = None) -> Rendered:
    quotes, refs = _quotes(deadline.articles[:1], lookup, first_marker)
    for cited in deadline.articles[1:]:  # the civil code's counting rules: checked, cited, not quoted
        if lookup(cited.law, cited.article) is None:
            raise ArticleMissing(cited)
    lines = [
        f"{deadline.title}：{chinese_date(deadline.last_day)}（从{deadline.runs_from.isoformat()}起算一年）",
        _days_left(deadline, today or date.today()),
        deadline.explanation,
        *quotes,
        "期间的算法：开始的当日不计入，到期月的对应日为最后一日（《民法典》第二百零一条、第二百零二条、第二百零三条）。",
        *[f"· {a}" for a in deadline.assumptions],
    ]
    return Rendered("\n".join(lines), refs)
