"""Hybrid retrieval on a small real corpus (two shared statutes), built with the
real embedding model, so the suite stays fast; the full corpus is `make index`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from knowledge_base.corpus.passages import split_articles
from knowledge_base.corpus.statutes import Article, load_corpus
from knowledge_base.indexing.index import (
    LAYOUT,
    build_index,
    corpus_fingerprint,
    model_location,
    model_reference,
    read_manifest,
)
from knowledge_base.retrieval.lexical import query_tokens
from knowledge_base.retrieval.reranker import char_bigrams
from knowledge_base.retrieval.retriever import Retriever, governs
from settings import ROOT, get_settings

LAWS = ("广东省城镇房屋租赁条例", "保障农民工工资支付条例")


@pytest.fixture(scope="module")
def small_index(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    source = get_settings().statute_dirs[0]
    folder = tmp_path_factory.mktemp("statutes")
    for law in LAWS:
        for path in source.glob(f"{law}*.md"):
            (folder / path.name).write_text(path.read_text("utf-8"), "utf-8")
    corpus = load_corpus([folder], include_lawsdb=False)
    directory = tmp_path_factory.mktemp("index") / "index"
    build_index(
        directory, corpus, get_settings().embedding_model, progress=False, cache_path=directory.parent / "cache.sqlite"
    )
    return directory, corpus


def test_an_index_names_the_checkouts_model_relative_to_it(small_index, tmp_path) -> None:
    """So that an index built here serves an installation elsewhere (/opt/haizhu, README
    "Deployment"), which has the same model under its own models/."""
    directory, _ = small_index
    manifest = read_manifest(directory)
    assert manifest is not None and manifest.model == "models/multilingual-e5-small"
    assert Path(model_location(manifest.model)) == ROOT / "models" / "multilingual-e5-small"
    # a model outside the checkout, and a hub name, are named as given
    assert model_reference(str(tmp_path / "model")) == str(tmp_path / "model")
    assert model_location("intfloat/multilingual-e5-small") == "intfloat/multilingual-e5-small"


def test_rebuild_embeds_only_what_changed(small_index) -> None:
    import dataclasses

    import faiss
    import numpy as np

    directory, corpus = small_index
    cache = directory.parent / "cache.sqlite"
    again = directory.parent / "again"
    assert build_index(again, corpus, get_settings().embedding_model, False, cache).embedded == 0
    first = faiss.read_index(str(directory / "dense.faiss")).reconstruct_n(0, 5)
    assert np.allclose(first, faiss.read_index(str(again / "dense.faiss")).reconstruct_n(0, 5))
    edited = dataclasses.replace(corpus.articles[0], text=corpus.articles[0].text + "（修订）")
    changed = type(corpus)([edited, *corpus.articles[1:]], [])
    before = {p.text for p in split_articles(corpus.in_force())}
    new = {p.text for p in split_articles(changed.in_force())} - before
    assert 1 <= len(new) <= 2  # its window, and its last paragraph where it has several
    assert build_index(again, changed, get_settings().embedding_model, False, cache).embedded == len(new)


def test_manifest_records_what_was_built(small_index) -> None:
    directory, corpus = small_index
    manifest = read_manifest(directory)
    assert manifest.dimensions == 384
    assert manifest.article_count == len(corpus.in_force())
    assert manifest.passage_count >= manifest.article_count
    assert manifest.corpus_fingerprint == corpus_fingerprint(corpus)
    assert manifest.layout == LAYOUT
    windows = [p for p in split_articles(corpus.in_force()) if not p.piece]
    assert 0 < manifest.piece_count == manifest.passage_count - len(windows)


def test_an_item_finds_its_article_through_its_own_passage(small_index) -> None:
    """A question close to one item of a many-item article meets that item's
    passage, which is closer to it than the whole article's window is; BM25
    and the dense windows read only windows."""
    import numpy as np

    directory, corpus = small_index
    retriever = Retriever(directory)
    passages = split_articles(corpus.in_force())
    whole = sum(not p.piece for p in passages)
    assert retriever.lexical._retriever.scores["num_docs"] == whole == retriever.dense.ntotal
    assert retriever.parts is not None and retriever.parts.ntotal == len(passages) - whole
    item = next(p for p in passages if p.piece and "（" in p.text and len(corpus.in_force()[p.article].text) > 200)
    vector = retriever.query_vector(item.text.split(" ", 1)[1]).reshape(-1)
    windows = retriever.dense.reconstruct_n(0, whole) @ vector
    parts = retriever.parts.reconstruct_n(0, len(passages) - whole) @ vector
    own_windows = [windows[i] for i, p in enumerate(passages[:whole]) if p.article == item.article]
    own_parts = [parts[i - whole] for i, p in enumerate(passages) if p.piece and p.article == item.article]
    assert max(own_parts) > max(own_windows)
    found = retriever.parts_scored(vector)
    assert found[0][0] == item.article and np.isclose(found[0][1], max(own_parts), atol=1e-3)
    pool = retriever.pool(item.text.split(" ", 1)[1])
    assert next(e for e in pool.evidence if e.article == item.article).parts_rank == 1


def test_without_a_reranker_the_parts_are_not_fused(small_index) -> None:
    """Fused by reciprocal rank alone the parts list crowds the windows' (README);
    it joins only when the reranker weighs it."""
    retriever = Retriever(small_index[0])
    assert retriever.reranker is None
    question = "二房东转租给我的租期比他自己的还长"
    assert retriever.search(question, k=5, mode="parts")
    hybrid = [(h.article.key, h.score) for h in retriever.search(question, k=10)]
    assert hybrid == [(h.article.key, h.score) for h in retriever.search(question, k=10, mode="fusion")]
    assert any(e.parts_rank for e in retriever.pool(question, mode="hybrid").evidence)


@pytest.mark.parametrize("threads", ["2", "1"])
def test_the_index_is_scanned_with_the_configured_threads(small_index, monkeypatch, threads: str) -> None:
    """SEARCH_THREADS (default one): faiss's OpenMP threads doubled the action server's CPU
    per search for 8 % less latency (README, Performance). The default case runs last, so
    the rest of the suite's process keeps it."""
    import faiss

    monkeypatch.setenv("SEARCH_THREADS", threads)
    faiss.omp_set_num_threads(3)
    retriever = Retriever(small_index[0])
    assert faiss.omp_get_max_threads() == int(threads)
    assert retriever.search("押金不退怎么办", k=3)


