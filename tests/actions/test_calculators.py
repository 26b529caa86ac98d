"""The calculators against worked examples from the statutes' own rules, and
every article they rest on checked in the corpus they quote from."""

from __future__ import annotations

import json
import subprocess
from datetime import date
from decimal import Decimal

import pytest

from actions.calculators.computation import Computation, MissingInput, money
from actions.calculators.deadlines import arbitration_deadline, injury_recognition_deadline
from actions.calculators.disability import MONTHS_BY_GRADE, disability_grant
from actions.calculators.double_wage import double_wage
from actions.calculators.inputs import parse_date, parse_grade, parse_hours, parse_wage, parse_yes_no
from actions.calculators.labour_compensation import notice_pay, severance, severance_months, unlawful_dismissal
from actions.calculators.overtime import overtime
from actions.calculators.periods import add_months, last_day_of_period, span
from actions.calculators.presentation import ArticleMissing, render_computation, render_deadline
from actions.calculators.wage_standards import configured, parse_standard
from knowledge_base.corpus.citations import problems
from knowledge_base.corpus.statutes import IN_FORCE, Corpus, load_corpus
from settings import ROOT, Settings, get_settings

UNSET = parse_standard("本地区上年度职工月平均工资", "")
AVERAGE_12000 = parse_standard("本地区上年度职工月平均工资", "12000|2023|广州市统计局")


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return load_corpus(
        get_settings().statute_dirs, only_laws=frozenset({"劳动合同法", "劳动法", "劳动争议调解仲裁法", "民法典"})
    )


def lookup(corpus: Corpus):
    return lambda law, number: next((a for a in corpus.lookup(law, number) if a.status == IN_FORCE), None)


# -- dates -------------------------------------------------------------------
def test_months_are_counted_by_corresponding_day() -> None:
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)  # 民法典第二百零二条: no 31 February
    assert span(date(2021, 3, 1), date(2024, 10, 1)).describe() == "3年7个月"
    assert span(date(2021, 3, 15), date(2021, 9, 14)).describe() == "5个月30天"


def test_a_period_ending_on_a_weekend_moves_to_monday() -> None:
    assert last_day_of_period(date(2024, 3, 15), years=1) == (date(2025, 3, 17), True)  # 15 March 2025: Saturday
    assert last_day_of_period(date(2024, 2, 29), years=1) == (date(2025, 2, 28), False)


# -- 经济补偿 (劳动合同法第四十七条) ----------------------------------------------
def test_the_issues_worked_example() -> None:
    result = severance(Decimal(9000), date(2021, 3, 1), date(2024, 10, 1), UNSET)
    assert result.amount == Decimal(36000)
    assert result.formula == "4个月 × 9,000元 = 36,000元"
    assert ("劳动合同法", 47) in [(a.law, a.article) for a in result.articles]


@pytest.mark.parametrize(
    "start,end,months",
    [
        (date(2020, 1, 1), date(2022, 7, 1), "3"),  # 2 years 6 months: six months or more counts as a year
        (date(2020, 1, 1), date(2022, 6, 30), "2.5"),  # 2 years 5 months 29 days: half a month
        (date(2020, 1, 1), date(2022, 1, 1), "2"),  # whole years
        (date(2024, 1, 1), date(2024, 5, 1), "0.5"),  # four months
        (date(2024, 1, 1), date(2024, 7, 1), "1"),  # exactly six months
    ],
)
def test_six_months_or_more_is_a_year_less_is_half_a_month(start: date, end: date, months: str) -> None:
    assert severance_months(start, end)[0] == Decimal(months)


def test_the_cap_three_averages_and_twelve_years() -> None:
    capped = severance(Decimal(40000), date(2009, 1, 1), date(2024, 10, 1), AVERAGE_12000)
    assert capped.amount == Decimal(12 * 36000)  # 16 years of service, paid for 12, at 3 × 12,000
    assert "封顶" in capped.formula
    below = severance(Decimal(30000), date(2009, 1, 1), date(2024, 10, 1), AVERAGE_12000)
    assert below.amount == Decimal(16 * 30000)  # under the threefold average: no cap on years either
    assert not any("年度的数字" in a for a in below.assumptions)  # 2023's average for a 2024 dismissal: right
    stale = severance(Decimal(30000), date(2009, 1, 1), date(2025, 10, 1), AVERAGE_12000)
    assert any("2024年度" in a and "2023年度" in a for a in stale.assumptions)  # a stale average is said


def test_without_the_average_the_cap_is_not_applied_and_it_says_so() -> None:
    result = severance(Decimal(40000), date(2009, 1, 1), date(2024, 10, 1), UNSET)
    assert result.amount == Decimal(16 * 40000)
    assert any("待运营方确认" in a and "没有按第四十七条第二款" in a for a in result.assumptions)


