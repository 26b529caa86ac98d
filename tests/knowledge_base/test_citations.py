"""The citation checker on real corpus articles and made-up citations."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from knowledge_base.corpus.citations import check, find_citations, normalise, problems
from knowledge_base.corpus.statutes import Corpus, load_corpus
from settings import get_settings


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return load_corpus(get_settings().statute_dirs)


def test_finds_chinese_and_arabic_numbers() -> None:
    found = find_citations(
        "见《中华人民共和国劳动合同法》第八十二条和《民法典》第278条，以及《刑法》第二百七十六条之一。"
    )
    assert [(law, n, s) for _, law, n, s in found] == [
        ("劳动合同法", 82, ""),
        ("民法典", 278, ""),
        ("刑法", 276, "之一"),
    ]


def test_real_citations_resolve_with_status(corpus: Corpus) -> None:
    report = check(
        "依据《劳动合同法》第八十二条、《民法典》第二百七十八条、《保障农民工工资支付条例》第三十条。", corpus.lookup
    )
    assert report.ok and len(report.citations) == 3
    assert all(c.article.status == "现行有效" for c in report.citations)
    assert report.citations[2].article.version_date == "2019-12-30"


@pytest.mark.parametrize(
    "made_up",
    [
        "《劳动合同法》第九百条",  # no such article
        "《海珠区居民权利保障法》第一条",  # no such law
        "《民法典》第三千条",
        "《劳动合同法》第八十二条之五",  # no such sub-article
    ],
)
def test_made_up_citations_are_caught(corpus: Corpus, made_up: str) -> None:
    report = check(f"根据{made_up}，您可以要求赔偿。", corpus.lookup)
    assert not report.ok
    assert [c.text for c in report.unresolved] == [made_up]


def test_repealed_law_reports_its_status(corpus: Corpus) -> None:
    in_force = {(a.law, a.number) for a in corpus.in_force()}
    repealed = next(
        a
        for a in corpus.articles
        if a.status == "已废止" and (a.law, a.number) not in in_force and a.label.endswith("条")
    )
    report = check(f"《{repealed.law}》{repealed.label}", corpus.lookup)
    assert report.ok  # it exists; the caller must show that it is no longer in force
    assert report.citations[0].article.status == "已废止"


def test_repealed_law_must_say_so_in_the_message(corpus: Corpus) -> None:
    in_force = {(a.law, a.number) for a in corpus.in_force()}
    repealed = next(
        a
        for a in corpus.articles
        if a.status == "已废止" and (a.law, a.number) not in in_force and a.label.endswith("条")
    )
    cited = f"《{repealed.law}》{repealed.label}"
    assert problems(f"根据{cited}，您可以……", corpus.lookup)
    assert problems(f"{cited}（已废止）曾经规定……", corpus.lookup) == []


def test_problems_name_every_made_up_citation(corpus: Corpus) -> None:
    text = "依据《劳动合同法》第八十二条和《劳动合同法》第九百条，以及《海珠区居民权利保障法》第一条。"
    found = problems(text, corpus.lookup)
    assert len(found) == 2 and all("unresolvable" in p for p in found)
    assert problems("依据《劳动合同法》第八十二条。没有其他引用。", corpus.lookup) == []


# -- a citation a resident reads as one is checked as one (#13) -----------------

INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u202e", "\u202d", "\u2066", "\u00ad"]
BRACKETS = [("《", "》"), ("〈", "〉"), ("<<", ">>"), ("«", "»"), ("【", "】"), ("＜", "＞"), ("", "")]
FULL_WIDTH = str.maketrans({str(d): chr(0xFF10 + d) for d in range(10)})


@st.composite
def written(draw, law: str, number: int) -> str:
    """`law` 第`number`条 as someone might write it: brackets of any style or
    none, Arabic (half or full width) or Chinese numerals, spaces, 條, and
    invisible characters anywhere inside."""
    from knowledge_base.chinese_numerals import to_chinese_number

    numeral = draw(st.sampled_from([str(number), str(number).translate(FULL_WIDTH), to_chinese_number(number)]))
    if draw(st.booleans()):
        numeral = draw(st.sampled_from([" ", "  ", "\u3000"])).join(numeral)
    left, right = draw(st.sampled_from(BRACKETS))
    name = draw(st.sampled_from([law, "中华人民共和国" + law]))
    pieces = [
        left,
        name,
        right,
        draw(st.sampled_from(["", " "])),
        "第",
        draw(st.sampled_from(["", " "])),
        numeral,
        draw(st.sampled_from(["", " "])),
        draw(st.sampled_from(["条", "條"])),
    ]
    text = "".join(pieces)
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from(INVISIBLE)) + text[at:]
    return draw(st.sampled_from(["根据{}，公司应当赔偿。", "{}规定可以这样做", "依照{}"])).format(text)


@hypothesis_settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_a_made_up_citation_is_caught_however_it_is_written(corpus: Corpus, data) -> None:
    text = data.draw(written("劳动合同法", data.draw(st.sampled_from([99, 999, 120, 1001]))))
    assert problems(text, corpus.lookup), repr(text)


@hypothesis_settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_a_real_citation_passes_however_it_is_written(corpus: Corpus, data) -> None:
    law, number = data.draw(st.sampled_from([("劳动合同法", 82), ("民法典", 278), ("劳动法", 44)]))
    text = data.draw(written(law, number))
    assert problems(text, corpus.lookup) == [], repr(text)


def test_a_law_no_index_holds_is_caught_without_brackets(corpus: Corpus) -> None:
    assert problems("按照骑手权益保护法第三条，平台必须赔你。", corpus.lookup)
    assert problems("依照本法第四十四条第一项规定", corpus.lookup) == []  # a reference inside an article
    assert problems("合同第五条约定了违约金", corpus.lookup) == []  # a contract's clause, not a law
    assert normalise("《劳动合同法》第 9\u200b9 9 條") == "《劳动合同法》第999条"


def test_a_quotation_must_be_the_articles_own_text(corpus: Corpus) -> None:
    real = (
        "①《劳动合同法》第三十条（现行有效 · 2012-12-28版）\n"
        "“用人单位应当按照劳动合同约定和国家规定，向劳动者及时足额支付劳动报酬。……”"
    )
    assert problems(real, corpus.lookup) == []
    made_up = "①《劳动合同法》第三十条（现行有效 · 2012-12-28版）\n“用人单位可以随时扣发劳动者的工资。”"
    assert problems(made_up, corpus.lookup) == ["quotation of 劳动合同法 30 is not the article's text"]


def test_a_quoted_part_of_a_notice_is_checked_as_its_own_text(corpus: Corpus) -> None:
    notice = "关于职工全年月平均工作时间和工资折算问题的通知"
    real = f"①《{notice}》第二部分（现行有效 · 2009-03-29版）\n“……月计薪天数＝（365天-104天）÷12月＝21.75天”"
    assert problems(real, corpus.lookup) == []
    made_up = f"①《{notice}》第二部分（现行有效 · 2009-03-29版）\n“月计薪天数为22天”"
    assert problems(made_up, corpus.lookup) == [f"quotation of {notice} 2 is not the article's text"]