def test_the_character_pairs_kept_at_load_are_each_articles_own(small_index) -> None:
    """The pairs are computed once for every article at load (one flat array): each
    candidate's overlap must be what its own text gives, not a neighbour's slice."""
    retriever = Retriever(small_index[0])
    question = "押金不退，房东说房子有损坏要扣钱"
    asked = char_bigrams(question)
    evidence = retriever.pool(question, mode="hybrid").evidence
    assert len(evidence) > 10
    for e in evidence:
        held = char_bigrams(retriever.articles[e.article].text)
        shared = len(np.intersect1d(asked, held))
        assert e.overlap_question == shared / len(asked)
        assert e.overlap_article == shared / max(len(held), 1)
    assert any(e.overlap_question > 0 for e in evidence)


@pytest.mark.parametrize(
    "question,law,number",
    [
        ("房东不及时维修房子，我的东西被淋坏了", "广东省城镇房屋租赁条例", 17),
        ("二房东转租给我的租期比他自己的还长", "广东省城镇房屋租赁条例", 27),
        ("包工头跑了，分包单位欠我们的工钱总包要先还吗", "保障农民工工资支付条例", 30),
    ],
)
def test_hybrid_finds_the_article(small_index, question: str, law: str, number: int) -> None:
    retriever = Retriever(small_index[0])
    hits = retriever.search(question, k=5)
    assert (law, number) in [(h.article.law, h.article.number) for h in hits]
    for mode in ("dense", "lexical"):
        assert retriever.search(question, k=5, mode=mode), mode


