"""Quoting articles exactly, trimming at sentence ends, typical cases, and the
wording rules of the grounded part of an answer (no server needed)."""

from __future__ import annotations

import numpy as np
import pytest

from actions.grounded_reply import (
    NOTHING_FOUND,
    SHOW_PROBABILITY,
    SURE_PROBABILITY,
    UNSURE,
    WITHHELD,
    Grounded,
    choose,
    confident,
    ground,
    is_follow_up,
    needs_a_person,
)
from actions.show_article import pick_ref
from knowledge_base.corpus.citations import CITATION
from knowledge_base.corpus.statutes import Article, load_corpus
from knowledge_base.corpus.typical_cases import TypicalCaseLibrary, load_typical_cases, parse_typical_case
from knowledge_base.retrieval.article_parts import split_parts
from knowledge_base.retrieval.quotes import article_ref, excerpt, full_text, parse_ref, quote, quoted_body
from knowledge_base.retrieval.retriever import Hit
from settings import get_settings


def article(text: str, law: str = "劳动合同法", number: int = 30, status: str = "现行有效") -> Article:
    return Article(
        law=law,
        title=law,
        number=number,
        label="第三十条",
        text=text,
        status=status,
        version_date="2012-12-28",
        source="test",
    )


LONG = (
    "用人单位应当按照劳动合同约定和国家规定，向劳动者及时足额支付劳动报酬。" * 3
    + "用人单位拖欠或者未足额支付劳动报酬的，劳动者可以依法向当地人民法院申请支付令，人民法院应当依法发出支付令。"
)


def test_short_articles_are_quoted_whole_and_exactly() -> None:
    q = quote(article("用人单位应当向劳动者及时足额支付劳动报酬。"), 0)
    assert not q.trimmed
    assert q.text == "①《劳动合同法》第三十条（现行有效 · 2012-12-28版）\n“用人单位应当向劳动者及时足额支付劳动报酬。”"


def test_long_articles_are_cut_at_a_sentence_end() -> None:
    shown, trimmed = excerpt(LONG, 150)
    assert trimmed and shown.endswith("。") and len(shown) <= 150
    assert LONG.startswith(shown)  # a prefix of the exact text, never rewritten
    q = quote(article(LONG), 1)
    assert q.trimmed and q.text.startswith("②") and q.text.endswith("……”")


def test_a_cut_without_sentence_end_falls_back_to_clauses() -> None:
    text = "，".join(["劳动者有权依法享有平等就业和选择职业的权利"] * 10) + "。"
    shown, trimmed = excerpt(text, 60)
    assert trimmed and shown.endswith("，") and text.startswith(shown)


@pytest.fixture(scope="module")
def in_force() -> dict[tuple[str, int], Article]:
    return {(a.law, a.number): a for a in load_corpus(get_settings().statute_dirs).in_force()}


def pieces_in_order(shown: str, text: str) -> list[str]:
    """The pieces between 「……」, checked to be the article's own text in order."""
    pieces, position = [p for p in shown.split("……") if p], 0
    for piece in pieces:
        found = text.find(piece, position)
        assert found >= 0, piece
        position = found + len(piece)
    return pieces


def test_the_item_that_answers_is_quoted_with_the_paragraph_that_introduces_it(in_force) -> None:
    article = in_force[("劳动合同法", 46)]
    shown, trimmed = quoted_body(article.text, "劳动合同到期了，公司不跟我续签，能拿经济补偿吗？")
    pieces = pieces_in_order(shown, article.text)
    assert trimmed and pieces[0] == "有下列情形之一的，用人单位应当向劳动者支付经济补偿："
    assert any(p.startswith("（五）除用人单位维持或者提高劳动合同约定条件续订劳动合同") for p in pieces)
    assert "（一）" not in shown and "（三）" not in shown  # the start alone stops at (三)
    assert shown.endswith("……")
    q = quote(article, 0, "劳动合同到期了，公司不跟我续签，能拿经济补偿吗？")
    assert q.trimmed and "（五）" in q.text  # and so the full text stays one tap away


