"""Hostile and odd requests for the gateway's public endpoints, generated from a seed.

Each `Case` is one HTTP request plus what a correct gateway may answer. The
mix covers what residents paste and what attackers send: empty and
whitespace text, 100 KB texts, control characters, lone surrogates, invalid
UTF-8, emoji and mixed scripts, HTML and script tags, SQL-looking text,
oversized, deeply nested and malformed JSON, forged or missing signatures and
resident tokens, XML entity bombs. `valid` marks a message the assistant must answer.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
import unicodedata
import uuid
from dataclasses import dataclass, field
from typing import Any

QUESTIONS = [
    "老板拖欠我三个月工资不给",
    "房东不退押金怎么办",
    "外卖骑手送餐被车撞了谁负责",
    "老楼加装电梯一楼不同意",
    "炒鱿鱼有冇补偿",
    "我想申请法律援助",
    "转人工",
    "你好",
    "谢谢",
    "公司不签劳动合同",
]
NASTY = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "'; DROP TABLE inbound_messages; --",
    '" OR 1=1 --',
    "{{7*7}}${7*7}",
    "../../etc/passwd",
    "\u202etxet desrever",
    "\u200b\u200c\u200d\ufeff",
    "🧑‍🔧👷🏽‍♀️💸🏠",
    "ｆｕｌｌｗｉｄｔｈ　全角",
    "繁體字：老闆唔出糧",
    "العربية עברית",
    "\x00\x01\x07\x1b[31m",
    "\\u0000",
    "%00%0d%0a",
    "null",
    "undefined",
    "NaN",
    "\ud800",
    "\udfff\ud800",
    "🙂" * 500,
    "\t\n\r ",
]
USER_IDS = ["resident-1", "tg:42", "wx:o6_bmjrPTlm6", "居民甲", "a b/c?d#e", "x" * 128, "web:" + "f" * 32]


@dataclass
class Case:
    kind: str
    method: str
    path: str
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    allowed: frozenset[int] = frozenset({200})
    valid: bool = False  # a message the assistant must answer (200 with replies, or 503 kept)
    # send it with the token the gateway issues to this id (the runner obtains it as an
    # integrator); None: the headers above as they are (no token, or a forged one)
    resident: str | None = None


def _text(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.35:
        parts = [rng.choice(QUESTIONS)] + [rng.choice(NASTY) for _ in range(rng.randint(0, 2))]
        rng.shuffle(parts)
        return "".join(parts)
    if roll < 0.45:
        return rng.choice(QUESTIONS) * rng.randint(100, 4000)  # up to ~100 KB
    if roll < 0.8:
        return rng.choice(NASTY) + rng.choice(NASTY)
    return "".join(
        chr(
            rng.choice(
                [
                    rng.randint(0, 0x2FF),
                    rng.randint(0x4E00, 0x9FFF),
                    rng.randint(0x1F300, 0x1FAFF),
                    rng.randint(0xD800, 0xDFFF),
                    rng.randint(0xE000, 0x10FFFF),
                ]
            )
        )
        for _ in range(rng.randint(0, 60))
    )


def _json(value: Any) -> bytes:
    # surrogates survive as \\ud800 escapes, as a client written in JavaScript would send them
    return json.dumps(value, ensure_ascii=True).encode("ascii")


def _token_mode(rng: random.Random) -> tuple[dict[str, str], bool]:
    """(extra headers, whether the runner adds the resident's own token): mostly the
    resident's own token, else none or a forged one, which must get 401."""
    roll = rng.random()
    if roll < 0.7:
        return {}, True
    if roll < 0.85:
        return {}, False
    return {
        "authorization": rng.choice(["Bearer forged", "Bearer " + "x" * 300, "Basic dXNlcjpwdw==", "Bearer"])
    }, False


def _message_case(rng: random.Random) -> Case:
    text = _text(rng)
    user = (rng.choice(USER_IDS) + ("" if rng.random() < 0.5 else f"-{rng.randint(0, 10**6)}"))[-128:]
    headers, own_token = _token_mode(rng)
    # web: ids are the gateway's to give, tg:/wx: the channels': no token is ever issued for them
    issuable = not user.startswith(("tg:", "wx:", "web:"))
    # something left once control characters and lone surrogates are set aside: it must be answered
    valid = (
        any(not c.isspace() and unicodedata.category(c) not in ("Cc", "Cs") for c in text) and own_token and issuable
    )
    return Case(
        "message",
        "POST",
        "/api/v1/messages",
        _json({"user_id": user, "text": text}),
        {"content-type": "application/json", **headers},
        allowed=frozenset({200, 401, 422, 429}),
        valid=valid,
        resident=user if own_token and issuable else None,
    )


def _resident_case(rng: random.Random) -> Case:
    body = rng.choice(
        [
            b"",
            b"{}",
            b"[]",
            b"{",
            b"null",
            _json({"user_id": rng.choice(USER_IDS)}),
            _json({"user_id": rng.choice(NASTY)}),
            _json({"user_id": 7}),
            b"\xff\xfe",
        ]
    )
    headers = rng.choice([{}, {"authorization": "Bearer not-an-integrator-key"}, {"authorization": "Bearer"}])
    return Case(
        "residents",
        "POST",
        "/api/v1/residents",
        body,
        {"content-type": "application/json", **headers},
        allowed=frozenset({201, 400, 403, 413, 415, 422, 429}),
    )


def _malformed_body_case(rng: random.Random) -> Case:
    bodies = [
        b"",
        b"{",
        b"[]",
        b"null",
        b"123",
        b'"text"',
        b'{"user_id": 1, "text": 2}',
        b'{"user_id": "a"}',
        b"\xff\xfe\x00garbage",
        '{"user_id": "a", "text": "工资"}'.encode("gbk"),
        b"[" * 50_000 + b"]" * 50_000,
        b'{"a":' * 20_000 + b"1" + b"}" * 20_000,
        b'{"user_id": "a", "text": "' + b"x" * 1_200_000 + b'"}',
        _json({"user_id": "a", "text": "工资", "extra": list(range(1000))}),
        _json({"user_id": ["a"], "text": {"nested": True}}),
    ]
    content_type = rng.choice(
        ["application/json", "application/json; charset=utf-8", "text/plain", "application/x-www-form-urlencoded", ""]
    )
    return Case(
        "malformed",
        "POST",
        "/api/v1/messages",
        rng.choice(bodies),
        {"content-type": content_type} if content_type else {},
        allowed=frozenset({200, 400, 401, 413, 415, 422, 429}),
    )


def _read_case(rng: random.Random) -> Case:
    choice = rng.randrange(4)
    headers, own_token = _token_mode(rng)
    user = rng.choice(USER_IDS)
    resident = user if own_token and not user.startswith(("tg:", "wx:", "web:")) else None
    if choice == 0:
        return Case(
            "read",
            "GET",
            f"/api/v1/messages/{rng.choice([uuid.uuid4().hex, 'x' * 300, '%00', '1 OR 1=1'])}",
            headers=headers,
            params={"user_id": user},
            allowed=frozenset({401, 404, 422, 429}),
            resident=resident,
        )
    if choice == 1:
        return Case(
            "read",
            "GET",
            "/api/v1/articles",
            params={
                "law": rng.choice(["劳动合同法", "<b>x</b>", "", "民法典" * 50]),
                "label": rng.choice(["第三十条", "第九九九九九九九九条", "第一千零一条之一", "'", "第条"]),
            },
            allowed=frozenset({200, 404, 422, 429}),
        )
    if choice == 2:  # a drafted application's signed link: forged, truncated, odd formats
        link = rng.choice(["InRlc3Qi.aGVsbG8.c2ln", "x" * 500, "%00", "..%2F..%2Fetc%2Fpasswd", uuid.uuid4().hex])
        return Case(
            "read",
            "GET",
            f"/api/v1/drafts/{link}",
            params={"format": rng.choice(["pdf", "docx", "exe", "", "PDF" * 40])},
            allowed=frozenset({404, 422, 429}),
        )
    user = rng.choice(["resident-1", "居民甲", "x" * 128, "tg:42"])
    return Case(
        "read",
        "GET",
        f"/api/v1/conversations/{user}/messages",
        headers=headers,
        params={"after": rng.choice(["0", "-1", "abc", "99999999999999999999"])},
        allowed=frozenset({200, 401, 404, 422, 429}),
        resident=user if own_token and ":" not in user else None,
    )


def wechat_signature(token: str, timestamp: str, nonce: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()


BOMB = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'.encode() for i in range(1, 10)
    )
    + b"]><xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName><MsgType>text</MsgType>"
    + b"<Content>&lol9;</Content></xml>"
)


