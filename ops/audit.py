"""`make audit`: known vulnerabilities in what both runtime environments have installed.

Freezes each venv (.venv, .venv-rasa), runs pip-audit (its own environment,
requirements/audit.txt) on the frozen list without resolving anything, keeps
the JSON under reports/audit/ and prints, as its LAST line, one JSON object:
per environment the packages audited, those skipped (pip-audit could not
look them up) and every vulnerability with its fix versions.

An audit that could look nothing up is reported as inconclusive and exits 2:
"no known vulnerabilities" must never stand for "nobody checked".
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from settings import ROOT

REPORT_DIR = ROOT / "reports" / "audit"


def audit(pip_audit: Path, venv: Path, name: str) -> dict:
    frozen = subprocess.run([str(venv / "bin" / "pip"), "freeze", "--exclude-editable", "--disable-pip-version-check"],
                            capture_output=True, text=True, check=True).stdout
    requirements = REPORT_DIR / f"{name}-frozen.txt"
    requirements.write_text(frozen, encoding="utf-8")
    out = REPORT_DIR / f"{name}.json"
    subprocess.run([str(pip_audit), "-r", str(requirements), "--no-deps", "--disable-pip", "--progress-spinner", "off",
                    "-f", "json", "-o", str(out)], capture_output=True, text=True)
    dependencies = json.loads(out.read_text("utf-8"))["dependencies"] if out.exists() else []
    skipped = [d["name"] for d in dependencies if "skip_reason" in d]
    vulnerabilities = [{"package": d["name"], "version": d["version"], "id": v["id"],
                        "aliases": v.get("aliases", []), "fix_versions": v.get("fix_versions", [])}
                       for d in dependencies for v in d.get("vulns", [])]
    return {"packages": len(dependencies), "audited": len(dependencies) - len(skipped), "skipped": len(skipped),
            "vulnerabilities": vulnerabilities}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pip-audit", type=Path, required=True)
    args = parser.parse_args(argv)
    REPORT_DIR.mkdir(parents=True, exist_ok=True)
    result = {name: audit(args.pip_audit, ROOT / venv, name) for name, venv in (("main", ".venv"), ("rasa", ".venv-rasa"))}
    for name, found in result.items():
        print(f"{name}: {found['audited']} of {found['packages']} packages audited, {found['skipped']} skipped, "
              f"{len(found['vulnerabilities'])} known vulnerabilities")
        for v in found["vulnerabilities"]:
            print(f"  {v['package']} {v['version']}: {v['id']} {' '.join(v['aliases'][:2])} fix: {v['fix_versions']}")
    inconclusive = all(found["audited"] == 0 for found in result.values())
    result["inconclusive"] = inconclusive
    if inconclusive:
        print("INCONCLUSIVE: pip-audit could look up none of the packages (no vulnerability service reachable?)",
              file=sys.stderr)
    print(json.dumps(result, ensure_ascii=False))
    return 2 if inconclusive else 0


if __name__ == "__main__":
    sys.exit(main())
