"""Answers a legal question: the topic's knowledge card, grounded in the
statute articles retrieved for the resident's own words.

What is searched: the resident's message; for a short follow-up
(「那试用期呢？」) the previous question and the follow-up together; for a
tapped topic button, the question that led to the button, else the card's
own summary.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.calculation_topics import FORM as CALCULATION_FORM
from actions.calculation_topics import INJURY_DEADLINE_BUTTON, calculation_button, kind_for_articles, kind_for_topic
from actions.calculation_topics import reset as calculation_reset
from actions.cards import OFFER_BUTTONS, card_query, human_reply, mediation_suggestion, topic_reply
from actions.grounded_reply import (
    NEEDS_A_PERSON,
    Grounded,
    asks_amount,
    asks_judgement,
    ground,
    is_follow_up,
    needs_a_person,
)
from actions.handoff import request_handoff
from actions.referral import referral
from actions.retrieval_service import grounding
from actions.routing_policy import decide
from actions.tracker_views import earlier_user_texts, previous_bot_action
from nlu.intent_decision import GENERAL_INTENTS
from nlu.taxonomy import FALLBACK_INTENT
from nlu.taxonomy import load as load_taxonomy

SEARCH_DEPTH = 8
NO_CARD = (
    "抱歉，这个问题我暂时还没有整理好的解答，不想随便猜。建议找调解员或申请法律援助，"
    "也可以拨打12348公共法律服务热线咨询。"
)
COMPUTE_OFFER = (
    "您问能拿多少：这一项法律规定了计算标准，我问您几个数，按法条帮您算一算（最终以仲裁委员会或法院认定为准）。"
)
MIN_QUESTION_CHARS = 2  # fewer Chinese characters than this is no question to search with
_CJK = re.compile(r"[\u4e00-\u9fff]")


def question_for(tracker: Tracker, intent: str, category: str | None) -> tuple[str, str]:
    """(what to search with, the question to remember for follow-ups)."""
    text = (tracker.latest_message.get("text") or "").strip()
    if not text or text.startswith("/") or len(_CJK.findall(text)) < MIN_QUESTION_CHARS:
        earlier = earlier_user_texts(tracker)
        asked_to_clarify = previous_bot_action(tracker) == "action_clarify"
        base = earlier[0] if earlier and asked_to_clarify else card_query(intent)
        return base, base
    previous = tracker.get_slot("last_question")
    if previous and is_follow_up(text) and category == tracker.get_slot("dispute_category"):
        return f"{previous} {text}", previous
    return text, text


# below this the NLU's topic yields to the topic of the conversation for a follow-up
FOLLOW_UP_KEEPS_TOPIC_BELOW = 0.6


def follow_up_topic(tracker: Tracker) -> str | None:
    """The topic under discussion, when this message is a follow-up about it.

    「那一楼那户坚决不同意，我们能直接装吗？」 after a lift answer is about that
    lift: a short message that leans on the previous one keeps the topic unless
    the classifier is sure it opens a new one of a specific kind.
    """
    topic = tracker.get_slot("last_topic")
    text = tracker.latest_message.get("text") or ""
    if not topic or not is_follow_up(text):
        return None
    intent = tracker.latest_message.get("intent") or {}
    name, confidence = intent.get("name"), float(intent.get("confidence") or 0.0)
    if name == topic:
        return None
    if name == FALLBACK_INTENT or name in GENERAL_INTENTS.values() or confidence < FOLLOW_UP_KEEPS_TOPIC_BELOW:
        return topic
    return None


def retrieve(query: str, category: str | None) -> Grounded:
    loaded = grounding()
    if loaded is None:
        return Grounded(available=False)
    retriever = loaded.retriever
    # cases are matched on the resident's own words: the statutory terms added
    # to the search query make every labour question look alike
    search_vector, own_words = retriever.query_vectors(query)
    hits = retriever.search(query, category=category, k=SEARCH_DEPTH, query_vector=search_vector)
    grounded = ground(hits, category, question=query)
    quoted = [(q.article.law, q.article.number) for q in grounded.quotes]
    grounded.cases = loaded.cases.match(own_words, quoted)
    return grounded


class ActionAnswerTopic(Action):
    def name(self) -> str:
        return "action_answer_topic"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        intent = (tracker.latest_message.get("intent") or {}).get("name") or ""
        return await answer(dispatcher, tracker, follow_up_topic(tracker) or intent)


def topic_category(tracker: Tracker, intent: str) -> str:
    """The intent's category; for a 定金 question (category from the text) the
    one the NLU found, or the conversation's when it is a follow-up."""
    taxonomy = load_taxonomy()
    if not taxonomy.takes_stated_category(intent):
        return taxonomy.category_of(intent)
    latest = tracker.latest_message
    if (latest.get("intent") or {}).get("name") == intent and latest.get("category"):
        return str(latest["category"])
    return tracker.get_slot("dispute_category") or taxonomy.category_of(intent)


