"""Typical cases (典型案例): a second, optional collection shown under an answer
when it matches the question, always labelled as a case and never as law.

A case is matched by meaning (the embedding of its title and facts against the
question) or, with a lower bar, when it discusses an article the answer quotes.
Only the case's title and a citation-free sentence of its outcome are shown:
case texts cite rules outside the indexed corpus, and every 《…》第N条 the
assistant shows must resolve in it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from knowledge_base.corpus.citations import CITATION, find_citations
from knowledge_base.corpus.statutes import Problem

# cosines of e5 "query:" vectors of the resident's own words and a case's title
# and facts: related questions score 0.91-0.93, unrelated ones 0.85-0.89
MATCH_BY_MEANING = 0.915  # the case alone is close enough
MATCH_WITH_ARTICLE = 0.90  # close, and the case discusses an article the answer quotes
_SECTION = re.compile(r"^##\s*(.+?)\s*$")


@dataclass(frozen=True)
class TypicalCase:
    title: str
    facts: str  # 基本案情
    outcome: str  # 裁判结果 (or 处理结果)
    significance: str  # 典型意义
    cited: frozenset[tuple[str, int]]
    source: str

    @property
    def matching_text(self) -> str:
        return f"{self.title} {self.facts[:300]}"

    def teaser(self, max_chars: int = 90) -> str:
        """A first sentence of the outcome or significance with no statute citation in it."""
        for part in (self.outcome, self.significance, self.facts):
            for sentence in re.split(r"(?<=[。！？])", part):
                sentence = sentence.strip()
                if sentence and not CITATION.search(sentence) and "《" not in sentence:
                    return sentence if len(sentence) <= max_chars else sentence[:max_chars] + "……"
        return ""


def parse_typical_case(path: Path) -> tuple[TypicalCase | None, Problem | None]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        return None, Problem(str(path), 0, f"cannot read as UTF-8 ({exc})")
    first = next((i for i, l in enumerate(lines) if l.strip()), None)
    if first is None or not lines[first].startswith("# "):
        return None, Problem(str(path), (first or 0) + 1, "first line is not a '# title' heading")
    sections: dict[str, list[str]] = {}
    current = None
    for line in lines[first + 1 :]:
        if m := _SECTION.match(line):
            current = m.group(1)
            sections[current] = []
        elif current is not None and line.strip() and not line.startswith("<!--"):
            sections[current].append(line.strip())
    text = {k: "\n".join(v) for k, v in sections.items()}
    facts = text.get("基本案情", "")
    if not facts:
        return None, Problem(str(path), first + 1, "no '## 基本案情' section")
    outcome = text.get("裁判结果") or text.get("处理结果") or ""
    cited = frozenset((law, number) for _, law, number, _ in find_citations("\n".join(text.values())))
    return TypicalCase(lines[first][2:].strip(), facts, outcome, text.get("典型意义", ""), cited, str(path)), None


def load_typical_cases(directories: Iterable[Path]) -> tuple[list[TypicalCase], list[Problem]]:
    cases, problems = [], []
    for directory in directories:
        if not Path(directory).is_dir():
            problems.append(Problem(str(directory), 0, "not a directory"))
            continue
        for path in sorted(Path(directory).glob("*.md")):
            case, problem = parse_typical_case(path)
            if case:
                cases.append(case)
            if problem:
                problems.append(problem)
    return cases, problems


class TypicalCaseLibrary:
    """Cases with their vectors, embedded once when the action server loads them."""

    def __init__(self, cases: Sequence[TypicalCase], vectors: np.ndarray | None) -> None:
        self.cases = list(cases)
        self.vectors = vectors

    def match(self, query_vector: np.ndarray, quoted: Iterable[tuple[str, int]], limit: int = 1) -> list[TypicalCase]:
        if not self.cases or self.vectors is None:
            return []
        quoted = set(quoted)
        scores = self.vectors @ np.asarray(query_vector, dtype=np.float32).reshape(-1)
        ranked = sorted(range(len(self.cases)), key=lambda i: -scores[i])
        chosen = [
            self.cases[i]
            for i in ranked
            if scores[i] >= MATCH_BY_MEANING or (scores[i] >= MATCH_WITH_ARTICLE and self.cases[i].cited & quoted)
        ]
        return chosen[:limit]
