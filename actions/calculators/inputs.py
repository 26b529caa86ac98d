"""What a resident types for a calculator's inputs: 「9000元」「1.2万」,
「2021年3月1日」「2021.3」「2021-03-01」, 「七级」, 「没有通知」.

A date without its day (「2021年3月」) is taken as the 1st and the reply says
so; a date that cannot be read is asked again, never guessed.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from actions.legal_aid_rules import NOT_INVOLVED, parse_amount
from knowledge_base.chinese_numerals import parse_chinese_number
from nlu.text_normaliser import fold_for_matching

_FULL_DATE = re.compile(r"(\d{4})\s*[年./-]\s*(\d{1,2})\s*[月./-]\s*(\d{1,2})\s*[日号]?")
_MONTH_DATE = re.compile(r"(\d{4})\s*[年./-]\s*(\d{1,2})\s*月?(?![\d./-])")
_GRADE = re.compile(r"([一二三四五六七八九十]+|\d+)\s*级")
_HOURS = re.compile(r"(\d+(?:\.\d+)?)\s*(?:个)?\s*(?:小时|钟|h|H)")
NO_WORDS = ("没有", "没", "未", "不", "冇", "否")
YES_WORDS = ("有", "是", "通知了", "提前", "对", "嗯")


def parse_wage(text: str) -> Decimal | None:
    # two numbers (「9000到10000」) are asked again; one without a unit (「每月9000」) is the wage
    numbers = re.findall(r"\d+(?:\.\d+)?", fold_for_matching(text or "").replace(",", ""))
    if len(numbers) > 1:
        return None
    amount = parse_amount(text or "")
    if amount is None or amount == NOT_INVOLVED:
        return Decimal(numbers[0]) if numbers and Decimal(numbers[0]) > 0 else None
    return Decimal(amount.removesuffix("元"))


def parse_date(text: str) -> tuple[date, bool] | None:
    """(the date, whether its day was assumed to be the 1st)."""
    folded = fold_for_matching(text or "")
    try:
        if match := _FULL_DATE.search(folded):
            return date(int(match.group(1)), int(match.group(2)), int(match.group(3))), False
        if match := _MONTH_DATE.search(folded):
            return date(int(match.group(1)), int(match.group(2)), 1), True
    except ValueError:  # 2月30日
        return None
    return None


def parse_grade(text: str) -> int | None:
    match = _GRADE.search(fold_for_matching(text or ""))
    if not match:
        return None
    token = match.group(1)
    grade = int(token) if token.isdigit() else parse_chinese_number(token)
    return grade if 1 <= grade <= 10 else None


def parse_hours(text: str) -> Decimal | None:
    folded = fold_for_matching(text or "")
    if match := _HOURS.search(folded):
        return Decimal(match.group(1))
    if bare := re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*", folded):
        return Decimal(bare.group(1))
    if any(w in folded for w in ("没有", "没加", "0")):
        return Decimal(0)
    return None


def parse_yes_no(text: str) -> bool | None:
    folded = fold_for_matching(text or "").strip()
    if any(folded.startswith(w) for w in NO_WORDS):
        return False
    if any(w in folded for w in YES_WORDS):
        return True
    return None
