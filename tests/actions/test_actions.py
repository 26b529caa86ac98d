"""Knowledge cards and the real action server over its HTTP webhook."""

from __future__ import annotations

import re

import httpx
import yaml

from actions.cards import topic_cards, topic_reply
from nlu.taxonomy import load
from settings import ROOT, get_settings
from tests.helpers.stack import action_secret

ALLOWED_NUMBERS = {"110", "120", "12333", "12345", "12348"}


def answerable_intents() -> list[str]:
    taxonomy = load()
    return [
        i
        for i, c in taxonomy.intent_category.items()
        if c not in ("chitchat",) and not taxonomy.is_modifier(i) and i != "nlu_fallback"
    ]


def test_every_answered_intent_has_a_complete_card() -> None:
    cards = topic_cards()
    for intent in answerable_intents():
        card = cards[intent]
        assert card["summary"] and len(card["steps"]) >= 2 and card["where"], intent


def test_cards_invent_no_numbers_and_quote_no_articles() -> None:
    texts = [get_settings().content(name).read_text("utf-8") for name in ("topic_cards.yml", "request_cards.yml")] + [
        (ROOT / "domain.yml").read_text("utf-8")
    ]
    for text in texts:
        body = "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("#"))
        assert set(re.findall(r"\d{3,}", body)) <= ALLOWED_NUMBERS
        assert not re.search(r"第[一二三四五六七八九十百零〇\d]+条", body), "articles come from the corpus"


def test_street_named_when_known() -> None:
    reply = topic_reply("elevator_objection", "加装电梯", street="沙园")
    assert reply is not None and "沙园街道人民调解委员会" in reply.text


def tracker(intent: str, slots: dict | None = None, category: str | None = None) -> dict:
    latest = {
        "intent": {"name": intent, "confidence": 0.9},
        "entities": [],
        "text": "x",
        "intent_ranking": [{"name": intent, "confidence": 0.9}],
    }
    if category:
        latest["category"] = category
    return {
        "sender_id": "t",
        "slots": slots or {},
        "latest_message": latest,
        "events": [],
        "paused": False,
        "followup_action": None,
        "active_loop": {},
        "latest_action_name": None,
    }


def test_action_server_answers_topic(stack) -> None:
    url = f"http://127.0.0.1:{stack.settings.action_port}/webhook"
    body = {
        "next_action": "action_answer_topic",
        "sender_id": "t",
        "tracker": tracker("lease_deposit", {"street": "龙凤"}),
        "domain": yaml.safe_load((ROOT / "domain.yml").read_text("utf-8")),
        "version": "3.6.21",
    }
    response = httpx.post(url, json=body, timeout=30, headers=action_secret(stack)).json()
    text = response["responses"][0]["text"]
    assert "押金" in text and "龙凤街道人民调解委员会" in text
    slots = {e["name"]: e["value"] for e in response["events"] if e["event"] == "slot"}
    assert {k: slots[k] for k in ("dispute_category", "last_topic")} == {
        "dispute_category": "lease",
        "last_topic": "lease_deposit",
    }
    # "x" is no question: the card's own words were searched, and lease law quoted
    assert slots["last_question"] and slots["last_question"] != "x"
    assert slots["shown_articles"] and all(
        ref.startswith(("民法典|7", "广东省城镇房屋租赁条例|", "最高人民法院关于审理城镇房屋租赁"))
        for ref in slots["shown_articles"]
    ), slots["shown_articles"]


def test_action_server_routes_social_insurance_mediation(stack) -> None:
    url = f"http://127.0.0.1:{stack.settings.action_port}/webhook"
    body = {
        "next_action": "action_route_request",
        "sender_id": "t",
        "tracker": tracker(
            "request_mediation", {"dispute_category": "labour", "last_topic": "labour_social_insurance"}
        ),
        "domain": {},
        "version": "3.6.21",
    }
    text = httpx.post(url, json=body, timeout=30, headers=action_secret(stack)).json()["responses"][0]["text"]
    assert "海珠区社会保险费争议联合处置中心" in text
