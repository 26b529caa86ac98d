"""Folding of residents' text before keyword matching.

Residents write in simplified and traditional characters, full-width forms and
mixed case. Matching (emergency terms, the category classifier) should not
depend on which of those they used, so text is folded first. Pure Python so
both virtual environments can use it; the table covers the traditional forms
that occur in this domain's vocabulary rather than pulling in a full
converter into Rasa's pinned environment.
"""

from __future__ import annotations

import unicodedata

_TRADITIONAL = (
    "樓殺斬囉嗎係喺唔冇咗啲嘢點樣邊個麼們個這裡說話請謝還錢資勞動報薪闆單業費補償賠險務"
    "與關於對為時間會應當該沒開車禍醫療傷鑒認證據簽訂約東們權條證書進處"
    "電梯裝層戶採戶讓調員幫轉買賣貸款結離婚孩兒絕經濟爭議裁決申請執"
    "騙偷搶傷將從來過這麼樣實際網約騎滴遞歡餓問題氣飯館"
    "門橫鬧圍討體聽訪"
)
_SIMPLIFIED = (
    "楼杀斩啰吗系喺唔冇咗啲嘢点样边个么们个这里说话请谢还钱资劳动报薪板单业费补偿赔险务"
    "与关于对为时间会应当该没开车祸医疗伤鉴认证据签订约东们权条证书进处"
    "电梯装层户采户让调员帮转买卖贷款结离婚孩儿绝经济争议裁决申请执"
    "骗偷抢伤将从来过这么样实际网约骑滴递欢饿问题气饭馆"
    "门横闹围讨体听访"
)
assert len(_TRADITIONAL) == len(_SIMPLIFIED)
_TABLE = str.maketrans(_TRADITIONAL, _SIMPLIFIED)


def fold_for_matching(text: str | None) -> str:
    """NFKC (full-width → half-width), lower case, common traditional → simplified."""
    if not text:
        return ""
    return unicodedata.normalize("NFKC", text).lower().translate(_TABLE)
