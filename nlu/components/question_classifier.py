"""Rasa NLU component: the intent and the category of a resident's question.

Why not DIET on word counts: on real questions (long complaints written to a
message board, greetings before the question, typos, 「A市」 for names) a model
trained on our own short examples learned our phrasing, not residents'. This
classifier reads each message through the multilingual-e5-small sentence
embedding (the same model retrieval uses, through its int8 ONNX export,
knowledge_base/embedding/onnx_encoder.py: the very vectors the action server's
/embed serves, so what the classifier is trained and evaluated on is what it sees
in service), which carries
meaning across phrasings and lengths, joined with character n-grams, which keep
the exact legal words (押金 is not 定金) and survive Cantonese spellings. Two
logistic regressions share those features:

- the intent head gives ``intent`` and ``intent_ranking`` as Rasa expects;
- the category head gives the probability of each category
  (``category_probabilities``), trained on every example's category: an
  intent's own, or ``metadata.category`` where a request or a 定金 names the
  dispute it is about. ``CategoryResolver`` turns both into the final intent
  and category (nlu/components/category_resolver.py).

Logistic regression is calibrated enough for those decisions, trains in
seconds and is persisted as plain JSON and NumPy arrays, not pickle.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np
import requests
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from knowledge_base.embedding.onnx_encoder import encoder_identity
from nlu.taxonomy import TAXONOMY_PATH
from nlu.taxonomy import load as load_taxonomy
from nlu.text_normaliser import fold_for_matching
from settings import CLASSIFIER_EMBEDDING_MODEL

CATEGORY_PROBABILITIES = "category_probabilities"

_embedder: Any = None
_session: Any = None
_async_session: Any = None
_embed_url = ""
EMBED_TIMEOUT_S = 5.0
REMOTE_BATCH = 8  # messages parsed one at a time; training's thousands stay local
PREFETCH_KEEP = 256  # vectors fetched ahead of their parse, the most recent kept (a text's vector never changes)
_prefetched: OrderedDict[str, np.ndarray] = OrderedDict()


def _embed_endpoint() -> tuple[str, dict[str, str]] | None:
    """The action server's /embed and its secret, or None where none is configured
    (training, evaluation: no ACTION_SERVER_TOKEN here)."""
    global _embed_url
    token = os.environ.get("ACTION_SERVER_TOKEN")
    if not token:
        return None
    if not _embed_url:  # once per process: the settings are read at start, not per message
        from settings import get_settings

        _embed_url = f"{get_settings().action_base_url}/embed"
    return _embed_url, {"Authorization": f"Bearer {token}"}


async def prefetch(text: str) -> None:
    """The vector of a message about to be parsed, fetched without holding Rasa's event loop.

    Rasa runs its NLU graph synchronously inside the event loop, so the classifier's own
    call to /embed stops every other conversation of this Rasa until the action server
    answers, and under load the action server is busy with other residents' answers.
    The gateway channel (nlu/gateway_channel.py) awaits this first; the parse then finds
    the vector here. A failure leaves nothing behind: the parse fetches as before."""
    global _async_session
    key = text.strip()  # what Rasa's UserMessage keeps, and so what the parse embeds
    endpoint = _embed_endpoint()
    if endpoint is None or not key or key.startswith("/") or key in _prefetched:
        return  # "/intent" payloads are not parsed by the graph
    import aiohttp

    if _async_session is None or _async_session.closed:
        _async_session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=EMBED_TIMEOUT_S))
    url, headers = endpoint
    try:
        async with _async_session.post(url, json={"texts": [key]}, headers=headers) as answer:
            if answer.status != 200:
                return
            vectors = np.asarray((await answer.json())["vectors"], dtype=np.float32)
    except (TimeoutError, aiohttp.ClientError, ValueError, KeyError, TypeError):
        return
    if vectors.shape == (1, 384):
        _prefetched[key] = vectors[0]
        while len(_prefetched) > PREFETCH_KEEP:
            _prefetched.popitem(last=False)


async def close_prefetch() -> None:
    """Closes the prefetch's HTTP session (the channel calls it when Rasa stops)."""
    global _async_session
    if _async_session is not None and not _async_session.closed:
        await _async_session.close()
    _async_session = None


