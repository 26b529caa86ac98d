"""Knowledge cards and request texts, and how they become a reply.

Kept apart from the Rasa SDK classes so the wording rules can be tested without
a running server, and so the gateway or later channels can reuse them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from settings import get_settings

OFFER_BUTTONS: Mapping[str, dict[str, str]] = {
    "intake": {"title": "在线申请法律援助", "payload": "/start_intake"},
    "legal_aid": {"title": "申请法律援助", "payload": "/request_legal_aid"},
    "mediation": {"title": "找调解员", "payload": "/request_mediation"},
    "human": {"title": "转人工", "payload": "/request_human"},
}
STREET_BODY = "所在街道人民调解委员会"
DISCLAIMER = "（以上是一般性的法律信息，不是律师意见；具体情况可拨打12348公共法律服务热线咨询。）"


@dataclass(frozen=True)
class Reply:
    text: str
    buttons: list[dict[str, str]]


_CJK = "\u3000-\u303f\u4e00-\u9fff\uff00-\uffef"
_SPACE_BETWEEN_CJK = re.compile(f"(?<=[{_CJK}])\\s+(?=[{_CJK}])")


def _tidy(value: Any) -> Any:
    """Drop the spaces YAML folding puts between lines of Chinese text."""
    if isinstance(value, str):
        return _SPACE_BETWEEN_CJK.sub("", value).strip()
    if isinstance(value, list):
        return [_tidy(v) for v in value]
    if isinstance(value, dict):
        return {k: _tidy(v) for k, v in value.items()}
    return value


def _load_yaml(name: str) -> dict[str, Any]:
    path = Path(get_settings().knowledge_dir) / name
    with open(path, encoding="utf-8") as fh:
        return _tidy(yaml.safe_load(fh))


@cache
def topic_cards() -> dict[str, Any]:
    return _load_yaml("topic_cards.yml")


@cache
def request_cards() -> dict[str, Any]:
    return _load_yaml("request_cards.yml")


def _local_body(body: str, street: str | None) -> str:
    """Name the resident's own street committee once the street is known."""
    if street and STREET_BODY in body:
        return body.replace(STREET_BODY, f"{street}街道人民调解委员会")
    return body


def topic_reply(
    intent: str,
    title: str,
    street: str | None = None,
    statutes: Sequence[str] = (),
    cases: Sequence[str] = (),
    extra_buttons: Sequence[dict[str, str]] = (),
    referral: Sequence[str] = (),
) -> Reply | None:
    """The answer to a topic: the card's plain-language summary, then the
    statute block (quotes from the index), then what to do and where to go,
    then any typical case."""
    card = topic_cards().get(intent)
    if card is None:
        return None
    lines = [f"【{title}】", card["summary"].strip()]
    if statutes:
        lines += ["", *statutes]
    lines += ["", "您可以这样做："]
    lines += [f"{n}. {step}" for n, step in enumerate(card["steps"], 1)]
    if card.get("where"):
        lines += ["", "可以找：" + "；".join(_local_body(w, street) for w in card["where"])]
    lines += list(referral)
    if card.get("evidence"):
        lines += ["建议保存：" + "；".join(card["evidence"])]
    if card.get("time_limit"):
        lines += ["时效提醒：" + card["time_limit"].strip()]
    if cases:
        lines += ["", *cases]
    lines += ["", DISCLAIMER]
    buttons = list(extra_buttons) + [OFFER_BUTTONS[o] for o in card.get("offers", []) if o in OFFER_BUTTONS]
    return Reply("\n".join(lines), buttons)


def card_query(intent: str) -> str:
    """A question in the card's own words, for when the resident only tapped a
    topic button and wrote nothing to search with."""
    card = topic_cards().get(intent) or {}
    return re.split(r"(?<=。)", card.get("summary", ""), maxsplit=1)[0]


def legal_aid_reply(category: str | None, contact: str = "") -> Reply:
    card = request_cards()["legal_aid"]
    lines = ["【申请法律援助】", card["summary"].strip()]
    specific = card["by_category"].get(category or "other_legal")
    if specific:
        lines.append(specific)
    lines += [card["how"]] + ([f"联系方式：{contact}。"] if contact else []) + [card["note"]]
    return Reply("\n".join(lines), [OFFER_BUTTONS["intake"], OFFER_BUTTONS["mediation"]])


def mediation_reply(body_line: str, ask_street: bool) -> Reply:
    """`body_line`: the referral the routing policy chose (actions/referral.py)."""
    card = request_cards()["mediation"]
    lines = ["【找调解员】", f"建议您找：{body_line}", card["summary"].strip()]
    if ask_street:
        lines.append(card["ask_street"])
    return Reply("\n".join(lines), [OFFER_BUTTONS["legal_aid"]])


def human_reply(escalating: bool = False, urgent: bool = False) -> Reply:
    card = request_cards()["human"]
    lines = (
        ["【人工服务】"]
        + ([card["escalating"].strip()] if escalating else [])
        + ([card["urgent"].strip()] if urgent else [])
        + [card["summary"].strip(), card["note"]]
    )
    return Reply("\n".join(lines), [])


def mediation_suggestion(body_line: str, ask_street: bool) -> list[str]:
    """The lines an answer adds when the routing policy suggests mediation."""
    lines = [f"建议调解：{body_line}"]
    if ask_street:
        lines.append(request_cards()["mediation"]["ask_street"])
    return lines
