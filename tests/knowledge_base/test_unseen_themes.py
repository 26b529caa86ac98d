"""`make eval-unseen-themes`: a law family held out of the reranker's training and, for the
unseen condition, out of the voting bank too (the hidden questions' condition)."""

from __future__ import annotations

import numpy as np

from knowledge_base.evaluation import unseen_themes
from knowledge_base.evaluation.unseen_themes import bank_without, evaluate, family, family_of_article
from knowledge_base.retrieval.question_bank import AnsweredQuestion, load_rows, split
from knowledge_base.retrieval.retriever import Retriever


def test_a_question_belongs_to_the_family_most_of_its_gold_comes_from() -> None:
    assert family_of_article("民法典", 577) == "contracts"
    assert family_of_article("民法典", 288) == "property"
    assert family_of_article("民法典", 1165) == "torts"
    assert family_of_article("民法典", 1) == "general"
    assert family_of_article("劳动合同法", 46) == "other_laws"
    asked = AnsweredQuestion("…", (("民法典", 1165), ("民法典", 1179), ("民法典", 577)), "x")
    assert family(asked) == "torts"


def test_a_family_leaves_the_voting_bank_for_a_while_and_comes_back(settings) -> None:
    retriever = Retriever(settings.index_dir)
    bank, _ = split(load_rows(settings.questions_dir))
    full = retriever.bank
    assert full is not None and len(full.gold) == len(bank)
    families = [family(q) for q in bank]
    own_family = [f == "contracts" for f in families]
    allowed = {key for q, out in zip(bank, own_family, strict=True) if not out for key in q.gold}
    # a contract question whose neighbours of its own family vote for articles no other family cites
    asked = next(
        i
        for i, out in enumerate(own_family)
        if out and {key for key, _ in full.votes(full.vectors[i], leave_out=i)} - allowed
    )
    vector = full.vectors[asked]
    with bank_without(retriever, own_family):
        assert len(retriever.bank.gold) == own_family.count(False)
        voted = {key for key, _ in retriever.bank.votes(vector)}
        assert voted <= allowed
    assert retriever.bank is full


def test_each_family_is_ranked_by_a_reranker_that_never_saw_it(settings, monkeypatch) -> None:
    retriever = Retriever(settings.index_dir)
    bank, _ = split(load_rows(settings.questions_dir))
    trained_on: list[int] = []
    original = unseen_themes.training_data

    def spy(retriever, bank, own=(), places=None):
        if places is not None:  # the bank's part of a model's training (our own set is pooled once)
            trained_on.append(len(places))
        return original(retriever, bank, own, places=places)

    monkeypatch.setattr(unseen_themes, "training_data", spy)
    result = evaluate(retriever, bank, progress=False)
    indexed = {(a.law, a.number) for a in retriever.articles}
    families = [family(q) for q in bank]
    answerable = [f for q, f in zip(bank, families, strict=True) if indexed & set(q.gold)]
    assert result["n"] == len(answerable) > 0
    assert set(result["families"]) == set(answerable)
    # one model per family, trained on every other family's questions
    assert sorted(trained_on) == sorted(len(bank) - families.count(f) for f in set(answerable))
    for condition in ("seen_bank", "unseen"):
        figures = result[condition]
        assert all(0.0 <= figures[m] <= 1.0 for m in unseen_themes.METRICS)
        assert figures["recall@1"] <= figures["recall@5"] <= figures["recall@10"]
    weighted = sum(f["n"] * f["unseen"]["recall@5"] for f in result["families"].values()) / result["n"]
    assert np.isclose(weighted, result["unseen"]["recall@5"], atol=0.002 * len(result["families"]))
