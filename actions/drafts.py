"""「生成劳动仲裁申请书」 / 「生成人民调解申请书」: the draft's content from the
computation just shown (its claims and the facts the resident answered), the
resident's own question, the other party if they named one, and the evidence
list of the topic's card. The gateway stores it and sends the signed links
(bot/core/conversation.py, bot/web/drafts.py renders it). Nothing is invented:
what the conversation did not give stays a marked blank.
"""

from __future__ import annotations

import json
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.calculation_form import calculation_button
from actions.cards import topic_cards
from actions.referral import STREET_COMMITTEE, referral

KINDS = ("labour_arbitration", "people_mediation")
NOTHING_YET = "申请书要写明请求事项和金额。先算一算能拿多少，算完就可以生成申请书草稿。"


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
