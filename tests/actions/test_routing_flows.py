"""Each routing branch through the gateway, with the real Rasa and action servers."""

from __future__ import annotations

from typing import Any

import httpx
import yaml

from actions.clarify import STILL_UNSURE
from settings import ROOT
from tests.helpers.stack import action_secret


def ask(client: httpx.Client, user: str, text: str) -> dict[str, Any]:
    response = client.post("/api/v1/messages", json={"user_id": user, "text": text})
    assert response.status_code == 200, response.text
    return response.json()


def texts(body: dict[str, Any]) -> str:
    return "\n".join(r["text"] for r in body["replies"])


ASK_STREET = "您住在（或纠纷发生在）海珠区哪个街道"


def test_mediation_asks_the_street_once_then_names_its_committee(client) -> None:
    first = ask(client, "route-street", "房东不退押金，我想找人调解")
    assert first["intent"] == "request_mediation" and first["category"] == "lease"
    assert "所在街道人民调解委员会" in texts(first) and ASK_STREET in texts(first)
    second = ask(client, "route-street", "我住赤岗")
    assert second["intent"] == "inform_street"
    assert "建议您找：赤岗街道人民调解委员会" in texts(second)
    assert ASK_STREET not in texts(second) and "12348" in texts(second)


def test_street_is_not_asked_twice(client) -> None:
    ask(client, "route-once", "房东不退押金，我想找人调解")
    again = ask(client, "route-once", "我想找调解员")
    assert ASK_STREET not in texts(again)


def test_gig_question_suggests_the_platform_workers_centre(client) -> None:
    body = ask(client, "route-gig", "我是外卖骑手，站点乱罚款扣钱怎么办")
    assert body["category"] == "gig_work"
    text = texts(body)
    assert "建议调解：新业态用工保障联盟调解中心" in text and "待运营方确认" not in text
    assert "找调解员" in [b["title"] for b in body["replies"][-1]["buttons"]]


def test_social_insurance_question_names_the_joint_centre(client) -> None:
    body = ask(client, "route-si", "公司一直不给我交社保怎么办")
    assert "建议调解：海珠区社会保险费争议联合处置中心" in texts(body)


def test_escalating_dispute_goes_to_a_person_first_and_is_still_answered(client) -> None:
    body = ask(client, "route-escalate", "老板欠我们三个月工资，我们明天一起去拉横幅堵门")
    assert body["category"] == "labour"
    assert body["replies"][0]["text"].startswith("【人工服务】") and "过激" in body["replies"][0]["text"]
    assert any("【拖欠工资】" in r["text"] for r in body["replies"][1:])


def test_legal_aid_request_gives_only_confirmed_contacts(client) -> None:
    body = ask(client, "route-aid", "老板欠我三个月工资，我想申请法律援助")
    text = texts(body)
    assert body["intent"] == "request_legal_aid" and "【申请法律援助】" in text
    assert "12348" in text and "待运营方确认" not in text


def test_still_unsure_after_a_clarification_hands_off(stack) -> None:
    url = f"http://127.0.0.1:{stack.settings.action_port}/webhook"
    latest = {
        "intent": {"name": "nlu_fallback", "confidence": 0.3},
        "entities": [],
        "text": "嗯那个就是",
        "intent_ranking": [{"name": "nlu_fallback", "confidence": 0.3}],
        "category": "other_legal",
    }
    events = [
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": "那个东西", "parse_data": latest},
        {"event": "action", "name": "action_clarify"},
        {"event": "bot", "text": "我不太确定您问的是哪一类问题。"},
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": "嗯那个就是", "parse_data": latest},
    ]
    tracker = {
        "sender_id": "t",
        "slots": {},
        "latest_message": latest,
        "events": events,
        "paused": False,
        "followup_action": None,
        "active_loop": {},
        "latest_action_name": "action_listen",
    }
    body = {
        "next_action": "action_clarify",
        "sender_id": "t",
        "tracker": tracker,
        "domain": yaml.safe_load((ROOT / "domain.yml").read_text("utf-8")),
        "version": "3.6.21",
    }
    response = httpx.post(url, json=body, timeout=30, headers=action_secret(stack)).json()
    assert response["responses"][0]["text"].startswith(STILL_UNSURE)
    tracker["events"] = events[-2:]  # first time: clarify with topic buttons
    response = httpx.post(url, json=body, timeout=30, headers=action_secret(stack)).json()
    assert not response["responses"][0]["text"].startswith(STILL_UNSURE)
