"""The gateway's API against the really started Rasa and action servers."""

from __future__ import annotations

import uuid

import httpx
import pytest


def user() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


def send(client: httpx.Client, text: str, user_id: str | None = None) -> dict:
    response = client.post("/api/v1/messages", json={"user_id": user_id or user(), "text": text})
    assert response.status_code == 200, response.text
    return response.json()


def all_text(body: dict) -> str:
    return "\n".join(r["text"] for r in body["replies"])


def test_greeting_offers_topics(client: httpx.Client) -> None:
    body = send(client, "你好")
    assert body["intent"] == "greet" and body["category"] == "chitchat"
    assert body["replies"][0]["buttons"], "greeting offers topic buttons"
    assert set(body) >= {"replies", "intent", "category", "confidence", "message_id"}


def test_wage_question_gets_a_labour_answer_with_options(client: httpx.Client) -> None:
    body = send(client, "老细唔出粮已经三个月，欠我三千块")
    assert body["category"] == "labour"
    assert body["intent"] == "labour_wage_arrears"
    text = all_text(body)
    for must in ("12333", "仲裁", "一年", "12348"):
        assert must in text
    titles = {b["title"] for r in body["replies"] for b in r["buttons"]}
    assert {"申请法律援助", "找调解员"} <= titles
    entities = {(e["entity"], e["value"]) for e in body["entities"]}
    assert ("duration", "三个月") in entities
    assert ("money", "三千块") in entities


def test_request_with_dispute_carries_dispute_category(client: httpx.Client) -> None:
    body = send(client, "老板欠我三个月工资，我想申请法律援助")
    assert body["intent"] == "request_legal_aid"
    assert body["category"] == "labour"
    assert "劳动" in all_text(body)


def test_bare_request_is_other_legal(client: httpx.Client) -> None:
    body = send(client, "我想申请法律援助")
    assert body["intent"] == "request_legal_aid"
    assert body["category"] == "other_legal"
    assert "12348" in all_text(body)


def test_emergency_puts_110_and_120_first(client: httpx.Client) -> None:
    body = send(client, "包工头再不给钱我就从楼顶跳下去")
    assert body["intent"] == "emergency"
    first = body["replies"][0]["text"]
    assert "110" in first and "120" in first


def test_follow_up_request_uses_earlier_topic_and_street(client: httpx.Client) -> None:
    resident = user()
    send(client, "我住在赤岗，加装电梯一楼业主死活不同意", resident)
    body = send(client, "/request_mediation", resident)
    assert body["intent"] == "request_mediation"
    assert "赤岗街道人民调解委员会" in all_text(body)


def test_gig_worker_mediation_goes_to_platform_centre(client: httpx.Client) -> None:
    body = send(client, "骑手被平台乱扣钱，想找人调解")
    assert body["category"] == "gig_work"
    assert "新业态用工保障联盟调解中心" in all_text(body)


def test_unclear_message_offers_topic_buttons(client: httpx.Client) -> None:
    body = send(client, "嗯嗯那个东西啊")
    if body["intent"] == "nlu_fallback":
        buttons = body["replies"][0]["buttons"]
        assert 2 <= len(buttons) <= 4
        assert buttons[-1]["payload"] == "/request_human"
    else:  # the classifier was confident; it must then be chitchat, not a legal answer
        assert body["category"] == "chitchat"


def test_clarification_payload_buttons_work(client: httpx.Client) -> None:
    body = send(client, "/lease_deposit")
    assert body["intent"] == "lease_deposit" and body["category"] == "lease"
    assert "押金" in all_text(body)


@pytest.mark.parametrize("user_id", ["居民张三", "user with spaces/and slash", "partner:42", "a%2Fb"])
def test_any_user_id_gets_its_own_intent_and_category(client: httpx.Client, user_id: str) -> None:
    """Rasa does not percent-decode conversation ids: ids that need encoding reach it as a digest."""
    body = client.post("/api/v1/messages", json={"user_id": user_id, "text": "房东不退押金怎么办"}).json()
    assert body["intent"] == "lease_deposit" and body["category"] == "lease", body["intent"]


@pytest.mark.parametrize("user_id", ["tg:42", "wx:o6_bmjrPTlm6"])
def test_channel_residents_cannot_be_impersonated_or_read_through_the_api(client: httpx.Client, user_id: str) -> None:
    """Telegram chat ids are enumerable: tg:/wx: ids belong to their channels only."""
    sent = client.post("/api/v1/messages", json={"user_id": user_id, "text": "结束人工"})
    assert sent.status_code == 422 and sent.json()["error"]["code"] == "invalid_user_id"
    assert client.get(f"/api/v1/conversations/{user_id}/messages").status_code == 404


def test_typed_intent_syntax_cannot_set_entities(client: httpx.Client, stack) -> None:
    """#13: `/intent{"street": …}` typed by a resident used to set the street
    (and any amount or employer) on the case, bypassing extraction. Unless it
    is a button we offered, it now reaches Rasa as text."""
    resident = user()
    body = send(client, '/request_mediation{"street": "火星", "amount": "999999"}', resident)
    assert "火星" not in all_text(body)
    assert not any(e.get("value") in ("火星", "999999") for e in body.get("entities") or [])
    # a bare intent still works as a shortcut, and an offered button as a press
    assert send(client, "/request_mediation", resident)["intent"] == "request_mediation"


def test_offered_buttons_with_entities_still_work(client: httpx.Client) -> None:
    resident = user()
    answer = send(client, "公司和我的劳动合同到期了不续签，能拿经济补偿吗", resident)
    payloads = [
        b["payload"]
        for r in answer["replies"]
        for b in r.get("buttons") or []
        if b["payload"].startswith("/show_article")
    ]
    assert payloads, answer
    shown = send(client, payloads[0], resident)
    assert shown["intent"] == "show_article" and "现行有效" in all_text(shown)
    forged = payloads[0].replace("|", "|9", 1)  # a payload never offered
    assert send(client, forged, resident)["intent"] != "show_article"
