"""The learned reranker: its features, its arithmetic, and that `make index`
trains it once from the shared questions and again only when they change."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from knowledge_base.indexing import reranker_training as training
from knowledge_base.retrieval.question_bank import BANK_FILE
from knowledge_base.retrieval.reranker import (
    FEATURES,
    RERANKER_FILE,
    Evidence,
    Pool,
    Reranker,
    char_bigrams,
    fit,
    shared_pairs_each,
)
from knowledge_base.retrieval.retriever import Retriever
from settings import get_settings

SHARED_QUESTIONS = get_settings().questions_dir


def evidence(article: int, law: str = "劳动合同法", **seen) -> Evidence:
    return Evidence(article, law, 80, **seen)


def feature(pool: Pool, name: str) -> np.ndarray:
    return pool.matrix()[:, FEATURES.index(name)]


def test_features_describe_agreement_and_the_law_most_candidates_come_from() -> None:
    pool = Pool(
        [
            evidence(0, dense_rank=1, dense_sim=0.9, lexical_rank=1, lexical_score=8.0, fused=0.18),
            evidence(1, dense_rank=2, dense_sim=0.85, fused=0.08),
            evidence(2, law="海商法", lexical_rank=2, lexical_score=4.0, fused=0.08),
        ],
        floor_sim=0.7,
    )
    assert pool.matrix().shape == (3, len(FEATURES))
    assert list(feature(pool, "lists")) == [0.5, 0.25, 0.25]
    assert feature(pool, "dense_sim")[2] == pytest.approx(0.7)  # unranked by dense: below the floor
    assert feature(pool, "dense_gap")[0] == 0 and feature(pool, "dense_gap")[1] == pytest.approx(0.05)
    assert list(feature(pool, "lexical_rel")) == [1.0, 0.0, 0.5]
    assert feature(pool, "law_share")[0] == pytest.approx(2 / 3) and feature(pool, "law_share")[2] == pytest.approx(
        1 / 3
    )
    assert Pool().matrix().shape == (0, len(FEATURES))


def test_features_see_the_part_of_an_article_a_question_is_about() -> None:
    """An article whose best paragraph or item is near the question stands out
    even where its whole window is far (knowledge_base/corpus/passages.py)."""
    pool = Pool(
        [
            evidence(0, dense_rank=1, dense_sim=0.9, parts_rank=2, parts_sim=0.88, fused=0.17),
            evidence(1, dense_rank=2, dense_sim=0.8, parts_rank=1, parts_sim=0.93, fused=0.17),
            evidence(2, lexical_rank=1, lexical_score=3.0, fused=0.09),
        ],
        floor_sim=0.7,
        floor_parts_sim=0.75,
    )
    assert list(feature(pool, "parts_rr")) == pytest.approx([1 / 12, 1 / 11, 0.0])
    assert list(feature(pool, "parts_sim")) == pytest.approx([0.88, 0.93, 0.75])  # unranked: the floor
    assert list(feature(pool, "parts_gap")) == pytest.approx([0.05, 0.0, 0.18])
    assert list(feature(pool, "lists")) == [0.25, 0.25, 0.25]  # the parts refine dense, not a list of their own


def test_features_see_the_chapter_a_question_lands_in_not_only_the_law() -> None:
    lease, neighbours = "第三编 合同 第十四章 租赁合同", "第二编 物权 第七章 相邻关系"
    pool = Pool(
        [
            evidence(0, law="民法典", number=703, chapter=lease, fused=0.2, bank_vote=0.3),
            evidence(1, law="民法典", number=705, chapter=lease, fused=0.1, bank_vote=0.1),
            evidence(2, law="民法典", number=288, chapter=neighbours, fused=0.05),
            evidence(3, law="海商法", number=704, fused=0.04),
        ]
    )
    # the law's share cannot tell 租赁合同 from 相邻关系: both are 民法典
    assert feature(pool, "law_share")[0] == feature(pool, "law_share")[2] == pytest.approx(3 / 4)
    assert list(feature(pool, "chapter_share")) == pytest.approx([2 / 4, 2 / 4, 1 / 4, 1 / 4])
    assert list(feature(pool, "chapter_votes")) == pytest.approx([1.0, 1.0, 0.0, 0.0])
    # 703 and 705 are neighbours in one law; 海商法704 is near in number only
    assert list(feature(pool, "nearby")[:4] * 20) == pytest.approx([1, 1, 0, 0])


def test_character_pairs_count_what_a_question_and_an_article_share() -> None:
    asked = char_bigrams("房东不退押金怎么办？ ABC 123")
    article = char_bigrams("租赁期限届满，出租人应当返还押金。")
    assert len(asked) == 8  # 房东 东不 不退 退押 押金 金怎 怎么 么办: Latin letters and digits are not pairs
    assert list(shared_pairs_each(asked, [article, char_bigrams(""), asked])) == [1, 0, 8]  # 押金; nothing; all
    assert len(char_bigrams("押")) == 0 and list(shared_pairs_each(char_bigrams(""), [article])) == [0]
    rng = np.random.default_rng(3)  # the same counts as one intersection per article, on pairs of all sizes
    for _ in range(50):
        asked = np.unique(rng.integers(0, 400, rng.integers(0, 40)).astype(np.uint64))
        each = [np.unique(rng.integers(0, 400, rng.integers(0, 300)).astype(np.uint64)) for _ in range(20)]
        expected = [len(np.intersect1d(asked, pairs, assume_unique=True)) for pairs in each]
        assert list(shared_pairs_each(asked, each)) == expected


def test_a_fitted_reranker_learns_what_predicts_gold_and_survives_a_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    matrices, labels = [], []
    for _ in range(60):
        x = rng.normal(size=(20, len(FEATURES))).astype(np.float32)
        y = (x[:, FEATURES.index("dense_rr")] + 0.3 * rng.normal(size=20) > 1.0).astype(np.int8)
        matrices.append(x)
        labels.append(y)
    model = fit(matrices, labels)
    assert int(np.argmax(model.coef)) == FEATURES.index("dense_rr")
    model.meta = {"stamp": "s"}
    model.save(tmp_path / RERANKER_FILE)
    again = Reranker.load(tmp_path / RERANKER_FILE)
    assert again is not None and again.meta == {"stamp": "s"} and np.allclose(again.coef, model.coef)
    raw = json.loads((tmp_path / RERANKER_FILE).read_text("utf-8"))
    (tmp_path / RERANKER_FILE).write_text(json.dumps({**raw, "features": "v0:old"}), "utf-8")
    assert Reranker.load(tmp_path / RERANKER_FILE) is None  # other features: retrained, never misread
    assert Reranker.load(tmp_path / "absent.json") is None


def test_the_category_multiplies_the_odds_of_its_laws() -> None:
    model = Reranker(np.zeros(len(FEATURES)), np.ones(len(FEATURES)), np.zeros(len(FEATURES)), 0.0)
    pool = Pool([evidence(0, law_weight=3.0), evidence(1, law="海商法")])
    p = model.probabilities(pool)
    assert p[1] == pytest.approx(0.5) and p[0] / (1 - p[0]) == pytest.approx(3.0, rel=1e-4)


@pytest.mark.skipif(not (SHARED_QUESTIONS / BANK_FILE).is_file(), reason="no shared retrieval_train.jsonl")
def test_the_reranker_is_trained_beside_the_index_and_retrained_only_on_change(settings, tmp_path: Path) -> None:
    index = tmp_path / "index"
    shutil.copytree(settings.index_dir, index)  # the test index, bank included
    (index / RERANKER_FILE).unlink(missing_ok=True)
    model = training.ensure_reranker(index, settings.questions_dir, progress=False)
    assert model is not None and (index / RERANKER_FILE).is_file()
    retriever = Retriever(index)
    indexed = {(a.law, a.number) for a in retriever.articles}
    answerable = [g for g in retriever.bank.gold if indexed & set(g)] + [
        g for _, g, _ in training.own_rows() if indexed & g
    ]
    assert model.meta["questions"] == len(answerable) < len(retriever.bank.gold) + len(training.own_rows())
    written = (index / RERANKER_FILE).stat().st_mtime_ns
    assert training.ensure_reranker(index, settings.questions_dir, progress=False).meta == model.meta
    assert (index / RERANKER_FILE).stat().st_mtime_ns == written  # current: not retrained
    raw = json.loads((index / RERANKER_FILE).read_text("utf-8"))
    (index / RERANKER_FILE).write_text(json.dumps({**raw, "stamp": "stale"}), "utf-8")
    assert training.ensure_reranker(index, settings.questions_dir, progress=False).meta["stamp"] == model.meta["stamp"]
    hits = Retriever(index).search("公司拖欠工资三个月不发怎么办", category="labour", k=5)
    assert hits and all(0.0 <= h.score <= 1.0 for h in hits)  # ranked by probability
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert training.ensure_reranker(index, tmp_path / "no-questions", progress=False) is None


def test_the_reranker_stamp_names_the_engine_that_embeds_the_questions() -> None:
    """The reranker learns from candidates found with the questions' vectors: a different
    engine (EMBEDDING_ENGINE) finds other candidates, so it must train again."""
    from knowledge_base.retrieval.query_encoder import engine_name

    assert engine_name("any-model", "onnx", "0") == "onnx-int8"
    assert engine_name("any-model", "torch", "0") == "torch-fp32"
    assert engine_name("any-model", "torch", "1") == "torch-bf16"
    assert engine_name("no-export-here", "auto", "1") == "torch-bf16"  # auto without an export: torch
    stamps = {training.stamp([], "model", "corpus", "layout", engine) for engine in ("onnx-int8", "torch-fp32", "")}
    assert len(stamps) == 3
