"""The intent taxonomy and intent → category contract, loaded from taxonomy.yml.

Pure Python plus PyYAML so that both virtual environments (Rasa's and the main
one) read the same contract instead of keeping copies that could drift.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

TAXONOMY_PATH = Path(__file__).with_name("taxonomy.yml")
FALLBACK_INTENT = "nlu_fallback"


@dataclass(frozen=True)
class Taxonomy:
    categories: tuple[str, ...]
    dispute_categories: tuple[str, ...]
    intent_category: Mapping[str, str]
    intent_title: Mapping[str, str]
    modifiers: frozenset[str]
    # answered as legal questions, but their category is the one the message states
    text_categorised: frozenset[str] = frozenset()

    @property
    def legal_categories(self) -> tuple[str, ...]:
        """The categories retrieval is steered by: the disputes and other_legal
        (which governs no law but selects its own legal issues: neighbours,
        property management, 定金 …)."""
        return (*self.dispute_categories, "other_legal")

    def category_of(self, intent: str | None) -> str:
        """The fixed category of an intent; unknown intents count as other_legal."""
        return self.intent_category.get(intent or "", "other_legal")

    def is_modifier(self, intent: str | None) -> bool:
        return (intent or "") in self.modifiers

    def takes_stated_category(self, intent: str | None) -> bool:
        """Whether the message's own dispute decides this intent's category."""
        return (intent or "") in self.modifiers or (intent or "") in self.text_categorised

    def resolve(
        self,
        intent: str | None,
        ranking: Sequence[Mapping[str, Any]] = (),
        stated_dispute: str | None = None,
        fallback_guess: str | None = None,
    ) -> str:
        """The category a parsed message carries.

        A dispute, other-legal or chitchat intent carries its own category. A
        modifier (legal aid, mediation, a person, emergency) carries the
        category of the dispute the message states (``stated_dispute``, from the
        category classifier) and other_legal when it states none. The fallback
        intent carries the guess of the decision rule (``fallback_guess``, a
        category only when there is evidence for it), else other_legal: a
        fallback never defaults to a dispute category.
        """
        if intent == FALLBACK_INTENT:
            # only a guess backed by evidence (nlu/intent_decision.py) names a dispute
            return fallback_guess if fallback_guess in self.categories else "other_legal"
        if self.takes_stated_category(intent):
            if stated_dispute in self.dispute_categories:
                return stated_dispute
            return "other_legal"
        return self.category_of(intent)

    def intents_of(self, category: str) -> list[str]:
        return [i for i, c in self.intent_category.items() if c == category]


def _build(raw: Mapping[str, Any]) -> Taxonomy:
    intents = raw["intents"]
    categories = tuple(raw["categories"])
    for name, spec in intents.items():
        if spec["category"] not in categories:
            raise ValueError(f"intent {name}: unknown category {spec['category']!r}")
    return Taxonomy(
        categories=categories,
        dispute_categories=tuple(raw["dispute_categories"]),
        intent_category={n: s["category"] for n, s in intents.items()},
        intent_title={n: s["title"] for n, s in intents.items()},
        modifiers=frozenset(n for n, s in intents.items() if s.get("modifier")),
        text_categorised=frozenset(n for n, s in intents.items() if s.get("category_from_text")),
    )


@cache
def load(path: str | None = None) -> Taxonomy:
    with open(path or TAXONOMY_PATH, encoding="utf-8") as fh:
        return _build(yaml.safe_load(fh))
