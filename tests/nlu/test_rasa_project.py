"""The Rasa project itself: data validates cleanly and every rule passes its
conversation test with the trained model."""

from __future__ import annotations

from tests.helpers.stack import ROOT, rasa_cli, rasa_python


def test_rasa_data_validate_is_clean() -> None:
    real = ROOT / "build" / "real-questions" / "nlu"  # the real questions' training part, when built
    data = ["data"] + ([str(real)] if real.is_dir() else [])
    done = rasa_cli(
        "data", "validate", "--fail-on-warnings", "--domain", "domain.yml", "--data", *data, "--config", "config.yml"
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]


def test_conversation_stories_pass(tmp_path) -> None:
    done = rasa_cli(
        "test",
        "core",
        "--model",
        str(ROOT / "models" / "current.tar.gz"),
        "--stories",
        "tests/rasa/test_stories.yml",
        "--fail-on-prediction-errors",
        "--out",
        str(tmp_path),
    )
    detail = (tmp_path / "failed_test_stories.yml").read_text("utf-8")
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:] + detail
    assert "None of the test stories failed" in detail, detail


def test_editing_emergency_terms_retrains_the_resolver(tmp_path) -> None:
    """Rasa caches trained components by config and data; the resolver's own
    files must count too, or an edited emergency list would be ignored."""
    copy = tmp_path / "emergency_terms.yml"
    copy.write_text((ROOT / "nlu" / "emergency_terms.yml").read_text("utf-8") + "  - 新的词\n", "utf-8")
    script = (
        "import nlu.components.category_resolver as m, pathlib, sys;"
        "a = m.CategoryResolver.fingerprint_addon({});"
        f"m.EMERGENCY_TERMS_PATH = pathlib.Path({str(copy)!r});"
        "b = m.CategoryResolver.fingerprint_addon({});"
        "sys.exit(0 if a and b and a != b else 1)"
    )
    done = rasa_python("-c", script)
    assert done.returncode == 0, done.stderr[-2000:]
