"""The computation's result: the arithmetic and the articles quoted from the index,
what applies only if a fact holds (违法解除, no notice), the arbitration
deadline with the offer of a reminder, and the buttons to draft the application.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.calculation_topics import FIELDS, reset
from actions.calculators.computation import Computation, MissingInput, yuan
from actions.calculators.deadlines import Deadline, arbitration_deadline, injury_recognition_deadline
from actions.calculators.disability import disability_grant
from actions.calculators.double_wage import double_wage
from actions.calculators.labour_compensation import notice_pay, severance, unlawful_dismissal
from actions.calculators.overtime import overtime
from actions.calculators.presentation import ArticleMissing, Lookup, Rendered, render_computation, render_deadline
from actions.calculators.wage_standards import configured
from actions.cards import OFFER_BUTTONS
from actions.deadline_reminder import REMIND_BUTTONS, REMIND_OFFER
from actions.drafts import DRAFT_BUTTONS, summary_for_drafts
from actions.retrieval_service import article_store
from settings import get_settings


def article_lookup() -> Lookup | None:
    """The in-force articles of the index the answers quote from (the citation guard checks against it)."""
    store = article_store()
    if store is None:
        return None
    return lambda law, number: store.in_force(law, number)


def _compute(slots: dict[str, Any]) -> tuple[Computation, list[Computation]]:
    """(the main computation, the ones that apply only if a fact holds)."""
    standards = configured(get_settings())
    kind = slots["calc_kind"]
    wage = Decimal(slots["calc_wage"])
    start = date.fromisoformat(slots["calc_start"]) if slots.get("calc_start") else None
    end = date.fromisoformat(slots["calc_end"]) if slots.get("calc_end") else None
    if kind == "severance":
        main = severance(wage, start, end, standards.local_average, standards.minimum_wage)
        extra = [unlawful_dismissal(wage, start, end, standards.local_average, standards.minimum_wage)]
        if slots.get("calc_notice") != "yes":
            extra.append(notice_pay(wage))
        return main, extra
    if kind == "double_wage":
        return double_wage(wage, start, end), []
    if kind == "overtime":
        hours = {k: Decimal(slots.get(f"calc_{k}_hours") or 0) for k in ("workday", "restday", "holiday")}
        return overtime(wage, hours), []
    return disability_grant(wage, int(slots["calc_grade"]), standards.injury_average), []


def _conditional_line(computation: Computation, notice_unknown: bool) -> str:
    if computation.kind == "unlawful":
        return (
            f"如果单位解除违法（例如没有法定理由、程序不合法），可以主张赔偿金：{computation.formula}。"
            "依据《劳动合同法》第八十七条，赔偿金代替经济补偿，二者不同时拿。"
        )
    condition = "如果不清楚单位有没有提前书面通知：" if notice_unknown else ""
    return (
        f"{condition}单位按《劳动合同法》第四十条解除（医疗期满不能工作、不能胜任工作、客观情况重大变化）"
        f"而没有提前三十日书面通知的，还应额外支付一个月工资：{computation.formula}"
        "（《劳动合同法实施条例》第二十条：按上一个月的工资标准）。以「不能胜任」解除的，单位应当先培训或调岗。"
    )


def _show_deadline(dispatcher: CollectingDispatcher, limit: Deadline, shown: Rendered) -> tuple[list[str], SlotSet]:
    """The deadline as rendered with its article, and the offer of a reminder while it is
    ahead; (the articles quoted, the slot that 「提醒我」 reads)."""
    ahead = limit.last_day > date.today()
    dispatcher.utter_message(
        text=f"{shown.text}\n{REMIND_OFFER}" if ahead else shown.text, buttons=REMIND_BUTTONS if ahead else []
    )
    return shown.refs, SlotSet("calc_deadline", f"{limit.kind}|{limit.last_day.isoformat()}|{limit.title}")


SORRY = (
    "抱歉，这次没能给出有法条依据的计算，为免给您不准确的数字，先不算了。"
    "建议找调解员或申请法律援助，由工作人员帮您核算。"
)


class ActionShowCalculation(Action):
    def name(self) -> str:
        return "action_show_calculation"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        slots = {name: tracker.get_slot(name) for name in FIELDS}
        buttons = [OFFER_BUTTONS["mediation"], OFFER_BUTTONS["legal_aid"]]
        lookup = article_lookup()
        try:
            if lookup is None or not slots.get("calc_kind"):
                raise LookupError("no index")
            if slots["calc_kind"] == "injury_deadline":  # a date, no sum
                injury = injury_recognition_deadline(date.fromisoformat(slots["calc_start"]))
                refs, remember = _show_deadline(dispatcher, injury, render_deadline(injury, lookup))
                return [*reset(), SlotSet("shown_articles", refs), remember]
            main, extra = _compute(slots)
            rendered = render_computation(main, lookup)
            lines = [_conditional_line(c, slots.get("calc_notice") == "unknown") for c in extra]
            # rendered before anything is said: every article must be there
            limit: Deadline | None = None
            shown_limit: Rendered | None = None
            if main.kind == "severance":  # the dismissal is the day the right was infringed
                limit = arbitration_deadline(date.fromisoformat(slots["calc_end"]))
                shown_limit = render_deadline(limit, lookup, first_marker=len(rendered.refs))
        except (ArticleMissing, LookupError, MissingInput, ValueError, TypeError):
            dispatcher.utter_message(text=SORRY, buttons=buttons)
            return reset()
        dispatcher.utter_message(text=rendered.text)
        if lines:
            dispatcher.utter_message(text="\n".join(lines))
        refs = list(rendered.refs)
        events: list[dict[str, Any]] = []
        if limit is not None and shown_limit is not None:
            quoted, remember = _show_deadline(dispatcher, limit, shown_limit)
            refs += quoted
            events.append(remember)
        dispatcher.utter_message(
            text=f"这是按法律规定的标准算出的参考数（{main.title}约{yuan(main.amount)}），"
            "最终金额由劳动人事争议仲裁委员会或人民法院认定。需要人帮您核对证据、和单位协商或申请仲裁，可以点下面的按钮；"
            "也可以按这次的计算生成申请书草稿。",
            buttons=[*buttons, *DRAFT_BUTTONS],
        )
        summary = SlotSet("calc_summary", summary_for_drafts(main, extra, slots))
        return [*reset(), SlotSet("shown_articles", refs), summary, *events]
