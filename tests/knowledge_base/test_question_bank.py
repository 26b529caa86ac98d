"""The bank of answered real questions: split, build (rebuilt only when its rows
or the model change), votes, and its place in the hybrid."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from knowledge_base.retrieval import question_bank as qb
from settings import ROOT, get_settings

SHARED = get_settings().questions_dir


def write_rows(folder: Path, rows: list[tuple[str, list[tuple[str, int]]]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / qb.BANK_FILE).write_text(
        "".join(
            json.dumps(
                {
                    "question": q,
                    "source_ref": f"t#{i}",
                    "source": "test",
                    "gold": [{"law": law, "article": n} for law, n in gold],
                },
                ensure_ascii=False,
            )
            + "\n"
            for i, (q, gold) in enumerate(rows)
        ),
        encoding="utf-8",
    )
    return folder


@pytest.mark.skipif(not (SHARED / qb.BANK_FILE).is_file(), reason="no shared retrieval_train.jsonl")
def test_split_is_reproducible_disjoint_and_about_thirty_percent() -> None:
    rows = qb.load_rows(SHARED)
    bank, dev = qb.split(rows)
    again_bank, again_dev = qb.split(list(reversed(rows)))
    assert {r.source_ref for r in dev} == {r.source_ref for r in again_dev}
    assert not {r.source_ref for r in bank} & {r.source_ref for r in dev}
    assert abs(len(dev) / len(rows) - qb.DEV_FRACTION) < 0.05


def test_votes_rank_the_articles_of_near_questions_and_ignore_far_ones() -> None:
    vectors = np.eye(4, dtype=np.float32)
    near = np.array([0.96, 0.28, 0.0, 0.0], dtype=np.float32)
    bank = qb.QuestionBank(vectors, [[("民法典", 587)], [("民法典", 586)], [("商标法", 1)], [("x", 1)]])
    votes = [key for key, _ in bank.votes(near, min_similarity=0.2)]
    assert votes == [("民法典", 587), ("民法典", 586)]
    assert bank.votes(np.array([0, 0, 0.1, 0], dtype=np.float32)) == []


@pytest.mark.model
def test_build_embeds_the_bank_once_and_again_when_rows_change(tmp_path: Path) -> None:
    from knowledge_base.indexing.index import encode, load_embedder
    from knowledge_base.retrieval.colloquial import expand_for_dense

    model = load_embedder(get_settings().embedding_model)
    calls = []

    def loader():
        calls.append(1)
        return model

    rows = [(f"买房交了定金卖家反悔了第{i}次怎么办", [("民法典", 587)]) for i in range(12)]
    folder = write_rows(tmp_path / "q", rows)
    index_dir = tmp_path / "index"
    cache = tmp_path / "cache.sqlite"
    size = qb.build_bank(index_dir, loader, "m", folder, cache, split_out=tmp_path / "split")
    bank_rows, dev_rows = qb.split(qb.load_rows(folder))
    assert size == len(bank_rows) and len(calls) == 1
    assert (tmp_path / "split" / "retrieval_dev.jsonl").read_text("utf-8").count("\n") == len(dev_rows)
    loaded = qb.QuestionBank.load(index_dir)
    expected = encode(model, [expand_for_dense(r.question) for r in bank_rows], "query")
    assert float(np.min(np.sum(loaded.vectors * expected, axis=1))) > 0.999
    assert qb.build_bank(index_dir, loader, "m", folder, cache) == size and len(calls) == 1  # current: not rebuilt
    write_rows(folder, rows + [("邻居漏水把我家泡了", [("民法典", 296)])] * 1)
    qb.build_bank(index_dir, loader, "m", folder, cache)
    assert len(calls) == 2


def test_without_shared_questions_there_is_no_bank(tmp_path: Path) -> None:
    assert qb.build_bank(tmp_path / "index", lambda: None, "m", tmp_path / "absent", tmp_path / "c.sqlite") is None
    assert qb.QuestionBank.load(tmp_path / "index") is None


def test_no_bank_question_text_is_in_the_repository() -> None:
    if not (SHARED / qb.BANK_FILE).is_file():
        pytest.skip("no shared questions")
    files = [
        p
        for d in ("knowledge_base", "tests", "nlu", "data")
        for p in (ROOT / d).rglob("*")
        if p.is_file() and p.suffix in {".yml", ".jsonl", ".py", ".txt"}
    ]
    assert len(files) > 50, "the repository's own files were not found"
    text = "\n".join(p.read_text("utf-8", errors="ignore") for p in files)
    copied = [r.question for r in qb.load_rows(SHARED) if len(r.question) >= 15 and r.question in text]
    assert not copied, copied[:3]


def test_the_bank_votes_only_for_the_themes_it_holds(settings) -> None:
    """The shared bank holds no labour or lease question: for those categories its
    nearest questions are of other themes, and their votes are left out."""
    from knowledge_base.retrieval.retriever import Retriever

    retriever = Retriever(settings.index_dir)
    assert retriever.bank is not None
    assert not retriever.bank_covers("labour") and not retriever.bank_covers("lease")
    assert retriever.bank_covers(None) and retriever.bank_covers("other_legal")
    asked = "公司拖欠工资三个月不发，老板说没钱，我该怎么办？"
    heard = retriever.pool(asked, None, "hybrid").evidence
    assert any(e.bank_rank for e in heard)  # without a category the neighbours vote
    assert not any(e.bank_rank for e in retriever.pool(asked, "labour", "hybrid").evidence)
    # counted from the bank's own gold: one that holds enough labour questions votes for labour
    full = retriever.bank
    labour = [[("劳动合同法", 30)]] * qb.NEIGHBOURS
    retriever.bank = qb.QuestionBank(np.vstack([full.vectors, full.vectors[: qb.NEIGHBOURS]]), full.gold + labour)
    assert retriever.bank_covers("labour") and not retriever.bank_covers("lease")
    retriever.bank = qb.QuestionBank(full.vectors[:-1], full.gold[:-1])
    assert not retriever.bank_covers("labour")  # a bank swapped in is counted afresh
