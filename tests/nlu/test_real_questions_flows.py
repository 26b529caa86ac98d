"""What residents really write, through the real gateway, Rasa and action server:
a long complaint, a greeting before the question, a legal question no topic
covers, an urgent case each get an answer (not clarification buttons), and a
follow-up keeps its topic. The texts are written for this test in the manner
of the real questions (../shared/questions), not taken from them."""

from __future__ import annotations

from typing import Any

from tests.actions.test_routing_flows import ask, texts

CLARIFY = "我不太确定您问的是哪一类问题"


def is_answer(body: dict[str, Any], title: str | None = None) -> bool:
    text = texts(body)
    return CLARIFY not in text and "您可以这样做" in text and (title is None or f"【{title}】" in text)


LONG_LIFT_COMPLAINT = (
    "尊敬的领导：本人系A市A区某花园小区的业主，小区3栋的两台电梯自今年春节以来频繁出现故障，"
    "多次发生运行中突然停止、电梯门打不开的情况，上个月还有一位老人被困在电梯里将近一个小时，"
    "物业公司每次都只是派人简单看一下就说修好了，维保单位也很少来保养，电梯里张贴的检验合格标志"
    "已经过期两个多月。我们向物业反映了很多次都没有结果，业主们每天提心吊胆，恳请有关部门督促物业"
    "和维保单位彻底整改，保障业主的生命安全。"
)


def test_a_long_complaint_is_answered_in_its_topic(client) -> None:
    assert len(LONG_LIFT_COMPLAINT) > 150
    body = ask(client, "real-long", LONG_LIFT_COMPLAINT)
    assert body["category"] == "elevator", body
    assert body["intent"] == "elevator_safety"
    assert is_answer(body, "电梯故障、困人、年检与维保"), texts(body)


def test_a_greeting_before_the_question_does_not_make_it_chitchat(client) -> None:
    body = ask(client, "real-greet", "你好，请问一下，我在饭店做了两个月服务员，老板一直拖着工资不发，怎么办")
    assert body["category"] == "labour" and body["intent"] == "labour_wage_arrears", body
    assert is_answer(body, "拖欠工资")


def test_a_legal_question_no_topic_covers_is_still_answered(client) -> None:
    body = ask(client, "real-unknown", "我的身份证被人冒用注册了一家公司，现在税务部门找我补税，我该怎么办")
    assert body["category"] == "other_legal", body
    assert body["intent"] != "nlu_fallback"
    text = texts(body)
    assert is_answer(body), text
    titles = [b["title"] for r in body["replies"] for b in r["buttons"]]
    assert "申请法律援助" in titles and "找调解员" in titles and "转人工" in titles


def test_an_urgent_case_puts_a_person_first_with_the_answer(client) -> None:
    body = ask(client, "real-urgent", "我老公是外卖骑手，送餐路上被车撞断了腿，明天就要做手术，站点说不归他们管")
    assert body["category"] == "gig_work" and body["intent"] == "gig_injury", body
    assert body["replies"][0]["text"].startswith("【人工服务】"), texts(body)
    assert "紧急" in body["replies"][0]["text"]
    assert body.get("case_id"), "an urgent case opens a case for a mediator"
    assert any(is_answer({"replies": [r]}, "配送途中受伤与职业伤害保障") for r in body["replies"][1:])


def test_a_follow_up_keeps_its_topic(client) -> None:
    first = ask(client, "real-follow", "我们是七层的老楼，想加装电梯，需要多少户同意")
    assert first["category"] == "elevator" and is_answer(first)
    second = ask(client, "real-follow", "那一楼那户坚决不同意，我们能直接装吗？")
    assert second["category"] == "elevator", second
    assert second["intent"].startswith("elevator_"), second
    assert is_answer(second), texts(second)


def test_a_short_follow_up_the_classifier_cannot_place_stays_in_the_topic(client) -> None:
    first = ask(client, "real-follow-2", "房东不退押金，已经拖了两个月")
    assert first["intent"] == "lease_deposit" and is_answer(first)
    second = ask(client, "real-follow-2", "那如果他一直不接电话呢？")
    assert CLARIFY not in texts(second), texts(second)
    assert "【租房押金】" in texts(second)


def test_a_deposit_called_earnest_money_gets_the_earnest_money_card(client) -> None:
    body = ask(client, "real-dingjin", "看房的时候交了三千定金，后来不想租了，房东说定金一律不退")
    assert body["intent"] == "earnest_money" and body["category"] == "lease", body
    text = texts(body)
    assert "【定金、订金与押金】" in text and "【租房押金】" not in text
    assert "双倍返还" in text


def test_a_pedestrian_hit_by_a_rider_is_not_gig_work(client) -> None:
    body = ask(client, "real-third", "我走在人行道上被一个送外卖的电动车撞倒了，腿骨折了，骑手和平台互相推")
    assert body["category"] == "other_legal", body


def test_a_short_unclear_message_is_asked_to_clarify(client) -> None:
    body = ask(client, "real-unclear", "我想问一下赔偿的事")
    assert body["intent"] == "nlu_fallback" and body["category"] == "other_legal", body
    assert CLARIFY in texts(body)