def test_the_paragraph_with_the_thresholds_answers_a_question_on_votes(in_force) -> None:
    article = in_force[("民法典", 278)]
    shown, trimmed = quoted_body(article.text, "我们老楼想加装电梯，要多少业主同意才行？")
    pieces = pieces_in_order(shown, article.text)
    second = article.text.split("\n")[-1]
    assert trimmed and shown.startswith("……") and second in pieces
    assert "四分之三以上" in shown and "（一）制定和修改业主大会议事规则" not in shown
    # a question on an item gets that item under the paragraph that lists them
    shown, _ = quoted_body(article.text, "业主委员会成员怎么选举和更换？")
    assert pieces_in_order(shown, article.text)[:2] == [
        "下列事项由业主共同决定：",
        "（三）选举业主委员会或者更换业主委员会成员；",
    ]


def test_without_a_distinctive_shared_word_the_start_is_quoted(in_force) -> None:
    article = in_force[("劳动合同法", 39)]
    shown, trimmed = quoted_body(article.text, "我上班迟到被开除")
    assert trimmed and article.text.startswith(shown.removesuffix("……")) and shown.endswith("……")
    assert quoted_body(article.text, "") == quoted_body(article.text, "完全无关的话")


def test_articles_split_into_paragraphs_items_and_sentences() -> None:
    text = "有下列情形之一的，可以解除：\n（一）甲；\n（二）乙。\n" + "很长的一句话。" * 40
    parts = split_parts(text)
    assert parts[0].leads_items and [p.lead for p in parts[1:3]] == [0, 0]
    assert all(len(p.text(text)) == 7 for p in parts[3:]) and len(parts) == 43
    assert "".join(p.text(text) for p in parts[3:]) == text.split("\n")[-1]


def test_full_text_carries_status_and_whole_text() -> None:
    a = article(LONG)
    assert LONG in full_text(a) and "现行有效" in full_text(a)
    assert parse_ref(article_ref(a)) == ("劳动合同法", 30, "第三十条")
    assert parse_ref("garbage") is None and parse_ref("a|b|c") is None


def hit(a: Article, score: float, dense: int | None, lexical: int | None) -> Hit:
    return Hit(a, score, dense, lexical)


def test_only_hits_close_to_the_best_and_near_in_meaning_are_quoted() -> None:
    a, b, c, d = (article(t, number=n) for t, n in (("甲。", 1), ("乙。", 2), ("丙。", 3), ("丁。", 4)))
    chosen = choose([hit(a, 1.0, None, 1), hit(b, 0.8, 2, 5), hit(c, 0.75, None, 2), hit(d, 0.3, 9, None)])
    assert [h.article.number for h in chosen] == [1, 2]  # c: a word overlap only; d: too far below
    assert choose([]) == []


def test_confidence_needs_agreement_or_a_governing_law_high_in_meaning() -> None:
    labour = article("甲。", law="劳动合同法")
    other = article("乙。", law="海关法")
    assert confident([hit(labour, 1, 2, None)], "labour")
    assert not confident([hit(labour, 1, 40, None)], "labour")
    assert not confident([hit(labour, 1, None, 1)], "labour")
    assert not confident([hit(other, 1, 2, None)], "labour")
    assert confident([hit(other, 1, 3, 2)], "labour")
    assert not confident([], "labour")


def learned(a: Article, probability: float) -> Hit:
    return Hit(a, probability, 1, 1, probability=probability)


def test_with_the_reranker_only_likely_articles_are_quoted() -> None:
    a, b, c = (article(t, number=n) for t, n in (("甲。", 1), ("乙。", 2), ("丙。", 3)))
    sure = SURE_PROBABILITY + 0.1
    assert [
        h.article.number for h in choose([learned(a, sure), learned(b, sure / 2 + 0.01), learned(c, sure / 2 - 0.01)])
    ] == [1, 2]
    assert choose([learned(a, SHOW_PROBABILITY - 0.01), learned(b, 0.05)]) == []
    assert confident([learned(a, sure)], None) and not confident([learned(a, SURE_PROBABILITY - 0.01)], "labour")


def test_an_off_point_match_is_withheld_and_the_reply_says_so() -> None:
    weak = [
        learned(
            article("损害是因受害人故意造成的，行为人不承担责任。", law="民法典", number=1174), SHOW_PROBABILITY / 2
        )
    ]
    grounded = ground(weak, "gig_work", question="送外卖时被车撞断了腿，平台不管")
    assert grounded.quotes == [] and grounded.withheld and not grounded.confident
    assert grounded.lines() == [WITHHELD] and "调解员" in WITHHELD
    assert not ground([], "labour").withheld and ground([], "labour").lines() == [NOTHING_FOUND]
    shown = ground([learned(article("甲。"), SURE_PROBABILITY)], "labour")
    assert shown.quotes and not shown.withheld and shown.confident


