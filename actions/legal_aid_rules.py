"""The legal-aid intake's rules, apart from Rasa: reading answers (phone,
name, street, amount, article items) and judging the likely outcome.

Eligibility follows 《法律援助法》: 第三十一条 lists the civil and
administrative matters for which a person with economic hardship may get
legal aid; 第三十二条 lists when the hardship condition does not apply;
Guangzhou's 告知承诺制 lets the applicant commit to hardship instead of
proving it. The outcome is only a first view: staff decide.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from knowledge_base.chinese_numerals import parse_chinese_number, to_chinese_number
from knowledge_base.services import haizhu_streets
from nlu.text_normaliser import fold_for_matching

OUTSIDE_HAIZHU = "海珠区外"
NOT_INVOLVED = "不涉及"
CATEGORIES = {"labour": "劳动", "lease": "租房", "gig_work": "平台用工", "elevator": "加装电梯", "other_legal": "其他"}
_CATEGORY_WORDS = {
    "labour": ("labour", "劳动", "工资", "工伤", "社保", "辞退"),
    "lease": ("lease", "租"),
    "gig_work": ("gig_work", "骑手", "快递", "平台", "司机"),
    "elevator": ("elevator", "电梯"),
    "other_legal": ("other_legal", "其他", "别的"),
}
_MOBILE = re.compile(r"^(?:\+?86)?(1[3-9]\d{9})$")
_NAME = re.compile(r"^[\u4e00-\u9fffA-Za-z·•. ]{2,20}$")
_NAME_PREFIX = re.compile(r"^(我叫|我是|姓名[:：]?|名字[:：]?|叫)")
_ITEM = re.compile(r"[（(]?([一二三四五六七八九十]+|\d+)[)）]?")
_NONE = ("都不是", "没有", "不是", "以上都不", "不属于", "none")
_AMOUNT = re.compile(r"(\d+(?:\.\d+)?|[零一二两三四五六七八九十百千]+)\s*(万|千|k|K)?")
_CN_DIGITS = "零一二两三四五六七八九十百千"


def parse_phone(text: str) -> str | None:
    digits = re.sub(r"[\s\-()（）]", "", fold_for_matching(text))
    match = _MOBILE.match(digits)
    return match.group(1) if match else None


def parse_name(text: str) -> str | None:
    name = _NAME_PREFIX.sub("", (text or "").strip()).strip("。. ")
    return name if _NAME.match(name) else None


def parse_street(text: str) -> str | None:
    folded = fold_for_matching(text)
    if "海珠区外" in folded or "不在海珠" in folded:
        return OUTSIDE_HAIZHU
    return next((s for s in haizhu_streets() if s in folded), None)


def parse_category(text: str) -> str | None:
    folded = fold_for_matching(text).strip()
    for category, words in _CATEGORY_WORDS.items():
        if any(w in folded for w in words):
            return category
    return None


def parse_amount(text: str) -> str | None:
    """「9000元」「三千块」「2万」→ 9000元 / 3000元 / 20000元; 不涉及 / 不清楚 → 不涉及."""
    folded = fold_for_matching(text).replace(",", "").replace("，", "")
    if any(w in folded for w in ("不涉及", "不清楚", "没有", "不知道", "无")) and not re.search(r"\d", folded):
        return NOT_INVOLVED
    match = _AMOUNT.search(folded)
    if not match:
        return None
    number, unit = match.group(1), match.group(2)
    rest = folded[match.end() : match.end() + 1]
    if rest and (rest.isdigit() or rest in _CN_DIGITS):  # 「两万五」: ambiguous, ask again
        return None
    try:
        value = float(number) if number[0].isdigit() else float(parse_chinese_number(number.replace("两", "二")))
    except ValueError:
        return None
    value *= {"万": 10000, "千": 1000, "k": 1000, "K": 1000}.get(unit or "", 1)
    if value <= 0:
        return None
    return f"{value:.0f}元" if value == int(value) else f"{value:.2f}元"


def parse_item(text: str, items: int) -> int | None:
    """An item number 1..items of an article, or 0 for none of them."""
    folded = fold_for_matching(text).strip()
    if folded == "0" or any(w in folded for w in _NONE):
        return 0
    match = _ITEM.search(folded)
    if not match:
        return None
    token = match.group(1)
    try:
        number = int(token) if token.isdigit() else parse_chinese_number(token)
    except ValueError:
        return None
    return number if 1 <= number <= items else None


def article_items(text: str) -> list[tuple[int, str]]:
    """（一）…； lines of an article as (number, wording without the number and the final punctuation)."""
    found = []
    for line in text.splitlines():
        match = re.match(r"^[（(]([一二三四五六七八九十]+)[)）](.+?)[；。;]?$", line.strip())
        if match:
            found.append((parse_chinese_number(match.group(1)), match.group(2)))
    return found


@dataclass(frozen=True)
class Outcome:
    kind: str  # likely_eligible | needs_review | not_legal_aid
    title: str  # for the resident
    reason: str


WAIVER_ITEMS = (1, 2, 3, 4)  # 第三十二条 (一)-(四): no hardship condition
CATCH_ALL_31 = 9  # 第三十一条（九）法律、法规、规章规定的其他情形: staff must check which rule


def assess(art31: int, art32: int, hardship: bool | None) -> Outcome:
    waived = art32 in WAIVER_ITEMS
    if art31 == 0 and art32 == 0:
        return Outcome(
            "not_legal_aid",
            "可能不属于法律援助事项",
            "您的事项不在《法律援助法》第三十一条（现行有效）列明的事项中，也不属于第三十二条（现行有效）的情形。",
        )
    if art31 == CATCH_ALL_31 or art31 == 0:
        return Outcome("needs_review", "需要工作人员审查", "是否属于法律援助范围，需要工作人员根据具体法律规定审查。")
    if waived:
        return Outcome(
            "likely_eligible",
            "初步看符合申请条件",
            f"属于《法律援助法》第三十一条（现行有效）第（{to_chinese_number(art31)}）项所列事项，且属于第三十二条"
            f"（现行有效）第（{to_chinese_number(art32)}）项情形，不受经济困难条件限制。",
        )
    if hardship:
        return Outcome(
            "likely_eligible",
            "初步看符合申请条件",
            f"属于《法律援助法》第三十一条（现行有效）第（{to_chinese_number(art31)}）项所列事项，"
            "且您已按告知承诺制承诺经济困难。",
        )
    return Outcome(
        "needs_review",
        "需要工作人员审查",
        f"属于《法律援助法》第三十一条（现行有效）第（{to_chinese_number(art31)}）项所列事项，"
        "但没有作经济困难承诺，需要工作人员审查经济状况。",
    )
