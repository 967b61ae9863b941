"""Time expressions in a query ("in May 2023", "on 13 October", "last week"), as windows
that a memory's time falls in or not."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

__all__ = ["TimeWindow", "time_window"]

_MONTHS = {name.casefold(): n for n, name in enumerate(calendar.month_name) if name}
_MONTHS |= {name.casefold(): n for n, name in enumerate(calendar.month_abbr) if name}
_MONTH = "|".join(sorted(_MONTHS, key=len, reverse=True))
_DAY_MONTH = re.compile(
    rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({_MONTH})\b\.?,?\s*(\d{{4}})?", re.IGNORECASE
)
_MONTH_DAY = re.compile(
    rf"\b({_MONTH})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b,?\s*(\d{{4}})?", re.IGNORECASE
)
_MONTH_YEAR = re.compile(rf"\b({_MONTH})\b\.?(?:\s*,?\s*(\d{{4}}))?", re.IGNORECASE)
_MAY_AS_MONTH = re.compile(r"\b(?:in|of|during|since|until|early|late|mid)\s+may\b", re.IGNORECASE)
_YEAR = re.compile(r"\b(1[89]\d{2}|20\d{2})\b")
_RELATIVE = re.compile(r"\b(yesterday|last\s+(?:week|month|year)|this\s+year)\b", re.IGNORECASE)

DAY_SLACK = timedelta(days=3)
"""How far from a named day a memory may be and still match: people tell of a day in the
days after it."""


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """A span of time a query asks about; unknown parts (no year given) match any."""

    year: int | None = None
    month: int | None = None
    day: int | None = None
    start: datetime | None = None
    end: datetime | None = None
    """For a relative expression: the span itself (start inclusive, end exclusive)."""

    def contains(self, moment: datetime) -> bool:
        """Whether ``moment`` falls in the window."""
        if self.start is not None and self.end is not None:
            return self.start <= moment < self.end
        if self.day is not None and self.month is not None:
            return self._near_day(moment)
        if self.month is not None and moment.month != self.month:
            return False
        return self.year is None or moment.year == self.year

    def _near_day(self, moment: datetime) -> bool:
        assert self.month is not None and self.day is not None
        for year in (self.year,) if self.year else (moment.year - 1, moment.year):
            try:
                named = date(year, self.month, self.day)
            except ValueError:
                return False
            if abs(moment.date() - named) <= DAY_SLACK:
                return True
        return False


def time_window(text: str, now: datetime) -> TimeWindow | None:
    """The first time expression in ``text`` as a window, or None when it names no time.

    Understood: a day ("13 October 2023", "October 13", "on the 1st of May"), a month
    ("in June", "July 2023"; "May" alone only after words like "in"), a year ("in 2023"), and
    "yesterday", "last week", "last month", "last year", "this year" counted from ``now``.
    """
    for found in _DAY_MONTH.finditer(text):
        day, month, year = int(found[1]), _MONTHS[found[2].casefold()], found[3]
        if 1 <= day <= 31:
            return TimeWindow(int(year) if year else None, month, day)
    for found in _MONTH_DAY.finditer(text):
        month, day, year = _MONTHS[found[1].casefold()], int(found[2]), found[3]
        if 1 <= day <= 31:
            return TimeWindow(int(year) if year else None, month, day)
    for found in _MONTH_YEAR.finditer(text):
        if found[2] or found[1].casefold() != "may" or _MAY_AS_MONTH.search(text):
            return TimeWindow(int(found[2]) if found[2] else None, _MONTHS[found[1].casefold()])
    relative = _RELATIVE.search(text)
    if relative:
        return _relative(" ".join(relative[1].casefold().split()), now)
    year = _YEAR.search(text)
    return TimeWindow(int(year[1])) if year else None


def _relative(phrase: str, now: datetime) -> TimeWindow:
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if phrase == "yesterday":
        return TimeWindow(start=today - timedelta(days=1), end=today)
    if phrase == "last week":
        monday = today - timedelta(days=today.weekday())
        return TimeWindow(start=monday - timedelta(days=7), end=monday)
    if phrase == "last month":
        first = today.replace(day=1)
        previous = (first - timedelta(days=1)).replace(day=1)
        return TimeWindow(start=previous, end=first)
    if phrase == "last year":
        return TimeWindow(year=now.year - 1)
    return TimeWindow(year=now.year)
