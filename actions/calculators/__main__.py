"""`make calc KIND=… WAGE=… START=… END=…`: the dialogue's computation on the
command line, for a mediator checking a figure and for the tests.

The articles are quoted from the built index when there is one, else from the
configured corpus the index is built from (the same texts). The last line is
one JSON object: {"kind", "amount", "formula", "articles", "assumptions"}.
Exit 2: an input is missing or unreadable (the message names it); exit 3: an
article the computation rests on is not in the corpus, so nothing is shown.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation

from actions.calculators.computation import Computation, MissingInput
from actions.calculators.disability import disability_grant
from actions.calculators.double_wage import double_wage
from actions.calculators.labour_compensation import notice_pay, severance, unlawful_dismissal
from actions.calculators.overtime import overtime
from actions.calculators.presentation import ArticleMissing, Lookup, render_computation
from actions.calculators.wage_standards import configured
from settings import Settings, get_settings

USAGE = """usage: make calc KIND=<kind> NAME=VALUE ...
  severance    WAGE START END            经济补偿 (劳动合同法第四十七条)
  unlawful     WAGE START END            违法解除的赔偿金 (第八十七条)
  notice       WAGE                      代通知金 (第四十条; WAGE: last month's wage)
  double_wage  WAGE START SIGNED|END     未签合同的二倍工资差额 (第八十二条)
  overtime     WAGE [WORKDAY_HOURS] [RESTDAY_HOURS] [HOLIDAY_HOURS]   加班费 (劳动法第四十四条)
  disability   WAGE GRADE                一次性伤残补助金 (工伤保险条例第三十五至三十七条)
dates as YYYY-MM-DD; the cap's averages come from LOCAL_AVERAGE_WAGE and INJURY_AVERAGE_WAGE"""


def _decimal(values: dict[str, str], name: str) -> Decimal | None:
    if name not in values:
        return None
    try:
        return Decimal(values[name])
    except InvalidOperation:
        raise MissingInput(name.lower(), f"{name}={values[name]!r} is not a number") from None


def _date(values: dict[str, str], name: str) -> date | None:
    if name not in values:
        return None
    try:
        return date.fromisoformat(values[name])
    except ValueError:
        raise MissingInput(name.lower(), f"{name}={values[name]!r} is not a date (YYYY-MM-DD)") from None


def compute(kind: str, values: dict[str, str], settings: Settings) -> Computation:
    standards = configured(settings)
    wage = _decimal(values, "WAGE")
    start, end = _date(values, "START"), _date(values, "END")
    calculators: dict[str, Callable[[], Computation]] = {
        "severance": lambda: severance(wage, start, end, standards.local_average, standards.minimum_wage),
        "unlawful": lambda: unlawful_dismissal(wage, start, end, standards.local_average, standards.minimum_wage),
        "notice": lambda: notice_pay(wage),
        "double_wage": lambda: double_wage(wage, start, _date(values, "SIGNED") or end),
        "overtime": lambda: overtime(
            wage,
            {
                "workday": _decimal(values, "WORKDAY_HOURS"),
                "restday": _decimal(values, "RESTDAY_HOURS"),
                "holiday": _decimal(values, "HOLIDAY_HOURS"),
            },
        ),
        "disability": lambda: disability_grant(
            wage, int(values["GRADE"]) if values.get("GRADE", "").isdigit() else None, standards.injury_average
        ),
    }
    if kind not in calculators:
        raise MissingInput("kind", f"unknown KIND {kind!r}")
    return calculators[kind]()


def article_lookup(settings: Settings) -> tuple[Lookup, str]:
    """The index's articles, or the corpus it is built from when none is built yet."""
    from knowledge_base.corpus.article_store import ArticleStore

    try:
        store = ArticleStore(settings.index_dir)
        return (lambda law, number: store.in_force(law, number)), "检索索引"
    except FileNotFoundError:
        from knowledge_base.corpus.statutes import IN_FORCE, load_configured_corpus

        corpus = load_configured_corpus(settings)

        def from_corpus(law: str, number: int):
            return next((a for a in corpus.lookup(law, number) if a.status == IN_FORCE), None)

        return from_corpus, "语料原文（检索索引尚未建立）"


def main(argv: list[str]) -> int:
    values = dict(arg.split("=", 1) for arg in argv if "=" in arg)
    values = {k.upper(): v for k, v in values.items() if v != ""}
    kind = values.pop("KIND", "")
    if not kind or any("=" not in arg for arg in argv):
        print(USAGE, file=sys.stderr)
        return 2
    settings = get_settings()
    try:
        computation = compute(kind, values, settings)
    except ValueError as exc:  # MissingInput, or a malformed wage setting
        print(f"calc: {exc}\n{USAGE}", file=sys.stderr)
        return 2
    lookup, source = article_lookup(settings)
    try:
        rendered = render_computation(computation, lookup)
    except ArticleMissing as exc:
        print(f"calc: {exc}; no computation is shown without its article", file=sys.stderr)
        return 3
    print(rendered.text)
    print(f"（法条取自：{source}）")
    print(json.dumps(computation.as_json(), ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