@pytest.mark.parametrize("engine", ["onnx-int8", "torch-bf16"])
def test_questions_embedded_by_the_answer_time_engines_rank_as_in_float32(small_index, engine: str) -> None:
    """EMBEDDING_ENGINE (int8 ONNX by default) and EMBEDDING_BF16 must not move what a
    resident is shown: vectors close to float32's, the same first articles."""
    import numpy as np

    from knowledge_base.indexing.index import load_embedder, native_bf16
    from knowledge_base.retrieval.query_encoder import TorchQueryEncoder

    assert native_bf16("1") and not native_bf16("0")
    questions = [
        "房东不及时维修房子，我的东西被淋坏了",
        "包工头跑了，分包单位欠我们的工钱总包要先还吗",
        "押金不退怎么办",
    ]
    model = load_embedder(get_settings().embedding_model)
    full = Retriever(small_index[0], encoder=TorchQueryEncoder(model))
    if engine == "onnx-int8":
        fast = Retriever(small_index[0])  # the default: auto picks the export make built
    else:
        fast = Retriever(small_index[0], encoder=TorchQueryEncoder(model, bf16=True))
    assert fast.encoder.name == engine
    a, b = fast.embed_queries(questions), full.embed_queries(questions)
    assert float(np.min(np.sum(a * b, axis=1))) > (0.9995 if engine == "torch-bf16" else 0.99)
    assert not np.array_equal(a, b)  # the other engine did compute them
    for question, va, vb in zip(questions, a, b, strict=True):
        top = [
            [(h.article.law, h.article.number) for h in r.search(question, k=5, query_vector=v)]
            for r, v in ((fast, va), (full, vb))
        ]
        assert top[0][:3] == top[1][:3], question


def test_colloquial_words_reach_statute_terms() -> None:
    assert {"押金", "退"} <= set(query_tokens("业主唔退按金"))
    assert "工资" in query_tokens("老细唔出粮")


def test_category_boost_rules() -> None:
    article = Article("民法典", "中华人民共和国民法典", 278, "第二百七十八条", "…", "现行有效", None, "laws.db")
    assert governs("elevator", article) and not governs("lease", article)


def test_versions_for_citation_checking(small_index) -> None:
    retriever = Retriever(small_index[0])
    versions = retriever.versions("广东省城镇房屋租赁条例", 17)
    assert versions and versions[0].status == "现行有效"
    assert retriever.versions("广东省城镇房屋租赁条例", 999) == []


def _eval_rows(name: str) -> list[dict]:
    return [
        json.loads(l) for l in (ROOT / f"knowledge_base/evaluation/data/{name}.jsonl").read_text("utf-8").splitlines()
    ]


def test_dev_set_is_large() -> None:
    rows = _eval_rows("retrieval_dev")
    assert len(rows) >= 150
    counts = {c: sum(r["category"] == c for r in rows) for c in ("labour", "lease", "gig_work", "elevator")}
    assert counts["gig_work"] >= 20 and counts["elevator"] >= 20 and min(counts.values()) > 0


def test_gold_of_every_evaluation_set_exists_in_force(full_corpus_in_force) -> None:
    for name in ("retrieval_dev", "retrieval_heldout", "retrieval_blind"):
        for row in _eval_rows(name):
            for gold in row["gold"]:
                assert (gold["law"], gold["article"]) in full_corpus_in_force, (name, row["question"], gold)


