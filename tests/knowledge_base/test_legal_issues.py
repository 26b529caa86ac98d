"""The legal-issue table: every provision it names exists, malformed entries
are refused with the entry named, and spotting respects category and order."""

from __future__ import annotations

import pytest

from knowledge_base.retrieval.legal_issues import key_provisions, load_issues, parse_issues, spot


def test_every_provision_exists_in_force(full_corpus_in_force) -> None:
    missing = [
        (issue.id, provision)
        for issue in load_issues()
        for provision in issue.articles
        if provision not in full_corpus_in_force
    ]
    assert missing == []


@pytest.mark.parametrize(
    "entry,named",
    [
        ({"id": "x", "when": ["工资"], "articles": ["劳动合同法第三十条"]}, "劳动合同法第三十条"),
        ({"id": "x", "when": ["工资"], "articles": ["劳动合同法 30"], "categories": ["wages"]}, "wages"),
        ({"id": "x", "when": [], "articles": ["劳动合同法 30"]}, "when"),
        ({"id": "x", "when": ["工资"], "articles": ["劳动合同法 30"], "weight": 2}, "weight"),
    ],
)
def test_malformed_entry_is_named(entry: dict, named: str) -> None:
    with pytest.raises(ValueError) as error:
        parse_issues([{"id": "fine", "when": ["a"], "articles": ["民法典 1"]}, entry], "table.yml")
    assert "table.yml: issue [1] (x)" in str(error.value) and named in str(error.value)


def test_duplicate_ids_are_refused() -> None:
    entry = {"id": "same", "when": ["a"], "articles": ["民法典 1"]}
    with pytest.raises(ValueError, match="duplicate ids"):
        parse_issues([entry, entry])


def test_category_decides_what_a_word_means() -> None:
    assert key_provisions("押金不退", "labour")[0] == ("劳动合同法", 9)
    assert key_provisions("押金不退", "lease")[0] == ("民法典", 733)


def test_without_a_category_every_issue_may_fire_with_one_only_its_own() -> None:
    """No category: the whole table (a category never switches the layer off).
    A category: its own issues and those written for any, because triggers are
    phrased for their category (钱 of a lift, 死亡 at work)."""
    unsure = key_provisions("押金不退")
    assert ("劳动合同法", 9) in unsure and ("民法典", 733) in unsure
    lease = key_provisions("押金不退", "lease")
    assert ("民法典", 733) in lease and ("劳动合同法", 9) not in lease
    assert key_provisions("公司破产拍卖了，还欠我们三年的养老保险", "labour") == []  # not the sale of a let home
    assert [i.id for i in spot("父亲心脏病猝死，和弟弟争遗产", "other_legal")] == []  # not a death at work
    # other_legal has its own: neighbours, owners' rights, 定金, 物业
    assert "light_and_air" in [i.id for i in spot("楼下邻居加建挡住了我家采光", "other_legal")]
    assert "earnest_money" in [i.id for i in spot("买房交了定金，卖家反悔了", "other_legal")]


def test_colloquial_wording_is_spotted() -> None:
    assert "unpaid_wages" in [i.id for i in spot("老细唔出粮两个月", "labour")]


def test_two_issues_each_get_their_key_provision_near_the_top() -> None:
    top = key_provisions("怀孕期间被公司辞退合法吗", "labour")[:3]
    assert ("劳动合同法", 42) in top and ("劳动合同法", 48) in top


def test_also_narrows_a_broad_word() -> None:
    assert "work_injury" not in [i.id for i in spot("我的狗受伤了", "labour")]
    assert "work_injury" in [i.id for i in spot("上班时受伤了", "labour")]