def test_the_minimum_wage_is_a_floor() -> None:
    minimum = parse_standard("当地最低工资标准", "2500|2025|广东省人民政府")
    assert severance(Decimal(2000), date(2022, 1, 1), date(2024, 1, 1), UNSET, minimum).amount == Decimal(5000)


def test_service_before_2008_is_flagged_with_article_97() -> None:
    result = severance(Decimal(5000), date(2005, 1, 1), date(2010, 1, 1), UNSET)
    assert ("劳动合同法", 97) in [(a.law, a.article) for a in result.articles]


def test_unlawful_dismissal_is_twice_and_notice_pay_one_month() -> None:
    unlawful = unlawful_dismissal(Decimal(9000), date(2021, 3, 1), date(2024, 10, 1), UNSET)
    assert unlawful.amount == Decimal(72000)
    assert [a.article for a in unlawful.articles][:2] == [87, 47]
    notice = notice_pay(Decimal(9000))
    assert notice.amount == Decimal(9000) and [a.article for a in notice.articles] == [40, 20]


@pytest.mark.parametrize(
    "call,field_name",
    [
        (lambda: severance(None, date(2021, 1, 1), date(2022, 1, 1), UNSET), "wage"),
        (lambda: severance(Decimal(1), None, date(2022, 1, 1), UNSET), "start"),
        (lambda: severance(Decimal(1), date(2022, 1, 1), date(2021, 1, 1), UNSET), "end"),
        (lambda: overtime(Decimal(5000), {"workday": None}), "hours"),
        (lambda: disability_grant(Decimal(5000), 11, UNSET), "grade"),
    ],
)
def test_a_missing_input_is_named(call, field_name: str) -> None:
    with pytest.raises(MissingInput) as raised:
        call()
    assert raised.value.field == field_name


# -- 二倍工资 (第八十二条, 实施条例第六、七条) --------------------------------------
def test_double_wage_from_the_second_month_to_the_day_before_signing() -> None:
    assert double_wage(Decimal(6000), date(2024, 1, 1), date(2024, 4, 1)).amount == Decimal(12000)  # Feb and Mar
    assert double_wage(Decimal(6000), date(2024, 1, 1), date(2024, 1, 20)).amount == 0  # signed in the first month
    partial = double_wage(Decimal(5800), date(2024, 1, 1), date(2024, 2, 16))  # 15 of February's 29 days
    assert partial.amount == money(Decimal(5800) * 15 / 29)


def test_double_wage_stops_at_eleven_months() -> None:
    never_signed = double_wage(Decimal(6000), date(2023, 1, 10), date(2025, 6, 1))
    assert never_signed.amount == Decimal(66000)
    assert [a.article for a in never_signed.articles] == [82, 6, 7]


# -- 加班费 (劳动法第四十四条, 21.75天) ----------------------------------------------
def test_each_overtime_rate() -> None:
    wage = Decimal(8700)  # 8700 ÷ 21.75 ÷ 8 = 50 an hour
    assert overtime(wage, {"workday": Decimal(10)}).amount == Decimal(750)
    assert overtime(wage, {"restday": Decimal(8)}).amount == Decimal(800)
    assert overtime(wage, {"holiday": Decimal(8)}).amount == Decimal(1200)
    both = overtime(wage, {"workday": Decimal(10), "restday": Decimal(8), "holiday": Decimal(8)})
    assert both.amount == Decimal(2750) and "50元/小时" in both.formula
    assert ("关于职工全年月平均工作时间和工资折算问题的通知", 2) in [(a.law, a.article) for a in both.articles]


# -- 一次性伤残补助金 (工伤保险条例第三十五至三十七条) -------------------------------
def test_disability_grant_by_grade_and_the_wage_bounds() -> None:
    months = {grade: disability_grant(Decimal(1000), grade, UNSET).amount / 1000 for grade in range(1, 11)}
    assert months == {1: 27, 2: 25, 3: 23, 4: 21, 5: 18, 6: 16, 7: 13, 8: 11, 9: 9, 10: 7}
    average = parse_standard("统筹地区职工月平均工资", "10000|2023|广州市人社局")
    assert disability_grant(Decimal(40000), 7, average).amount == Decimal(13 * 30000)  # 300 %
    assert disability_grant(Decimal(3000), 7, average).amount == Decimal(13 * 6000)  # 60 %


# -- deadlines ---------------------------------------------------------------
def test_arbitration_and_injury_deadlines() -> None:
    arbitration = arbitration_deadline(date(2024, 3, 15))
    assert arbitration.last_day == date(2025, 3, 17) and arbitration.moved_past_weekend
    assert arbitration.articles[0].law == "劳动争议调解仲裁法" and arbitration.articles[0].article == 27
    injury = injury_recognition_deadline(date(2024, 6, 3))
    assert injury.last_day == date(2025, 6, 3) and (injury.articles[0].law, injury.articles[0].article) == (
        "工伤保险条例",
        17,
    )


