"""「提醒我」: the resident's consent to be reminded of the deadline just shown. The
gateway keeps the reminder and says when it will come, or why it cannot on
this channel (bot/core/reminders.py).
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.calculation_topics import calculation_button

REMIND_OFFER = (
    "需要的话，我可以在截止前30天和7天提醒您：会保存您在这个渠道的联系方式和这个日期，只用于提醒，"
    "随您的其他数据按期删除；回复「退订」随时取消。"
)
REMIND_BUTTONS = [{"title": "提醒我", "payload": "/set_reminder"}]


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
