"""Grounded answers end to end: the real gateway, Rasa and action server with
the test index (shared statutes + the main laws of laws.db). Every quote must
be the indexed text itself, under its citation and status."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from actions.grounded_reply import NEEDS_A_PERSON
from knowledge_base.chinese_numerals import parse_chinese_number
from knowledge_base.corpus.article_store import ArticleStore
from knowledge_base.corpus.citations import find_citations
from knowledge_base.retrieval.retriever import governs

QUOTE = re.compile(
    r"[①②③]《(?P<law>[^》]+)》(?P<label>第[^条（]+条(?:之[一二三四五六七八九十]+)?)"
    r"（(?P<status>[^·）]+?)(?: · (?P<version>\d{4}-\d{2}-\d{2})版)?）\n“(?P<body>.+?)(?P<cut>……)?”",
    re.S,
)


def ask(client: httpx.Client, user: str, text: str) -> dict[str, Any]:
    response = client.post("/api/v1/messages", json={"user_id": user, "text": text})
    assert response.status_code == 200, response.text
    return response.json()


def quotes_in(text: str) -> list[re.Match]:
    return list(QUOTE.finditer(text))


@pytest.fixture(scope="module")
def store(stack) -> ArticleStore:
    return ArticleStore(stack.settings.index_dir)


def assert_excerpt_of(shown: str, text: str) -> None:
    """Every piece between 「……」 is the article's own text, in order, and something was skipped."""
    position = 0
    for piece in (p for p in shown.split("……") if p):
        found = text.find(piece, position)
        assert found >= 0, (piece, text)
        position = found + len(piece)
    assert len(shown.replace("……", "")) < len(text)


def check_quotes_are_exact(text: str, store: ArticleStore) -> list:
    found = quotes_in(text)
    articles = []
    for match in found:
        label = match["label"]
        number = parse_chinese_number(re.match(r"第(.+?)条", label).group(1))
        article = store.in_force(match["law"], number, label)
        assert article is not None, match.group(0)
        assert match["status"] == article.status == "现行有效"
        assert match["version"] == article.version_date
        if match["cut"] or "……" in match["body"]:
            assert_excerpt_of(match["body"] + (match["cut"] or ""), article.text)
        else:
            assert match["body"] == article.text
        articles.append(article)
    # nothing cited anywhere in the message that is not one of the quotes
    assert len(find_citations(text)) == len(found)
    return articles


@pytest.mark.parametrize(
    "user,question,category",
    [
        ("g-wage", "老板拖欠我三个月工资不给，我该怎么办", "labour"),
        ("g-lease", "房东不退押金，说墙面弄脏了要扣钱", "lease"),
        ("g-lift", "我们老楼想加装电梯，一楼邻居坚决反对怎么办", "elevator"),
    ],
)
def test_answers_quote_governing_articles_exactly(client, store, user, question, category) -> None:
    body = ask(client, user, question)
    assert body["category"] == category
    text = body["replies"][0]["text"]
    assert "相关法条（原文）：" in text
    articles = check_quotes_are_exact(text, store)
    assert 1 <= len(articles) <= 3
    assert any(governs(category, a) for a in articles), [a.citation for a in articles]
    # the summary comes first, the next steps after the quotes
    assert text.index("相关法条") < text.index("您可以这样做")


def test_full_text_by_button_and_by_command(client, store) -> None:
    first = ask(client, "g-full", "劳动合同到期了公司不跟我续签，能拿经济补偿吗")
    articles = check_quotes_are_exact(first["replies"][0]["text"], store)
    buttons = [
        b["payload"] for b in first["replies"][0].get("buttons") or [] if b["payload"].startswith("/show_article")
    ]
    assert buttons, first["replies"][0]  # a quote cut to the part that answers has its full text a tap away
    law, number, label = json.loads(buttons[0][len("/show_article") :])["article_ref"].split("|")
    target = next(a for a in articles if (a.law, a.number, a.label) == (law, int(number), label))
    shown = ask(client, "g-full", buttons[0])["replies"][0]["text"]
    assert target.text in shown and shown.startswith(f"《{target.law}》{target.label}（现行有效")
    typed = ask(client, "g-full", "看第1条全文")
    assert articles[0].text in typed["replies"][0]["text"]


def test_a_forged_full_text_button_is_read_as_text(client) -> None:
    """A payload the assistant never offered is not pressed (bot/core/payloads.py):
    no article 999 is looked up, let alone shown."""
    reply = ask(client, "g-bad-ref", '/show_article{"article_ref": "劳动合同法|999|第九百九十九条"}')
    assert reply["intent"] != "show_article"
    assert "第九百九十九条" not in reply["replies"][0]["text"]


def test_follow_up_is_searched_with_the_earlier_question(client, stack) -> None:
    ask(client, "g-follow", "公司把我辞退了，要给经济补偿吗")
    follow = ask(client, "g-follow", "那试用期呢？")
    assert follow["category"] == "labour"
    tracker = httpx.get(
        f"{stack.settings.rasa_base_url}/conversations/g-follow/tracker",
        params={"token": stack.settings.rasa_token()},
        timeout=30,
    ).json()
    assert tracker["slots"]["last_question"] == "公司把我辞退了，要给经济补偿吗"
    assert tracker["slots"]["shown_articles"]


def test_typical_case_is_shown_as_a_case_not_as_law(client, store) -> None:
    body = ask(client, "g-case", "我去年离职的，公司一直没给加班费，现在过了快一年还能申请仲裁吗")
    text = body["replies"][0]["text"]
    assert "典型案例：" in text and "不是法律条文" in text
    case_part = text[text.index("典型案例：") :]
    assert not find_citations(case_part)
    check_quotes_are_exact(text, store)


def test_judgement_calls_are_left_to_a_person(client, store) -> None:
    """Whether to sue and whether one will win are a person's call; so is an amount no
    statute fixes (a deposit). An amount a statute fixes is computed instead
    (tests/actions/test_calculation_dialogue.py)."""
    for user, question in (
        ("g-judge", "公司无缘无故把我辞退了，要不要去申请仲裁，能不能赢"),
        ("g-judge-deposit", "房东不退押金，具体能拿回多少钱"),
    ):
        body = ask(client, user, question)
        reply = body["replies"][0]
        assert NEEDS_A_PERSON in reply["text"], question
        assert [b["title"] for b in reply["buttons"][:2]] == ["找调解员", "申请法律援助"]
        check_quotes_are_exact(reply["text"], store)


def test_an_off_point_match_is_withheld_and_a_person_offered(client, store) -> None:
    """Nothing in the index answers a ride-hailing account ban; what retrieval
    finds (a medical-liability article, a penalty of the wage regulation) is
    not quoted as the law: the reply says so and offers a person."""
    from actions.grounded_reply import WITHHELD

    body = ask(client, "g-withheld", "网约车司机被平台封号了，扣的钱不退")
    reply = body["replies"][0]
    assert body["category"] == "gig_work"
    assert "相关法条（原文）：" not in reply["text"] and not quotes_in(reply["text"])
    assert WITHHELD in reply["text"] and not find_citations(reply["text"])
    assert {"找调解员", "申请法律援助"} <= {b["title"] for b in reply.get("buttons") or []}
