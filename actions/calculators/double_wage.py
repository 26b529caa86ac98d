"""未签书面劳动合同的二倍工资差额 (劳动合同法第八十二条, 实施条例第六、七条).

The period is the regulation's: from the day the first month of work is
full to the day before the contract was signed, and never past the day
before a full year (after that the law deems an open-ended contract signed,
第七条) — at most eleven months. The resident already got one wage for each
of those months; what is owed is the other one.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from decimal import Decimal

from actions.calculators.computation import Cited, Computation, MissingInput, money, number, yuan
from actions.calculators.labour_compensation import FINAL_SAY, LABOUR_CONTRACT_LAW, REGULATION
from actions.calculators.periods import add_months, span

MAX_MONTHS = 11


def double_wage(wage: Decimal | None, start: date | None, until: date | None) -> Computation:
    """`until`: the day a written contract was signed, or the first day no longer
    employed when none ever was (the period ends the day before)."""
    if wage is None or Decimal(wage) <= 0:
        raise MissingInput("wage", "需要每月工资")
    if start is None:
        raise MissingInput("start", "需要开始上班（用工）的日期")
    if until is None:
        raise MissingInput("end", "需要补签合同的日期；一直没签的，写离职日期")
    wage = Decimal(wage)
    first = add_months(start, 1)  # the second month of work begins
    last_possible = add_months(start, 12)  # deemed open-ended from the full year (第七条)
    stop = min(until, last_possible)
    steps = [f"从{first.isoformat()}（用工满一个月的次日）起算"]
    if stop <= first:
        amount, months_text = money(0), "0个月"
        steps.append("用工不满一个月就签了合同或离职，没有二倍工资")
        formula = f"0 × {yuan(wage)} = 0元"
    else:
        length = span(first, stop)
        days_in_month = calendar.monthrange(
            add_months(first, length.total_months).year, add_months(first, length.total_months).month
        )[1]
        fraction = Decimal(length.days) / Decimal(days_in_month)
        months = Decimal(length.total_months) + fraction
        amount = money(wage * months)
        months_text = length.describe()
        steps.append(f"算到{(stop - timedelta(days=1)).isoformat()}，共{months_text}")
        if until > last_possible:
            steps.append(f"用工满一年起视为已订立无固定期限劳动合同，最多计{MAX_MONTHS}个月")
        shown = number(months.quantize(Decimal("0.01"))) if length.days else number(months)
        formula = f"{shown}个月 × {yuan(wage)} = {yuan(amount)}"
    return Computation(
        kind="double_wage",
        title="未签书面劳动合同的二倍工资差额",
        amount=amount,
        formula=formula,
        steps=tuple(steps),
        articles=(
            Cited(LABOUR_CONTRACT_LAW, 82, "超过一个月不满一年未签合同，每月支付二倍工资"),
            Cited(REGULATION, 6, "起算时间和截止时间"),
            Cited(REGULATION, 7, "满一年未签：最多算到满一年的前一日"),
        ),
        assumptions=(
            "差额是每月多出的那一份工资：正常工资已经发过，只计另外一倍",
            "按您说的用工日期计算；用工之日起满一个月的次日，按次月的同一日计",
            "不足一个月的天数按当月日历天数折算",
            "二倍工资差额的仲裁时效如何起算，各地做法不一，较早月份的差额可能因超过一年时效而得不到支持"
            "（劳动争议调解仲裁法第二十七条）",
            FINAL_SAY,
        ),
        inputs={"月工资": yuan(wage), "用工日期": start.isoformat(), "补签或离职日期": until.isoformat()},
    )