# -- quoted from the corpus, checked like every outgoing message ---------------------
ALL = [
    severance(Decimal(9000), date(2005, 3, 1), date(2024, 10, 1), UNSET),
    unlawful_dismissal(Decimal(9000), date(2021, 3, 1), date(2024, 10, 1), UNSET),
    notice_pay(Decimal(9000)),
    double_wage(Decimal(6000), date(2024, 1, 1), date(2024, 4, 1)),
    overtime(Decimal(8700), {"workday": Decimal(10)}),
    *[disability_grant(Decimal(5000), grade, UNSET) for grade in (1, 5, 7)],
]


@pytest.mark.parametrize("computation", ALL, ids=lambda c: c.kind + str(c.amount))
def test_every_article_exists_and_the_rendered_text_passes_the_citation_guard(
    corpus: Corpus, computation: Computation
) -> None:
    rendered = render_computation(computation, lookup(corpus))
    assert len(rendered.refs) == len(computation.articles)
    assert problems(rendered.text, corpus.lookup) == []
    assert computation.formula in rendered.text


def test_deadlines_render_and_pass_the_guard(corpus: Corpus) -> None:
    for deadline in (arbitration_deadline(date(2024, 3, 15)), injury_recognition_deadline(date(2024, 6, 3))):
        rendered = render_deadline(deadline, lookup(corpus))
        assert problems(rendered.text, corpus.lookup) == []
        assert f"{deadline.last_day.year}年{deadline.last_day.month}月{deadline.last_day.day}日" in rendered.text


def test_a_computation_whose_article_is_missing_is_not_shown(corpus: Corpus) -> None:
    only_labour_law = load_corpus([], only_laws=frozenset({"劳动法"}))
    with pytest.raises(ArticleMissing):
        render_computation(ALL[0], lookup(only_labour_law))


def test_the_months_table_is_the_articles_own(corpus: Corpus) -> None:
    for grade, (months, article) in MONTHS_BY_GRADE.items():
        text = lookup(corpus)("工伤保险条例", article).text
        assert f"级伤残为{months}个月的本人工资" in text, grade


# -- what residents type --------------------------------------------------------
def test_inputs_as_residents_type_them() -> None:
    assert parse_wage("9000元") == Decimal(9000) and parse_wage("1.2万") == Decimal(12000)
    assert parse_wage("每月9000") == Decimal(9000) and parse_wage("9000到10000") is None
    assert parse_wage("9000") == Decimal(9000) and parse_wage("不知道") is None
    assert parse_date("2021年3月1日入职") == (date(2021, 3, 1), False)
    assert parse_date("２０２１.３") == (date(2021, 3, 1), True)  # full-width, no day: the 1st, and said
    assert parse_date("2021年2月30日") is None and parse_date("去年") is None
    assert parse_grade("鉴定为七级伤残") == 7 and parse_grade("10级") == 10 and parse_grade("十一级") is None
    assert parse_hours("20个小时") == Decimal(20) and parse_hours("没有") == 0
    assert parse_yes_no("没有提前通知") is False and parse_yes_no("有书面通知") is True


# -- settings and the command line ---------------------------------------------------
def test_a_malformed_wage_setting_stops_the_start() -> None:
    with pytest.raises(ValueError, match="amount"):
        configured(Settings(local_average_wage_setting="about 12000|2023|x"))
    assert configured(Settings(local_average_wage_setting="12,000|2023|广州市统计局")).local_average.amount == 12000


def run_calc(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "-s", "calc", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**__import__("os").environ, **env},
    )


def test_make_calc_prints_the_computation_and_one_json_line() -> None:
    done = run_calc("KIND=severance", "WAGE=9000", "START=2021-03-01", "END=2024-10-01")
    assert done.returncode == 0, done.stderr
    last = json.loads(done.stdout.strip().splitlines()[-1])
    assert last == {
        "kind": "severance",
        "amount": 36000,
        "formula": "4个月 × 9,000元 = 36,000元",
        "articles": [{"law": "劳动合同法", "article": 47}, {"law": "劳动合同法实施条例", "article": 27}],
        "assumptions": last["assumptions"],
    }
    assert "经济补偿按劳动者在本单位工作的年限" in done.stdout  # the article, quoted


def test_make_calc_takes_the_cap_from_the_setting_and_refuses_bad_input() -> None:
    capped = run_calc(
        "KIND=unlawful",
        "WAGE=40000",
        "START=2009-01-01",
        "END=2024-10-01",
        LOCAL_AVERAGE_WAGE="12000|2023|广州市 统计局",
    )
    assert json.loads(capped.stdout.strip().splitlines()[-1])["amount"] == 2 * 12 * 36000
    bad = run_calc("KIND=severance", "WAGE=abc", "START=2021-03-01")
    assert bad.returncode == 2 and "WAGE" in bad.stderr and "Traceback" not in bad.stderr
