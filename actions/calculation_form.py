"""「我能拿多少」: a Rasa form that asks for what the computation needs (wage,
dates, notice, hours, grade), then shows the computation with its articles
quoted from the index and the last day to apply for arbitration.

Which computation: the button's or the answer's `calc_kind`, else the
topic just answered (actions/answer_topic.py starts the form when a resident
asks how much on a topic that has a calculator), else the resident picks.
Nothing typed is kept once the result is shown; 取消 clears it at any point.
"""

from __future__ import annotations

from abc import ABCMeta, abstractmethod
from datetime import date
from decimal import Decimal
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.calculators.computation import Computation, MissingInput, yuan
from actions.calculators.deadlines import arbitration_deadline
from actions.calculators.disability import disability_grant
from actions.calculators.double_wage import double_wage
from actions.calculators.inputs import parse_date, parse_grade, parse_hours, parse_wage, parse_yes_no
from actions.calculators.labour_compensation import notice_pay, severance, unlawful_dismissal
from actions.calculators.overtime import overtime
from actions.calculators.presentation import ArticleMissing, Lookup, Rendered, render_computation, render_deadline
from actions.calculators.wage_standards import configured
from actions.cards import OFFER_BUTTONS
from actions.retrieval_service import grounding
from knowledge_base.chinese_numerals import to_chinese_number
from knowledge_base.corpus.article_store import ArticleStore
from nlu.text_normaliser import fold_for_matching
from settings import get_settings

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
}
SLOTS_BY_KIND = {
    "severance": ["calc_wage", "calc_start", "calc_end", "calc_notice"],
    "double_wage": ["calc_wage", "calc_start", "calc_end"],
    "overtime": ["calc_wage", "calc_workday_hours", "calc_restday_hours", "calc_holiday_hours"],
    "disability": ["calc_wage", "calc_grade"],
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
REMIND_OFFER = (
    "需要的话，我可以在截止前30天和7天提醒您：会保存您在这个渠道的联系方式和这个日期，只用于提醒，"
    "随您的其他数据按期删除；回复「退订」随时取消。"
)
REMIND_BUTTONS = [{"title": "提醒我", "payload": "/set_reminder"}]
DRAFT_BUTTONS = [
    {"title": "生成劳动仲裁申请书", "payload": '/draft_document{"draft_kind": "labour_arbitration"}'},
    {"title": "生成人民调解申请书", "payload": '/draft_document{"draft_kind": "people_mediation"}'},
]
TODAY_WORDS = ("今天", "现在", "至今", "还在", "目前")


def parse_kind(text: Any) -> str | None:
    value = fold_for_matching(str(text or "")).strip()
    if value in SLOTS_BY_KIND:
        return value
    for kind, words in (
        ("overtime", ("加班",)),
        ("double_wage", ("二倍", "双倍", "没签", "未签", "合同")),
        ("disability", ("工伤", "伤残")),
        ("severance", ("辞退", "补偿", "赔偿", "解除", "开除", "裁员", "N+1", "n+1")),
    ):
        if any(w in value for w in words):
            return kind
    return None


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


class _AskCalc(Action, metaclass=ABCMeta):
    """Abstract (so the action server does not register it); one subclass per question below."""

    slot = ""

    @abstractmethod
    def name(self) -> str: ...

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        question = QUESTIONS[self.slot]
        text = question if isinstance(question, str) else question.get(_kind(tracker) or "", "")
        buttons = NOTICE_ANSWERS if self.slot == "calc_notice" else []
        dispatcher.utter_message(text=text or "请告诉我这一项。", buttons=buttons)
        return []


# one action per question, as Rasa asks a form's slot with action_ask_<slot>
for _slot in QUESTIONS:
    globals()[f"ActionAsk_{_slot}"] = ABCMeta(
        f"ActionAsk_{_slot}",
        (_AskCalc,),
        {"slot": _slot, "name": lambda self, _s=_slot: f"action_ask_{_s}", "__module__": __name__},
    )


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
            dispatcher.utter_message(text=f"没写哪一天，先按{day.year}年{day.month}月1日算。")
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


def calculation_button(kind: str) -> dict[str, str]:
    """Under an answer on a topic the statute computes: start the form for it."""
    return {"title": "算一算能拿多少", "payload": f'/start_calculation{{"calc_kind": "{kind}"}}'}


def article_lookup() -> Lookup | None:
    """The in-force articles of the index the answers quote from (the citation guard checks against it)."""
    loaded = grounding()
    store = loaded.retriever.store if loaded else None
    if store is None:
        try:
            store = ArticleStore(get_settings().index_dir)
        except FileNotFoundError:
            return None
    return lambda law, number: store.in_force(law, number)


class ActionStartCalculation(Action):
    """The button 「算一算能拿多少」 or 「帮我算一下」: the kind from the button,
    else from the topic just answered; a wage stated in the message is kept."""

    def name(self) -> str:
        return "action_start_calculation"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = [SlotSet(name, None) for name in FIELDS[1:]]
        kind = parse_kind(tracker.get_slot("calc_kind")) or kind_for_topic(tracker.get_slot("last_topic"))
        events.append(SlotSet("calc_kind", kind))
        return events


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


CLAIMS = {
    "severance": "支付解除劳动合同的经济补偿{amount}",
    "unlawful": "支付违法解除劳动合同的赔偿金{amount}",
    "notice": "支付代通知金（额外一个月工资）{amount}",
    "double_wage": "支付未订立书面劳动合同的二倍工资差额{amount}",
    "overtime": "支付加班费{amount}",
    "disability": "支付一次性伤残补助金{amount}",
}
TOPIC_OF_KIND = {kind: topic for topic, kind in TOPIC_KINDS.items()}


def _basis(computation: Computation) -> str:
    first = computation.articles[0]
    return (
        f"《{first.law}》第{to_chinese_number(first.article)}条"
        if first.law != "关于职工全年月平均工作时间和工资折算问题的通知"
        else ""
    )


def summary_for_drafts(main: Computation, extra: list[Computation], slots: dict[str, Any]) -> str:
    """What a drafted application claims, from the computation just shown (JSON in a slot)."""
    claims = [{"text": CLAIMS[main.kind].format(amount=yuan(main.amount)), "basis": _basis(main)}]
    hints = []
    for computation in extra:
        if computation.kind == "notice" and slots.get("calc_notice") == "no":
            claims.append(
                {"text": CLAIMS["notice"].format(amount=yuan(computation.amount)), "basis": _basis(computation)}
            )
        elif computation.kind == "unlawful":
            hints.append(
                f"如认为单位违法解除，可将第1项改为「{CLAIMS['unlawful'].format(amount=yuan(computation.amount))}」"
                f"（依据{_basis(computation)}），赔偿金与经济补偿不同时主张。"
            )
    if main.kind == "disability":
        hints.append(
            "单位参加了工伤保险的，一次性伤残补助金由工伤保险基金支付；单位没有参加的，才向单位主张（《工伤保险条例》第六十二条）。"
        )
    facts = []
    inputs = main.inputs
    if main.kind in ("severance", "double_wage"):
        start = inputs.get("入职日期") or inputs.get("用工日期")
        end = inputs.get("离职日期") or inputs.get("补签或离职日期")
        facts.append(f"申请人于{_chinese_date(start)}入职被申请人处工作，月工资{inputs.get('月工资')}。")
        if main.kind == "severance":
            notice = {"yes": "被申请人提前三十日书面通知了申请人", "no": "被申请人未提前三十日书面通知申请人"}.get(
                str(slots.get("calc_notice")), ""
            )
            facts.append(
                f"{_chinese_date(end)}，双方劳动合同被解除（或终止）" + (f"，{notice}" if notice else "") + "。"
            )
        else:
            facts.append(f"被申请人未与申请人订立书面劳动合同（截至{_chinese_date(end)}）。")
    elif main.kind == "overtime":
        facts.append(
            f"申请人月工资{inputs.get('月工资')}，"
            + "，".join(f"{k}{v}" for k, v in inputs.items() if k != "月工资")
            + "，被申请人未支付加班费。"
        )
    else:
        facts.append(f"申请人因工受伤，经劳动能力鉴定为{inputs.get('伤残等级')}，本人工资{inputs.get('本人工资')}。")
    import json

    return json.dumps(
        {"topic": TOPIC_OF_KIND.get(main.kind), "claims": claims, "hints": hints, "facts": facts}, ensure_ascii=False
    )


def _chinese_date(iso: str | None) -> str:
    if not iso:
        return "【请填写】"
    day = date.fromisoformat(iso)
    return f"{day.year}年{day.month}月{day.day}日"


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
            main, extra = _compute(slots)
            rendered = render_computation(main, lookup)
            lines = [_conditional_line(c, slots.get("calc_notice") == "unknown") for c in extra]
            deadline, deadline_ahead, deadline_slot = None, False, None
            if main.kind == "severance":  # the dismissal is the day the right was infringed
                limit = arbitration_deadline(date.fromisoformat(slots["calc_end"]))
                deadline = render_deadline(limit, lookup, first_marker=len(rendered.refs))
                deadline_ahead = limit.last_day > date.today()
                deadline_slot = f"{limit.kind}|{limit.last_day.isoformat()}|{limit.title}"
                if deadline_ahead:
                    deadline = Rendered(f"{deadline.text}\n{REMIND_OFFER}", deadline.refs)
        except (ArticleMissing, LookupError, MissingInput, ValueError, TypeError):
            dispatcher.utter_message(
                text="抱歉，这次没能给出有法条依据的计算，为免给您不准确的数字，先不算了。"
                "建议找调解员或申请法律援助，由工作人员帮您核算。",
                buttons=buttons,
            )
            return reset()
        dispatcher.utter_message(text=rendered.text)
        if lines:
            dispatcher.utter_message(text="\n".join(lines))
        refs = list(rendered.refs)
        events: list[dict[str, Any]] = []
        if deadline is not None:
            dispatcher.utter_message(text=deadline.text, buttons=REMIND_BUTTONS if deadline_ahead else [])
            refs += deadline.refs
            events.append(SlotSet("calc_deadline", deadline_slot))
        dispatcher.utter_message(
            text=f"这是按法律规定的标准算出的参考数（{main.title}约{yuan(main.amount)}），"
            "最终金额由劳动人事争议仲裁委员会或人民法院认定。需要人帮您核对证据、和单位协商或申请仲裁，可以点下面的按钮；"
            "也可以按这次的计算生成申请书草稿。",
            buttons=[*buttons, *DRAFT_BUTTONS],
        )
        summary = SlotSet("calc_summary", summary_for_drafts(main, extra, slots))
        return [*reset(), SlotSet("shown_articles", refs), summary, *events]


class ActionCancelCalculation(Action):
    def name(self) -> str:
        return "action_cancel_calculation"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        dispatcher.utter_message(text="好的，不算了，您刚才填的数字都已清除。有其他问题可以直接问我。")
        return [ActiveLoop(None), *reset()]


class ActionSetReminder(Action):
    """「提醒我」: the resident's consent; the gateway keeps the reminder and says when it
    will come (bot/core/reminders.py), or why it cannot on this channel."""

    def name(self) -> str:
        return "action_set_reminder"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        kind, _, rest = str(tracker.get_slot("calc_deadline") or "").partition("|")
        last_day, _, title = rest.partition("|")
        if not (kind and last_day and title):
            dispatcher.utter_message(
                text="现在没有可以提醒的期限。先算一算申请仲裁的最后一天吧。",
                buttons=[calculation_button("severance")],
            )
            return []
        dispatcher.utter_message(json_message={"reminder": {"kind": kind, "last_day": last_day, "title": title}})
        dispatcher.utter_message(text="收到。")
        return [SlotSet("calc_deadline", None)]
