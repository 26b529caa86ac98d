"""What turns a resident's question into a vector at answer time.

Passages are embedded once, at index time, in float32 by sentence-transformers;
questions are embedded on every message, so their engine is chosen for CPU and
memory (settings.embedding_engine): the int8 ONNX export of the same encoder
where make built one, sentence-transformers otherwise. Both give vectors of
the same model in the same space, so the index does not change with the choice.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Protocol

import numpy as np

from knowledge_base.embedding.onnx_encoder import OnnxQueryEncoder, exported
from knowledge_base.indexing.index import encode, load_embedder, native_bf16

log = logging.getLogger(__name__)


class QueryEncoder(Protocol):
    name: str

    def encode(self, texts: list[str], kind: str) -> np.ndarray: ...


class TorchQueryEncoder:
    """sentence-transformers, with bfloat16 products where asked for."""

    def __init__(self, model, bf16: bool = False) -> None:  # model: SentenceTransformer
        self.model = model
        self.bf16 = bf16
        self.name = "torch-bf16" if bf16 else "torch-fp32"

    def encode(self, texts: list[str], kind: str) -> np.ndarray:
        return encode(self.model, texts, kind, bf16=self.bf16)


def _onnx(model: str, engine: str) -> bool:
    return engine == "onnx" or (engine == "auto" and exported(Path(model)) is not None)


def engine_name(model: str, engine: str, bf16: str) -> str:
    """The name of the encoder `load_query_encoder` gives, without loading it: the
    reranker is trained on candidates found with it, so its stamp records it."""
    if _onnx(model, engine):
        return OnnxQueryEncoder.name
    return "torch-bf16" if native_bf16(bf16) else "torch-fp32"


def load_query_encoder(model: str, engine: str, threads: int, bf16: str) -> QueryEncoder:
    """The encoder `engine` (auto, onnx, torch) names for `model`; onnx without an
    export is an error, auto without one falls back to torch (a model other than
    the default, which make does not export)."""
    if _onnx(model, engine):
        return OnnxQueryEncoder(Path(model), threads=threads)
    if engine == "auto":
        log.info("no int8 export beside %s: questions are embedded with sentence-transformers", model)
    import torch

    torch.set_num_threads(threads)
    return TorchQueryEncoder(load_embedder(model), native_bf16(bf16))
