"""Query vectors without torch: the e5 encoder exported to ONNX, its matrix
products quantised to int8, run by onnxruntime.

Why: a resident's message is embedded twice at answer time (their words for
the classifier and typical cases, the statutory expansion for the dense
lists), and through sentence-transformers that was the largest share of the
action server's CPU per message (issue 15), while torch alone kept ~0.5 GB of
the action server's memory (issue 12). The NLU classifier is trained on this
graph's vectors too (in Rasa's environment, nlu/components/question_classifier.py),
so the vectors it is trained, evaluated and served on are one and the same.
Measured here on 78 real dev questions, one thread, per (words, expansion) pair:
43 ms with torch in bfloat16, 23 ms with this graph, the vectors at cosine
≥ 0.996 to float32 torch.

What is exported is the BERT encoder from `inputs_embeds` on, plus mean
pooling and L2 normalisation. The word-embedding matrix (250k × 384, 384 MB
in float32) stays out of the graph: its rows are read from the model's own
safetensors file through a memory map, so only the pages of the tokens seen
are ever in memory. Passages (the index) are still embedded in float32 by
sentence-transformers: the stored vectors stay exact, only the query side is
approximated.

    python -m knowledge_base.embedding.onnx_encoder --model DIR   (writes DIR/onnx/)
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
from pathlib import Path

import numpy as np

ONNX_DIR = "onnx"
ONNX_FILE = "encoder-int8.onnx"
EXACT_FILE = "encoder-fp32.onnx"  # the same graph unquantised, what the int8 one is quantised from
MAX_TOKENS = 256  # as index.load_embedder: e5's queries and windows are far shorter
WORD_EMBEDDINGS = "embeddings.word_embeddings.weight"


def exported(model_dir: Path) -> Path | None:
    """The quantised graph next to a model folder, if make built one."""
    path = Path(model_dir) / ONNX_DIR / ONNX_FILE
    return path if path.is_file() else None


def encoder_identity(model_dir: Path) -> str:
    """What the int8 vectors of `model_dir` depend on, without reading the graph: the
    model folder make built (its name carries the hash of what it was converted with)
    and the exporter's stamps. A classifier trained on other vectors must be retrained."""
    folder = Path(model_dir).resolve()
    stamps = sorted(p.name for p in (folder / ONNX_DIR).glob(".built-*")) if (folder / ONNX_DIR).is_dir() else []
    return "|".join([folder.name, *stamps])


def word_embeddings(model_dir: Path) -> np.ndarray:
    """The word-embedding matrix of `model_dir/model.safetensors` as a read-only
    memory map (the format: 8-byte header length, JSON header, raw tensors)."""
    path = Path(model_dir) / "model.safetensors"
    with path.open("rb") as file:
        (length,) = struct.unpack("<Q", file.read(8))
        header = json.loads(file.read(length))
    entry = header[WORD_EMBEDDINGS]
    if entry["dtype"] != "F32":
        raise ValueError(f"{path}: {WORD_EMBEDDINGS} is {entry['dtype']}, expected F32")
    begin, _ = entry["data_offsets"]
    rows, cols = entry["shape"]
    return np.memmap(path, dtype="<f4", mode="r", offset=8 + length + begin, shape=(rows, cols))


def export(model_dir: Path) -> Path:
    """Write `model_dir/onnx/encoder-fp32.onnx` and `encoder-int8.onnx`: float32 export, then dynamic int8
    quantisation of the MatMuls, per output channel (per-tensor unsigned int8 was
    tried: cosine 0.990 and slower)."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import BertModel

    class PooledEncoder(torch.nn.Module):
        def __init__(self, bert: BertModel) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.bert(inputs_embeds=inputs_embeds, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=-1)

    model_dir = Path(model_dir)
    bert = BertModel.from_pretrained(str(model_dir), add_pooling_layer=False, attn_implementation="eager").eval()
    out = model_dir / ONNX_DIR
    out.mkdir(exist_ok=True)
    plain = out / EXACT_FILE
    example = (torch.zeros(2, 8, bert.config.hidden_size), torch.ones(2, 8, dtype=torch.int64))
    with torch.no_grad():
        torch.onnx.export(
            PooledEncoder(bert),
            example,
            str(plain),
            input_names=["inputs_embeds", "attention_mask"],
            output_names=["embedding"],
            dynamic_axes={
                "inputs_embeds": {0: "batch", 1: "tokens"},
                "attention_mask": {0: "batch", 1: "tokens"},
                "embedding": {0: "batch"},
            },
            opset_version=17,
            dynamo=False,
        )
    target = out / ONNX_FILE
    partial = target.with_suffix(".partial")
    quantize_dynamic(plain, partial, weight_type=QuantType.QInt8, per_channel=True, op_types_to_quantize=["MatMul"])
    partial.rename(target)
    return target


class OnnxQueryEncoder:
    """`encode(texts, kind)` as index.encode gives it, from the int8 graph."""

    name = "onnx-int8"

    def __init__(self, model_dir: Path, threads: int = 1) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        model_dir = Path(model_dir)
        graph = exported(model_dir)
        if graph is None:
            raise FileNotFoundError(f"no {ONNX_DIR}/{ONNX_FILE} in {model_dir}; run `make embedding-model`")
        st_config = json.loads((model_dir / "config_sentence_transformers.json").read_text(encoding="utf-8"))
        self.prompts: dict[str, str] = st_config.get("prompts") or {}
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self.tokenizer.no_padding()
        self.words = word_embeddings(model_dir)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # idle pool threads spinning for work would bill the action server's CPU for nothing
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = onnxruntime.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])

    def encode(self, texts: list[str], kind: str) -> np.ndarray:
        """One graph run per text. Batched, the activations' int8 scale is shared
        with the other texts and their padding, so a question's vector would depend
        on its companions (cosine 0.9975 at worst between the two on real
        questions); alone it is always the same, at the same CPU (20.3 ms a
        words-and-expansion pair in one run of two, 20.7 in two runs)."""
        prompt = self.prompts.get(kind, "")
        vectors = np.zeros((len(texts), self.words.shape[1]), dtype=np.float32)
        for row, text in enumerate(texts):
            encoding = self.tokenizer.encode(prompt + text)
            ids = np.array([encoding.ids], dtype=np.int64)
            (pooled,) = self.session.run(
                None, {"inputs_embeds": np.asarray(self.words[ids]), "attention_mask": np.ones_like(ids)}
            )
            vectors[row] = pooled[0]
        return vectors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, type=Path, help="a sentence-transformers folder (BertModel)")
    args = parser.parse_args(argv)
    print(f"wrote {export(args.model)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
