"""一次性伤残补助金 by disability grade (工伤保险条例第三十五至三十七条), in months
of 本人工资 as 第六十四条 defines it: the twelve months' average contribution
wage before the injury, between 60 % and 300 % of the 统筹地区's average.
"""

from __future__ import annotations

from decimal import Decimal

from actions.calculators.computation import Cited, Computation, MissingInput, money, yuan
from actions.calculators.labour_compensation import FINAL_SAY
from actions.calculators.wage_standards import UNCONFIRMED, WageStandard
from knowledge_base.chinese_numerals import to_chinese_number

REGULATION = "工伤保险条例"
# grade → (months of 本人工资, the article that fixes it)
MONTHS_BY_GRADE = {1: (27, 35), 2: (25, 35), 3: (23, 35), 4: (21, 35), 5: (18, 36), 6: (16, 36),
                   7: (13, 37), 8: (11, 37), 9: (9, 37), 10: (7, 37)}  # fmt: skip
GRADE_NAMES = "一二三四五六七八九十"


def disability_grant(wage: Decimal | None, grade: int | None, injury_average: WageStandard) -> Computation:
    if grade is None or grade not in MONTHS_BY_GRADE:
        raise MissingInput("grade", "需要劳动能力鉴定的伤残等级（一级至十级）")
    if wage is None or Decimal(wage) <= 0:
        raise MissingInput("wage", "需要本人工资：受伤前十二个月的平均月缴费工资")
    wage = Decimal(wage)
    months, article = MONTHS_BY_GRADE[grade]
    grade_name = f"{GRADE_NAMES[grade - 1]}级伤残"
    steps = [f"{grade_name}：{months}个月的本人工资（第{to_chinese_number(article)}条）"]
    assumptions = [
        "本人工资按您提供的受伤前十二个月平均月缴费工资计算（第六十四条）",
        "单位依法参加了工伤保险的，由工伤保险基金支付；没有参加的，由单位按同样标准支付（第六十二条）",
        "按国务院《工伤保险条例》的标准；广东省的具体规定和社保经办机构的核定为准",
    ]
    base = wage
    if injury_average.amount is not None:
        high: Decimal = injury_average.amount * 3
        low: Decimal = injury_average.amount * Decimal("0.6")
        if wage > high:
            base = high
            steps.append(f"本人工资高于{injury_average.describe()}的300%，按{yuan(high)}计算")
        elif wage < low:
            base = low
            steps.append(f"本人工资低于{injury_average.describe()}的60%，按{yuan(low)}计算")
    else:
        assumptions.append(f"统筹地区职工平均工资{UNCONFIRMED}，没有按第六十四条的60%—300%调整本人工资")
    amount = money(base * months)
    assumptions.append(FINAL_SAY.replace("劳动人事争议仲裁委员会或人民法院", "社会保险经办机构、仲裁委员会或人民法院"))
    return Computation(
        kind="disability",
        title="一次性伤残补助金",
        amount=amount,
        formula=f"{months}个月 × {yuan(base)} = {yuan(amount)}",
        steps=tuple(steps),
        articles=(
            Cited(REGULATION, article, f"{grade_name}的一次性伤残补助金"),
            Cited(REGULATION, 64, "本人工资的含义和上下限"),
        ),
        assumptions=tuple(assumptions),
        inputs={"本人工资": yuan(wage), "伤残等级": grade_name},
    )
