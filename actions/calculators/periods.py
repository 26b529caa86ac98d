"""Dates as the statutes count them (民法典第二百零一条至第二百零三条).

Why not a library: the rules are three sentences of the civil code, and each
of them must be visible where a deadline or a length of service is computed,
with the convention stated to the resident.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta


def add_months(day: date, months: int) -> date:
    """The corresponding day `months` later; the month's last day when there is
    none (民法典第二百零二条: 31 January + 1 month = 28/29 February)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def add_years(day: date, years: int) -> date:
    return add_months(day, 12 * years)


@dataclass(frozen=True)
class Span:
    """Whole years, months and days between two dates, counted by corresponding day."""

    years: int
    months: int
    days: int

    @property
    def total_months(self) -> int:
        return 12 * self.years + self.months

    def describe(self) -> str:
        parts = []
        if self.years:
            parts.append(f"{self.years}年")
        if self.months:
            parts.append(f"{self.months}个月")
        if self.days:
            parts.append(f"{self.days}天")
        return "".join(parts) or "0天"


def span(start: date, end: date) -> Span:
    """From `start` to `end` (end exclusive: 1 March 2021 to 1 October 2024 is 3 years 7 months)."""
    if end < start:
        raise ValueError("end before start")
    months = (end.year - start.year) * 12 + (end.month - start.month)
    if add_months(start, months) > end:
        months -= 1
    days = (end - add_months(start, months)).days
    return Span(months // 12, months % 12, days)


def last_day_of_period(start: date, years: int = 0, months: int = 0) -> tuple[date, bool]:
    """The last day of a period that starts on the day after `start` (第二百零一条),
    ends on the corresponding day (第二百零二条) and, falling on a Saturday or
    Sunday, moves to the next Monday (第二百零三条).

    Returns the day and whether it moved. Public holidays (春节, 国庆 …) are
    not known here: the caller says so to the resident.
    """
    last = add_months(start, 12 * years + months)
    moved = False
    while last.weekday() >= 5:
        last += timedelta(days=1)
        moved = True
    return last, moved
