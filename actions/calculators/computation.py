"""The result every calculator returns, and how money is rounded and written."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

CENT = Decimal("0.01")


def money(value: Decimal | int | float | str) -> Decimal:
    """Yuan to the fen, half up, as a payroll does."""
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def yuan(value: Decimal) -> str:
    """「36,000元」, 「1,551.72元」: fen only where there are any."""
    value = money(value)
    text = f"{value:,.2f}"
    return (text[:-3] if text.endswith(".00") else text) + "元"


def number(value: Decimal | float | int) -> str:
    """A count or a rate without trailing zeros: 4, 3.5, 1.5."""
    text = f"{Decimal(str(value)).normalize():f}"
    return text


@dataclass(frozen=True)
class Cited:
    """One article a computation rests on; `label` is how it is printed (第四十七条, 第二部分)."""

    law: str
    article: int
    why: str  # what the article decides in this computation, shown beside the quote


@dataclass(frozen=True)
class Computation:
    kind: str
    title: str  # 经济补偿
    amount: Decimal
    formula: str  # the arithmetic with the resident's numbers
    steps: tuple[str, ...]  # how each number was reached, in words
    articles: tuple[Cited, ...]
    assumptions: tuple[str, ...]
    inputs: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The contract of `make calc`'s last line."""
        amount = money(self.amount)
        return {
            "kind": self.kind,
            "amount": int(amount) if amount == amount.to_integral_value() else float(amount),
            "formula": self.formula,
            "articles": [{"law": a.law, "article": a.article} for a in self.articles],
            "assumptions": list(self.assumptions),
        }


class MissingInput(ValueError):
    """An input the computation cannot go without; `field` names it, so the
    dialogue can ask for exactly that and the command line can say which."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name
