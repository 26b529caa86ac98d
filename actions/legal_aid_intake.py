"""The legal-aid intake: a Rasa form that collects an application, judges its
likely outcome and hands the record to the gateway (which stores it for
staff and renders the printable summary).

Consent comes first (个人信息保护法: what, why, how long); without it nothing
is kept. The two articles of 《法律援助法》 the questions rest on are quoted
from the indexed corpus, never written by hand. 取消 clears everything,
「稍后再填」 keeps the answers for 「继续申请」, and every answer can be
corrected from the summary before it is sent.
"""

from __future__ import annotations

from abc import ABCMeta, abstractmethod
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import legal_aid_rules as rules
from actions.form_questions import SlotQuestion, ask_actions
from actions.referral import referral
from actions.retrieval_service import article_store
from actions.routing_policy import mediation_body
from knowledge_base.chinese_numerals import to_chinese_number
from knowledge_base.retrieval.quotes import citation_line
from settings import get_settings

FORM = "legal_aid_form"
FIELDS = (
    "intake_consent",
    "intake_category",
    "intake_description",
    "intake_other_party",
    "intake_amount",
    "intake_art31",
    "intake_art32",
    "intake_hardship",
    "applicant_name",
    "applicant_phone",
    "applicant_street",
    "intake_confirmed",
)
CORRECTABLE = {
    "intake_description": "情况描述",
    "intake_other_party": "对方",
    "intake_amount": "金额",
    "intake_art31": "事项",
    "applicant_name": "姓名",
    "applicant_phone": "手机号",
    "applicant_street": "街道",
}
STATUTE = "法律援助法"
OUTCOME_NEXT = {
    "likely_eligible": "工作人员会通过您留的手机号联系您，请准备好身份证件和与案件有关的材料。",
    "needs_review": "工作人员会通过您留的手机号联系您，进一步了解情况后决定是否给予法律援助。",
}


# the form's plain questions (the consent, article and summary questions are built below)
QUESTIONS: dict[str, tuple[str, list[dict[str, str]]]] = {
    "intake_category": (
        "您的纠纷属于哪一类？",
        [
            {"title": "劳动（工资、辞退、工伤、社保）", "payload": "labour"},
            {"title": "租房", "payload": "lease"},
            {"title": "外卖骑手、快递员等平台用工", "payload": "gig_work"},
            {"title": "加装电梯", "payload": "elevator"},
            {"title": "其他", "payload": "other_legal"},
        ],
    ),
    "intake_description": ("请用几句话说说发生了什么，比如什么时候开始、对方做了什么、您希望得到什么。", []),
    "intake_other_party": (
        "对方是谁？请写单位或平台名称，个人的话写称呼即可（例如：某某物流有限公司、房东王先生）。",
        [],
    ),
    "intake_amount": ("涉及多少钱？请写金额（例如：9000元）；不涉及钱或不清楚，请回复「不涉及」。", []),
    "intake_hardship": (
        "广州实行告知承诺制：您不用开具经济困难证明，只需书面承诺家庭经济状况符合法律援助经济困难标准，并对承诺的真实性负责。您愿意作出这个承诺吗？",
        [{"title": "愿意承诺", "payload": "/affirm"}, {"title": "不愿意或不符合", "payload": "/deny"}],
    ),
    "applicant_name": ("请问申请人怎么称呼？请写真实姓名，便于工作人员联系。", []),
    "applicant_phone": ("请留一个能联系到您的手机号（11位）。", []),
    "applicant_street": (
        "您住在海珠区哪个街道？（例如：赤岗、南华西；不在海珠区请回复「海珠区外」，市域通办也可以申请。）",
        [],
    ),
}


class _AskQuestion(SlotQuestion):
    """Abstract (so the action server does not register it); one subclass per question below."""

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        text, buttons = QUESTIONS[self.slot]
        dispatcher.utter_message(text=text, buttons=buttons)
        return []


ask_actions(_AskQuestion, QUESTIONS, globals())


def _article(number: int):
    """The in-force article of 《法律援助法》 from the index the assistant quotes from."""
    store = article_store()
    return store.in_force(STATUTE, number) if store is not None else None


def _reset() -> list[dict[str, Any]]:
    return [SlotSet(name, None) for name in FIELDS] + [SlotSet("requested_slot", None)]


class ActionAskIntakeConsent(Action):
    def name(self) -> str:
        return "action_ask_intake_consent"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        days = int(get_settings().case_retention_days)
        dispatcher.utter_message(
            text=(
                "【在线申请法律援助】\n个人信息告知：为了初步审查您的法律援助申请并联系您，我们会收集您的姓名、手机号、"
                "所在街道、纠纷情况（类别、经过、对方、金额）和经济困难承诺。这些信息只用于法律援助申请，"
                f"只有负责的工作人员能看到，保存{days}天后删除。您可以随时发送「取消」，已填的信息不会保存。\n"
                "您同意我们按上述方式处理您的个人信息吗？"
            ),
            buttons=[{"title": "同意", "payload": "/affirm"}, {"title": "不同意", "payload": "/deny"}],
        )
        return []


