"""经济补偿 (劳动合同法第四十七条), 违法解除的赔偿金 (第八十七条) and the month's
wage in lieu of notice (第四十条, 实施条例第二十条).

The months of 经济补偿 are the article's own rule: a month's wage per full
year, six months or more counted as a year, less than six months as half a
month; above three times the city's average wage, that threefold average for
at most twelve years. Everything the article leaves to facts (why the
contract ended, whether it was lawful) is the resident's answer or an
assumption written out, never a guess.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from actions.calculators.computation import Cited, Computation, MissingInput, money, number, yuan
from actions.calculators.periods import span
from actions.calculators.wage_standards import UNCONFIRMED, WageStandard

LABOUR_CONTRACT_LAW = "劳动合同法"
REGULATION = "劳动合同法实施条例"
LAW_IN_FORCE_FROM = date(2008, 1, 1)
CAP_MULTIPLE = 3
CAP_YEARS = 12
FINAL_SAY = "最终金额以劳动人事争议仲裁委员会或人民法院的认定为准。"


def _wage(wage: Decimal | None, field_name: str = "wage") -> Decimal:
    if wage is None:
        raise MissingInput(field_name, "需要月工资（解除或终止前十二个月的平均工资）")
    wage = Decimal(wage)
    if wage <= 0:
        raise MissingInput(field_name, "月工资应当大于0")
    return wage


def _dates(start: date | None, end: date | None) -> tuple[date, date]:
    if start is None:
        raise MissingInput("start", "需要入职（用工）日期")
    if end is None:
        raise MissingInput("end", "需要劳动合同解除或终止的日期")
    if end <= start:
        raise MissingInput("end", "离职日期应当晚于入职日期")
    return start, end


def severance_months(start: date, end: date) -> tuple[Decimal, str]:
    """Months of wage the service earns (第四十七条第一款), and the rounding in words."""
    length = span(start, end)
    if length.months >= 6:
        months, rule = Decimal(length.years + 1), "零头满六个月，按一年计"
    elif length.months or length.days:
        months, rule = Decimal(length.years) + Decimal("0.5"), "零头不满六个月，按半个月计"
    else:
        months, rule = Decimal(length.years), "正好整年"
    return months, f"工作年限{length.describe()}（{rule}），计{number(months)}个月工资"


WAGE_BASIS = (
    "月工资按您提供的解除或终止前十二个月的平均工资计算，应包括奖金、津贴和补贴（劳动合同法实施条例第二十七条）；"
    "工作不满十二个月的，按实际工作月数平均"
)
LAWFUL_END = "假定这次解除或终止属于依法应当支付经济补偿的情形（劳动合同法第四十六条）"
UNLAWFUL_END = "假定解除或终止违法（是否违法由仲裁委员会或法院认定）；违法的，赔偿金代替经济补偿，二者不同时拿"


def severance(
    wage: Decimal | None,
    start: date | None,
    end: date | None,
    local_average: WageStandard,
    minimum_wage: WageStandard | None = None,
) -> Computation:
    """经济补偿 for a contract ended where the law requires it (第四十六条 says when)."""
    return _compensation(wage, start, end, local_average, minimum_wage, lawful=True)


def _compensation(
    wage: Decimal | None,
    start: date | None,
    end: date | None,
    local_average: WageStandard,
    minimum_wage: WageStandard | None,
    lawful: bool,
) -> Computation:
    """The 经济补偿 standard; `lawful`: as 经济补偿 itself, else as the base of 赔偿金, whose
    years run from the first day of work (实施条例第二十五条), so 2008 is not flagged."""
    wage = _wage(wage)
    start, end = _dates(start, end)
    months, months_step = severance_months(start, end)
    steps = [months_step]
    assumptions = [WAGE_BASIS, LAWFUL_END if lawful else UNLAWFUL_END]
    articles = [
        Cited(LABOUR_CONTRACT_LAW, 47, "经济补偿的年限、月工资和封顶"),
        Cited(REGULATION, 27, "月工资包括什么"),
    ]
    base = wage
    if minimum_wage is not None and minimum_wage.amount is not None and wage < minimum_wage.amount:
        base = minimum_wage.amount
        steps.append(f"月工资低于{minimum_wage.describe()}，按最低工资标准计算")
    capped = False
    if local_average.amount is not None:
        ceiling: Decimal = local_average.amount * CAP_MULTIPLE
        if base > ceiling:
            capped = True
            base = ceiling
            steps.append(
                f"月工资高于{local_average.describe()}的三倍（{yuan(ceiling)}），按三倍封顶，年限最多{CAP_YEARS}年"
            )
            if months > CAP_YEARS:
                months = Decimal(CAP_YEARS)
        expected_year = end.year - 1
        if local_average.year and local_average.year != expected_year:
            assumptions.append(
                f"封顶应当用解除当年的上一年度（{expected_year}年度）平均工资；"
                f"这里配置的是{local_average.year}年度的数字"
            )
    else:
        assumptions.append(
            f"本地区上年度职工月平均工资{UNCONFIRMED}，没有按第四十七条第二款的三倍封顶计算；"
            "月工资较高的，实际金额可能更低"
        )
    if lawful and start < LAW_IN_FORCE_FROM:
        articles.append(Cited(LABOUR_CONTRACT_LAW, 97, "2008年以前的工作年限"))
        assumptions.append(
            "入职早于2008年1月1日：此前的年限依劳动合同法第九十七条第三款按当时的规定计算，"
            "这里把全部年限按第四十七条计算，结果仅供参考"
        )
    amount = money(base * months)
    formula = f"{number(months)}个月 × {yuan(base)} = {yuan(amount)}"
    if capped:
        formula += "（封顶）"
    assumptions.append(FINAL_SAY)
    return Computation(
        kind="severance",
        title="经济补偿",
        amount=amount,
        formula=formula,
        steps=tuple(steps),
        articles=tuple(articles),
        assumptions=tuple(assumptions),
        inputs={"月工资": yuan(wage), "入职日期": start.isoformat(), "离职日期": end.isoformat()},
    )


def unlawful_dismissal(
    wage: Decimal | None,
    start: date | None,
    end: date | None,
    local_average: WageStandard,
    minimum_wage: WageStandard | None = None,
) -> Computation:
    """赔偿金: twice the 经济补偿 (第八十七条), in place of it (实施条例第二十五条)."""
    base = _compensation(wage, start, end, local_average, minimum_wage, lawful=False)
    amount = money(base.amount * 2)
    return Computation(
        kind="unlawful",
        title="违法解除劳动合同的赔偿金",
        amount=amount,
        formula=f"经济补偿 {yuan(base.amount)} × 2 = {yuan(amount)}",
        steps=(*base.steps, "违法解除的，按经济补偿标准的二倍支付"),
        articles=(
            Cited(LABOUR_CONTRACT_LAW, 87, "违法解除按经济补偿的二倍赔偿"),
            Cited(LABOUR_CONTRACT_LAW, 47, "经济补偿的标准"),
            Cited(REGULATION, 25, "赔偿金代替经济补偿，年限自用工之日起算"),
        ),
        assumptions=base.assumptions,
        inputs=base.inputs,
    )


def notice_pay(last_month_wage: Decimal | None) -> Computation:
    """代通知金: one month's wage, at last month's rate (实施条例第二十条)."""
    wage = _wage(last_month_wage, "last_wage")
    amount = money(wage)
    return Computation(
        kind="notice",
        title="代通知金（额外支付的一个月工资）",
        amount=amount,
        formula=f"1个月 × {yuan(wage)} = {yuan(amount)}",
        steps=("单位没有提前三十日书面通知的，额外支付一个月工资，按上一个月的工资标准确定",),
        articles=(
            Cited(LABOUR_CONTRACT_LAW, 40, "提前三十日通知或者额外支付一个月工资"),
            Cited(REGULATION, 20, "按上一个月的工资标准"),
        ),
        assumptions=(
            "只适用于按劳动合同法第四十条解除（医疗期满不能工作、不能胜任且经培训或调岗仍不能胜任、"
            "客观情况重大变化协商不成），并且单位没有提前三十日书面通知",
            "按第四十条第二项以「不能胜任」解除的，单位应当先培训或者调整岗位",
            FINAL_SAY,
        ),
        inputs={"上月工资": yuan(wage)},
    )
