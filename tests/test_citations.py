"""The citation checker on real corpus articles and made-up citations."""
from __future__ import annotations

import pytest

from knowledge_base.citations import check, find_citations, problems
from knowledge_base.statutes import Corpus, load_corpus
from settings import get_settings


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return load_corpus(get_settings().statute_dirs)


def test_finds_chinese_and_arabic_numbers() -> None:
    found = find_citations("见《中华人民共和国劳动合同法》第八十二条和《民法典》第278条，以及《刑法》第二百七十六条之一。")
    assert [(law, n, s) for _, law, n, s in found] == [
        ("劳动合同法", 82, ""), ("民法典", 278, ""), ("刑法", 276, "之一")]


def test_real_citations_resolve_with_status(corpus: Corpus) -> None:
    report = check("依据《劳动合同法》第八十二条、《民法典》第二百七十八条、《保障农民工工资支付条例》第三十条。",
                   corpus.lookup)
    assert report.ok and len(report.citations) == 3
    assert all(c.article.status == "现行有效" for c in report.citations)
    assert report.citations[2].article.version_date == "2019-12-30"


@pytest.mark.parametrize("made_up", [
    "《劳动合同法》第九百条",            # no such article
    "《海珠区居民权利保障法》第一条",    # no such law
    "《民法典》第三千条",
    "《劳动合同法》第八十二条之五",      # no such sub-article
])
def test_made_up_citations_are_caught(corpus: Corpus, made_up: str) -> None:
    report = check(f"根据{made_up}，您可以要求赔偿。", corpus.lookup)
    assert not report.ok
    assert [c.text for c in report.unresolved] == [made_up]


def test_repealed_law_reports_its_status(corpus: Corpus) -> None:
    in_force = {(a.law, a.number) for a in corpus.in_force()}
    repealed = next(a for a in corpus.articles
                    if a.status == "已废止" and (a.law, a.number) not in in_force and a.label.endswith("条"))
    report = check(f"《{repealed.law}》{repealed.label}", corpus.lookup)
    assert report.ok  # it exists; the caller must show that it is no longer in force
    assert report.citations[0].article.status == "已废止"


def test_repealed_law_must_say_so_in_the_message(corpus: Corpus) -> None:
    in_force = {(a.law, a.number) for a in corpus.in_force()}
    repealed = next(a for a in corpus.articles
                    if a.status == "已废止" and (a.law, a.number) not in in_force and a.label.endswith("条"))
    cited = f"《{repealed.law}》{repealed.label}"
    assert problems(f"根据{cited}，您可以……", corpus.lookup)
    assert problems(f"{cited}（已废止）曾经规定……", corpus.lookup) == []


def test_problems_name_every_made_up_citation(corpus: Corpus) -> None:
    text = "依据《劳动合同法》第八十二条和《劳动合同法》第九百条，以及《海珠区居民权利保障法》第一条。"
    found = problems(text, corpus.lookup)
    assert len(found) == 2 and all("unresolvable" in p for p in found)
    assert problems("依据《劳动合同法》第八十二条。没有其他引用。", corpus.lookup) == []