def _from_action_server(texts: list[str]) -> np.ndarray | None:
    """The action server's vectors (actions/server.py /embed), or None when it cannot give
    them: not configured, down, busy past the timeout. The same vectors `embed` computes
    here, and the answer that follows reuses the vector. Vectors the channel fetched ahead
    (`prefetch`) are taken from memory."""
    global _session
    ready = [v for t in texts if (v := _prefetched.get(t)) is not None]  # one lookup each: none can vanish
    if len(ready) == len(texts):
        return np.stack(ready)
    endpoint = _embed_endpoint()
    if endpoint is None:
        return None
    if _session is None:
        _session = requests.Session()
    url, headers = endpoint
    try:
        answer = _session.post(url, json={"texts": texts}, headers=headers, timeout=EMBED_TIMEOUT_S)
        if answer.status_code != 200:
            return None
        vectors = np.asarray(answer.json()["vectors"], dtype=np.float32)
    except (requests.RequestException, ValueError, KeyError):
        return None
    return vectors if vectors.shape == (len(texts), 384) else None


def embed(texts: Sequence[str]) -> np.ndarray:
    """e5 query vectors (L2-normalised, 384 dimensions): from the action server when it
    answers, else from the same int8 graph in this process (training, evaluation, and
    service while the action server is down or busy)."""
    global _embedder
    if texts and len(texts) <= REMOTE_BATCH:
        remote = _from_action_server([t or " " for t in texts])
        if remote is not None:
            return remote
    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    if _embedder is None:
        from knowledge_base.embedding.onnx_encoder import OnnxQueryEncoder

        _embedder = OnnxQueryEncoder(CLASSIFIER_EMBEDDING_MODEL)
    # an empty string embeds as the bare prefix; fine, but keep the call uniform
    return _embedder.encode([t or " " for t in texts], "query")


def example_category(message: Message, intent_category: str) -> str:
    metadata = message.get("metadata") or {}
    example = metadata.get("example") or {}
    if isinstance(example, dict) and example.get("category"):
        return str(example["category"])
    return intent_category


def new_vectorizer(ngram_max: int) -> TfidfVectorizer:
    return TfidfVectorizer(analyzer="char_wb", ngram_range=(1, ngram_max), sublinear_tf=True)


def join_features(
    vectorizer: TfidfVectorizer, texts: Sequence[str], dense: np.ndarray, embedding_weight: float
) -> csr_matrix:
    """The classifier's input: character n-grams beside the weighted e5 vectors."""
    grams = vectorizer.transform([fold_for_matching(t) for t in texts])
    return hstack([grams, csr_matrix(dense * embedding_weight)]).tocsr()


def ranking_of(classes: Sequence[str], probabilities: np.ndarray) -> list[dict[str, Any]]:
    """Rasa's intent_ranking: every class, most probable first."""
    return [{"name": classes[j], "confidence": float(probabilities[j])} for j in np.argsort(-probabilities)]