class _AskArticleItem(Action, metaclass=ABCMeta):
    """Asks which item of an article applies, quoting the article from the index."""

    number = 0
    slot = ""
    question = ""
    none_title = "以上都不是"

    @abstractmethod
    def name(self) -> str: ...

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        article = _article(self.number)
        if article is None:  # no index: ask without quoting rather than quote from memory
            dispatcher.utter_message(text=self.question + "（法条暂时无法显示，请回复项目序号，或「都不是」。）")
            return []
        items = rules.article_items(article.text)
        lines = [citation_line(article), article.text, "", self.question]
        buttons = [
            {"title": f"（{to_chinese_number(n)}）{wording[:18]}", "payload": f"第（{to_chinese_number(n)}）项"}
            for n, wording in items
        ]
        buttons.append({"title": self.none_title, "payload": "都不是"})
        dispatcher.utter_message(text="\n".join(lines), buttons=buttons)
        return []


class ActionAskIntakeArt31(_AskArticleItem):
    number, slot = 31, "intake_art31"
    question = "您要申请的事项属于上面哪一项？"

    def name(self) -> str:
        return "action_ask_intake_art31"


class ActionAskIntakeArt32(_AskArticleItem):
    number, slot = 32, "intake_art32"
    question = "您的情况是否属于上面不受经济困难条件限制的情形？"
    none_title = "都不属于"

    def name(self) -> str:
        return "action_ask_intake_art32"


def summary_lines(slots: dict[str, Any]) -> list[str]:
    art31 = int(slots.get("intake_art31") or 0)
    return [
        f"姓名：{slots.get('applicant_name') or '—'}",
        f"手机号：{slots.get('applicant_phone') or '—'}",
        f"街道：{slots.get('applicant_street') or '—'}",
        f"类别：{rules.CATEGORIES.get(slots.get('intake_category') or '', '—')}",
        f"情况：{slots.get('intake_description') or '—'}",
        f"对方：{slots.get('intake_other_party') or '—'}",
        f"金额：{slots.get('intake_amount') or '—'}",
        f"事项：{'第三十一条第（' + to_chinese_number(art31) + '）项' if art31 else '不在第三十一条列明事项中'}",
    ]


class ActionAskIntakeConfirmed(Action):
    def name(self) -> str:
        return "action_ask_intake_confirmed"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        lines = ["请核对您的申请信息：", *summary_lines(tracker.current_slot_values()), "", "确认无误就提交吧。"]
        buttons = [{"title": "确认提交", "payload": "/affirm"}]
        buttons += [
            {"title": f"修改{label}", "payload": f'/correct_intake{{"intake_field": "{field}"}}'}
            for field, label in CORRECTABLE.items()
        ]
        buttons.append({"title": "取消申请", "payload": "/cancel"})
        dispatcher.utter_message(text="\n".join(lines), buttons=buttons)
        return []


