"""Shows the whole text of an article an answer quoted in part.

Reached by the 「查看①全文」 button (payload carries the article reference)
or by typing 「全文」/「看第2条全文」 after an answer (then the number picks
among the articles just shown). Only articles in the built index are shown,
with their status, so the citation guard always passes.
"""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.retrieval_service import grounding
from knowledge_base.chinese_numerals import parse_chinese_number
from knowledge_base.retrieval.quotes import MARKERS, full_text, parse_ref

NOT_FOUND = "抱歉，我找不到要看的那一条。请先问一个具体问题，我回答时附上的法条都可以点「查看全文」。"
_POSITION = re.compile(r"([1-9]|[①②③④⑤⑥⑦⑧⑨]|[一二三四五六七八九])")


def pick_ref(text: str, entity: str | None, shown: list[str]) -> str | None:
    if entity:
        return entity
    if not shown:
        return None
    match = _POSITION.search(text or "")
    if not match:
        return shown[0]
    token = match.group(1)
    position = MARKERS.index(token) if token in MARKERS else parse_chinese_number(token) - 1
    return shown[position] if 0 <= position < len(shown) else None


class ActionShowArticle(Action):
    def name(self) -> str:
        return "action_show_article"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
        ref = pick_ref(
            tracker.latest_message.get("text") or "",
            next(tracker.get_latest_entity_values("article_ref"), None),
            tracker.get_slot("shown_articles") or [],
        )
        parsed = parse_ref(ref) if ref else None
        loaded = grounding()
        article = None
        if parsed and loaded is not None:
            law, number, label = parsed
            article = loaded.retriever.store.in_force(law, number, label)
        if article is None:
            dispatcher.utter_message(text=NOT_FOUND)
            return []
        dispatcher.utter_message(text=full_text(article))
        return []