class _Head:
    """One logistic regression, kept as arrays so it persists without pickle."""

    def __init__(self, coef: np.ndarray, intercept: np.ndarray, classes: list[str]) -> None:
        self.coef, self.intercept, self.classes = coef, intercept, classes
        # features × coefᵀ with coefᵀ laid out by feature: scipy copies a transposed view whole
        # on every product (41k n-grams × 56 intents here: a fifth of Rasa's CPU per message)
        self._by_feature = np.ascontiguousarray(coef.T)

    @classmethod
    def fit(cls, features: csr_matrix, labels: list[str], c: float) -> _Head:
        model = LogisticRegression(C=c, max_iter=5000)
        model.fit(features, labels)
        coef, intercept = model.coef_, model.intercept_
        if len(model.classes_) == 2:  # sklearn keeps one row for two classes
            coef = np.vstack([-coef[0], coef[0]])
            intercept = np.array([-intercept[0], intercept[0]])
        return cls(coef, intercept, [str(c) for c in model.classes_])

    def probabilities(self, features: csr_matrix) -> np.ndarray:
        scores = np.asarray(features @ self._by_feature) + self.intercept
        scores -= scores.max(axis=1, keepdims=True)
        exp = np.exp(scores)
        return exp / exp.sum(axis=1, keepdims=True)


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class QuestionClassifier(IntentClassifier, GraphComponent):
    """Intent and category from e5 embeddings and character n-grams."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "C": 10.0,
            # the embedding's weight beside the n-grams' (each block is L2-normalised)
            "embedding_weight": 3.0,
            "ngram_max": 3,
            "ranking_length": 10,
        }

    @staticmethod
    def required_packages() -> list[str]:
        return ["sklearn", "onnxruntime", "tokenizers"]

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> str | None:
        """The category labels come from nlu/taxonomy.yml and the vectors from the
        encoder's export, neither from Rasa's training data: without this, Rasa reused a
        cached classifier after an intent's category changed."""
        digest = hashlib.sha256(TAXONOMY_PATH.read_bytes())
        digest.update(encoder_identity(CLASSIFIER_EMBEDDING_MODEL).encode())
        return digest.hexdigest()[:16]

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        vectorizer: TfidfVectorizer | None = None,
        intent_head: _Head | None = None,
        category_head: _Head | None = None,
    ) -> None:
        self._config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self._vectorizer = vectorizer
        self._intent_head = intent_head
        self._category_head = category_head

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> QuestionClassifier:
        return cls(config, model_storage, resource)

    def _features(self, texts: Sequence[str]) -> csr_matrix:
        assert self._vectorizer is not None
        return join_features(self._vectorizer, texts, embed(list(texts)), float(self._config["embedding_weight"]))

    # -- training -------------------------------------------------------
    def train(self, training_data: TrainingData) -> Resource:
        taxonomy = load_taxonomy()
        examples = [e for e in training_data.intent_examples if e.get("text")]
        texts = [e.get("text") for e in examples]
        intents = [e.get("intent") for e in examples]
        categories = [example_category(e, taxonomy.category_of(i)) for e, i in zip(examples, intents, strict=False)]
        self._vectorizer = new_vectorizer(int(self._config["ngram_max"]))
        self._vectorizer.fit([fold_for_matching(t) for t in texts])
        features = self._features(texts)
        c = float(self._config["C"])
        self._intent_head = _Head.fit(features, intents, c)
        self._category_head = _Head.fit(features, categories, c)
        self._persist()
        return self._resource

    def _persist(self) -> None:
        assert self._vectorizer is not None and self._intent_head and self._category_head
        with self._model_storage.write_to(self._resource) as directory:
            (directory / "vectorizer.json").write_text(
                json.dumps(
                    {"vocabulary": {k: int(v) for k, v in self._vectorizer.vocabulary_.items()}}, ensure_ascii=False
                ),
                encoding="utf-8",
            )
            np.save(directory / "idf.npy", self._vectorizer.idf_)
            for name, head in (("intent", self._intent_head), ("category", self._category_head)):
                np.save(directory / f"{name}_coef.npy", head.coef)
                np.save(directory / f"{name}_intercept.npy", head.intercept)
                (directory / f"{name}_classes.json").write_text(
                    json.dumps(head.classes, ensure_ascii=False), encoding="utf-8"
                )

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> QuestionClassifier:
        merged = {**cls.get_default_config(), **config}
        try:
            with model_storage.read_from(resource) as directory:
                spec = json.loads((directory / "vectorizer.json").read_text("utf-8"))
                vectorizer = new_vectorizer(int(merged["ngram_max"]))
                vectorizer.vocabulary_ = spec["vocabulary"]
                vectorizer.idf_ = np.load(directory / "idf.npy")
                heads = {
                    name: _Head(
                        np.load(directory / f"{name}_coef.npy"),
                        np.load(directory / f"{name}_intercept.npy"),
                        json.loads((directory / f"{name}_classes.json").read_text("utf-8")),
                    )
                    for name in ("intent", "category")
                }
        except ValueError:
            # not trained yet (e.g. `rasa data validate` builds the graph)
            return cls(config, model_storage, resource)
        return cls(config, model_storage, resource, vectorizer, heads["intent"], heads["category"])

    # -- inference ------------------------------------------------------
    def process(self, messages: list[Message]) -> list[Message]:
        if self._vectorizer is None or self._intent_head is None or self._category_head is None:
            return messages
        texts = [m.get("text") or "" for m in messages]
        if not texts:
            return messages
        features = self._features(texts)
        intent_p = self._intent_head.probabilities(features)
        category_p = self._category_head.probabilities(features)
        length = int(self._config["ranking_length"])
        for message, ip, cp in zip(messages, intent_p, category_p, strict=False):
            ranking = ranking_of(self._intent_head.classes, ip)
            message.set("intent", ranking[0], add_to_output=True)
            message.set("intent_ranking", ranking[:length], add_to_output=True)
            message.set(
                CATEGORY_PROBABILITIES,
                {c: round(float(p), 4) for c, p in zip(self._category_head.classes, cp, strict=False)},
                add_to_output=True,
            )
        return messages
