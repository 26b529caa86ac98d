"""#15: Rasa's classifier takes its e5 vectors from the action server (actions/server.py
/embed) instead of embedding in its own process: behind the action server's secret,
exactly the int8 export's vectors the classifier is trained on, bad requests refused
with 422."""

from __future__ import annotations

import httpx
import numpy as np


def test_embed_is_guarded_validated_and_gives_the_classifiers_vectors(stack) -> None:
    settings = stack.settings
    url = f"{settings.action_base_url}/embed"
    texts = ["房东不退押金怎么办", "公司拖欠我三个月工资，还不给签劳动合同"]
    assert httpx.post(url, json={"texts": texts}, timeout=30).status_code == 401
    auth = {"Authorization": f"Bearer {settings.action_token()}"}
    answer = httpx.post(url, json={"texts": texts}, headers=auth, timeout=60)
    assert answer.status_code == 200, answer.text
    vectors = np.asarray(answer.json()["vectors"], dtype=np.float32)
    assert vectors.shape == (2, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    from knowledge_base.embedding.onnx_encoder import OnnxQueryEncoder
    from settings import CLASSIFIER_EMBEDDING_MODEL

    trained_on = OnnxQueryEncoder(CLASSIFIER_EMBEDDING_MODEL).encode(texts, "query")
    assert np.allclose(vectors, trained_on, atol=1e-6)  # what the classifier was trained on
    for bad in ({"texts": []}, {"texts": "房东"}, {"texts": ["x"] * 9}, {"texts": [3]}, {"other": 1}, [1, 2]):
        refused = httpx.post(url, json=bad, headers=auth, timeout=30)
        assert refused.status_code == 422, (bad, refused.status_code)
