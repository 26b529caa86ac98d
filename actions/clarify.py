"""Asks which topic the resident means when the classifier is unsure.

Offers the two or three likeliest topics as buttons rather than guessing: a
wrong answer about wages or a home is worse than one extra tap. The NLU asks
for this only for short messages whose area is unclear (nlu/intent_decision.py);
a short follow-up to an answer keeps that answer's topic instead.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.answer_topic import answer, follow_up_topic
from actions.cards import human_reply
from actions.handoff import request_handoff
from actions.routing_policy import decide
from actions.tracker_views import previous_bot_action
from nlu.taxonomy import FALLBACK_INTENT
from nlu.taxonomy import load as load_taxonomy

MAX_CHOICES = 3
STILL_UNSURE = "抱歉，我还是没能理解您的问题。为免耽误您，建议由工作人员来帮您。"
NOT_OFFERED = {FALLBACK_INTENT, "affirm", "deny", "greet", "thank", "goodbye", "out_of_scope"}


def likely_topics(ranking: list[dict[str, Any]]) -> list[str]:
    taxonomy = load_taxonomy()
    names = [r.get("name") for r in ranking]
    return [n for n in names if n and n not in NOT_OFFERED and n in taxonomy.intent_title][:MAX_CHOICES]


class ActionClarify(Action):
    def name(self) -> str:
        return "action_clarify"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        topic = follow_up_topic(tracker)
        if topic:
            # 「那如果他不同意呢？」 after an answer: about that answer's topic, not a new riddle
            return await answer(dispatcher, tracker, topic)
        taxonomy = load_taxonomy()
        decision = decide(
            FALLBACK_INTENT,
            tracker.latest_message.get("category"),
            tracker.latest_message.get("text") or "",
            after_clarification=previous_bot_action(tracker) == "action_clarify",
        )
        if decision.route == "handoff":
            # still not understood after asking once: a person, not a second guess
            reply = human_reply()
            dispatcher.utter_message(text=STILL_UNSURE + "\n" + reply.text, buttons=reply.buttons)
            request_handoff(dispatcher, tracker, decision.situation)
            return []
        topics = likely_topics(tracker.latest_message.get("intent_ranking") or [])
        buttons = [{"title": taxonomy.intent_title[t], "payload": f"/{t}"} for t in topics]
        buttons.append({"title": "都不是，转人工", "payload": "/request_human"})
        dispatcher.utter_message(
            text="我不太确定您问的是哪一类问题。您是想问下面哪一项？都不是的话，也可以换个说法再说一次。",
            buttons=buttons,
        )
        return []
