"""Known vulnerabilities from an offline snapshot of the PyPA advisory database.

``../shared/advisories/vulns/<package>/<id>.yaml`` (OSV format; ADVISORIES_DIR)
is read directly: no package index on these machines carries vulnerability
data, so pip-audit could look nothing up and the audit was inconclusive. The
OSV rules used are the schema's own (ossf.github.io/osv-schema): a version is
affected when it is listed in ``affected[].versions``, or falls in an
``ECOSYSTEM`` range, from an ``introduced`` event up to (not including) the
next ``fixed`` event or up to and including a ``last_affected``; withdrawn
advisories are skipped. GIT ranges name commits, not releases, and are
ignored (every PyPA entry with one also has an ECOSYSTEM range).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml
from packaging.version import InvalidVersion, Version


@dataclass(frozen=True)
class Finding:
    package: str
    version: str
    id: str
    aliases: tuple[str, ...]
    fixed: tuple[str, ...]
    summary: str


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _version(text: str) -> Version | None:
    try:
        return Version(str(text))
    except InvalidVersion:
        return None


def _bound(event: dict) -> Version | None:
    """The version an OSV range event names ("0": before every release)."""
    value = str(next(iter(event.values())))
    return Version("0") if value == "0" else _version(value)


def in_range(version: Version, events: list[dict]) -> bool:
    """Whether `version` falls in an OSV ECOSYSTEM range given by its events."""
    affected = False
    bounded = [(bound, e) for e in events if (bound := _bound(e)) is not None]
    for bound, event in sorted(bounded, key=lambda pair: pair[0]):
        kind = next(iter(event))
        if kind == "introduced" and version >= bound:
            affected = True
        elif kind == "fixed" and version >= bound or kind == "last_affected" and version > bound:
            affected = False
    return affected


@cache
def advisories(root: Path, package: str) -> tuple[dict, ...]:
    folder = root / canonical(package)
    if not folder.is_dir():
        return ()
    return tuple(yaml.safe_load(path.read_text(encoding="utf-8")) for path in sorted(folder.glob("*.yaml")))


def findings(root: Path, package: str, version: str) -> list[Finding]:
    installed = _version(version)
    found = []
    for advisory in advisories(root, package):
        if advisory.get("withdrawn"):
            continue
        for affected in advisory.get("affected") or []:
            if canonical((affected.get("package") or {}).get("name", "")) != canonical(package):
                continue
            listed = version in [str(v) for v in affected.get("versions") or []]
            ranges = [r for r in affected.get("ranges") or [] if r.get("type") == "ECOSYSTEM"]
            hit = listed or (installed is not None and any(in_range(installed, r.get("events") or []) for r in ranges))
            if hit:
                fixed = tuple(str(e["fixed"]) for r in ranges for e in r.get("events") or [] if "fixed" in e)
                found.append(
                    Finding(
                        package,
                        version,
                        advisory["id"],
                        tuple(advisory.get("aliases") or ()),
                        fixed,
                        (advisory.get("summary") or advisory.get("details") or "").strip()[:160],
                    )
                )
                break
    return found
