"""Builds and loads the retrieval index: faiss (dense), BM25 (lexical), and
every article version in SQLite (for quoting and citation checking), and beside
it the bank of answered real questions (knowledge_base/retrieval/question_bank.py).

Persisted beside a manifest (model, dimensions, corpus fingerprint, counts,
build time); `ensure_index` rebuilds only when the corpus or model changed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import sqlite3
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from knowledge_base.corpus.passages import SCHEME, split_articles
from knowledge_base.corpus.statutes import Article, Corpus, load_configured_corpus
from knowledge_base.embedding.embedding_cache import EmbeddingCache
from knowledge_base.retrieval.lexical import LexicalIndex
from settings import ROOT, Settings, get_settings

MANIFEST = "manifest.json"
PARTS_INDEX = "parts.faiss"  # the vectors of articles' paragraphs and items, numbered after the windows
LAYOUT = f"{SCHEME}|fp16"  # how articles are cut into passages and their vectors stored: another rebuilds


@dataclass
class Manifest:
    model: str  # model_reference(): the checkout's own model relative to it
    dimensions: int
    corpus_fingerprint: str
    article_count: int
    passage_count: int
    all_article_count: int
    build_seconds: float
    built_at: str
    embedded: int = 0  # passages embedded in this build (the rest came from the cache)
    layout: str = ""  # LAYOUT: how passages were cut and their vectors stored; another rebuilds
    piece_count: int = 0  # of the passages, paragraphs and items of many-part articles (dense only)


def model_reference(name: str) -> str:
    """How an index names the model it was built with: the checkout's own model (make
    links it under models/) relative to the checkout, so that an index built in one
    place serves a checkout elsewhere, as an installation in /opt/haizhu (README
    "Deployment"); a folder outside the checkout, or a hub name, as given."""
    path = Path(name)
    return str(path.relative_to(ROOT)) if path.is_absolute() and path.is_relative_to(ROOT) else name


def model_location(reference: str) -> str:
    """The model an index names, where this checkout has it (a hub name stays one)."""
    path = Path(reference)
    return str(ROOT / path) if not path.is_absolute() and (ROOT / path).exists() else reference


def corpus_fingerprint(corpus: Corpus) -> str:
    digest = hashlib.sha256()
    for a in sorted(corpus.articles, key=lambda a: (a.law, a.number, a.label, a.version_date or "", a.source)):
        digest.update("\x1f".join([a.law, a.label, a.status, a.version_date or "", a.source, a.text]).encode())
    return digest.hexdigest()[:24]


def load_embedder(name: str):  # -> SentenceTransformer
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(name, device="cpu")
    model.max_seq_length = min(model.max_seq_length or 256, 256)
    return model


def native_bf16(choice: str) -> bool:
    """Whether to embed queries in bfloat16 (settings.embedding_bf16: auto, 1 or 0)."""
    if choice != "auto":
        return choice == "1"
    import torch

    return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())


def encode(
    model, texts: list[str], kind: str, progress: bool = False, batch_size: int = 32, bf16: bool = False
) -> np.ndarray:
    """Embed with the model's own prompt for `kind` (query/passage) when it has one.
    `bf16`: matrix products in bfloat16 (accumulated in float32, norms and softmax
    in float32), for queries at answer time; what is stored is computed in float32."""
    import torch

    prompt = kind if kind in (getattr(model, "prompts", None) or {}) else None
    with torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext():
        vectors = model.encode(
            texts,
            prompt_name=prompt,
            batch_size=batch_size,
            normalize_embeddings=True,
            show_progress_bar=progress,
            convert_to_numpy=True,
        )
    return np.asarray(vectors, dtype=np.float32)


def _write_articles(path: Path, articles: list[Article], indexed: set[int]) -> None:
    connection = sqlite3.connect(path)
    with connection:
        connection.execute(
            """CREATE TABLE articles (id INTEGER PRIMARY KEY, law TEXT, title TEXT, number INTEGER,
               label TEXT, text TEXT, status TEXT, version_date TEXT, source TEXT, chapter TEXT,
               section TEXT, indexed INTEGER)"""
        )
        connection.executemany(
            "INSERT INTO articles VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    i,
                    a.law,
                    a.title,
                    a.number,
                    a.label,
                    a.text,
                    a.status,
                    a.version_date,
                    a.source,
                    a.chapter,
                    a.section,
                    int(i in indexed),
                )
                for i, a in enumerate(articles)
            ],
        )
        connection.execute("CREATE INDEX by_citation ON articles (law, number)")
    connection.close()


def build_index(
    directory: Path, corpus: Corpus, model_name: str, progress: bool = True, cache_path: Path | None = None
) -> Manifest:
    import faiss

    began = time.monotonic()
    work = directory.with_name(directory.name + ".partial")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    in_force = corpus.in_force()
    ordered = in_force + [a for a in corpus.articles if a.status != "现行有效"]
    passages = split_articles(in_force)
    if progress:
        print(
            f"Indexing {len(in_force)} articles in force ({len(passages)} passages) with {model_name}…",
            file=sys.stderr,
            flush=True,
        )
    model = load_embedder(model_name)
    cache = EmbeddingCache(cache_path or directory.parent / "embedding-cache.sqlite", model_name, "passage")
    try:
        vectors, embedded = cache.vectors(
            [p.text for p in passages],
            lambda texts: encode(model, texts, "passage", progress=progress),
            report=sys.stderr if progress else None,
        )
    finally:
        cache.close()
    whole = sum(not p.piece for p in passages)  # windows first, then the parts (passages.py)
    for name, rows in (("dense.faiss", vectors[:whole]), (PARTS_INDEX, vectors[whole:])):
        # float16: half the action server's memory for the vectors, and faster to scan
        # than float32 here; the order of the top 200 is the same to within near-ties
        index = faiss.IndexScalarQuantizer(vectors.shape[1], faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT)
        index.train(rows)
        index.add(rows)
        faiss.write_index(index, str(work / name))
    np.save(work / "passage_article.npy", np.array([p.article for p in passages], dtype=np.int32))
    LexicalIndex.build([p.text for p in passages if not p.piece]).save(work / "bm25")
    _write_articles(work / "articles.db", ordered, set(range(len(in_force))))
    manifest = Manifest(
        model=model_reference(model_name),
        dimensions=int(vectors.shape[1]),
        corpus_fingerprint=corpus_fingerprint(corpus),
        article_count=len(in_force),
        passage_count=len(passages),
        all_article_count=len(ordered),
        build_seconds=round(time.monotonic() - began, 1),
        built_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        embedded=embedded,
        layout=LAYOUT,
        piece_count=sum(p.piece for p in passages),
    )
    (work / MANIFEST).write_text(json.dumps(asdict(manifest), ensure_ascii=False, indent=2), encoding="utf-8")
    shutil.rmtree(directory, ignore_errors=True)
    work.rename(directory)
    return manifest


def read_manifest(directory: Path) -> Manifest | None:
    try:
        return Manifest(**json.loads((directory / MANIFEST).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def ensure_index(settings: Settings | None = None, progress: bool = True) -> tuple[Manifest, bool, Corpus]:
    """(manifest, rebuilt?, corpus): rebuild only when the corpus, the model or
    the way articles are cut into passages changed."""
    settings = settings or get_settings()
    corpus = load_configured_corpus(settings)
    for problem in corpus.problems:
        print(f"skipped: {problem}", file=sys.stderr)
    current = read_manifest(settings.index_dir)
    if (
        current
        and current.model == model_reference(settings.embedding_model)
        and current.corpus_fingerprint == corpus_fingerprint(corpus)
        and current.layout == LAYOUT
    ):
        ensure_learned_parts(settings, progress)
        return current, False, corpus
    manifest = build_index(settings.index_dir, corpus, settings.embedding_model, progress, settings.embedding_cache)
    ensure_learned_parts(settings, progress)
    return manifest, True, corpus


def ensure_learned_parts(settings: Settings, progress: bool = True) -> None:
    """The bank of answered questions, then the reranker trained with it."""
    from knowledge_base.indexing.reranker_training import ensure_reranker

    ensure_question_bank(settings)
    ensure_reranker(settings.index_dir, settings.questions_dir, progress)


def ensure_question_bank(settings: Settings | None = None) -> int | None:
    """The bank of answered questions beside the index (knowledge_base/retrieval/question_bank.py),
    rebuilt when its rows or the model changed; None without the shared questions."""
    from knowledge_base.retrieval.question_bank import build_bank

    settings = settings or get_settings()
    return build_bank(
        settings.index_dir,
        lambda: load_embedder(settings.embedding_model),
        settings.embedding_model,
        settings.questions_dir,
        settings.embedding_cache,
        split_out=settings.build_dir / "real-questions",
    )


def main() -> int:
    manifest, rebuilt, _ = ensure_index()
    verb = f"built in {manifest.build_seconds} s" if rebuilt else "up to date"
    print(
        f"index {verb}: {manifest.article_count} articles, {manifest.passage_count} passages "
        f"({manifest.embedded} embedded, the rest cached), {manifest.dimensions}-d {manifest.model}"
    )
    from knowledge_base.retrieval.question_bank import QuestionBank

    bank = QuestionBank.load(get_settings().index_dir)  # ensure_index built or checked it
    print(
        f"question bank: {len(bank.gold)} answered questions"
        if bank is not None
        else "question bank: none (no retrieval_train.jsonl in QUESTIONS_DIR)"
    )
    from knowledge_base.retrieval.reranker import RERANKER_FILE, Reranker

    reranker = Reranker.load(get_settings().index_dir / RERANKER_FILE)
    print(
        f"reranker: trained on {reranker.meta.get('questions')} questions"
        if reranker is not None
        else "reranker: none (fusion by reciprocal rank)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
