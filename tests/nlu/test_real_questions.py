"""The real questions as training data: labels, split, generated Rasa data, and
the rule that turns the classifier's probabilities into intent and category."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from nlu import real_questions as rq
from nlu.intent_decision import GENERAL_INTENTS, Thresholds, category_evidence, decide
from nlu.taxonomy import FALLBACK_INTENT, load
from settings import ROOT, get_settings

QUESTIONS = get_settings().questions_dir
needs_shared = pytest.mark.skipif(
    not (QUESTIONS / rq.QUESTIONS_FILE).is_file(), reason=f"no {rq.QUESTIONS_FILE} in {QUESTIONS}"
)


@needs_shared
def test_every_row_has_an_intent_of_its_own_category() -> None:
    taxonomy = load()
    rows = rq.load(QUESTIONS)
    assert len(rows) == sum(
        1 for line in (QUESTIONS / rq.QUESTIONS_FILE).read_text("utf-8").splitlines() if line.strip()
    )
    for row in rows:
        assert row.intent in taxonomy.intent_category, row.source_ref
        if taxonomy.takes_stated_category(row.intent):
            continue  # a 定金 question takes the category it states
        assert taxonomy.category_of(row.intent) == row.category, (row.source_ref, row.intent, row.category)


@needs_shared
def test_split_is_stratified_reproducible_and_disjoint() -> None:
    rows = rq.load(QUESTIONS)
    train, dev = rq.split(rows)
    again_train, again_dev = rq.split(list(reversed(rows)))
    assert {r.source_ref for r in dev} == {r.source_ref for r in again_dev}
    assert not {r.source_ref for r in train} & {r.source_ref for r in dev}
    assert {r.text for r in train}.isdisjoint({r.text for r in dev})
    assert len(train) + len(dev) == len(rows)
    for category in {r.category for r in rows}:
        n = sum(r.category == category for r in rows)
        n_dev = sum(r.category == category for r in dev)
        if n > 1:
            assert n_dev >= 1 and abs(n_dev - n * rq.DEV_FRACTION) <= 1, category


@needs_shared
def test_build_writes_rasa_data_and_the_dev_part(tmp_path: Path) -> None:
    n_train, n_dev = rq.build(QUESTIONS, tmp_path)
    data = yaml.safe_load((tmp_path / "nlu" / "real_questions.yml").read_text("utf-8"))
    examples = [e for block in data["nlu"] for e in block["examples"]]
    assert len(examples) == n_train
    assert all("[" not in e["text"] and "\n" not in e["text"] for e in examples)
    dev = [json.loads(line) for line in (tmp_path / "dev.jsonl").read_text("utf-8").splitlines()]
    assert len(dev) == n_dev and {"text", "category", "intent", "source_ref"} <= set(dev[0])
    assert not {e["text"] for e in examples} & {rq.training_text(d["text"]) for d in dev}


def test_no_real_question_text_is_in_the_repository() -> None:
    """The shared texts are read at build time, never copied (several sources state no licence)."""
    if not (QUESTIONS / rq.QUESTIONS_FILE).is_file():
        pytest.skip("no shared questions")
    tracked = [
        p
        for d in ("nlu", "data")
        for p in (ROOT / d).rglob("*")
        if p.is_file() and p.suffix in {".yml", ".jsonl", ".txt"}
    ]
    tracked += [p for p in (ROOT / "tests").rglob("*") if p.is_file() and p.suffix in {".yml", ".jsonl", ".py"}]
    assert len(tracked) > 30, "the repository's own files were not found"
    corpus = "\n".join(p.read_text("utf-8", errors="ignore") for p in tracked)
    long_texts = [r.text for r in rq.load(QUESTIONS) if len(r.text) >= 15]
    copied = [t for t in long_texts if t in corpus]
    assert not copied, copied[:3]


def test_missing_shared_folder_trains_on_own_examples(tmp_path: Path) -> None:
    assert rq.main(["--questions-dir", str(tmp_path / "absent"), "--out", str(tmp_path / "out")]) == 0
    data = yaml.safe_load((tmp_path / "out" / "nlu" / "real_questions.yml").read_text("utf-8"))
    assert data["nlu"] == []


def test_unlabelled_row_is_an_error(tmp_path: Path) -> None:
    (tmp_path / rq.QUESTIONS_FILE).write_text(
        json.dumps({"text": "新问题", "category": "labour", "source": "x", "source_ref": "new#1"}) + "\n",
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="no intent"):
        rq.load(tmp_path)


# -- the decision rule (nlu/intent_decision.py) --------------------------------
T = load()


def ranking(**probabilities: float) -> list[dict]:
    return [{"name": n, "confidence": p} for n, p in sorted(probabilities.items(), key=lambda kv: -kv[1])]


def test_a_clear_topic_is_kept() -> None:
    d = decide(
        T,
        "老板拖欠工资三个月",
        ranking(labour_wage_arrears=0.8, labour_dismissal=0.1),
        {"labour": 0.9, "other_legal": 0.1},
    )
    assert (d.intent, d.category) == ("labour_wage_arrears", "labour")


def test_a_clear_area_without_a_clear_topic_gets_the_general_intent() -> None:
    d = decide(
        T,
        "公司让我们签一份奇怪的承诺书，说不签就扣奖金，这样合法吗请问",
        ranking(
            labour_contract=0.2,
            labour_dismissal=0.19,
            labour_wage_arrears=0.18,
            labour_general=0.15,
            other_contract=0.1,
        ),
        {"labour": 0.85, "other_legal": 0.15},
    )
    assert (d.intent, d.category) == (GENERAL_INTENTS["labour"], "labour")


def test_a_greeting_before_a_question_is_not_chitchat() -> None:
    d = decide(T, "你好，房东不退押金", ranking(greet=0.45, lease_deposit=0.4), {"chitchat": 0.3, "lease": 0.7})
    assert (d.intent, d.category) == ("lease_deposit", "lease")


def test_a_short_unclear_message_falls_back_to_other_legal() -> None:
    d = decide(
        T,
        "这个怎么弄",
        ranking(labour_general=0.2, lease_general=0.2, other_general=0.2, greet=0.2),
        {"labour": 0.3, "lease": 0.3, "other_legal": 0.2, "chitchat": 0.2},
    )
    assert d.intent == FALLBACK_INTENT
    assert d.category in ("labour", "lease", "other_legal")
    weak = decide(
        T,
        "这个",
        ranking(labour_general=0.15, lease_general=0.15, other_general=0.14, greet=0.14),
        {"labour": 0.2, "lease": 0.2, "elevator": 0.2, "gig_work": 0.2, "other_legal": 0.2},
    )
    assert (weak.intent, weak.category) == (FALLBACK_INTENT, "other_legal")


def test_a_long_message_is_never_sent_to_buttons() -> None:
    long_text = "事情是这样的，" * 10
    d = decide(
        T,
        long_text,
        ranking(labour_general=0.15, lease_general=0.15, other_general=0.14, greet=0.14),
        {"labour": 0.2, "lease": 0.2, "elevator": 0.2, "gig_work": 0.2, "other_legal": 0.2},
    )
    assert d.intent != FALLBACK_INTENT
    nothing = decide(
        T,
        long_text,
        ranking(labour_general=0.1, lease_general=0.1, elevator_general=0.1),
        {c: 1 / 6 for c in T.categories},
    )
    assert (nothing.intent, nothing.category) == ("other_general", "other_legal")


def test_a_request_carries_the_dispute_it_names() -> None:
    d = decide(
        T,
        "我想找一个处理劳动合同纠纷的律师",
        ranking(request_legal_aid=0.8, labour_contract=0.1),
        {"labour": 0.7, "other_legal": 0.3},
    )
    assert (d.intent, d.category, d.stated_dispute) == ("request_legal_aid", "labour", "labour")
    bare = decide(T, "我想申请法律援助", ranking(request_legal_aid=0.9), {"other_legal": 0.9, "labour": 0.1})
    assert (bare.intent, bare.category) == ("request_legal_aid", "other_legal")


def test_earnest_money_takes_the_area_it_is_found_in() -> None:
    d = decide(
        T, "租房交了定金现在不租了", ranking(earnest_money=0.7, lease_deposit=0.2), {"lease": 0.8, "other_legal": 0.2}
    )
    assert (d.intent, d.category) == ("earnest_money", "lease")


def test_a_confident_earnest_money_question_is_clear_in_its_area() -> None:
    """定金's probability counts for the area the category head finds: left out, a short
    定金 question the classifier is sure of had half the head's probability as evidence
    and, below the category threshold, was sent to clarification buttons."""
    intents, heads = ranking(earnest_money=0.86, lease_deposit=0.04), {"lease": 0.95, "other_legal": 0.05}
    d = decide(T, "租房交了定金现在不租了", intents, heads)
    assert (d.intent, d.category, d.reason) == ("earnest_money", "lease", "topic")
    evidence = category_evidence(T, intents, heads)
    assert evidence["lease"] == pytest.approx((0.95 + 0.86 + 0.04) / 2)
    # requests still count for no area: they are answered by what they ask for
    asked = category_evidence(T, ranking(request_legal_aid=0.9), {"labour": 0.6, "other_legal": 0.4})
    assert asked["labour"] == pytest.approx(0.3)


def test_thresholds_are_the_resolver_defaults() -> None:
    assert Thresholds().short_chars == 40 and Thresholds().category == 0.55
