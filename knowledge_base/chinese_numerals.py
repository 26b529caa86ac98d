"""Chinese numerals as statutes print them (第一百零三条, 第二十章) → integers, and dates
as replies and filed documents write them. Both the action server and the gateway use it."""

from __future__ import annotations

from datetime import date

_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_UNITS = {"十": 10, "百": 100, "千": 1000}
NUMERAL_CHARS = "".join(_DIGITS) + "".join(_UNITS)


def parse_chinese_number(text: str) -> int:
    """Parse 一百零三 → 103, 十 → 10, 二十 → 20, 一千二百六十 → 1260 (also Arabic digits)."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    if not text or any(ch not in _DIGITS and ch not in _UNITS for ch in text):
        raise ValueError(f"not a Chinese numeral: {text!r}")
    total, current = 0, 0
    for ch in text:
        if ch in _DIGITS:
            current = _DIGITS[ch]
        else:
            total += (current or 1) * _UNITS[ch]
            current = 0
    return total + current


def to_chinese_number(n: int) -> str:
    """103 → 一百零三, the form used in article labels (第一百零三条)."""
    if n <= 0:
        raise ValueError("only positive numbers")
    digits = "零一二三四五六七八九"
    parts, zero = [], False
    for unit_value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        d, n = divmod(n, unit_value)
        if d:
            if zero:
                parts.append("零")
                zero = False
            parts.append(digits[d] + unit)
        elif parts:
            zero = True
    out = "".join(parts)
    return out[1:] if out.startswith("一十") else out


def chinese_date(day: date) -> str:
    """「2025年9月1日」: one way for a reply, a reminder and an application to write a date."""
    return f"{day.year}年{day.month}月{day.day}日"
