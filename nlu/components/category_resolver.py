"""Rasa NLU component: the message's final intent and category, and the emergency safety net.

Why a component of its own: a message such as 「老板欠我三个月工资，我想申请
法律援助」 must be routed as a legal-aid request *and* as a labour dispute, a
long complaint that fits none of our topics must still be answered in its
area, and only a short, genuinely unclear message should be asked back. The
classifier before it (nlu/components/question_classifier.py) gives intent and
category probabilities; this component applies the documented rule
(``nlu.intent_decision.decide``, README "How a category is computed") and sets
``intent``, ``category`` and ``stated_dispute``. It replaces Rasa's
FallbackClassifier, whose single threshold on the top intent sent half of the
real questions to clarification buttons.

It also guards emergencies: if the text matches nlu/emergency_terms.yml the
intent becomes ``emergency`` whatever the classifier said, because a missed
threat of self-harm or violence costs far more than a false alarm.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import fields
from pathlib import Path
from typing import Any

import yaml
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu.components.question_classifier import CATEGORY_PROBABILITIES
from nlu.intent_decision import Thresholds, category_evidence, decide, stated_dispute
from nlu.taxonomy import TAXONOMY_PATH
from nlu.taxonomy import load as load_taxonomy
from nlu.text_normaliser import fold_for_matching

EMERGENCY_TERMS_PATH = Path(__file__).resolve().parents[1] / "emergency_terms.yml"
EMERGENCY_INTENT = "emergency"
_PAYLOAD = re.compile(r"^\s*/(\w+)")


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


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class CategoryResolver(GraphComponent):
    """Sets the final ``intent``, ``category``, ``stated_dispute`` and the emergency override."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        # the thresholds of nlu.intent_decision.Thresholds, overridable in config.yml
        return {f.name: f.default for f in fields(Thresholds)}

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> str | None:
        return _data_fingerprint()

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        emergency_patterns: list[str] | None = None,
    ) -> None:
        self._config = {**self.get_default_config(), **config}
        # each threshold as the type Thresholds declares (nlu/intent_decision.py), whatever the YAML gave
        kinds = {"int": int, "float": float}
        self._thresholds = Thresholds(**{f.name: kinds[str(f.type)](self._config[f.name]) for f in fields(Thresholds)})
        self._model_storage = model_storage
        self._resource = resource
        self._emergency_patterns = emergency_patterns or []
        self._emergency_re = (
            re.compile("|".join(f"(?:{p})" for p in self._emergency_patterns)) if self._emergency_patterns else None
        )
        self._taxonomy = load_taxonomy()

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> CategoryResolver:
        return cls(config, model_storage, resource)

    # -- training -------------------------------------------------------
    def train(self, training_data: TrainingData) -> Resource:
        with open(EMERGENCY_TERMS_PATH, encoding="utf-8") as fh:
            patterns = [fold_for_matching(p) for p in yaml.safe_load(fh)["patterns"]]
        with self._model_storage.write_to(self._resource) as directory:
            (directory / "emergency_terms.json").write_text(json.dumps(patterns, ensure_ascii=False), encoding="utf-8")
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> CategoryResolver:
        try:
            with model_storage.read_from(resource) as directory:
                patterns = json.loads((directory / "emergency_terms.json").read_text("utf-8"))
        except ValueError:
            # not trained yet (e.g. `rasa data validate` builds the graph)
            return cls(config, model_storage, resource)
        return cls(config, model_storage, resource, patterns)

    # -- inference ------------------------------------------------------
    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get("text") or ""
            ranking = message.get("intent_ranking") or []
            probabilities = message.get(CATEGORY_PROBABILITIES) or {}
            intent = message.get("intent") or {}
            if self._emergency_re is not None and self._emergency_re.search(fold_for_matching(text)):
                if intent.get("name") != EMERGENCY_INTENT:
                    message.set("emergency_guard", True, add_to_output=True)
                evidence = category_evidence(self._taxonomy, ranking, probabilities)
                stated = stated_dispute(self._taxonomy, evidence, self._thresholds.stated_dispute)
                message.set("intent", {"name": EMERGENCY_INTENT, "confidence": 1.0}, add_to_output=True)
                message.set("category", stated or "other_legal", add_to_output=True)
                message.set("stated_dispute", stated, add_to_output=True)
                continue
            payload = _PAYLOAD.match(text)
            if payload or not ranking:
                # a button's "/intent{...}": Rasa's RegexMessageHandler sets the intent after us
                name = payload.group(1) if payload else intent.get("name")
                message.set("category", self._taxonomy.resolve(name), add_to_output=True)
                message.set("stated_dispute", None, add_to_output=True)
                continue
            decision = decide(self._taxonomy, text, ranking, probabilities, self._thresholds)
            message.set(
                "intent", {"name": decision.intent, "confidence": round(decision.confidence, 4)}, add_to_output=True
            )
            message.set("category", decision.category, add_to_output=True)
            message.set("stated_dispute", decision.stated_dispute, add_to_output=True)
            message.set("decision", decision.reason, add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data