def test_unsure_answers_say_so_and_empty_ones_say_nothing_was_found() -> None:
    other = article("乙。", law="海关法")
    lines = ground([hit(other, 1, 40, None)], "labour").lines()
    assert UNSURE in lines
    assert Grounded().lines() == [NOTHING_FOUND]
    assert "不可用" in Grounded(available=False).lines()[0]


def test_trimmed_quotes_get_a_full_text_button() -> None:
    grounded = ground([hit(article(LONG), 1, 1, 1), hit(article("短。", number=31), 0.9, 2, 2)], "labour")
    buttons = grounded.buttons()
    assert len(buttons) == 1 and buttons[0]["title"] == "查看①全文"
    assert buttons[0]["payload"] == '/show_article{"article_ref": "劳动合同法|30|第三十条"}'


@pytest.mark.parametrize(
    "text,expected",
    [
        ("那试用期呢？", True),
        ("如果没有签合同怎么办", True),
        ("那要赔多少", True),
        ("老板拖欠我三个月工资，我该怎么办", False),
        ("", False),
        ("那如果公司一直拖着不给钱，我又没有任何书面证据，只有微信聊天记录，还能不能去仲裁呢", False),
    ],
)
def test_follow_ups_are_short_and_lean_on_the_last_question(text: str, expected: bool) -> None:
    assert is_follow_up(text) is expected


def test_full_text_command_picks_among_the_shown_articles() -> None:
    shown = ["劳动合同法|30|第三十条", "劳动法|50|第五十条"]
    assert pick_ref("全文", None, shown) == shown[0]
    assert pick_ref("看第2条全文", None, shown) == shown[1]
    assert pick_ref("第二条原文", None, shown) == shown[1]
    assert pick_ref("看第5条全文", None, shown) is None
    assert pick_ref("全文", "民法典|278|第二百七十八条", shown) == "民法典|278|第二百七十八条"
    assert pick_ref("全文", None, []) is None


def test_shared_cases_parse_with_their_cited_articles() -> None:
    cases, problems = load_typical_cases(get_settings().typical_case_dirs)
    assert len(cases) == 10 and problems == []
    timing = next(c for c in cases if c.title == "加班费的仲裁时效应当如何认定")
    assert ("劳动争议调解仲裁法", 27) in timing.cited
    for case in cases:
        teaser = case.teaser()
        assert teaser and not CITATION.search(teaser) and "《" not in teaser


def test_a_malformed_case_is_reported(tmp_path) -> None:
    (tmp_path / "bad.md").write_text("没有标题\n## 基本案情\n……", "utf-8")
    (tmp_path / "nofacts.md").write_text("# 某案\n## 裁判结果\n驳回。", "utf-8")
    assert parse_typical_case(tmp_path / "bad.md")[0] is None
    cases, problems = load_typical_cases([tmp_path])
    assert cases == [] and len(problems) == 2 and all(p.line >= 1 for p in problems)


def test_cases_match_by_meaning_or_by_a_shared_article() -> None:
    cases, _ = load_typical_cases(get_settings().typical_case_dirs)
    vectors = np.eye(len(cases), 8, dtype=np.float32)
    library = TypicalCaseLibrary(cases, vectors)
    close = vectors[0] * 0.92
    assert library.match(close, []) == [cases[0]]
    weak = vectors[0] * 0.905
    assert library.match(weak, []) == []
    assert library.match(weak, [next(iter(cases[0].cited))]) == [cases[0]]


@pytest.mark.parametrize(
    "text,expected",
    [
        ("公司无缘无故把我辞退了要赔多少", True),
        ("我具体能拿到多少钱", True),
        ("要不要起诉他", True),
        ("打官司能赢吗", True),
        ("该不该申请仲裁", True),
        ("公司把我辞退了，要给经济补偿吗", False),
        ("仲裁时效是多久", False),
        ("怎么申请劳动仲裁", False),
    ],
)
def test_judgement_questions_are_recognised(text: str, expected: bool) -> None:
    assert needs_a_person(text) is expected
