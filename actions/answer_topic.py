"""Answers a legal question from the knowledge card of its intent."""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.cards import topic_reply
from nlu.taxonomy import load as load_taxonomy


class ActionAnswerTopic(Action):
    def name(self) -> Text:
        return "action_answer_topic"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        taxonomy = load_taxonomy()
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        street = tracker.get_slot("street")
        reply = topic_reply(intent or "", taxonomy.intent_title.get(intent or "", ""), street)
        if reply is None:
            dispatcher.utter_message(
                text="抱歉，这个问题我暂时还没有整理好的解答。您可以拨打12348公共法律服务热线咨询。"
            )
            return []
        dispatcher.utter_message(text=reply.text, buttons=reply.buttons)
        return [
            SlotSet("dispute_category", taxonomy.category_of(intent)),
            SlotSet("last_topic", intent),
        ]
