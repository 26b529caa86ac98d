"""Routes a request for legal aid, mediation or a person.

The dispute behind the request comes from the message itself when it states
one (the NLU ``category``), otherwise from the topic discussed earlier in the
conversation, so 「我想申请法律援助」 after a wage question is treated as a
labour matter.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.cards import human_reply, legal_aid_reply, mediation_reply
from actions.handoff import request_handoff
from actions.referral import referral
from actions.routing_policy import decide
from nlu.taxonomy import load as load_taxonomy


def dispute_context(tracker: Tracker) -> tuple[str | None, str | None]:
    """(category, topic intent) of the dispute this request is about."""
    taxonomy = load_taxonomy()
    stated = tracker.latest_message.get("category")
    if stated in taxonomy.dispute_categories:
        return stated, None
    return tracker.get_slot("dispute_category"), tracker.get_slot("last_topic")


class ActionRouteRequest(Action):
    def name(self) -> str:
        return "action_route_request"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
        intent = (tracker.latest_message.get("intent") or {}).get("name") or ""
        category, topic = dispute_context(tracker)
        street = tracker.get_slot("street")
        decision = decide(intent, category, tracker.latest_message.get("text") or "", street, topic=topic)
        events: list[dict[str, Any]] = []
        if decision.route == "offer_legal_aid":
            reply = legal_aid_reply(category, referral("legal_aid", street).contact)
        elif decision.route == "answer_suggest_mediation" and decision.body:
            # asked once: after that the generic committee is named and the resident can still say the street
            ask = decision.ask_street and not tracker.get_slot("street_asked")
            reply = mediation_reply(referral(decision.body, street).line(), ask)
            if ask:
                events.append(SlotSet("street_asked", True))
        else:
            reply = human_reply()
        dispatcher.utter_message(text=reply.text, buttons=reply.buttons)
        if decision.route == "handoff":
            request_handoff(dispatcher, tracker, decision.situation, category)
        if category and category != tracker.get_slot("dispute_category"):
            events.append(SlotSet("dispute_category", category))
        return events
