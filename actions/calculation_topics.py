"""The vocabulary the computation's actions share: which computations there are,
the form's slots, and which topic or quoted article leads to which computation.

Kept apart so that the answer action (actions/answer_topic.py), the form, the
result and the drafted application agree without importing each other.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk.events import SlotSet

from nlu.text_normaliser import fold_for_matching

FORM = "compensation_form"
# the topic a resident asked about → what can be computed for it
TOPIC_KINDS = {
    "labour_dismissal": "severance",
    "labour_overtime_leave": "overtime",
    "labour_contract": "double_wage",
    "labour_work_injury": "disability",
}
KIND_TITLES = {
    "severance": "被辞退的经济补偿和赔偿金",
    "overtime": "加班费",
    "double_wage": "没签劳动合同的二倍工资",
    "disability": "工伤的一次性伤残补助金",
    "injury_deadline": "自己申请工伤认定的期限",
}
SLOTS_BY_KIND = {
    "severance": ["calc_wage", "calc_start", "calc_end", "calc_notice"],
    "double_wage": ["calc_wage", "calc_start", "calc_end"],
    "overtime": ["calc_wage", "calc_workday_hours", "calc_restday_hours", "calc_holiday_hours"],
    "disability": ["calc_wage", "calc_grade"],
    "injury_deadline": ["calc_start"],
}
FIELDS = (
    "calc_kind",
    "calc_wage",
    "calc_start",
    "calc_end",
    "calc_notice",
    "calc_workday_hours",
    "calc_restday_hours",
    "calc_holiday_hours",
    "calc_grade",
)


def parse_kind(text: Any) -> str | None:
    value = fold_for_matching(str(text or "")).strip()
    if value in SLOTS_BY_KIND:
        return value
    for kind, words in (
        ("overtime", ("加班",)),
        ("double_wage", ("二倍", "双倍", "没签", "未签", "合同")),
        ("injury_deadline", ("认定",)),
        ("disability", ("工伤", "伤残")),
        ("severance", ("辞退", "补偿", "赔偿", "解除", "开除", "裁员", "N+1", "n+1")),
    ):
        if any(w in value for w in words):
            return kind
    return None


def reset() -> list[dict[str, Any]]:
    return [SlotSet(name, None) for name in FIELDS] + [SlotSet("requested_slot", None)]


def kind_for_topic(intent: str | None) -> str | None:
    return TOPIC_KINDS.get(intent or "")


# the articles each computation rests on: a general labour question whose answer quotes
# one of them (「不签合同能拿多少」 → 第八十二条) is that computation's
ARTICLE_KINDS = {
    ("劳动合同法", 40): "severance",
    ("劳动合同法", 46): "severance",
    ("劳动合同法", 47): "severance",
    ("劳动合同法", 87): "severance",
    ("劳动合同法", 82): "double_wage",
    ("劳动合同法实施条例", 6): "double_wage",
    ("劳动合同法实施条例", 7): "double_wage",
    ("劳动法", 44): "overtime",
    ("工伤保险条例", 35): "disability",
    ("工伤保险条例", 36): "disability",
    ("工伤保险条例", 37): "disability",
}


def kind_for_articles(quoted: list[tuple[str, int]]) -> str | None:
    """The computation of the first quoted article that one rests on."""
    return next((ARTICLE_KINDS[q] for q in quoted if q in ARTICLE_KINDS), None)


def calculation_button(kind: str, title: str = "算一算能拿多少") -> dict[str, str]:
    """Under an answer on a topic the statute computes: start the form for it."""
    return {"title": title, "payload": f'/start_calculation{{"calc_kind": "{kind}"}}'}


# under a work-injury answer: the worker's own year to apply for 工伤认定 (工伤保险条例第十七条)
INJURY_DEADLINE_BUTTON = calculation_button("injury_deadline", "算一算工伤认定期限")