async def answer(dispatcher: CollectingDispatcher, tracker: Tracker, intent: str) -> list[dict[str, Any]]:
    """The answer to a legal question on `intent`'s topic (also used by the
    clarification action for a follow-up that keeps the conversation's topic)."""
    taxonomy = load_taxonomy()
    category = topic_category(tracker, intent)
    query, remembered = question_for(tracker, intent, category)
    text = tracker.latest_message.get("text") or ""
    street = tracker.get_slot("street")
    decision = decide(intent, category, text, street)
    events: list[dict[str, Any]] = []
    if decision.route == "handoff":  # a legal question, but escalating or urgent: a person first
        first = human_reply(escalating=decision.situation == "escalating", urgent=decision.situation == "urgent")
        dispatcher.utter_message(text=first.text, buttons=first.buttons)
        request_handoff(dispatcher, tracker, decision.situation, category)
    referral_lines: list[str] = []
    if decision.suggests_mediation and decision.body:
        ask = decision.ask_street and not tracker.get_slot("street_asked")
        referral_lines = mediation_suggestion(referral(decision.body, street).line(), ask)
        if ask:
            events.append(SlotSet("street_asked", True))
    # embedding and search release the GIL: in a thread, the server takes other residents meanwhile
    grounded = await asyncio.to_thread(retrieve, query, category if category in taxonomy.legal_categories else None)
    for_a_person = needs_a_person(text)
    reply = topic_reply(
        intent,
        taxonomy.intent_title.get(intent, ""),
        street,
        statutes=grounded.lines(),
        cases=grounded.case_lines(),
        extra_buttons=grounded.buttons(),
        referral=referral_lines,
    )
    if reply is None:
        dispatcher.utter_message(text=NO_CARD, buttons=[OFFER_BUTTONS["mediation"], OFFER_BUTTONS["legal_aid"]])
        return []
    text, buttons = reply.text, reply.buttons
    asked = tracker.latest_message.get("text") or ""
    quoted = [(q.article.law, q.article.number) for q in grounded.quotes]
    calc_kind = (kind_for_topic(intent) or kind_for_articles(quoted)) if category == "labour" else None
    compute_now = (
        calc_kind is not None and decision.route != "handoff" and asks_amount(asked) and not asks_judgement(asked)
    )
    if compute_now:
        for_a_person = False  # the statute fixes the sum: ask for the inputs instead of declining
        text = text.replace("\n", f"\n{COMPUTE_OFFER}\n", 1)
    elif calc_kind:
        buttons = [*buttons, calculation_button(calc_kind)]
    if calc_kind == "disability":
        buttons = [*buttons, INJURY_DEADLINE_BUTTON]
    if for_a_person:
        text = text.replace("\n", f"\n{NEEDS_A_PERSON}\n", 1)
    if for_a_person or not grounded.confident or decision.suggests_mediation:
        # weak retrieval or a judgement call: a person is the better next step
        offered = [OFFER_BUTTONS["mediation"], OFFER_BUTTONS["legal_aid"]]
        buttons = [b for b in buttons if b not in offered]
        buttons = (offered + buttons) if for_a_person else (buttons + offered)
    dispatcher.utter_message(text=text, buttons=buttons)
    events += [
        SlotSet("dispute_category", category),
        SlotSet("last_topic", intent),
        SlotSet("last_question", remembered),
        SlotSet("shown_articles", grounded.refs),
    ]
    if compute_now:
        events += [*calculation_reset(), SlotSet("calc_kind", calc_kind), FollowupAction(CALCULATION_FORM)]
    return events