def _wechat_case(rng: random.Random, token: str) -> Case:
    timestamp, nonce = str(int(time.time())), uuid.uuid4().hex[:10]
    signature = rng.choice([wechat_signature(token, timestamp, nonce), "forged", ""])
    openid = f"fuzz{rng.randint(0, 10**6)}"
    content = _text(rng)[:500]
    bodies = [
        BOMB,
        b"<xml>just text</xml>",
        b"<xml><unclosed>",
        b"[]",
        b"{}",
        rng.randbytes(64),
        (
            "<xml><ToUserName>gh</ToUserName><FromUserName>" + openid + "</FromUserName><MsgType>text</MsgType>"
            "<Content><![CDATA[" + content.replace("]]>", "") + "]]></Content></xml>"
        ).encode("utf-8", errors="replace"),
    ]
    good = signature not in ("forged", "")
    return Case(
        "wechat_push",
        "POST",
        "/wechat/push",
        rng.choice(bodies),
        {"content-type": "text/xml"},
        params={"signature": signature, "timestamp": timestamp, "nonce": nonce},
        allowed=frozenset({200, 400} if good else {403}),
    )


def _telegram_case(rng: random.Random, secret: str) -> Case:
    header = rng.choice([secret, "wrong", None])
    update = rng.choice([{}, {"update_id": "x"}, {"update_id": 1, "message": {"text": _text(rng)[:200]}}, [], "x"])
    return Case(
        "telegram_webhook",
        "POST",
        "/telegram/webhook",
        _json(update),
        {"content-type": "application/json", **({"X-Telegram-Bot-Api-Secret-Token": header} if header else {})},
        allowed=frozenset({200, 400} if header == secret else {403}),
    )


def _console_case(rng: random.Random) -> Case:
    body = rng.choice(
        [
            _json({"username": rng.choice(NASTY), "password": _text(rng)[:100]}),
            b"{",
            b"[]",
            _json({"username": "a" * 10_000, "password": "b"}),
        ]
    )
    return Case(
        "console_login",
        "POST",
        "/console/api/login",
        body,
        {"content-type": "application/json"},
        allowed=frozenset({400, 401, 415, 422, 429}),
    )


def generate(n: int, seed: int, wechat_token: str, telegram_secret: str) -> list[Case]:
    rng = random.Random(seed)
    makers = [
        (0.37, _message_case),
        (0.03, _resident_case),
        (0.15, _malformed_body_case),
        (0.15, _read_case),
        (0.12, lambda r: _wechat_case(r, wechat_token)),
        (0.08, lambda r: _telegram_case(r, telegram_secret)),
        (0.10, _console_case),
    ]
    weights = [w for w, _ in makers]
    return [rng.choices(makers, weights)[0][1](rng) for _ in range(n)]
