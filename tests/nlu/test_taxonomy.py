"""The intent → category contract and the rule for requests that state a dispute."""

from __future__ import annotations

import yaml

from nlu.taxonomy import FALLBACK_INTENT, load
from settings import ROOT  # noqa: E402

CONTRACT = {"labour", "lease", "gig_work", "elevator", "other_legal", "chitchat"}


def training_intents() -> dict[str, int]:
    counts: dict[str, int] = {}
    for path in sorted((ROOT / "data" / "nlu").glob("*.yml")):
        for block in yaml.safe_load(path.read_text("utf-8")).get("nlu", []):
            if "intent" not in block:
                continue
            examples = block["examples"]
            n = len([l for l in examples.splitlines() if l.strip()]) if isinstance(examples, str) else len(examples)
            counts[block["intent"]] = counts.get(block["intent"], 0) + n
    return counts


def test_categories_are_the_contract() -> None:
    taxonomy = load()
    assert set(taxonomy.categories) == CONTRACT
    assert set(taxonomy.intent_category.values()) <= CONTRACT


def test_every_intent_is_in_taxonomy_domain_and_training_data() -> None:
    taxonomy = load()
    domain = yaml.safe_load((ROOT / "domain.yml").read_text("utf-8"))
    declared = set(taxonomy.intent_category) - {FALLBACK_INTENT}
    assert set(domain["intents"]) == declared
    assert set(training_intents()) == declared


ORIGINAL_TOPICS = {
    "labour_wage_arrears",
    "labour_dismissal",
    "labour_contract",
    "labour_overtime_leave",
    "labour_work_injury",
    "labour_social_insurance",
    "lease_deposit",
    "lease_termination",
    "lease_repair_rent",
    "gig_platform_penalty",
    "gig_labour_relation",
    "gig_injury",
    "elevator_objection",
    "elevator_procedure",
}


def test_each_dispute_intent_has_enough_examples_of_our_own() -> None:
    """The topics found in the real questions (labour_employee_status, elevator_safety …)
    learn from those questions too (nlu/real_questions.py), so fewer of our own suffice;
    how well they are learned is measured on the real dev split (tests/nlu/test_nlu_quality.py)."""
    taxonomy = load()
    counts = training_intents()
    for category in taxonomy.dispute_categories:
        for intent in taxonomy.intents_of(category):
            assert counts[intent] >= (40 if intent in ORIGINAL_TOPICS else 10), intent


def test_dispute_intents_carry_their_own_category() -> None:
    taxonomy = load()
    assert taxonomy.resolve("labour_wage_arrears") == "labour"
    assert taxonomy.resolve("elevator_objection", stated_dispute="lease") == "elevator"
    assert taxonomy.resolve("greet") == "chitchat"


def test_request_carries_stated_dispute_else_other_legal() -> None:
    taxonomy = load()
    assert taxonomy.resolve("request_legal_aid", stated_dispute="labour") == "labour"
    assert taxonomy.resolve("emergency", stated_dispute="gig_work") == "gig_work"
    assert taxonomy.resolve("request_mediation") == "other_legal"
    # a request cannot be moved into chitchat
    assert taxonomy.resolve("request_human", stated_dispute="chitchat") == "other_legal"


def test_fallback_never_defaults_to_a_dispute_category() -> None:
    taxonomy = load()
    ranking = [{"name": FALLBACK_INTENT}, {"name": "lease_deposit"}, {"name": "greet"}]
    assert taxonomy.resolve(FALLBACK_INTENT, ranking) == "other_legal"
    assert taxonomy.resolve(FALLBACK_INTENT, ranking, fallback_guess="labour") == "labour"
    assert taxonomy.resolve(FALLBACK_INTENT, []) == "other_legal"


def test_earnest_money_takes_the_category_it_states() -> None:
    taxonomy = load()
    assert taxonomy.resolve("earnest_money", stated_dispute="lease") == "lease"
    assert taxonomy.resolve("earnest_money") == "other_legal"
    assert taxonomy.takes_stated_category("earnest_money") and not taxonomy.is_modifier("earnest_money")


def test_heldout_split_never_trained_on() -> None:
    trained = set()
    for path in (ROOT / "data" / "nlu").glob("*.yml"):
        for block in yaml.safe_load(path.read_text("utf-8")).get("nlu", []):
            examples = block.get("examples")
            if isinstance(examples, str):
                trained |= {l.strip()[2:].strip() for l in examples.splitlines() if l.strip()}
            elif isinstance(examples, list):
                trained |= {e["text"].strip() for e in examples}
    import json

    heldout = [json.loads(l)["text"] for l in (ROOT / "nlu/test/heldout.jsonl").read_text("utf-8").splitlines() if l]
    assert len(heldout) >= 200
    assert not set(heldout) & trained
