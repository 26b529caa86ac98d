"""「我能拿多少」: a Rasa form that asks for what the computation needs (wage,
dates, notice, hours, grade), then shows the computation with its articles
quoted from the index and the last day to apply for arbitration.

Which computation: the button's or the answer's `calc_kind`, else the
topic just answered (actions/answer_topic.py starts the form when a resident
asks how much on a topic that has a calculator), else the resident picks.
Nothing typed is kept once the result is shown; 取消 clears it at any point.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.calculation_topics import FIELDS, KIND_TITLES, SLOTS_BY_KIND, kind_for_topic, parse_kind, reset
from actions.calculators.inputs import parse_date, parse_grade, parse_hours, parse_wage, parse_yes_no
from actions.form_questions import SlotQuestion, ask_actions
from knowledge_base.chinese_numerals import chinese_date

NOTICE_ANSWERS = [
    {"title": "有书面通知", "payload": "有"},
    {"title": "没有通知", "payload": "没有"},
    {"title": "不清楚", "payload": "不清楚"},
]
LEAVE = "（不想算了，发送「取消」。）"
# the question for each slot; a (kind → text) mapping where the kind changes what is asked
QUESTIONS: dict[str, dict[str, str] | str] = {
    "calc_wage": {
        "severance": "解除或终止前十二个月，您平均每月工资多少（税前，包括奖金、津贴、补贴）？例如「9000元」。",
        "overtime": "您每月正常工作时间的工资是多少（不含加班费）？例如「5000元」。",
        "double_wage": "您每月工资多少？例如「6000元」。",
        "disability": "受伤前十二个月，您平均每月的社保缴费工资是多少？不清楚的，写平均月工资。",
    },
    "calc_start": {
        "severance": "您是哪天入职（开始上班）的？例如「2021年3月1日」。",
        "double_wage": "您是哪天开始上班的？例如「2024年1月1日」。",
        "injury_deadline": "事故是哪天发生的？职业病写被诊断或鉴定为职业病的日期。例如「2024年6月3日」。",
    },
    "calc_end": {
        "severance": "劳动合同是哪天解除或终止的？例如「2024年10月1日」。",
        "double_wage": "哪天补签了书面劳动合同？一直没签的，写离职日期；还在上班的，回复「今天」。",
    },
    "calc_notice": "单位有没有提前三十天书面通知您解除合同？",
    "calc_workday_hours": "工作日延长工作时间（每天超过8小时的部分）一共多少小时？没有请回复0。",
    "calc_restday_hours": "休息日（周末）加班、又没有安排补休的，一共多少小时？没有请回复0。",
    "calc_holiday_hours": "法定节假日（春节、国庆等）加班一共多少小时？没有请回复0。",
    "calc_grade": "劳动能力鉴定是几级伤残？例如「七级」（一级最重，十级最轻）。",
}
TODAY_WORDS = ("今天", "现在", "至今", "还在", "目前")


def _kind(tracker: Tracker) -> str | None:
    return parse_kind(tracker.get_slot("calc_kind"))


class ActionAskCalcKind(Action):
    def name(self) -> str:
        return "action_ask_calc_kind"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        dispatcher.utter_message(
            text="法律规定了这几项的计算方法，我可以按您的情况算一算。您想算哪一项？",
            buttons=[{"title": title, "payload": kind} for kind, title in KIND_TITLES.items()],
        )
        return []


class _AskCalc(SlotQuestion):
    """Abstract (so the action server does not register it); one subclass per question below."""

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        question = QUESTIONS[self.slot]
        text = question if isinstance(question, str) else question.get(_kind(tracker) or "", "")
        buttons = NOTICE_ANSWERS if self.slot == "calc_notice" else []
        dispatcher.utter_message(text=text or "请告诉我这一项。", buttons=buttons)
        return []


ask_actions(_AskCalc, QUESTIONS, globals())


class ValidateCompensationForm(FormValidationAction):
    def name(self) -> str:
        return "validate_compensation_form"

    async def required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[str]:
        kind = _kind(tracker)
        return ["calc_kind", *SLOTS_BY_KIND.get(kind or "", [])]

    def _again(self, dispatcher: CollectingDispatcher, slot: str, text: str) -> dict[str, Any]:
        dispatcher.utter_message(text=text + LEAVE)
        return {slot: None}

    def validate_calc_kind(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:
        kind = parse_kind(value)
        return {"calc_kind": kind} if kind else self._again(dispatcher, "calc_kind", "请点选要算的一项。")

    def validate_calc_wage(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:
        wage = parse_wage(str(value or ""))
        if wage is None or wage < 100 or wage > 1_000_000:
            return self._again(dispatcher, "calc_wage", "没看懂这个工资数，请写成「9000元」这样的一个数。")
        return {"calc_wage": str(wage)}

    def _date(self, slot: str, value: Any, dispatcher, allow_today: bool) -> dict[str, Any]:
        text = str(value or "")
        if allow_today and any(w in text for w in TODAY_WORDS):
            return {slot: date.today().isoformat()}
        parsed = parse_date(text)
        if parsed is None:
            return self._again(dispatcher, slot, "没看懂这个日期，请写成「2021年3月1日」这样，年月日都写上。")
        day, assumed_first = parsed
        if day > date.today():
            return self._again(dispatcher, slot, "这个日期还没到，请写已经发生的日期。")
        if assumed_first:
            dispatcher.utter_message(text=f"没写哪一天，先按{chinese_date(day)}算。")
        return {slot: day.isoformat()}

    def validate_calc_start(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:
        return self._date("calc_start", value, dispatcher, allow_today=False)

    def validate_calc_end(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:
        result = self._date("calc_end", value, dispatcher, allow_today=_kind(tracker) == "double_wage")
        start = tracker.get_slot("calc_start")
        if result.get("calc_end") and start and result["calc_end"] <= start:
            return self._again(dispatcher, "calc_end", f"这个日期早于入职日期（{start}），请再核对一下。")
        return result

    def validate_calc_notice(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:
        answer = parse_yes_no(str(value or ""))
        return {"calc_notice": "unknown" if answer is None else ("yes" if answer else "no")}

    def _hours(self, slot: str, value: Any, dispatcher) -> dict[str, Any]:
        hours = parse_hours(str(value or ""))
        if hours is None or hours > 2000:
            return self._again(dispatcher, slot, "请写小时数，例如「20小时」，没有请回复0。")
        return {slot: str(hours)}

    def validate_calc_workday_hours(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:
        return self._hours("calc_workday_hours", value, dispatcher)

    def validate_calc_restday_hours(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:
        return self._hours("calc_restday_hours", value, dispatcher)

    def validate_calc_holiday_hours(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:
        return self._hours("calc_holiday_hours", value, dispatcher)

    def validate_calc_grade(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:
        grade = parse_grade(str(value or ""))
        return (
            {"calc_grade": str(grade)} if grade else self._again(dispatcher, "calc_grade", "请写一级到十级中的一级。")
        )


class ActionStartCalculation(Action):
    """The button 「算一算能拿多少」 or 「帮我算一下」: the kind from the button,
    else from the topic just answered (else the form asks); earlier inputs are cleared."""

    def name(self) -> str:
        return "action_start_calculation"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = [SlotSet(name, None) for name in FIELDS[1:]]
        kind = parse_kind(tracker.get_slot("calc_kind")) or kind_for_topic(tracker.get_slot("last_topic"))
        events.append(SlotSet("calc_kind", kind))
        return events


class ActionCancelCalculation(Action):
    def name(self) -> str:
        return "action_cancel_calculation"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        dispatcher.utter_message(text="好的，不算了，您刚才填的数字都已清除。有其他问题可以直接问我。")
        return [ActiveLoop(None), *reset()]
