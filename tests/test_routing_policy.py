"""The routing policy: every branch, and the README's table is the policy's own."""
from __future__ import annotations

import pytest

from actions.routing import decide, escalating, table
from settings import ROOT


@pytest.mark.parametrize("intent,category,text,street,topic,after,expected", [
    ("emergency", "labour", "", None, None, False, ("emergency", None)),
    ("request_human", "lease", "", None, None, False, ("handoff", None)),
    ("labour_wage_arrears", "labour", "老板欠薪，我们明天一起去堵门", None, None, False, ("handoff", None)),
    ("nlu_fallback", "other_legal", "啊啊", None, None, True, ("handoff", None)),
    ("nlu_fallback", "other_legal", "啊啊", None, None, False, ("clarify", None)),
    ("request_legal_aid", "labour", "", None, None, False, ("offer_legal_aid", "legal_aid")),
    ("request_mediation", "gig_work", "", None, None, False, ("answer_suggest_mediation", "gig_workers_mediation")),
    ("request_mediation", "labour", "", "赤岗", "labour_social_insurance", False,
     ("answer_suggest_mediation", "social_insurance_joint_centre")),
    ("inform_street", "lease", "我住赤岗", "赤岗", None, False, ("answer_suggest_mediation", "street_committee")),
    ("labour_wage_arrears", "labour", "老板欠我工资", None, None, False, ("answer", None)),
    ("elevator_objection", "elevator", "一楼反对装电梯", "龙凤", None, False,
     ("answer_suggest_mediation", "street_committee")),
    ("other_contract", "other_legal", "合作方不付货款", None, None, False,
     ("answer_suggest_mediation", "pazhou_commercial_mediation")),
    ("other_criminal", "other_legal", "被人骗了钱", None, None, False, ("answer", None)),
])
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
    assert table() in (ROOT / "README.md").read_text("utf-8"), "regenerate: python -m actions.routing --table"
