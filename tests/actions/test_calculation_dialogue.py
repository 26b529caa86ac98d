"""「我能拿多少」 through the gateway with the real Rasa and action servers: the
form asks for what is missing, the computation is shown with its articles
quoted from the index (the gateway's citation guard checks every quote),
with the arbitration deadline; 取消 clears it; bad input is asked again."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from bot.core.citation_guard import BLOCKED_TEXT


def say(client: httpx.Client, user: str, text: str) -> dict[str, Any]:
    response = client.post("/api/v1/messages", json={"user_id": user, "text": text})
    assert response.status_code == 200, response.text
    body = response.json()
    assert all(r["text"] != BLOCKED_TEXT for r in body["replies"]), body  # every quote passed the guard
    return body


def text_of(body: dict[str, Any]) -> str:
    return "\n".join(r["text"] or "" for r in body["replies"])


def buttons_of(body: dict[str, Any]) -> list[str]:
    return [b["title"] for r in body["replies"] for b in (r.get("buttons") or [])]


def test_how_much_after_a_dismissal_is_computed_with_its_articles(client) -> None:
    user = f"calc-{uuid.uuid4().hex[:8]}"
    first = text_of(say(client, user, "公司说我不能胜任工作把我辞退了，我能拿到多少补偿？"))
    assert "不能替您下结论" not in first
    assert "按法条帮您算一算" in first and "平均每月工资多少" in first
    assert "哪天入职" in text_of(say(client, user, "9000元"))
    assert "哪天解除或终止" in text_of(say(client, user, "2021年2月15日"))
    month_only = text_of(say(client, user, "2024年9月"))
    assert "先按2024年9月1日算" in month_only and "提前三十天书面通知" in month_only
    result = say(client, user, "没有")
    shown = text_of(result)
    assert "4个月 × 9,000元 = 36,000元" in shown  # 3 years 6 months 17 days: six months or more is a year
    assert "《劳动合同法》第四十七条（现行有效" in shown
    assert "六个月以上不满一年的，按一年计算" in shown  # the article's own words, quoted
    assert "待运营方确认" in shown  # no average wage configured: the cap was not applied, and it says so
    assert "72,000元" in shown and "第八十七条" in shown  # unlawful: twice, in place of 经济补偿
    assert "还应额外支付一个月工资：1个月 × 9,000元 = 9,000元" in shown  # no notice given
    assert "申请劳动仲裁的最后一天：2025年9月1日" in shown and "《劳动争议调解仲裁法》第二十七条" in shown
    assert "仲裁委员会或人民法院" in shown
    assert {"找调解员", "申请法律援助"} <= set(buttons_of(result))
    whole = text_of(say(client, user, "看第1条全文"))
    assert "《劳动合同法》第四十七条" in whole and "本条所称月工资" in whole


def test_overtime_from_the_button_quotes_the_pay_days_notice(client) -> None:
    user = f"calc-{uuid.uuid4().hex[:8]}"
    answer = say(client, user, "周末加班公司不给加班费")
    assert "算一算能拿多少" in buttons_of(answer)
    assert "正常工作时间的工资" in text_of(say(client, user, '/start_calculation{"calc_kind": "overtime"}'))
    assert "工作日延长工作时间" in text_of(say(client, user, "8700"))
    assert "休息日" in text_of(say(client, user, "10小时"))
    assert "法定节假日" in text_of(say(client, user, "8个小时"))
    shown = text_of(say(client, user, "0"))
    assert "50元/小时 × (10小时×150% + 8小时×200%) = 1,550元" in shown
    assert "《关于职工全年月平均工作时间和工资折算问题的通知》第二部分（现行有效" in shown
    assert "21.75天" in shown and "《劳动法》第四十四条（现行有效" in shown


def test_bad_input_is_asked_again_and_cancel_clears_everything(client) -> None:
    user = f"calc-{uuid.uuid4().hex[:8]}"
    kinds = say(client, user, "帮我算一下能拿多少钱")
    assert "您想算哪一项" in text_of(kinds) and "加班费" in buttons_of(kinds)
    assert "社保缴费工资" in text_of(say(client, user, "disability"))
    again = text_of(say(client, user, "很多很多"))
    assert "没看懂这个工资数" in again and "取消" in again
    assert "几级伤残" in text_of(say(client, user, "6000元"))
    assert "一级到十级" in text_of(say(client, user, "十二级"))
    cancelled = text_of(say(client, user, "取消"))
    assert "都已清除" in cancelled
    # the conversation goes on as before: a new question is answered, not taken as a grade
    after = say(client, user, "老板两个月没发工资了")
    assert "几级伤残" not in text_of(after) and "没看懂" not in text_of(after)


def _end_date_due_today() -> tuple[str, int]:
    """A dismissal day whose arbitration deadline is 30 (or 7) days after today in
    Guangzhou and on a weekday, so that one reminder falls due today."""
    from datetime import date as Date
    from datetime import datetime, timedelta

    from actions.calculators.periods import add_months
    from bot.store.reminders import BEIJING

    today = datetime.now(BEIJING).date()
    for before in (30, 7):
        last = today + timedelta(days=before)
        end = add_months(last, -12)
        if last.weekday() < 5 and add_months(end, 12) == last and end < Date.today():
            return f"{end.year}年{end.month}月{end.day}日", before
    raise AssertionError("no such day")  # cannot happen: 30 and 7 days ahead differ by two weekdays


def test_a_reminder_is_set_shown_on_the_next_visit_once_and_cancelled_by_one_word(client) -> None:
    user = f"calc-{uuid.uuid4().hex[:8]}"
    end, before = _end_date_due_today()
    assert "您想算哪一项" in text_of(say(client, user, "帮我算一下"))
    assert "平均每月工资" in text_of(say(client, user, "severance"))  # the button's payload
    say(client, user, "6000元")
    say(client, user, "2019年5月6日")
    say(client, user, end)
    shown = say(client, user, "有")
    assert "截止前30天和7天提醒您" in text_of(shown) and "提醒我" in buttons_of(shown)
    assert "还应额外支付一个月工资" not in text_of(shown)  # notice was given: no 代通知金
    confirmed = text_of(say(client, user, "/set_reminder"))
    assert "已设好提醒" in confirmed and "退订" in confirmed
    poll = client.get(f"/api/v1/conversations/{user}/messages")
    assert poll.status_code == 200
    reminders = poll.json()["reminders"]
    assert len(reminders) == 1 and f"还有{before}天" in reminders[0]["text"]  # due today: on this visit
    assert client.get(f"/api/v1/conversations/{user}/messages").json()["reminders"] == []  # once
    cancelled = text_of(say(client, user, "退订"))
    assert ("已为您取消全部1条" in cancelled) == (before == 30)  # the 7-day one is left only after a 30-day one
    assert "没有待发送" in text_of(say(client, user, "退订"))


def test_a_drafted_application_from_the_computation_downloads_as_pdf_and_word(client, gateway_url) -> None:
    import io

    import docx
    import pypdf

    user = f"calc-{uuid.uuid4().hex[:8]}"
    say(client, user, "广州某某物流有限公司不签劳动合同，干了快一年了，能拿多少二倍工资")
    say(client, user, "6000元")
    say(client, user, "2024年1月1日")
    shown = say(client, user, "2024年6月1日")
    assert "4个月 × 6,000元 = 24,000元" in text_of(shown)  # February to May
    assert "生成劳动仲裁申请书" in buttons_of(shown)
    drafted = say(client, user, '/draft_document{"draft_kind": "labour_arbitration"}')
    reply = text_of(drafted)
    assert "申请书草稿已生成" in reply and "【请填写】" in reply
    pdf_link = next(line.split("：", 1)[1] for line in reply.splitlines() if line.startswith("PDF"))
    word_link = next(line.split("：", 1)[1] for line in reply.splitlines() if line.startswith("Word"))
    assert pdf_link.startswith("/api/v1/drafts/")  # PUBLIC_BASE_URL unset: a path on this gateway
    with httpx.Client(base_url=gateway_url, timeout=30) as anyone:  # the signed link is the key: no token needed
        pdf = anyone.get(pdf_link)
        assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
        text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf.content)).pages).replace(" ", "")
        assert "支付未订立书面劳动合同的二倍工资差额24,000元（依据《劳动合同法》第八十二条）" in text
        assert "名称：广州某某物流有限公司" in text or "名称：【请填写】" in text
        word = anyone.get(word_link)
        assert word.status_code == 200
        paragraphs = [p.text for p in docx.Document(io.BytesIO(word.content)).paragraphs]
        assert "劳动人事争议仲裁申请书" in paragraphs
        forged = anyone.get(pdf_link.replace("/drafts/", "/drafts/x"))
        assert forged.status_code == 404 and "过期" in forged.json()["error"]["message"]


def test_the_injury_recognition_deadline_from_a_work_injury_answer(client) -> None:
    user = f"calc-{uuid.uuid4().hex[:8]}"
    answer = say(client, user, "在车间干活手被压伤了算工伤吗")
    assert "算一算工伤认定期限" in buttons_of(answer)
    asked = text_of(say(client, user, '/start_calculation{"calc_kind": "injury_deadline"}'))
    assert "事故是哪天发生的" in asked
    shown = say(client, user, "2024年6月3日")
    text = text_of(shown)
    assert "自己申请工伤认定的最后一天：2025年6月3日" in text
    assert "《工伤保险条例》第十七条（现行有效" in text and "1年内" in text
    assert "提醒我" not in buttons_of(shown)  # already past: nothing to remind of
