"""The intent → category contract and the rule for requests that state a dispute."""
from __future__ import annotations

from pathlib import Path

import yaml

from nlu.taxonomy import FALLBACK_INTENT, load

ROOT = Path(__file__).resolve().parents[1]
CONTRACT = {"labour", "lease", "gig_work", "elevator", "other_legal", "chitchat"}


def training_intents() -> dict[str, int]:
    counts: dict[str, int] = {}
    for path in sorted((ROOT / "nlu" / "data").glob("*.yml")):
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


def test_each_dispute_intent_has_at_least_40_examples() -> None:
    taxonomy = load()
    counts = training_intents()
    for category in taxonomy.dispute_categories:
        for intent in taxonomy.intents_of(category):
            assert counts[intent] >= 40, intent


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


def test_fallback_uses_guess_then_ranking() -> None:
    taxonomy = load()
    ranking = [{"name": FALLBACK_INTENT}, {"name": "lease_deposit"}, {"name": "greet"}]
    assert taxonomy.resolve(FALLBACK_INTENT, ranking) == "lease"
    assert taxonomy.resolve(FALLBACK_INTENT, ranking, fallback_guess="labour") == "labour"
    assert taxonomy.resolve(FALLBACK_INTENT, []) == "other_legal"


def test_heldout_split_never_trained_on() -> None:
    trained = set()
    for path in (ROOT / "nlu" / "data").glob("*.yml"):
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
