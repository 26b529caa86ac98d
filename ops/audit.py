"""`make audit`: known vulnerabilities in what both runtime environments have installed.

Freezes each venv (.venv, .venv-rasa) and checks every installed version
against the offline snapshot of the PyPA advisory database
(``ADVISORIES_DIR``, default ``../shared/advisories``; ops/osv_offline.py),
and also asks pip-audit (its own environment, requirements/audit.txt) where
a vulnerability service is reachable; its findings are added. Prints each
finding with its advisory id and fixed versions, keeps the report under
reports/audit/, and as its LAST line one JSON object.

Exit: 0 no known vulnerability, 1 findings, 2 the audit could not run (no
snapshot and no service reachable): "no known vulnerabilities" must never
stand for "nobody checked". A clean result means "none known as of the
snapshot's date", which the report states.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

from ops.osv_offline import canonical, findings
from settings import ROOT, get_settings

REPORT_DIR = ROOT / "reports" / "audit"
ENVIRONMENTS = (("main", ".venv"), ("rasa", ".venv-rasa"))


def frozen(venv: Path) -> list[tuple[str, str]]:
    out = subprocess.run(
        [str(venv / "bin" / "pip"), "freeze", "--exclude-editable", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [(name, version) for name, version in (line.split("==", 1) for line in out.splitlines() if "==" in line)]


def snapshot_date(advisories: Path) -> str:
    readme = advisories / "README.md"
    match = re.search(r"\((\d{4}-\d{2}-\d{2})\)", readme.read_text("utf-8")) if readme.is_file() else None
    return match.group(1) if match else "unknown"


def offline(advisories: Path, packages: list[tuple[str, str]]) -> list[dict]:
    return [
        {
            "package": f.package,
            "version": f.version,
            "id": f.id,
            "aliases": list(f.aliases),
            "fix_versions": list(f.fixed),
            "source": "snapshot",
        }
        for name, version in packages
        for f in findings(advisories / "vulns", name, version)
    ]


def online(pip_audit: Path | None, name: str, packages: list[tuple[str, str]]) -> tuple[int, list[dict]]:
    """(packages pip-audit could look up, its findings); (0, []) without a reachable service."""
    if pip_audit is None or not pip_audit.exists():
        return 0, []
    requirements = REPORT_DIR / f"{name}-frozen.txt"
    requirements.write_text("".join(f"{n}=={v}\n" for n, v in packages), encoding="utf-8")
    out = REPORT_DIR / f"{name}-pip-audit.json"
    subprocess.run(
        [
            str(pip_audit),
            "-r",
            str(requirements),
            "--no-deps",
            "--disable-pip",
            "--progress-spinner",
            "off",
            "-f",
            "json",
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    dependencies = json.loads(out.read_text("utf-8"))["dependencies"] if out.exists() else []
    looked_up = [d for d in dependencies if "skip_reason" not in d]
    return len(looked_up), [
        {
            "package": d["name"],
            "version": d["version"],
            "id": v["id"],
            "aliases": v.get("aliases", []),
            "fix_versions": v.get("fix_versions", []),
            "source": "pip-audit",
        }
        for d in looked_up
        for v in d.get("vulns", [])
    ]


def merged(*groups: list[dict]) -> list[dict]:
    seen: dict[tuple[str, str], dict] = {}
    for group in groups:
        for finding in group:
            ids = {finding["id"], *finding["aliases"]}
            key = (canonical(finding["package"]), finding["id"])
            if not any(canonical(f["package"]) == key[0] and ids & {f["id"], *f["aliases"]} for f in seen.values()):
                seen[key] = finding
    return list(seen.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pip-audit", type=Path, default=None, help="pip-audit, for an online service where reachable")
    parser.add_argument("--advisories", type=Path, default=None, help="the OSV snapshot (default ADVISORIES_DIR)")
    args = parser.parse_args(argv)
    advisories = args.advisories or get_settings().advisories_dir
    has_snapshot = (advisories / "vulns").is_dir()
    REPORT_DIR.mkdir(parents=True, exist_ok=True)
    result: dict = {
        "snapshot": str(advisories) if has_snapshot else None,
        "snapshot_date": snapshot_date(advisories) if has_snapshot else None,
    }
    online_any = False
    for name, venv in ENVIRONMENTS:
        packages = frozen(ROOT / venv)
        looked_up, from_service = online(args.pip_audit, name, packages)
        online_any |= looked_up > 0
        found = merged(offline(advisories, packages) if has_snapshot else [], from_service)
        result[name] = {"packages": len(packages), "online_looked_up": looked_up, "vulnerabilities": found}
        print(
            f"{name}: {len(packages)} packages, {len(found)} known vulnerabilities"
            f" (snapshot {'of ' + result['snapshot_date'] if has_snapshot else 'absent'};"
            f" online service: {looked_up} looked up)"
        )
        for v in found:
            print(
                f"  {v['package']} {v['version']}: {v['id']} {' '.join(v['aliases'][:2])} "
                f"fixed in {', '.join(v['fix_versions']) or 'no release yet'} [{v['source']}]"
            )
    if not has_snapshot and not online_any:
        result["inconclusive"] = True
        print(
            f"INCONCLUSIVE: no advisory snapshot at {advisories} and no vulnerability service reachable",
            file=sys.stderr,
        )
        print(json.dumps(result, ensure_ascii=False))
        return 2
    result["inconclusive"] = False
    total = sum(len(result[name]["vulnerabilities"]) for name, _ in ENVIRONMENTS)
    if not total:
        print(f"no known vulnerabilities as of {result['snapshot_date'] or 'the online service'}")
    (REPORT_DIR / "report.json").write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    print(json.dumps(result, ensure_ascii=False))
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