def test_issue_provisions_rank_in_the_hybrid(small_index) -> None:
    """A key provision of the issue spotted is fused in and marked as such;
    provisions outside the index (laws.db is not in this small one) are skipped."""
    retriever = Retriever(small_index[0])
    hits = retriever.search("我可以把租的房子转租给别人吗", category="lease", k=5)
    marked = [(h.article.law, h.article.number) for h in hits if h.issue_rank]
    assert ("广东省城镇房屋租赁条例", 25) in marked
    assert all(h.article.law != "民法典" for h in hits)
    assert retriever.search("我可以把租的房子转租给别人吗", category="lease", k=5, mode="issues")
    # without a category the issue still fires; another category's table does not have it
    unsure = retriever.search("我可以把租的房子转租给别人吗", category=None, k=5, mode="issues")
    assert ("广东省城镇房屋租赁条例", 25) in [(h.article.law, h.article.number) for h in unsure]
    assert retriever.search("我可以把租的房子转租给别人吗", category="labour", k=5, mode="issues") == []


def test_eval_retrieval_classifies_lines_without_a_category_with_the_nlu(small_index, tmp_path) -> None:
    """The production path: a line without "category" is classified by the trained
    NLU model first, as the assistant would; the JSON says where categories came from."""
    import os
    import subprocess
    import sys

    rows = [
        {
            "question": "包工头跑了，分包单位欠我们的工钱总包要先还吗",
            "gold": [{"law": "保障农民工工资支付条例", "article": 30}],
        },
        {
            "question": "房东不及时维修房子，我的东西被淋坏了",
            "gold": [{"law": "广东省城镇房屋租赁条例", "article": 17}],
        },
    ]
    data = tmp_path / "no_categories.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    env = {**os.environ, "INDEX_DIR": str(small_index[0])}
    done = subprocess.run(
        [sys.executable, "-m", "knowledge_base.evaluation.evaluate_retrieval", "--data", str(data)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["category_source"] == "nlu" and result["n"] == 2
    assert result["recall@5"] > 0
    assert set(result["fusion"]) == {"recall@1", "recall@5", "recall@10", "mrr@10"}
    shown = result["shown"]  # what residents would see after weak quotes are withheld
    assert 0 <= shown["quoted_share"] <= 1 and shown["gold_quoted_share"] <= shown["quoted_share"]
    given = tmp_path / "given.jsonl"
    given.write_text(
        json.dumps({**rows[0], "category": "labour"}, ensure_ascii=False)
        + "\n"
        + json.dumps(rows[1], ensure_ascii=False)
        + "\n",
        "utf-8",
    )
    mixed = subprocess.run(
        [sys.executable, "-m", "knowledge_base.evaluation.evaluate_retrieval", "--data", str(given)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert mixed.returncode == 0, mixed.stderr[-3000:]
    assert json.loads(mixed.stdout.strip().splitlines()[-1])["category_source"] == "mixed"


def test_the_bank_of_answered_questions_votes_in_the_hybrid(small_index, tmp_path) -> None:
    """An answered question near the resident's votes for its article: the bank
    alone finds it, and the hybrid marks where the vote came from."""
    import shutil

    from knowledge_base.indexing.index import load_embedder
    from knowledge_base.retrieval import question_bank as qb
    from knowledge_base.retrieval.query_encoder import TorchQueryEncoder
    from tests.knowledge_base.test_question_bank import write_rows

    directory = tmp_path / "index"
    shutil.copytree(small_index[0], directory)
    rows = [(f"出租屋漏雨房东拖着不修，我的家具被淋坏了（{i}）", [("广东省城镇房屋租赁条例", 17)]) for i in range(10)]
    model = load_embedder(get_settings().embedding_model)
    assert qb.build_bank(
        directory,
        lambda: model,
        get_settings().embedding_model,
        write_rows(tmp_path / "q", rows),
        tmp_path / "cache.sqlite",
    )
    retriever = Retriever(directory, encoder=TorchQueryEncoder(model))
    question = "下大雨房子漏水，房东一直不来修，东西都泡坏了"
    voted = retriever.search(question, k=5, mode="bank")
    assert [(h.article.law, h.article.number) for h in voted][:1] == [("广东省城镇房屋租赁条例", 17)]
    hybrid = retriever.search(question, k=5)
    top = next(h for h in hybrid if (h.article.law, h.article.number) == ("广东省城镇房屋租赁条例", 17))
    assert top.bank_rank == 1
    # no bank built there: three lists as before
    assert Retriever(small_index[0], encoder=TorchQueryEncoder(model)).bank is None


def test_a_long_embedding_reports_progress_with_an_estimate_and_resumes(tmp_path) -> None:
    """#13: a first index build showed one line for 18 minutes."""
    import io

    import numpy as np

    from knowledge_base.embedding import embedding_cache
    from knowledge_base.embedding.embedding_cache import EmbeddingCache, progress_line

    texts = [f"第{n}条" for n in range(5)]
    cache = EmbeddingCache(tmp_path / "c.sqlite", "m", "passage")
    report = io.StringIO()
    original, embedding_cache.EMBED_PART = embedding_cache.EMBED_PART, 2
    try:
        _, embedded = cache.vectors(texts, lambda batch: np.ones((len(batch), 3), np.float32), report=report)
    finally:
        embedding_cache.EMBED_PART = original
    lines = report.getvalue().splitlines()
    assert embedded == 5 and lines[0].startswith("embedding 5 of 5 texts")
    assert [line.split(" (")[0] for line in lines[1:]] == ["embedded 2/5", "embedded 4/5", "embedded 5/5"]
    assert all("min left" in line for line in lines[1:])
    assert progress_line(1, 4, 60.0).endswith("about 3 min left")
    again = io.StringIO()
    assert cache.vectors(texts, lambda batch: 1 / 0, report=again)[1] == 0 and again.getvalue() == ""


def test_a_text_being_embedded_is_waited_for_not_embedded_twice(small_index) -> None:
    """/embed starts the answer's dense query while Rasa parses; an answer that asks for it
    meanwhile waits for that one run instead of embedding the same text again."""
    import threading
    import time

    import numpy as np

    class SlowEncoder:
        name = "slow"

        def __init__(self) -> None:
            self.calls: list[tuple[str, ...]] = []
            self.fail_next = False

        def encode(self, texts: list[str], kind: str) -> np.ndarray:
            self.calls.append(tuple(texts))
            time.sleep(0.3)
            if self.fail_next:
                self.fail_next = False
                raise RuntimeError("engine failed")
            return np.stack([np.full(384, len(t), dtype=np.float32) for t in texts])

    encoder = SlowEncoder()
    retriever = Retriever(small_index[0], encoder=encoder)
    ahead = threading.Thread(target=retriever.prepare_dense_queries, args=(["押金不退"],))
    ahead.start()
    time.sleep(0.05)
    expanded = retriever.query_vector("押金不退")  # the answer, while the run ahead is going
    ahead.join()
    assert len(encoder.calls) == 1 and expanded[0][0] == len(encoder.calls[0][0])
    encoder.fail_next = True  # the run ahead fails: the waiting answer embeds it itself
    ahead = threading.Thread(target=lambda: pytest.raises(RuntimeError, retriever.prepare_dense_queries, ["欠薪"]))
    ahead.start()
    time.sleep(0.05)
    assert retriever.query_vector("欠薪").shape == (1, 384)
    ahead.join()
    assert len(encoder.calls) == 3 and not retriever._embedding


def test_only_the_classifiers_own_vectors_are_served_to_it(small_index) -> None:
    """/embed serves the classifier only vectors of the encoder it was trained on; with
    EMBEDDING_ENGINE=torch or another model Rasa embeds for itself (actions/server.py)."""
    import numpy as np

    class OtherEngine:
        name = "torch-fp32"

        def encode(self, texts: list[str], kind: str) -> np.ndarray:
            return np.zeros((len(texts), 384), dtype=np.float32)

    assert Retriever(small_index[0]).serves_classifier
    assert not Retriever(small_index[0], encoder=OtherEngine()).serves_classifier
