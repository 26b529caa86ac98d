"""`make audit` against the offline OSV snapshot: the range rules, and the exit
codes (0 clean, 1 findings, 2 could not run) on a real frozen environment."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml
from packaging.version import Version

from ops.osv_offline import findings, in_range
from settings import ROOT, get_settings


def test_osv_ranges_introduced_fixed_and_last_affected() -> None:
    events = [{"introduced": "0"}, {"fixed": "1.2.0"}, {"introduced": "2.0"}, {"last_affected": "2.1.3"}]
    assert in_range(Version("1.1.9"), events) and not in_range(Version("1.2.0"), events)
    assert in_range(Version("2.1.3"), events) and not in_range(Version("2.1.4"), events)
    assert not in_range(Version("1.9"), events)


def advisory(folder: Path, package: str, ident: str, **affected) -> None:
    (folder / package).mkdir(parents=True, exist_ok=True)
    (folder / package / f"{ident}.yaml").write_text(
        yaml.safe_dump(
            {
                "id": ident,
                "aliases": [f"CVE-{ident}"],
                "details": "test",
                "affected": [{"package": {"name": package, "ecosystem": "PyPI"}, **affected}],
            }
        ),
        "utf-8",
    )


def test_listed_versions_and_withdrawn_advisories(tmp_path: Path) -> None:
    advisory(tmp_path, "demo-pkg", "A-1", versions=["1.0"])
    advisory(
        tmp_path, "demo-pkg", "A-2", ranges=[{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.5"}]}]
    )
    raw = yaml.safe_load((tmp_path / "demo-pkg" / "A-2.yaml").read_text("utf-8"))
    (tmp_path / "demo-pkg" / "A-3.yaml").write_text(
        yaml.safe_dump({**raw, "id": "A-3", "withdrawn": "2024-01-01"}), "utf-8"
    )
    found = findings(tmp_path, "Demo_Pkg", "1.0")
    assert [f.id for f in found] == ["A-1", "A-2"] and found[1].fixed == ("1.5",)
    assert [f.id for f in findings(tmp_path, "demo-pkg", "1.5")] == []


def run_audit(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ops.audit", *args], cwd=ROOT, capture_output=True, text=True, timeout=600
    )


def test_audit_reports_a_finding_and_exits_1(tmp_path: Path) -> None:
    import httpx

    advisory(tmp_path / "vulns", "httpx", "TEST-1", versions=[httpx.__version__])
    done = run_audit("--advisories", str(tmp_path))
    assert done.returncode == 1, done.stderr
    assert f"httpx {httpx.__version__}: TEST-1" in done.stdout
    assert json.loads(done.stdout.splitlines()[-1])["main"]["vulnerabilities"][0]["id"] == "TEST-1"


def test_audit_without_a_snapshot_or_service_is_inconclusive(tmp_path: Path) -> None:
    done = run_audit("--advisories", str(tmp_path / "absent"))
    assert done.returncode == 2 and "INCONCLUSIVE" in done.stderr


def test_audit_on_the_shared_snapshot_is_conclusive() -> None:
    if not (get_settings().advisories_dir / "vulns").is_dir():
        import pytest

        pytest.skip("no shared advisory snapshot")
    done = run_audit()
    result = json.loads(done.stdout.splitlines()[-1])
    assert done.returncode in (0, 1) and result["inconclusive"] is False and result["snapshot_date"]
    assert result["main"]["packages"] > 50 and result["rasa"]["packages"] > 50
