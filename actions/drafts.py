"""「生成劳动仲裁申请书」 / 「生成人民调解申请书」: the draft's content from the
computation just shown (its claims and the facts the resident answered), the
resident's own question, the other party if they named one, and the evidence
list of the topic's card. The gateway stores it and sends the signed links
(bot/core/conversation.py, bot/web/drafts.py renders it). Nothing is invented:
what the conversation did not give stays a marked blank.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.calculation_topics import TOPIC_KINDS, calculation_button
from actions.calculators.computation import Computation, yuan
from actions.cards import topic_cards
from actions.referral import STREET_COMMITTEE, referral
from knowledge_base.chinese_numerals import chinese_date, to_chinese_number

DRAFT_BUTTONS = [
    {"title": "生成劳动仲裁申请书", "payload": '/draft_document{"draft_kind": "labour_arbitration"}'},
    {"title": "生成人民调解申请书", "payload": '/draft_document{"draft_kind": "people_mediation"}'},
]
KINDS = ("labour_arbitration", "people_mediation")
NOTHING_YET = "申请书要写明请求事项和金额。先算一算能拿多少，算完就可以生成申请书草稿。"


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
    """The article that decides the claim: every computation lists it first."""
    first = computation.articles[0]
    return f"《{first.law}》第{to_chinese_number(first.article)}条"


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

    return json.dumps(
        {"topic": TOPIC_OF_KIND.get(main.kind), "claims": claims, "hints": hints, "facts": facts}, ensure_ascii=False
    )


def _chinese_date(iso: str | None) -> str:
    return chinese_date(date.fromisoformat(iso)) if iso else "【请填写】"


def named_other_party(tracker: Tracker) -> str | None:
    """The employer the resident named in this conversation (the `employer` entity), if any."""
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        for entity in (event.get("parse_data") or {}).get("entities") or []:
            if entity.get("entity") == "employer" and entity.get("value"):
                return str(entity["value"])[:60]
    return None


class ActionDraftDocument(Action):
    def name(self) -> str:
        return "action_draft_document"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        raw = tracker.get_slot("calc_summary")
        if not raw:
            dispatcher.utter_message(text=NOTHING_YET, buttons=[calculation_button("severance")])
            return []
        summary = json.loads(raw)
        kind = tracker.get_slot("draft_kind")
        kind = kind if kind in KINDS else "labour_arbitration"
        question = tracker.get_slot("last_question")
        facts = list(summary.get("facts") or [])
        if question and not str(question).startswith("/"):
            facts.append(f"申请人自述：{question}")
        card = topic_cards().get(summary.get("topic") or "", {})
        record: dict[str, Any] = {
            "kind": kind,
            "respondent": named_other_party(tracker),
            "claims": summary.get("claims") or [],
            "hints": summary.get("hints") or [],
            "facts": facts,
            "evidence": list(card.get("evidence") or []),
        }
        if kind == "people_mediation":
            street = tracker.get_slot("street")
            record["addressee"] = referral(STREET_COMMITTEE, street).name if street else "【请填写】街道人民调解委员会"
        dispatcher.utter_message(json_message={"draft": record})
        dispatcher.utter_message(text="好的，按刚才的计算起草了申请书。")
        return []
