"""The legal-aid intake form through the gateway with the real Rasa and action
servers: a full application with a wrong phone number and a correction, the
printable summary for staff, cancel, leave and resume, an ineligible matter,
no consent. Plus the form's reading rules on their own."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from actions import legal_aid_rules as rules
from bot.core.citation_guard import BLOCKED_TEXT
from knowledge_base.corpus.article_store import ArticleStore
from tests.helpers.console import Console, add_staff


def say(client: httpx.Client, user: str, text: str) -> dict[str, Any]:
    response = client.post("/api/v1/messages", json={"user_id": user, "text": text})
    assert response.status_code == 200, response.text
    body = response.json()
    assert all(r["text"] != BLOCKED_TEXT for r in body["replies"])
    return body


def text_of(body: dict[str, Any]) -> str:
    return "\n".join(r["text"] for r in body["replies"])


def test_reading_rules() -> None:
    assert rules.parse_phone("138-1234-5678") == "13812345678" and rules.parse_phone("02012345678") is None
    assert rules.parse_name("我叫 张三") == "张三" and rules.parse_name("13812345678") is None
    assert rules.parse_street("我住南华西街道") == "南华西" and rules.parse_street("天河区") is None
    assert rules.parse_amount("三千块") == "3000元" and rules.parse_amount("1.5万") == "15000元"
    assert rules.parse_amount("两万五") is None and rules.parse_amount("不涉及") == rules.NOT_INVOLVED
    assert rules.parse_item("第（七）项", 9) == 7 and rules.parse_item("都不是", 9) == 0
    assert rules.parse_item("第十二项", 9) is None and rules.parse_item("10", 9) is None
    assert rules.parse_item("0", 9) == 0
    assert rules.assess(5, 0, True).kind == "likely_eligible"
    assert rules.assess(5, 0, False).kind == "needs_review"
    assert rules.assess(2, 4, None).kind == "likely_eligible"
    assert rules.assess(0, 0, None).kind == "not_legal_aid"
    assert rules.assess(9, 0, True).kind == "needs_review"


def test_article_items_come_from_the_indexed_text(stack) -> None:
    article = ArticleStore(stack.settings.index_dir).in_force("法律援助法", 31)
    items = rules.article_items(article.text)
    assert [n for n, _ in items] == list(range(1, 10))
    assert items[4][1] == "请求确认劳动关系或者支付劳动报酬"


def start(client: httpx.Client, user: str) -> None:
    aid = say(client, user, "老板拖欠我三个月工资，我想申请法律援助")
    assert "在线申请法律援助" in [b["title"] for b in aid["replies"][-1]["buttons"]]
    consent = say(client, user, "/start_intake")
    assert "个人信息告知" in text_of(consent) and "删除" in text_of(consent)


def test_full_application_with_a_correction(client, stack, gateway_url) -> None:
    user = f"aid-{uuid.uuid4().hex[:8]}"
    start(client, user)
    assert "发生了什么" in text_of(say(client, user, "/affirm"))  # category known from the conversation
    assert "对方是谁" in text_of(say(client, user, "公司从八月开始一直拖欠工资，说没钱"))
    assert "涉及多少钱" in text_of(say(client, user, "广州某某物流有限公司"))
    art31 = say(client, user, "9000元")
    assert "《法律援助法》第三十一条（现行有效" in text_of(art31)
    assert "（五）请求确认劳动关系或者支付劳动报酬" in [b["title"] for b in art31["replies"][-1]["buttons"]]
    assert "《法律援助法》第三十二条（现行有效" in text_of(say(client, user, "第（五）项"))
    assert "告知承诺制" in text_of(say(client, user, "都不属于"))
    assert "怎么称呼" in text_of(say(client, user, "/affirm"))
    assert "手机号" in text_of(say(client, user, "张三"))
    assert "不像是内地手机号" in text_of(say(client, user, "12345"))
    assert "哪个街道" in text_of(say(client, user, "13812345678"))
    summary = say(client, user, "赤岗")
    assert "请核对" in text_of(summary) and "手机号：13812345678" in text_of(summary)
    assert "请重新填写手机号" in text_of(say(client, user, '/correct_intake{"intake_field": "applicant_phone"}'))
    again = say(client, user, "13900001111")
    assert "手机号：13900001111" in text_of(again) and "街道：赤岗" in text_of(again)
    done = say(client, user, "/affirm")
    assert "申请已提交" in text_of(done) and "初步看符合申请条件" in text_of(done) and done["application_id"]

    add_staff(stack.settings, "aid-staff", role="admin")
    staff = Console(gateway_url, "aid-staff")
    listed = next(
        a for a in staff.http.get("/console/api/applications").json()["applications"] if a["applicant"] == "张三"
    )
    # a mediator who has no case of this resident sees neither the listing nor the application (#13)
    add_staff(stack.settings, "aid-mediator")
    mediator = Console(gateway_url, "aid-mediator")
    assert all(a["id"] != listed["id"] for a in mediator.http.get("/console/api/applications").json()["applications"])
    assert mediator.http.get(f"/console/api/applications/{listed['id']}").status_code == 403
    opened = say(client, user, "我要转人工").get("case_id")  # once the mediator has this resident's case: yes
    case = next(c for c in mediator.http.get("/console/api/queue").json()["waiting"] if c["id"] == opened)
    assert mediator.post(f"/console/api/cases/{case['id']}/claim").status_code == 200
    transcript = mediator.http.get(f"/console/api/cases/{case['id']}").json()["summary"]["transcript"]
    assert any(t["text"] == "张三" for t in transcript)
    assert mediator.http.get(f"/console/api/applications/{listed['id']}").status_code == 200
    assert listed["outcome"] == "likely_eligible" and "13900001111" not in listed["phone"]
    page = staff.http.get(f"/console/api/applications/{listed['id']}", params={"format": "html"})
    assert page.status_code == 200 and "13900001111" in page.text and "第（五）项" in page.text
    assert "<script" not in page.text
    pdf = staff.http.get(f"/console/api/applications/{listed['id']}", params={"format": "pdf"})
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    assert httpx.get(f"{gateway_url}/console/api/applications/{listed['id']}").status_code == 401
    logs = "".join(p.read_text("utf-8", errors="replace") for p in (stack.settings.var_dir / "logs").glob("*.log"))
    assert "13900001111" not in logs and "13812345678" not in logs


def test_cancel_clears_everything(client, stack) -> None:
    user = f"aid-{uuid.uuid4().hex[:8]}"
    start(client, user)
    say(client, user, "/affirm")
    say(client, user, "公司拖欠工资三个月")
    cancelled = say(client, user, "取消")
    assert "已取消" in text_of(cancelled) and not cancelled.get("application_id")
    tracker = httpx.get(
        f"{stack.settings.rasa_base_url}/conversations/{user}/tracker",
        params={"token": stack.settings.rasa_token()},
        timeout=30,
    ).json()
    assert tracker["active_loop"] in ({}, None) or not tracker["active_loop"].get("name")
    assert tracker["slots"]["intake_description"] is None and tracker["slots"]["intake_consent"] is None


def test_leave_and_resume_later(client) -> None:
    user = f"aid-{uuid.uuid4().hex[:8]}"
    start(client, user)
    say(client, user, "/affirm")
    say(client, user, "公司拖欠工资三个月")
    paused = say(client, user, "稍后再填")
    assert "已为您保留" in text_of(paused)
    assert say(client, user, "你好")["intent"] == "greet"
    resumed = say(client, user, "继续申请")
    assert "对方是谁" in text_of(resumed) and "个人信息告知" not in text_of(resumed)


def test_a_matter_outside_legal_aid_gets_an_alternative_and_no_record(client) -> None:
    user = f"aid-{uuid.uuid4().hex[:8]}"
    say(client, user, "邻居装修吵到我了")
    say(client, user, "/start_intake")
    if "哪一类" in text_of(say(client, user, "/affirm")):
        say(client, user, "other_legal")
    for answer in ("邻居天天半夜装修", "楼上邻居", "不涉及", "都不是"):
        say(client, user, answer)
    result = say(client, user, "都不属于")
    assert "可能不属于法律援助事项" in text_of(result) and "更好的办法" in text_of(result)
    assert not result.get("application_id") and "怎么称呼" not in text_of(result)


def test_no_consent_keeps_nothing(client) -> None:
    user = f"aid-{uuid.uuid4().hex[:8]}"
    start(client, user)
    refused = say(client, user, "/deny")
    assert "没有保存任何信息" in text_of(refused) and not refused.get("application_id")
