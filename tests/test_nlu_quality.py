"""NLU targets on the held-out split, measured by the same command users run."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT, rasa_python

MODEL = ROOT / "models" / "current.tar.gz"


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
    assert {"n", "accuracy", "macro_f1", "per_category", "confusion"} <= set(heldout_result)
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
    done = subprocess.run(["make", "-s", "eval-nlu", f"DATA={data}"], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
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
