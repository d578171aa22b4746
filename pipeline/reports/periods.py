"""Report periods: a month, quarter, half-year or year of the board's calendar, or any
range of days; each is a half-open interval [start, end) of board-local midnights."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

ROMAN = ("I", "II", "III", "IV")
MONTHS: dict[str, int] = {"month": 1, "quarter": 3, "half_year": 6, "year": 12}
YEARS = range(1900, 9999)  # years a period or a day typed by staff may fall in (9999 has no end)


class PeriodError(ValueError):
    """A period written in a way we do not read; the message says how to write it."""


@dataclass(frozen=True)
class Period:
    label: str  # "2026-H1", written back as it is read
    kind: str  # month | quarter | half_year | year | custom
    start: datetime  # aware, board-local midnight
    end: datetime  # exclusive

    @property
    def title(self) -> str:
        """The period as a Vietnamese heading says it: "Quý III năm 2026"."""
        phrase = self.phrase
        return phrase[0].upper() + phrase[1:]

    @property
    def phrase(self) -> str:
        """The period within a sentence: "Báo cáo hoạt động quý III năm 2026"."""
        return _PHRASES[self.kind](self)

    @property
    def last_day(self) -> date:
        return (self.end - timedelta(days=1)).date()

    @property
    def months(self) -> float:
        """Length in months, to scale a quota planned per month, quarter or year."""
        if self.kind in MONTHS:
            return float(MONTHS[self.kind])
        return (self.end - self.start).days * 12 / 365

    def contains(self, moment: datetime | None) -> bool:
        return moment is not None and self.start <= moment < self.end


def _month_start(year: int, month: int, tz: ZoneInfo) -> datetime:
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return datetime(year, month, 1, tzinfo=tz)


def _calendar(kind: str, year: int, index: int, tz: ZoneInfo) -> Period:
    """The ``index``-th (1-based) period of ``kind`` in ``year``."""
    months = MONTHS[kind]
    first = 1 + (index - 1) * months
    label = {
        "month": f"{year}-{index:02d}",
        "quarter": f"{year}-Q{index}",
        "half_year": f"{year}-H{index}",
        "year": f"{year}",
    }[kind]
    return Period(
        label, kind, _month_start(year, first, tz), _month_start(year, first + months, tz)
    )


# How a period is written, in the order tried; group 2 is the index within the year.
_FORMS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^(\d{4})$"), "year"),
    (re.compile(r"^(\d{4})-[Hh]([12])$"), "half_year"),
    (re.compile(r"^(\d{4})-[Qq]([1-4])$"), "quarter"),
    (re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$"), "month"),
)


def parse(text: str, tz: str) -> Period:
    """``2026``, ``2026-H1``, ``2026-Q3`` or ``2026-05`` in the board's zone ``tz``."""
    for pattern, kind in _FORMS:
        found = pattern.match(text.strip())
        if found and int(found.group(1)) in YEARS:
            index = int(found.group(2)) if kind != "year" else 1
            return _calendar(kind, int(found.group(1)), index, ZoneInfo(tz))
    raise PeriodError(
        f"kỳ báo cáo không hợp lệ: {text!r} (viết 2026, 2026-H1, 2026-Q3 hoặc 2026-05)"
    )


def days(first: date, last: date, tz: str) -> Period:
    """From the start of ``first`` to the end of ``last`` (both days included)."""
    if last < first:
        raise PeriodError(f"ngày kết thúc {last:%d/%m/%Y} trước ngày bắt đầu {first:%d/%m/%Y}")
    zone = ZoneInfo(tz)
    start = datetime(first.year, first.month, first.day, tzinfo=zone)
    end = datetime(last.year, last.month, last.day, tzinfo=zone) + timedelta(days=1)
    return Period(f"{first.isoformat()}..{last.isoformat()}", "custom", start, end)


def containing(kind: str, moment: datetime, tz: str) -> Period:
    local = moment.astimezone(ZoneInfo(tz))
    index = (local.month - 1) // MONTHS[kind] + 1
    return _calendar(kind, local.year, index, ZoneInfo(tz))


def last_ended(kind: str, now: datetime, tz: str) -> Period:
    """The period of ``kind`` that ended most recently at or before ``now``."""
    current = containing(kind, now, tz)
    return containing(kind, current.start - timedelta(microseconds=1), tz)


def _days(p: Period) -> str:
    if p.start.date() == p.last_day:
        return f"ngày {p.start:%d/%m/%Y}"
    return f"từ ngày {p.start:%d/%m/%Y} đến ngày {p.last_day:%d/%m/%Y}"


_PHRASES: dict[str, Callable[[Period], str]] = {
    "month": lambda p: f"tháng {p.start.month} năm {p.start.year}",
    "quarter": lambda p: f"quý {ROMAN[(p.start.month - 1) // 3]} năm {p.start.year}",
    "half_year": lambda p: f"6 tháng {'đầu' if p.start.month == 1 else 'cuối'} năm {p.start.year}",
    "year": lambda p: f"năm {p.start.year}",
    "custom": _days,
}
