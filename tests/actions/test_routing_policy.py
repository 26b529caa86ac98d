"""The routing policy: every branch, and the README's table is the policy's own."""

from __future__ import annotations

import pytest

from actions.routing_policy import decide, escalating, table
from settings import ROOT


@pytest.mark.parametrize(
    "intent,category,text,street,topic,after,expected",
    [
        ("emergency", "labour", "", None, None, False, ("emergency", None)),
        ("request_human", "lease", "", None, None, False, ("handoff", None)),
        ("labour_wage_arrears", "labour", "老板欠薪，我们明天一起去堵门", None, None, False, ("handoff", None)),
        ("nlu_fallback", "other_legal", "啊啊", None, None, True, ("handoff", None)),
        ("nlu_fallback", "other_legal", "啊啊", None, None, False, ("clarify", None)),
        ("request_legal_aid", "labour", "", None, None, False, ("offer_legal_aid", "legal_aid")),
        ("request_mediation", "gig_work", "", None, None, False, ("answer_suggest_mediation", "gig_workers_mediation")),
        (
            "request_mediation",
            "labour",
            "",
            "赤岗",
            "labour_social_insurance",
            False,
            ("answer_suggest_mediation", "social_insurance_joint_centre"),
        ),
        ("inform_street", "lease", "我住赤岗", "赤岗", None, False, ("answer_suggest_mediation", "street_committee")),
        ("labour_wage_arrears", "labour", "老板欠我工资", None, None, False, ("answer", None)),
        (
            "elevator_objection",
            "elevator",
            "一楼反对装电梯",
            "龙凤",
            None,
            False,
            ("answer_suggest_mediation", "street_committee"),
        ),
        (
            "other_contract",
            "other_legal",
            "合作方不付货款",
            None,
            None,
            False,
            ("answer_suggest_mediation", "pazhou_commercial_mediation"),
        ),
        ("other_criminal", "other_legal", "被人骗了钱", None, None, False, ("answer", None)),
    ],
)
def test_each_branch(intent, category, text, street, topic, after, expected) -> None:
    decision = decide(intent, category, text, street, topic=topic, after_clarification=after)
    assert (decision.route, decision.body) == expected


def test_street_is_asked_only_when_unknown_and_needed() -> None:
    assert decide("lease_deposit", "lease", "押金", None).ask_street
    assert not decide("lease_deposit", "lease", "押金", "赤岗").ask_street
    assert not decide("gig_injury", "gig_work", "骑手受伤", None).ask_street


def test_escalation_reads_traditional_characters_too() -> None:
    assert escalating("我哋聽日去拉橫幅") and not escalating("老板拖欠工资怎么办")


def test_readme_shows_the_policy_as_it_is() -> None:
    assert table() in (ROOT / "README.md").read_text("utf-8"), "regenerate: python -m actions.routing_policy --table"


def test_urgency_is_a_person_first_and_fires_on_no_real_question_without_it() -> None:
    """Urgent: treatment still needed, a hearing or auction within days, evicted today,
    many workers unpaid. None of the real training questions (../shared/questions)
    is urgent in that sense, so none may fire: a false alarm takes a mediator's time."""
    import json

    from actions.routing_policy import decide, urgent
    from nlu.real_questions import QUESTIONS_FILE
    from settings import get_settings

    for text in (
        "我老公送外卖被撞断了腿，明天就要做手术",
        "明天就要开庭了，我什么都没准备",
        "房东今天把我的东西扔出来了，我现在没地方住",
        "我们二十几个工人被拖欠了半年工资",
        "法院下周就要拍卖我租的房子",
    ):
        assert urgent(text), text
        assert decide("labour_wage_arrears", "labour", text).route == "handoff"
    for text in ("工伤住院一个月，出院以后公司不管了", "做了开颅手术，老板垫付了医药费", "老板欠我工资"):
        assert not urgent(text), text
    path = get_settings().questions_dir / QUESTIONS_FILE
    if path.is_file():
        fired = [json.loads(l)["text"][:40] for l in path.open(encoding="utf-8") if urgent(json.loads(l)["text"])]
        assert not fired, fired
