"""Residents' colloquial and Cantonese wording → the words statutes use.

Lexical matching against statute text fails on 「老细唔出粮」 unless it reads
「老板不发工资」; dense retrieval copes better but gains too. Longest phrases
are replaced first. Traditional characters are folded by the shared
normaliser before this table applies.
"""

from __future__ import annotations

import re
from functools import lru_cache

import yaml

from nlu.text_normaliser import fold_for_matching
from settings import get_settings

# phrase → statute wording; longer keys win over their substrings
COLLOQUIAL = {
    "唔出粮": "不发工资",
    "冇出粮": "没有发工资",
    "出粮": "发工资",
    "粮期": "工资支付日",
    "被炒鱿鱼": "被解雇",
    "炒鱿鱼": "解雇",
    "炒咗": "解雇了",
    "被炒": "被解雇",
    "俾人炒": "被解雇",
    "按金": "押金",
    "订金": "定金",
    "劏房": "出租房",
    "收楼": "收回房屋",
    "加租": "增加租金",
    "工钱": "工资",
    "俾人工": "给工资",
    "出人工": "发工资",
    "拖人工": "拖欠工资",
    "薪水": "工资",
    "薪金": "工资",
    "欠薪": "拖欠工资",
    "老细": "老板 用人单位",
    "老板": "老板 用人单位",
    "公司": "公司 用人单位",
    "返工": "上班",
    "放工": "下班",
    "开工": "上班",
    "做嘢": "工作",
    "打工": "工作",
    "补水": "加班费",
    "OT": "加班",
    "ot": "加班",
    "整亲": "受伤",
    "整伤": "受伤",
    "撞亲": "撞伤",
    "骑手": "骑手 劳动者",
    "外卖员": "骑手 劳动者",
    "快递小哥": "快递员",
    "lift": "电梯",
    "装电梯": "加装电梯",
    "续签": "续订",
    "续约": "续订",
    "到期": "到期 期满",
    "唔": "不",
    "冇": "没有",
    "俾": "给",
    "嘢": "东西",
    "咗": "了",
    "佢": "他",
    "係": "是",
    "点算": "怎么办",
    "点样": "怎样",
    "几多": "多少",
    "边度": "哪里",
    "嘅": "的",
}
_PATTERN = re.compile("|".join(re.escape(k) for k in sorted(COLLOQUIAL, key=len, reverse=True)))


def to_statute_wording(text: str) -> str:
    """Fold scripts and widths, then rewrite colloquial phrases (longest first)."""
    folded = fold_for_matching(text)
    return _PATTERN.sub(lambda m: COLLOQUIAL[m.group(0)], folded)


@lru_cache(maxsize=1)
def _concepts() -> list[tuple[tuple[str, ...], str]]:
    raw = yaml.safe_load(get_settings().content("legal_concepts.yml").read_text(encoding="utf-8")) or []
    return [(tuple(entry["when"]), str(entry["add"])) for entry in raw]


def expand_for_dense(text: str) -> str:
    """The statute wording of `text`, followed by the statutory terms of the
    legal concepts it mentions (knowledge_base/content/legal_concepts.yml).

    Only the dense query is expanded: measured on the dev set, the same terms
    in the BM25 query drown the resident's own specific words."""
    wording = to_statute_wording(text)
    extra = [add for when, add in _concepts() if any(w in wording for w in when)]
    return " ".join([wording, *extra]) if extra else wording
