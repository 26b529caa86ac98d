"""Issue spotting: which legal issues a message raises, and their key provisions.

The table is data (knowledge_base/content/legal_issues.yml, where its provenance is
written down); this module validates it and matches messages against it.
Retrieval fuses the provisions it returns as one more ranked list, so an issue
steers the ranking toward the articles a mediator would cite while dense and
BM25 still decide everything the table does not cover.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from knowledge_base.corpus.statutes import normalise_law_name
from knowledge_base.retrieval.colloquial import to_statute_wording
from nlu.taxonomy import load as load_taxonomy
from settings import get_settings

ISSUES = "legal_issues.yml"  # in KNOWLEDGE_DIR

_CITATION = re.compile(r"^(?P<law>\S.*\S)\s+(?P<article>\d+)$")


class LegalIssue(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    categories: tuple[str, ...] = ()
    when: tuple[str, ...] = Field(min_length=1)
    also: tuple[str, ...] = ()
    articles: tuple[tuple[str, int], ...] = Field(min_length=1)

    @field_validator("articles", mode="before")
    @classmethod
    def _parse_articles(cls, value: list[str]) -> list[tuple[str, int]]:
        parsed = []
        for item in value:
            match = _CITATION.match(str(item).strip())
            if not match:
                raise ValueError(f'"{item}" is not "law article" (e.g. "劳动合同法 30")')
            parsed.append((normalise_law_name(match["law"]), int(match["article"])))
        return parsed

    @field_validator("categories")
    @classmethod
    def _known_categories(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        known = set(load_taxonomy().categories)
        unknown = [c for c in value if c not in known]
        if unknown:
            raise ValueError(f"unknown categories {unknown}; known: {sorted(known)}")
        return value

    def fits(self, category: str | None) -> bool:
        """Whether the question's category is one this issue is written for."""
        return not self.categories or category in self.categories

    def trigger(self, wording: str) -> str | None:
        """The longest `when` phrase found in `wording`."""
        if self.also and not any(word in wording for word in self.also):
            return None
        found = [word for word in self.when if word in wording]
        return max(found, key=len) if found else None


def parse_issues(raw: object, source: str = ISSUES) -> tuple[LegalIssue, ...]:
    """Validated issues; a malformed table names the entry and the field."""
    if not isinstance(raw, list):
        raise ValueError(f"{source}: expected a list of issues")
    issues = []
    for position, entry in enumerate(raw):
        try:
            issues.append(LegalIssue.model_validate(entry))
        except Exception as error:  # pydantic's message names the field
            name = entry.get("id") if isinstance(entry, dict) else None
            raise ValueError(f"{source}: issue [{position}] ({name}): {error}") from None
    ids = [i.id for i in issues]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"{source}: duplicate ids {duplicates}")
    return tuple(issues)


@lru_cache(maxsize=1)
def load_issues(path: Path | None = None) -> tuple[LegalIssue, ...]:
    path = path or get_settings().content(ISSUES)
    return parse_issues(yaml.safe_load(path.read_text(encoding="utf-8")), str(path))


def spot(text: str, category: str | None = None, issues: tuple[LegalIssue, ...] | None = None) -> list[LegalIssue]:
    """The issues `text` raises, the most specific (longest matching phrase)
    first, then in table order: 「违法解除劳动合同赔偿金」 is first about 赔偿金
    of an unlawful dismissal, not about any dismissal.

    A question with a category gets the issues written for it (and those
    written for any); one without a category gets them all. Why: triggers are
    phrased for their category (钱 of a lift, 死亡 at work, 培训 of an
    employee); fired on every question regardless, on the real questions of
    ``../shared/questions/intents_train.jsonl`` about half of the issues
    spotted were of another kind of dispute (a pension question spotted as
    the sale of a let home, an inheritance as a death at work). Topics that
    belong to several categories carry them all (neighbours and owners'
    rights: elevator and other_legal)."""
    wording = to_statute_wording(text)
    matched = []
    for order, issue in enumerate(issues if issues is not None else load_issues()):
        if category is not None and not issue.fits(category):
            continue
        phrase = issue.trigger(wording)
        if phrase:
            matched.append((-len(phrase), order, issue))
    return [issue for *_, issue in sorted(matched, key=lambda m: m[:2])]


def key_provisions(
    text: str, category: str | None = None, issues: tuple[LegalIssue, ...] | None = None
) -> list[tuple[str, int]]:
    """The provisions of the issues `text` raises, each once: the first
    provision of every issue, then the second of every issue, and so on, so a
    question that raises two issues (辞退 while 怀孕) gets the key article of
    each near the top rather than all of one before the other."""
    spotted = spot(text, category, issues)
    seen: dict[tuple[str, int], None] = {}
    for depth in range(max((len(i.articles) for i in spotted), default=0)):
        for issue in spotted:
            if depth < len(issue.articles):
                seen.setdefault(issue.articles[depth], None)
    return list(seen)
