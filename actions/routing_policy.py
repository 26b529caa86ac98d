"""The routing policy: for each message, answer, answer and suggest
mediation, offer legal-aid intake, hand off to a mediator now, treat as an
emergency, or ask to clarify; and which body of the directory to name.

The policy itself is data (knowledge_base/content/routing_policy.yml) so the bureau
can read and change it; this module only applies it. The README's table of
every category x situation is generated from it:
`python -m actions.routing_policy --table`.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import yaml

from nlu.taxonomy import FALLBACK_INTENT
from nlu.taxonomy import load as load_taxonomy
from nlu.text_normaliser import fold_for_matching
from settings import get_settings

STREET_COMMITTEE = "street_committee"
ROUTES = ("emergency", "handoff", "offer_legal_aid", "answer_suggest_mediation", "answer", "clarify")
REQUEST_SITUATIONS = {
    "request_human": "asks_for_person",
    "request_legal_aid": "asks_for_legal_aid",
    "request_mediation": "asks_for_mediation",
    "emergency": "emergency",
    # a street is only asked for to name the street's mediation committee
    "inform_street": "asks_for_mediation",
}


@dataclass(frozen=True)
class Decision:
    route: str
    situation: str
    body: str | None = None  # a service id of the directory, or street_committee
    ask_street: bool = False  # the body is a street committee and the street is not known yet

    @property
    def suggests_mediation(self) -> bool:
        return self.route == "answer_suggest_mediation"


@lru_cache(maxsize=1)
def policy() -> dict[str, Any]:
    path = get_settings().content("routing_policy.yml")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    routes = [entry["route"] for entry in data["situations"]]
    unknown = [r for r in routes if r not in ROUTES]
    if unknown:
        raise ValueError(f"{path}: unknown routes {unknown}")
    return data


def mediation_body(category: str | None, topic: str | None) -> str:
    bodies = policy()["mediation_body"]
    return bodies["by_topic"].get(topic or "") or bodies["by_category"].get(category or "") or bodies["default"]


def escalating(text: str) -> bool:
    folded = fold_for_matching(text or "")
    return any(term in folded for term in policy()["escalation_terms"])


@lru_cache(maxsize=1)
def _urgency() -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in policy()["urgency_patterns"]))


def urgent(text: str) -> bool:
    """An injury needing treatment, a hearing or auction within days, a home lost
    today, many workers unpaid: a person first, with the answer."""
    return bool(_urgency().search(fold_for_matching(text or "")))


def situation_of(intent: str, text: str, after_clarification: bool) -> str:
    if intent in REQUEST_SITUATIONS:
        return REQUEST_SITUATIONS[intent]
    if escalating(text):
        return "escalating"
    if urgent(text):
        return "urgent"
    if intent == FALLBACK_INTENT:
        return "unsure_after_clarification" if after_clarification else "unsure"
    return "question"


def decide(
    intent: str,
    category: str | None,
    text: str = "",
    street: str | None = None,
    topic: str | None = None,
    after_clarification: bool = False,
) -> Decision:
    """The route for one message. `topic` is the legal topic under discussion
    (the intent itself for a question, the earlier topic for a request)."""
    taxonomy = load_taxonomy()
    if topic is None and intent in taxonomy.intent_title and not taxonomy.is_modifier(intent):
        topic = intent
    situation = situation_of(intent, text, after_clarification)
    route = next(e["route"] for e in policy()["situations"] if e["situation"] == situation)
    if route == "answer":
        wanted = policy()["suggest_mediation_with_answer"]
        if category in wanted["categories"] or topic in wanted["topics"]:
            route = "answer_suggest_mediation"
    body = None
    if route == "answer_suggest_mediation":
        body = mediation_body(category, topic)
    elif route == "offer_legal_aid":
        body = "legal_aid"
    return Decision(route, situation, body, ask_street=(body == STREET_COMMITTEE and not street))


# -- documentation ---------------------------------------------------------------
SITUATION_TITLES = {
    "question": "a legal question",
    "unsure": "not understood",
    "unsure_after_clarification": "still not understood after a clarification",
    "asks_for_mediation": "asks for mediation",
    "asks_for_legal_aid": "asks for legal aid",
    "asks_for_person": "asks for a person",
    "escalating": "escalating (堵门, 拉横幅 …)",
    "emergency": "emergency (violence, self-harm)",
    "urgent": "urgent (surgery, a hearing or auction within days, evicted today, many workers unpaid)",
}
_SAMPLE = {
    "unsure": FALLBACK_INTENT,
    "unsure_after_clarification": FALLBACK_INTENT,
    "asks_for_mediation": "request_mediation",
    "asks_for_legal_aid": "request_legal_aid",
    "asks_for_person": "request_human",
    "emergency": "emergency",
    "escalating": "labour_wage_arrears",
    "urgent": "labour_wage_arrears",
}


def _cell(decision: Decision) -> str:
    return decision.route + (f" → {decision.body}" if decision.body else "")


def table() -> str:
    """Markdown: every category x situation, then the topics that differ from their category."""
    taxonomy = load_taxonomy()
    categories = [c for c in taxonomy.categories if c != "chitchat"]
    situations = [e["situation"] for e in policy()["situations"]]
    lines = ["| situation | " + " | ".join(categories) + " |", "|---|" + "---|" * len(categories)]
    for situation in situations:
        cells = []
        for category in categories:
            intent = "" if situation == "question" else _SAMPLE[situation]  # "": the category's default
            text = {"escalating": "明天去堵门", "urgent": "明天就要开庭"}.get(situation, "")
            cells.append(
                _cell(
                    decide(
                        intent,
                        category,
                        text,
                        street="赤岗",
                        after_clarification=situation == "unsure_after_clarification",
                    )
                )
            )
        lines.append(f"| {SITUATION_TITLES[situation]} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Topics routed differently from their category:",
        "",
        "| topic | category | a legal question | asks for mediation |",
        "|---|---|---|---|",
    ]
    for intent, category in taxonomy.intent_category.items():
        if taxonomy.is_modifier(intent) or category == "chitchat" or intent == FALLBACK_INTENT:
            continue
        row = (
            _cell(decide(intent, category, street="赤岗")),
            _cell(decide("request_mediation", category, street="赤岗", topic=intent)),
        )
        base = (_cell(decide("", category, street="赤岗")), _cell(decide("request_mediation", category, street="赤岗")))
        if row != base:
            lines.append(f"| {intent} | {category} | {row[0]} | {row[1]} |")
    lines += [
        "",
        "`street_committee` is the people's mediation committee of the resident's street; "
        "when the street is not known the reply asks for it, once.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1:] == ["--table"]:
        print(table())
        sys.exit(0)
    print("usage: python -m actions.routing_policy --table", file=sys.stderr)
    sys.exit(2)
