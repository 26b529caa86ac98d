"""The last day to apply: labour arbitration (劳动争议调解仲裁法第二十七条) and
工伤认定 by the worker (工伤保险条例第十七条第二款), counted as 民法典第二百零一至
二百零三条 count a period.

A deadline is shown with what it runs from, because the resident's date is
only the start we were told: interruption (a claim made to the employer, a
complaint to the labour inspectorate) restarts it, and unpaid wages during
employment have no limit until the employment ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from actions.calculators.computation import Cited, MissingInput
from actions.calculators.periods import last_day_of_period

ARBITRATION_LAW = "劳动争议调解仲裁法"
INJURY_REGULATION = "工伤保险条例"
CIVIL_CODE = "民法典"


@dataclass(frozen=True)
class Deadline:
    kind: str  # arbitration | injury_recognition
    title: str
    runs_from: date
    last_day: date
    moved_past_weekend: bool
    explanation: str
    articles: tuple[Cited, ...]
    assumptions: tuple[str, ...]

    def days_left(self, today: date) -> int:
        return (self.last_day - today).days


_COUNTING = (
    Cited(CIVIL_CODE, 201, "开始的当日不计入"),
    Cited(CIVIL_CODE, 202, "到期月的对应日为最后一日"),
    Cited(CIVIL_CODE, 203, "最后一日是法定休假日的顺延"),
)
_HOLIDAYS = "最后一日逢周末已顺延到下周一；逢春节、国庆等法定节假日的，顺延到假期结束的次日，这里没有计入节假日"


def arbitration_deadline(runs_from: date | None, wages_while_employed: bool = False) -> Deadline:
    """`runs_from`: the day the resident knew their right was infringed (dismissal,
    an unpaid wage) — or, for wages owed while still employed, the day the
    employment ended (第二十七条第四款)."""
    if runs_from is None:
        raise MissingInput("start", "需要知道权利被侵害的日期（例如被辞退的日期、离职日期）")
    last, moved = last_day_of_period(runs_from, years=1)
    if wages_while_employed:
        explanation = "拖欠劳动报酬：劳动关系存续期间不受一年时效限制，劳动关系终止的，应当自终止之日起一年内申请仲裁"
    else:
        explanation = "劳动争议申请仲裁的时效为一年，从知道或者应当知道权利被侵害之日起计算"
    return Deadline(
        kind="arbitration",
        title="申请劳动仲裁的最后一天",
        runs_from=runs_from,
        last_day=last,
        moved_past_weekend=moved,
        explanation=explanation,
        articles=(Cited(ARBITRATION_LAW, 27, "仲裁时效一年，中断、中止与拖欠工资"), *_COUNTING),
        assumptions=(
            "您向单位主张过权利、向劳动监察等部门投诉过，或单位同意支付的，时效中断，从中断时起重新计算一年",
            _HOLIDAYS if moved else _HOLIDAYS.split("；", 1)[1],
            "能早申请就早申请，不要等到最后一天",
        ),
    )


def injury_recognition_deadline(accident_or_diagnosis: date | None) -> Deadline:
    """The worker's own year (第十七条第二款) — the employer had 30 days first."""
    if accident_or_diagnosis is None:
        raise MissingInput("start", "需要事故发生的日期，或者被诊断、鉴定为职业病的日期")
    last, moved = last_day_of_period(accident_or_diagnosis, years=1)
    return Deadline(
        kind="injury_recognition",
        title="自己申请工伤认定的最后一天",
        runs_from=accident_or_diagnosis,
        last_day=last,
        moved_past_weekend=moved,
        explanation="单位应当在30日内申请工伤认定；单位没有申请的，工伤职工或者近亲属、工会组织可以在事故伤害发生之日"
        "或者被诊断、鉴定为职业病之日起1年内直接申请",
        articles=(Cited(INJURY_REGULATION, 17, "工伤认定的申请时限"), *_COUNTING),
        assumptions=(
            "向单位所在地的社会保险行政部门（人社局）申请",
            _HOLIDAYS if moved else _HOLIDAYS.split("；", 1)[1],
        ),
    )
