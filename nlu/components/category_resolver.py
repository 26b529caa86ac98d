"""Rasa NLU component: the message's category, and the emergency safety net.

Why a component of its own: a message such as 「老板欠我三个月工资，我想申请
法律援助」 must be routed as a legal-aid request *and* as a labour dispute. The
intent classifier gives one intent (the request); this component gives the
category of the dispute the message states. It learns that from the same NLU
training data (each dispute example's category from nlu/taxonomy.yml, each
request example's ``metadata.category``) with a character n-gram logistic
regression, which stays reliable on the short, colloquial, mixed-script texts
residents type. The category then follows the documented rule in
``nlu.taxonomy.Taxonomy.resolve``.

It also guards emergencies: if the text matches nlu/emergency_terms.yml the
intent becomes ``emergency`` whatever DIET said, because a missed threat of
self-harm or violence costs far more than a false alarm.

Everything it needs (vocabulary, weights, the emergency terms) is persisted
in the trained model, as plain JSON and NumPy arrays rather than pickle.
"""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, Dict, List, Optional, Text

import numpy as np
import yaml
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from nlu.taxonomy import FALLBACK_INTENT, TAXONOMY_PATH, load as load_taxonomy
from nlu.text_normaliser import fold_for_matching

EMERGENCY_TERMS_PATH = Path(__file__).resolve().parents[1] / "emergency_terms.yml"
EMERGENCY_INTENT = "emergency"


def _data_fingerprint() -> str:
    """Hash of the files this component reads besides the training data.

    Rasa reuses a cached component when its config and training data are
    unchanged; adding this to its fingerprint makes an edit of the taxonomy or
    the emergency terms retrain it instead of being silently ignored.
    """
    digest = hashlib.sha256()
    for path in (TAXONOMY_PATH, EMERGENCY_TERMS_PATH):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _example_category(message: Message) -> Optional[str]:
    metadata = message.get("metadata") or {}
    example = metadata.get("example") or {}
    if isinstance(example, dict):
        return example.get("category")
    return None


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True
)
class CategoryResolver(GraphComponent):
    """Adds ``category``, ``stated_dispute`` and the emergency override."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            # below this probability a request does not count as stating a dispute
            "min_dispute_probability": 0.35,
            "ngram_max": 3,
            "C": 10.0,
        }

    @classmethod
    def fingerprint_addon(cls, config: Dict[str, Any]) -> Optional[str]:
        return _data_fingerprint()

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        vectorizer: Optional[TfidfVectorizer] = None,
        classifier: Optional[LogisticRegression] = None,
        emergency_patterns: Optional[List[str]] = None,
    ) -> None:
        self._config = config
        self._model_storage = model_storage
        self._resource = resource
        self._vectorizer = vectorizer
        self._classifier = classifier
        self._emergency_patterns = emergency_patterns or []
        self._emergency_re = (
            re.compile("|".join(f"(?:{p})" for p in self._emergency_patterns))
            if self._emergency_patterns
            else None
        )
        self._taxonomy = load_taxonomy()

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "CategoryResolver":
        return cls(config, model_storage, resource)

    # -- training -------------------------------------------------------
    def train(self, training_data: TrainingData) -> Resource:
        texts: List[str] = []
        labels: List[str] = []
        for example in training_data.intent_examples:
            intent = example.get("intent")
            category = _example_category(example) or self._taxonomy.category_of(intent)
            texts.append(fold_for_matching(example.get("text")))
            labels.append(category)
        vectorizer = TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=(1, int(self._config["ngram_max"])),
            sublinear_tf=True,
        )
        matrix = vectorizer.fit_transform(texts)
        classifier = LogisticRegression(C=float(self._config["C"]), max_iter=2000)
        classifier.fit(matrix, labels)
        with open(EMERGENCY_TERMS_PATH, encoding="utf-8") as fh:
            patterns = [fold_for_matching(p) for p in yaml.safe_load(fh)["patterns"]]

        with self._model_storage.write_to(self._resource) as directory:
            (directory / "vectorizer.json").write_text(
                json.dumps(
                    {
                        "vocabulary": {k: int(v) for k, v in vectorizer.vocabulary_.items()},
                        "ngram_max": int(self._config["ngram_max"]),
                    },
                    ensure_ascii=False,
                ),
                encoding="utf-8",
            )
            np.save(directory / "idf.npy", vectorizer.idf_)
            np.save(directory / "coef.npy", classifier.coef_)
            np.save(directory / "intercept.npy", classifier.intercept_)
            (directory / "classes.json").write_text(
                json.dumps(list(classifier.classes_), ensure_ascii=False), encoding="utf-8"
            )
            (directory / "emergency_terms.json").write_text(
                json.dumps(patterns, ensure_ascii=False), encoding="utf-8"
            )
        return self._resource

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "CategoryResolver":
        try:
            with model_storage.read_from(resource) as directory:
                spec = json.loads((directory / "vectorizer.json").read_text("utf-8"))
                vectorizer = TfidfVectorizer(
                    analyzer="char_wb", ngram_range=(1, spec["ngram_max"]), sublinear_tf=True
                )
                vectorizer.vocabulary_ = spec["vocabulary"]
                vectorizer.idf_ = np.load(directory / "idf.npy")
                classifier = LogisticRegression()
                classifier.coef_ = np.load(directory / "coef.npy")
                classifier.intercept_ = np.load(directory / "intercept.npy")
                classifier.classes_ = np.array(
                    json.loads((directory / "classes.json").read_text("utf-8"))
                )
                patterns = json.loads((directory / "emergency_terms.json").read_text("utf-8"))
        except ValueError:
            # not trained yet (e.g. `rasa data validate` builds the graph)
            return cls(config, model_storage, resource)
        return cls(config, model_storage, resource, vectorizer, classifier, patterns)

    # -- inference ------------------------------------------------------
    def _category_probabilities(self, text: str) -> Dict[str, float]:
        if self._vectorizer is None or self._classifier is None:
            return {}
        matrix = self._vectorizer.transform([fold_for_matching(text)])
        probabilities = self._classifier.predict_proba(matrix)[0]
        return {str(c): float(p) for c, p in zip(self._classifier.classes_, probabilities)}

    def _stated_dispute(self, probabilities: Dict[str, float]) -> Optional[str]:
        """The dispute category a request states, or None for a bare request."""
        candidates = {
            c: p
            for c, p in probabilities.items()
            if c in self._taxonomy.dispute_categories or c == "other_legal"
        }
        if not candidates:
            return None
        best = max(candidates, key=candidates.get)
        if best in self._taxonomy.dispute_categories and candidates[best] >= float(
            self._config["min_dispute_probability"]
        ):
            return best
        return None

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get("text") or ""
            intent = message.get("intent") or {}
            name = intent.get("name")
            if self._emergency_re is not None and self._emergency_re.search(
                fold_for_matching(text)
            ):
                if name != EMERGENCY_INTENT:
                    message.set("emergency_guard", True, add_to_output=True)
                    message.set(
                        "intent",
                        {"name": EMERGENCY_INTENT, "confidence": 1.0},
                        add_to_output=True,
                    )
                    name = EMERGENCY_INTENT
            probabilities = self._category_probabilities(text)
            stated = (
                self._stated_dispute(probabilities)
                if self._taxonomy.is_modifier(name)
                else None
            )
            guess = (
                max(probabilities, key=probabilities.get)
                if probabilities and name == FALLBACK_INTENT
                else None
            )
            category = self._taxonomy.resolve(
                name, message.get("intent_ranking") or [], stated, guess
            )
            message.set("category", category, add_to_output=True)
            message.set("stated_dispute", stated, add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data
