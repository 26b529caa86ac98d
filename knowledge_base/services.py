"""The directory of services (knowledge_base/content/services.yml): who handles what,
for which categories and streets, when and how to reach them.

The operator edits the YAML; this module is the schema that rejects a broken
file with the entry and field at fault, and the one place that turns an
entry into words for a resident, so an unconfirmed contact detail
(待运营方确认) is never shown as if it were one: the national hotline is
given instead.

`python -m knowledge_base.services [file]` checks a file (exit 1 and the
reasons if broken); `make check-services` runs it on the configured one.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from nlu.taxonomy import load as load_taxonomy

UNCONFIRMED = "待运营方确认"
WHOLE_DISTRICT = "全区"
NATIONAL_HOTLINES = ("12348", "12333", "12345", "110", "120")
SYNONYMS = Path(__file__).resolve().parents[1] / "data" / "nlu" / "synonyms.yml"  # Rasa's own entity synonyms
_PHONE = re.compile(r"^(\d{5}|0\d{2,3}-?\d{7,8}|1[3-9]\d{9})$")
Kind = Literal["mediation", "legal_aid", "legal_service", "labour_inspection", "arbitration", "administrative"]


@lru_cache(maxsize=1)
def haizhu_streets() -> tuple[str, ...]:
    """The 18 streets, as the NLU's synonyms name them (one source for both)."""
    data = yaml.safe_load(SYNONYMS.read_text(encoding="utf-8"))
    return tuple(entry["synonym"] for entry in data.get("nlu", []) if "synonym" in entry)


class Service(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9_\u4e00-\u9fff]+$")
    name: str = Field(min_length=2)
    kind: Kind
    handles: str = Field(min_length=4)
    categories: tuple[str, ...] = Field(min_length=1)
    topics: tuple[str, ...] = ()
    streets: Union[Literal["全区"], tuple[str, ...]]
    hours: str
    phone: str
    address: str
    fallback_hotline: str

    @field_validator("categories")
    @classmethod
    def _known_categories(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        known = load_taxonomy().categories
        unknown = [c for c in value if c not in known]
        if unknown:
            raise ValueError(f"unknown categories {unknown}; known: {list(known)}")
        return value

    @field_validator("topics")
    @classmethod
    def _known_topics(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        known = load_taxonomy().intent_category
        unknown = [t for t in value if t not in known]
        if unknown:
            raise ValueError(f"unknown topics (intents) {unknown}")
        return value

    @field_validator("streets")
    @classmethod
    def _known_streets(cls, value):
        if value == WHOLE_DISTRICT:
            return value
        unknown = [s for s in value if s not in haizhu_streets()]
        if unknown or not value:
            raise ValueError(f"unknown streets {unknown}; use 全区 or some of {list(haizhu_streets())}")
        return value

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        if value != UNCONFIRMED and not _PHONE.match(value):
            raise ValueError(f"phone {value!r} is neither {UNCONFIRMED} nor a phone number")
        return value

    @field_validator("fallback_hotline")
    @classmethod
    def _hotline(cls, value: str) -> str:
        if value not in NATIONAL_HOTLINES:
            raise ValueError(f"fallback_hotline must be a national hotline {NATIONAL_HOTLINES}")
        return value

    def serves(self, category: str | None = None, street: str | None = None) -> bool:
        return (category is None or category in self.categories) and (
            street is None or self.streets == WHOLE_DISTRICT or street in self.streets
        )

    def contact_line(self) -> str:
        """How to reach it, with only confirmed details; the hotline otherwise."""
        parts = []
        if self.address != UNCONFIRMED:
            parts.append(f"地址：{self.address}")
        if self.phone != UNCONFIRMED:
            parts.append(f"电话：{self.phone}")
        if self.hours != UNCONFIRMED:
            parts.append(f"时间：{self.hours}")
        if self.phone == UNCONFIRMED or self.address == UNCONFIRMED:
            parts.append(f"具体地址、电话和开放时间可拨打{self.fallback_hotline}查询")
        return "；".join(parts)


class DirectoryFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    services: list[Service] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> DirectoryFile:
        seen: set[str] = set()
        for service in self.services:
            if service.id in seen:
                raise ValueError(f"service id {service.id!r} appears twice")
            seen.add(service.id)
        return self


class DirectoryError(ValueError):
    """A broken directory file; the message says where and why, in plain words."""


@dataclass(frozen=True)
class Directory:
    services: tuple[Service, ...]

    def get(self, service_id: str) -> Service:
        for service in self.services:
            if service.id == service_id:
                return service
        raise KeyError(service_id)

    def street_committee(self, street: str) -> Service | None:
        return next(
            (s for s in self.services if s.kind == "mediation" and s.streets != WHOLE_DISTRICT and street in s.streets),
            None,
        )


def _explain(error: ValidationError, raw: object) -> str:
    lines = []
    for problem in error.errors():
        location = list(problem["loc"])
        where = ".".join(str(p) for p in location)
        if len(location) >= 2 and location[0] == "services" and isinstance(location[1], int):
            try:
                entry_id = raw["services"][location[1]].get("id", "?")  # type: ignore[index]
            except (TypeError, KeyError, IndexError, AttributeError):
                entry_id = "?"
            where = f"services[{location[1]}] (id {entry_id})" + (
                "." + ".".join(str(p) for p in location[2:]) if location[2:] else ""
            )
        lines.append(f"{where}: {problem['msg']}")
    return "\n".join(lines)


def load_directory(path: Path) -> Directory:
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise DirectoryError(f"{path}: cannot read ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise DirectoryError(f"{path}: not valid YAML ({exc})") from exc
    try:
        parsed = DirectoryFile.model_validate(raw)
    except ValidationError as exc:
        raise DirectoryError(f"{path}:\n{_explain(exc, raw)}") from exc
    return Directory(tuple(parsed.services))


def main(argv: list[str] | None = None) -> int:
    from settings import get_settings

    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]) if args else get_settings().services_file
    try:
        directory = load_directory(path)
    except DirectoryError as exc:
        print(f"服务目录有误 (directory rejected): {exc}", file=sys.stderr)
        return 1
    unconfirmed = sum(UNCONFIRMED in (s.phone, s.address, s.hours) for s in directory.services)
    print(
        f"{path}: {len(directory.services)} services OK "
        f"({unconfirmed} with details {UNCONFIRMED}, answered with their hotline)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
