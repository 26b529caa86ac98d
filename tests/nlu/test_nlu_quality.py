"""NLU targets on the real questions' dev split and on our own held-out split,
measured by the same command users run (`make eval-nlu`)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.helpers.stack import ROOT, rasa_python

MODEL = ROOT / "models" / "current.tar.gz"
REAL_DEV = ROOT / "build" / "real-questions" / "dev.jsonl"


@pytest.fixture(scope="module")
def real_dev_result() -> dict:
    """The dev part of ../shared/questions, never trained on (nlu/real_questions.py)."""
    if not REAL_DEV.is_file():
        pytest.skip("no shared real questions: build/real-questions/dev.jsonl was not written")
    done = rasa_python("-m", "nlu.evaluate", "--model", str(MODEL), "--data", str(REAL_DEV))
    assert done.returncode == 0, done.stderr[-3000:]
    print(done.stdout)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_real_dev_category_accuracy(real_dev_result: dict) -> None:
    assert real_dev_result["accuracy"] >= 0.92


def test_real_dev_macro_f1_over_all_categories(real_dev_result: dict) -> None:
    assert set(real_dev_result["per_category"]) >= {
        "labour",
        "lease",
        "gig_work",
        "elevator",
        "other_legal",
        "chitchat",
    }
    assert real_dev_result["macro_f1"] >= 0.90


def test_real_dev_legal_questions_rarely_get_buttons(real_dev_result: dict) -> None:
    assert real_dev_result["fallback_rate_legal"] <= 0.08


def test_real_dev_long_messages_as_well_as_short(real_dev_result: dict) -> None:
    bands = real_dev_result["accuracy_by_length"]
    short = bands["<=40"]["accuracy"]
    assert bands[">120"]["n"] > 0
    assert bands[">120"]["accuracy"] >= short - 0.05


@pytest.fixture(scope="module")
def heldout_result() -> dict:
    done = rasa_python("-m", "nlu.evaluate", "--model", str(MODEL), "--data", str(ROOT / "nlu/test/heldout.jsonl"))
    assert done.returncode == 0, done.stderr[-3000:]
    print(done.stdout)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_category_accuracy(heldout_result: dict) -> None:
    assert heldout_result["accuracy"] >= 0.95


def test_dispute_macro_f1(heldout_result: dict) -> None:
    assert heldout_result["macro_f1_dispute"] >= 0.90


def test_emergency_recall_is_total(heldout_result: dict) -> None:
    assert heldout_result["emergency_recall"] == 1.0


def test_output_contract(heldout_result: dict) -> None:
    assert {
        "n",
        "accuracy",
        "macro_f1",
        "per_category",
        "confusion",
        "fallback_rate",
        "fallback_rate_legal",
        "accuracy_by_length",
    } <= set(heldout_result)
    assert set(heldout_result["accuracy_by_length"]) == {"<=40", "41-120", ">120"}
    for metrics in heldout_result["per_category"].values():
        assert set(metrics) == {"precision", "recall", "f1", "support"}


def test_make_eval_nlu_on_unseen_file_outside_repo(tmp_path: Path) -> None:
    """The documented command on data the repo has never seen, stored elsewhere."""
    rows = [
        {"text": "老板拖欠我两个月工资", "category": "labour", "source": "x"},
        {"text": "房东不肯退押金", "category": "lease"},
        {"text": "送外卖被车撞了平台不管", "category": "gig_work"},
        {"text": "一楼业主反对加装电梯", "category": "elevator"},
        {"text": "你好", "category": "chitchat"},
        {"text": "我想申请法律援助", "category": "other_legal"},
    ]
    data = tmp_path / "unseen.jsonl"
    data.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    done = subprocess.run(
        ["make", "-s", "eval-nlu", f"DATA={data}"], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["n"] == 6
    assert result["accuracy"] >= 5 / 6


def test_eval_nlu_rejects_bad_file(tmp_path: Path) -> None:
    data = tmp_path / "bad.jsonl"
    data.write_text('{"text": "缺少类别"}\n', encoding="utf-8")
    done = rasa_python("-m", "nlu.evaluate", "--model", str(MODEL), "--data", str(data))
    assert done.returncode != 0
    assert "category" in (done.stdout + done.stderr)
