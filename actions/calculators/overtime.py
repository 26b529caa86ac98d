"""加班费 (劳动法第四十四条) with the hourly wage of 劳社部发[2008]3号:
monthly wage ÷ (21.75 pay days × 8 hours).

The three rates are the article's minimums (「不低于」): 150 % for longer
working days, 200 % for rest days without time off in lieu, 300 % for
statutory holidays.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from actions.calculators.computation import Cited, Computation, MissingInput, money, number, yuan
from actions.calculators.labour_compensation import FINAL_SAY

LABOUR_LAW = "劳动法"
PAY_DAYS_NOTICE = "关于职工全年月平均工作时间和工资折算问题的通知"
PAY_DAYS = Decimal("21.75")
HOURS_A_DAY = 8
RATES = (
    ("workday", Decimal("1.5"), "工作日延长工作时间"),
    ("restday", Decimal("2"), "休息日加班且没有补休"),
    ("holiday", Decimal("3"), "法定休假日加班"),
)


def overtime(wage: Decimal | None, hours: Mapping[str, Decimal | None]) -> Computation:
    if wage is None or Decimal(wage) <= 0:
        raise MissingInput("wage", "需要月工资（正常工作时间的工资）")
    given = {k: Decimal(v) for k, v in hours.items() if v is not None}
    if not any(given.values()):
        raise MissingInput("hours", "需要加班小时数：工作日延长、休息日、法定节假日各多少小时")
    if any(v < 0 for v in given.values()):
        raise MissingInput("hours", "加班小时数不能是负数")
    wage = Decimal(wage)
    hourly = wage / (PAY_DAYS * HOURS_A_DAY)
    steps = [f"小时工资 = {yuan(wage)} ÷ (21.75天 × 8小时) = {yuan(hourly)}"]
    terms, total = [], Decimal(0)
    for key, rate, title in RATES:
        h = given.get(key) or Decimal(0)
        if not h:
            continue
        part = hourly * rate * h
        total += part
        steps.append(f"{title}：{number(h)}小时 × {number(rate * 100)}% = {yuan(part)}")
        terms.append(f"{number(h)}小时×{number(rate * 100)}%")
    amount = money(total)
    formula = f"{yuan(hourly)}/小时 × ({' + '.join(terms)}) = {yuan(amount)}"
    return Computation(
        kind="overtime",
        title="加班费",
        amount=amount,
        formula=formula,
        steps=tuple(steps),
        articles=(
            Cited(LABOUR_LAW, 44, "加班工资不低于150%、200%、300%"),
            Cited(PAY_DAYS_NOTICE, 2, "小时工资＝月工资÷（21.75天×8小时）"),
        ),
        assumptions=(
            "月工资按正常工作时间的工资计算，不含加班费本身；劳动合同约定了加班工资基数的，以约定为准",
            "休息日加班已经安排补休的，不再支付200%的加班费",
            "第四十四条规定的是最低标准，单位可以给得更多",
            "实行综合计算工时或不定时工作制的，计算方法不同",
            FINAL_SAY,
        ),
        inputs={"月工资": yuan(wage), **{t: f"{number(given[k])}小时" for k, _, t in RATES if given.get(k)}},
    )
