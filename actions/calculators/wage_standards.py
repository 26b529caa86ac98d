"""Published wage figures that cap or floor a computation, as the operator set them.

The statutes point at numbers they do not contain: the city's average monthly
wage of the previous year (劳动合同法第四十七条第二款), the 统筹地区's average
wage (工伤保险条例第六十四条), the local minimum wage (劳动合同法实施条例第二十七条).
They change every year and are published by the city, so they are settings
(``amount|year|source``, README "Configuration"), never constants here; an unset
one is 待运营方确认 and the computation says it was not applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

UNCONFIRMED = "待运营方确认"


@dataclass(frozen=True)
class WageStandard:
    name: str  # 本地区上年度职工月平均工资
    amount: Decimal | None
    year: int | None
    source: str

    @property
    def known(self) -> bool:
        return self.amount is not None

    def describe(self) -> str:
        if self.amount is None:
            return f"{self.name}（{UNCONFIRMED}）"
        year = f"{self.year}年度" if self.year else "年度未注明"
        return f"{self.name} {self.amount:,}元（{year}，来源：{self.source or '未注明'}）"


def parse_standard(name: str, value: str) -> WageStandard:
    """``"11904|2024|广州市统计局公布"`` → the standard; ``""`` → unset.

    A malformed value is an operator's mistake that must not silently become a
    cap: it raises, and settings refuses to start with it."""
    value = (value or "").strip()
    if not value:
        return WageStandard(name, None, None, "")
    amount_text, _, rest = value.partition("|")
    year_text, _, source = rest.partition("|")
    try:
        amount = Decimal(amount_text.strip().replace(",", ""))
    except InvalidOperation:
        raise ValueError(f"{name}: {amount_text!r} is not an amount (amount|year|source)") from None
    if amount <= 0:
        raise ValueError(f"{name}: amount must be positive")
    year = int(year_text) if year_text.strip().isdigit() else None
    return WageStandard(name, amount, year, source.strip())


@dataclass(frozen=True)
class ConfiguredStandards:
    local_average: WageStandard  # 劳动合同法第四十七条第二款
    injury_average: WageStandard  # 工伤保险条例第六十四条
    minimum_wage: WageStandard  # 劳动合同法实施条例第二十七条


def configured(settings: Any) -> ConfiguredStandards:  # settings: settings.Settings
    """The three figures as the operator set them; raises on a malformed one
    (the action server checks them at start: a typo must not become a cap)."""
    return ConfiguredStandards(
        parse_standard("本地区上年度职工月平均工资", settings.local_average_wage_setting),
        parse_standard("统筹地区职工月平均工资", settings.injury_average_wage_setting),
        parse_standard("当地最低工资标准", settings.minimum_wage_setting),
    )
