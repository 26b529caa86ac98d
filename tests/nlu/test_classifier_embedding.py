"""The NLU classifier is trained, evaluated and served on one kind of vector: the int8
export's (knowledge_base/embedding/onnx_encoder.py). In Rasa's own environment, with no
action server configured (training, `make eval-nlu`, Rasa alone in service), the
classifier embeds with that graph itself: onnxruntime runs there beside TensorFlow's
older protobuf (installed without its declared dependencies, requirements/rasa-nodeps.txt),
and its vectors are exactly the action server's. A change of the export changes the
classifier's fingerprint, so Rasa does not reuse a classifier trained on other vectors."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest

from knowledge_base.embedding.onnx_encoder import OnnxQueryEncoder, encoder_identity
from settings import CLASSIFIER_EMBEDDING_MODEL
from tests.nlu.test_rasa_speedups import in_rasa

TEXTS = ["房东不退押金怎么办", "老细唔出粮，点算好", "每個月OT幾十個鐘冇補水", "你好"]

LOCAL = textwrap.dedent(
    """
    import json, sys
    import google.protobuf
    from nlu.components import question_classifier as qc

    assert qc._embed_endpoint() is None  # no ACTION_SERVER_TOKEN: nothing remote is asked
    vectors = qc.embed(json.loads(sys.argv[1]))
    print(json.dumps({"protobuf": google.protobuf.__version__, "vectors": vectors.tolist()}))
    """
)


@pytest.mark.model
def test_rasa_embeds_for_the_classifier_exactly_as_the_action_server_does() -> None:
    done = in_rasa(LOCAL, json.dumps(TEXTS, ensure_ascii=False))
    assert done.returncode == 0, done.stderr[-2000:]
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["protobuf"].startswith("4.23")  # TensorFlow's, left as it was
    in_rasa_vectors = np.asarray(answer["vectors"], dtype=np.float32)
    served = OnnxQueryEncoder(CLASSIFIER_EMBEDDING_MODEL).encode(TEXTS, "query")
    assert in_rasa_vectors.shape == (len(TEXTS), 384)
    assert np.allclose(in_rasa_vectors, served, atol=1e-6)


def test_the_classifier_is_retrained_when_the_export_changes(tmp_path: Path) -> None:
    def built(name: str, stamp: str) -> str:
        folder = tmp_path / name
        (folder / "onnx").mkdir(parents=True, exist_ok=True)
        for old in (folder / "onnx").glob(".built-*"):
            old.unlink()
        (folder / "onnx" / f".built-{stamp}").touch()
        return encoder_identity(folder)

    first = built("e5-small-0123", "aaaa")
    assert built("e5-small-0123", "aaaa") == first
    assert built("e5-small-0123", "bbbb") != first  # another exporter
    assert built("e5-small-4567", "aaaa") != first  # a model converted otherwise
