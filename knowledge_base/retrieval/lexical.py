"""BM25 over jieba tokens, with the project's legal and local dictionary.

The same dictionary as the NLU (nlu/dictionary) keeps 劳动仲裁, 经济补偿,
加装电梯 … as single tokens, and queries pass through the colloquial
normaliser first, so 「老细唔出粮」 meets statute wording.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import bm25s
import jieba
import numpy as np

from knowledge_base.retrieval.colloquial import to_statute_wording
from nlu.text_normaliser import fold_for_matching

DICTIONARY_DIR = Path(__file__).resolve().parents[1] / "nlu" / "dictionary"
STOPWORDS = frozenset(
    [
        "的",
        "了",
        "是",
        "我",
        "你",
        "他",
        "她",
        "它",
        "们",
        "在",
        "和",
        "与",
        "及",
        "或",
        "也",
        "都",
        "就",
        "又",
        "还",
        "吗",
        "呢",
        "吧",
        "啊",
        "呀",
        "嘛",
        "么",
        "怎么",
        "怎么办",
        "什么",
        "可以",
        "能",
        "能不能",
        "要",
        "会",
        "有",
        "没有",
        "没",
        "不",
        "被",
        "把",
        "给",
        "对",
        "从",
        "向",
        "让",
        "这",
        "那",
        "这个",
        "那个",
        "一个",
        "请问",
        "想",
        "问",
        "下",
        "其",
        "之",
        "所",
        "者",
        "应当",
        "依照",
        "规定",
        "本法",
        "本条例",
        "有关",
        "一",
        "二",
        "三",
        ",",
        "。",
        "、",
        "；",
        "：",
        "？",
        "！",
        "（",
        "）",
        "《",
        "》",
        "“",
        "”",
        "(",
        ")",
        "?",
        "!",
        ":",
        ";",
    ]
)


@lru_cache(maxsize=1)
def _tokenizer() -> jieba.Tokenizer:
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    for path in sorted(DICTIONARY_DIR.glob("*.txt")):
        tokenizer.load_userdict(str(path))
    return tokenizer


def tokens(text: str) -> list[str]:
    words = _tokenizer().lcut_for_search(fold_for_matching(text))
    return [w for w in (w.strip() for w in words) if w and w not in STOPWORDS]


def query_tokens(text: str) -> list[str]:
    return tokens(to_statute_wording(text))


class LexicalIndex:
    def __init__(self, retriever: bm25s.BM25) -> None:
        self._retriever = retriever

    @classmethod
    def build(cls, texts: list[str]) -> LexicalIndex:
        retriever = bm25s.BM25(k1=1.2, b=0.75)
        retriever.index([tokens(t) for t in texts], show_progress=False)
        return cls(retriever)

    def save(self, directory: Path) -> None:
        self._retriever.save(str(directory))

    @classmethod
    def load(cls, directory: Path) -> LexicalIndex:
        return cls(bm25s.BM25.load(str(directory)))

    def search(self, text: str, k: int) -> list[tuple[int, float]]:
        """(passage index, score) best first; empty when no query word is known."""
        words = query_tokens(text)
        if not words:
            return []
        scores = self._retriever.get_scores(words)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [(int(i), float(scores[i])) for i in top if scores[i] > 0]