class ValidateLegalAidForm(FormValidationAction):
    def name(self) -> str:
        return "validate_legal_aid_form"

    async def required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[str]:
        if tracker.get_slot("intake_consent") is False:
            return ["intake_consent"]  # filled: the form ends and nothing is kept
        # called before the new answer is validated: read the raw answer as validation will
        art31 = rules.parse_item(str(tracker.get_slot("intake_art31") or ""), 9)
        art32 = rules.parse_item(str(tracker.get_slot("intake_art32") or ""), 5)
        if art31 == 0 and art32 == 0:  # not a legal-aid matter: no personal data needed
            return domain_slots[: domain_slots.index("intake_art32") + 1]
        if art32 in rules.WAIVER_ITEMS:
            return [s for s in domain_slots if s != "intake_hardship"]
        return domain_slots

    def _again(self, dispatcher: CollectingDispatcher, slot: str, text: str) -> dict[str, Any]:
        dispatcher.utter_message(text=text)
        return {slot: None}

    def validate_intake_consent(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value is False:
            return {"intake_consent": False}
        known = tracker.get_slot("dispute_category")
        prefill = {"intake_category": known} if known in rules.CATEGORIES and known != "other_legal" else {}
        return {"intake_consent": True, **prefill}

    def validate_intake_category(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:
        category = rules.parse_category(str(value or ""))
        return (
            {"intake_category": category}
            if category
            else self._again(dispatcher, "intake_category", "请点选一个类别。")
        )

    def validate_intake_description(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:
        text = str(value or "").strip()
        if len(text) < 4:
            return self._again(dispatcher, "intake_description", "请多写几个字，说说发生了什么。")
        return {"intake_description": text[:500]}

    def validate_intake_other_party(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:
        text = str(value or "").strip()
        return (
            {"intake_other_party": text[:60]}
            if text
            else self._again(dispatcher, "intake_other_party", "请写对方的名称或称呼。")
        )

    def validate_intake_amount(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:
        amount = rules.parse_amount(str(value or ""))
        return (
            {"intake_amount": amount}
            if amount
            else self._again(dispatcher, "intake_amount", "没看懂金额，请写成「9000元」这样，或回复「不涉及」。")
        )

    def validate_intake_art31(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:
        item = rules.parse_item(str(value or ""), 9)
        return (
            {"intake_art31": str(item)}
            if item is not None
            else self._again(dispatcher, "intake_art31", "请点选一项，或回复「都不是」。")
        )

    def validate_intake_art32(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:
        item = rules.parse_item(str(value or ""), 5)
        return (
            {"intake_art32": str(item)}
            if item is not None
            else self._again(dispatcher, "intake_art32", "请点选一项，或回复「都不属于」。")
        )

    def validate_applicant_name(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:
        name = rules.parse_name(str(value or ""))
        return (
            {"applicant_name": name} if name else self._again(dispatcher, "applicant_name", "请只写姓名（2到20个字）。")
        )

    def validate_applicant_phone(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:
        phone = rules.parse_phone(str(value or ""))
        return (
            {"applicant_phone": phone}
            if phone
            else self._again(dispatcher, "applicant_phone", "这不像是内地手机号，请写11位手机号，例如13812345678。")
        )

    def validate_applicant_street(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:
        street = rules.parse_street(str(value or ""))
        return (
            {"applicant_street": street}
            if street
            else self._again(
                dispatcher, "applicant_street", "没找到这个街道，请写海珠区的街道名（如赤岗、南华西），或「海珠区外」。"
            )
        )

    def validate_intake_confirmed(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:
        if value is True:
            return {"intake_confirmed": True}
        dispatcher.utter_message(text="好的，请点下面的按钮修改要改的那一项；不想申请了可以发送「取消」。")
        return {"intake_confirmed": None}


class ActionSubmitIntake(Action):
    def name(self) -> str:
        return "action_submit_intake"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        slots = tracker.current_slot_values()
        if slots.get("intake_consent") is not True:
            dispatcher.utter_message(
                text="好的，您没有同意处理个人信息，我们没有保存任何信息。"
                "您仍然可以拨打12348公共法律服务热线咨询法律援助。"
            )
            return _reset()
        art31, art32 = int(slots.get("intake_art31") or 0), int(slots.get("intake_art32") or 0)
        outcome = rules.assess(art31, art32, slots.get("intake_hardship"))
        if outcome.kind == "not_legal_aid":
            category = slots.get("intake_category")
            body = referral(mediation_body(category, None), tracker.get_slot("street"))
            dispatcher.utter_message(
                text=f"【初步结果：{outcome.title}】\n{outcome.reason}\n更好的办法：{body.line()}\n"
                "这次没有保存您的信息。如果您认为属于法律援助范围，可以拨打12348由工作人员判断。",
                buttons=[{"title": "找调解员", "payload": "/request_mediation"}],
            )
            return _reset()
        record = {
            **{k: slots.get(k) for k in FIELDS if k != "intake_consent"},
            "consent": True,
            "outcome": outcome.kind,
            "outcome_title": outcome.title,
            "reason": outcome.reason,
            "art31": art31,
            "art32": art32,
        }
        dispatcher.utter_message(json_message={"intake": record})
        dispatcher.utter_message(
            text=f"【申请已提交 · 初步结果：{outcome.title}】\n{outcome.reason}\n{OUTCOME_NEXT[outcome.kind]}"
            "\n（初步结果仅供参考，以法律援助机构的审查决定为准。）"
        )
        return _reset()


class ActionCancelIntake(Action):
    def name(self) -> str:
        return "action_cancel_intake"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        started = tracker.active_loop_name == FORM or any(tracker.get_slot(f) is not None for f in FIELDS)
        if not started:
            dispatcher.utter_message(text="现在没有需要取消的申请。有什么法律问题，直接告诉我就好。")
            return [ActiveLoop(None)]
        dispatcher.utter_message(text="已取消法律援助申请，您填写的信息已全部清除。需要时可以随时重新申请。")
        return [ActiveLoop(None), *_reset()]


class ActionPauseIntake(Action):
    def name(self) -> str:
        return "action_pause_intake"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        if tracker.active_loop_name != FORM:
            dispatcher.utter_message(text="好的，有需要随时找我。")
            return [ActiveLoop(None)]
        dispatcher.utter_message(
            text="好的，已为您保留填到一半的申请（还没有提交）。回来后发送「继续申请」接着填；"
            "发送「取消」可以全部清除。",
            buttons=[{"title": "继续申请", "payload": "/start_intake"}],
        )
        return [ActiveLoop(None), SlotSet("requested_slot", None)]


class ActionCorrectIntake(Action):
    def name(self) -> str:
        return "action_correct_intake"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        if tracker.active_loop_name != FORM:
            dispatcher.utter_message(text="现在没有正在填写的申请。要申请法律援助，请发送「开始申请」。")
            return []
        field: str | None = next(tracker.get_latest_entity_values("intake_field"), None)
        if field not in CORRECTABLE:
            return [SlotSet("intake_confirmed", None)]  # the form shows the summary with a button per answer
        events: list[dict[str, Any]] = [SlotSet(field, None), SlotSet("intake_confirmed", None)]
        if field == "intake_art31":
            events += [SlotSet("intake_art32", None), SlotSet("intake_hardship", None)]
        dispatcher.utter_message(text=f"好的，请重新填写{CORRECTABLE[field]}。")
        return events
