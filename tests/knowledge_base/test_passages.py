"""How articles are cut into passages: windows of the whole, and the parts of
an article of several paragraphs or items (knowledge_base/corpus/passages.py)."""

from __future__ import annotations

from knowledge_base.corpus.passages import MAX_CHARS, pieces, split_articles
from knowledge_base.corpus.statutes import Article

SEVERANCE = (
    "有下列情形之一的，用人单位应当向劳动者支付经济补偿：\n"
    "（一）劳动者依照本法第三十八条规定解除劳动合同的；\n"
    "（五）除用人单位维持或者提高劳动合同约定条件续订劳动合同，劳动者不同意续订的情形外，"
    "依照本法第四十四条第一项规定终止固定期限劳动合同的；\n"
    "（七）法律、行政法规规定的其他情形。"
)
TWO_PARAGRAPHS = (
    "业主共同决定事项，应当由业主参与表决。\n决定前款第六项至第八项规定的事项，应当经四分之三以上的业主同意。"
)


def _article(number: int, text: str) -> Article:
    return Article("劳动合同法", "中华人民共和国劳动合同法", number, f"第{number}条", text, "现行有效", None, "t")


def test_an_item_is_a_piece_with_the_paragraph_that_introduces_it() -> None:
    found = pieces(SEVERANCE)
    lead = "有下列情形之一的，用人单位应当向劳动者支付经济补偿："
    assert found[0] == lead
    assert [p.startswith(lead + "（") for p in found[1:]] == [True, True, True]
    assert any("终止固定期限劳动合同" in p and p.startswith(lead) for p in found)


def test_paragraphs_are_pieces_and_a_one_paragraph_article_has_none() -> None:
    assert pieces(TWO_PARAGRAPHS) == TWO_PARAGRAPHS.split("\n")
    assert pieces("用人单位应当按时足额支付劳动报酬。") == []
    long = "甲" * (MAX_CHARS * 2) + "\n乙。"
    assert all(len(p) <= MAX_CHARS for p in pieces(long))


def test_windows_come_first_and_pieces_point_back_to_their_article() -> None:
    articles = [_article(46, SEVERANCE), _article(30, "用人单位应当按时足额支付劳动报酬。")]
    passages = split_articles(articles)
    windows = [p for p in passages if not p.piece]
    assert [p.article for p in windows] == [0, 1]  # one window each, in article order
    assert passages[: len(windows)] == windows  # BM25 numbers windows as the dense index does
    parts = [p for p in passages if p.piece]
    assert len(parts) == 4 and {p.article for p in parts} == {0}
    assert all(p.text.startswith("《劳动合同法》第46条 ") for p in parts)
    assert len({(p.article, p.part) for p in passages}) == len(passages)
    assert split_articles(articles, with_pieces=False) == windows
