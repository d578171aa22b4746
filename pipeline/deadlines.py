"""Deadlines on Vietnamese working days: due time, reminder and escalation of an item.

Pure: no database, no I/O, no clock. Every input is an aware ``datetime``; naive ones are
refused (``NaiveDatetimeError``). Results are in the calendar's zone (``Asia/Ho_Chi_Minh``,
UTC+7 all year: Vietnam has no daylight saving time).

Working days
    Monday to Friday, minus the public holidays ``holidays.country_holidays("VN")`` knows
    (Tết Dương lịch, the Tết Nguyên đán days, Giỗ Tổ Hùng Vương, 30/4, 1/5, 2/9 and its
    extra day, 24/11 from 2026, observed days), plus the Saturdays the package knows were
    swapped into working days. The government also moves days off by decision each year:
    those the package does not know yet are in ``DECIDED``, with the decision; a board
    passes its own (a province's day off) as ``extra_days_off`` and ``extra_working_days``
    (make-up Saturdays). The board's lists win; a day in both lists is an error.

Conventions (what an office expects)
    * A deadline ends at ``day_ends`` (17:00 local by default), the end of the office day,
      not at midnight: nobody publishes a late document at 23:59.
    * "Within N working days" of an arrival: the arrival day itself is not counted (Bộ luật
      Dân sự 2015, Điều 147: a period in days starts the day after the event). An arrival
      at or after ``day_ends``, or on a day that is not a working day, is deemed received on
      the next working day (as one-stop offices do). The deadline is ``day_ends`` of the Nth
      working day after the day of receipt; N = 0 means the day of receipt itself.
    * "Within N days" of an event (news, photos, clips): calendar days, weekends included,
      since a portal publishes news on weekends too; ``day_ends`` of the Nth day after the
      event's day, and never before the event itself.
    * A reminder is due ``remind_before`` ahead of the deadline, moved back to the latest
      moment in office hours (``day_starts``–``day_ends`` of a working day) at or before
      that, so a reminder that would fire at 03:00 on a Sunday fires on Friday at 17:00. It
      never fires before the start: if no office moment lies between the start and the
      requested time, it fires at the first office moment after the start (still before the
      deadline), or failing that at the requested time but not before the start.
    * Escalation is due ``escalate_after`` past the deadline, moved forward to the next
      office moment: an escalation never comes early, and not at night.
    * A reviewer asked late (his step began after the item's reminder was due: the step
      before took the time) gets no reminder, his request shows the deadline; and he is
      escalated no sooner than ``remind_before`` after he was asked, moved forward to the
      next office moment: the warning a reviewer asked in time had (``for_seat``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

import holidays

__all__ = [
    "DECIDED",
    "STATE_LABELS",
    "Calendar",
    "DeadlineRule",
    "NaiveDatetimeError",
    "Schedule",
    "State",
    "for_seat",
    "official_days_off",
    "official_weekend_workdays",
    "schedule",
    "state_at",
]

COUNTRY = "VN"
State = Literal["on_time", "remind", "overdue", "escalate"]
Unit = Literal["days", "working_days"]

STATE_LABELS: dict[str, str] = {
    "on_time": "Trong hạn",
    "remind": "Sắp đến hạn",
    "overdue": "Quá hạn",
    "escalate": "Quá hạn, đã báo cấp trên",
}

# Days the government moved that the installed ``holidays`` does not list: day -> whether
# it is a working day. Each line names its decision; drop a line once the package has it.
DECIDED: dict[date, bool] = {
    # Văn bản 12729/VPCP-KGVX, 25/12/2025: Tết Dương lịch 2026 from Thu 1/1 to Sun 4/1,
    # Friday 2/1 off for a working Saturday 10/1.
    date(2026, 1, 2): False,
    date(2026, 1, 10): True,
}

_ONE_DAY = timedelta(days=1)
_SEARCH_LIMIT = 400  # days: no run of days off is longer; guards against a bad configuration


class NaiveDatetimeError(ValueError):
    """A datetime without a time zone was given where an instant is needed."""


def _require_aware(value: datetime, name: str) -> None:
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise NaiveDatetimeError(
            f"{name} is a naive datetime ({value.isoformat()}): give it a time zone, "
            "e.g. datetime(..., tzinfo=ZoneInfo('Asia/Ho_Chi_Minh'))"
        )


@lru_cache(maxsize=64)
def _official(year: int) -> tuple[frozenset[date], frozenset[date]]:
    # Swaps may cross a year boundary (a Saturday of December made up for a day off in
    # January is recorded with the later year), so the neighbouring years are populated too.
    table = holidays.country_holidays(COUNTRY, years=range(year - 1, year + 2))
    off = {day for day in table if day.year == year}
    swapped = {day for day in getattr(table, "weekend_workdays", ()) if day.year == year}
    for day, working in DECIDED.items():  # absent from old versions, or not known yet
        if day.year == year:
            (swapped if working else off).add(day)
            (off if working else swapped).discard(day)
    return frozenset(off), frozenset(swapped)


def official_days_off(year: int) -> frozenset[date]:
    """Public holidays (with observed and substituted days) of ``year``, per ``holidays``
    and ``DECIDED``."""
    return _official(year)[0]


def official_weekend_workdays(year: int) -> frozenset[date]:
    """Weekend days of ``year`` made working days by a swap (``holidays``, ``DECIDED``)."""
    return _official(year)[1]


@dataclass(frozen=True)
class Calendar:
    """Working days and office hours; see the module docstring for the conventions."""

    extra_days_off: frozenset[date] = frozenset()
    extra_working_days: frozenset[date] = frozenset()  # e.g. a make-up Saturday
    tz: str = "Asia/Ho_Chi_Minh"
    day_starts: time = time(8, 0)
    day_ends: time = time(17, 0)

    def __post_init__(self) -> None:
        # Accept any iterable of dates (a set from a config file) and keep the value hashable.
        object.__setattr__(self, "extra_days_off", frozenset(self.extra_days_off))
        object.__setattr__(self, "extra_working_days", frozenset(self.extra_working_days))
        both = self.extra_days_off & self.extra_working_days
        if both:
            listed = ", ".join(sorted(day.isoformat() for day in both))
            raise ValueError(f"days both off and working: {listed}")
        ZoneInfo(self.tz)  # raises ZoneInfoNotFoundError for an unknown zone
        if self.day_starts.tzinfo is not None or self.day_ends.tzinfo is not None:
            raise ValueError("day_starts and day_ends are local wall-clock times, without tzinfo")
        if not self.day_starts < self.day_ends:
            raise ValueError(
                f"day_starts {self.day_starts} must be before day_ends {self.day_ends}"
            )

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)  # ZoneInfo caches instances per key

    def is_working_day(self, day: date) -> bool:
        if isinstance(day, datetime):
            raise TypeError("is_working_day takes a date; use local(dt).date() for a datetime")
        if day in self.extra_days_off:
            return False
        if day in self.extra_working_days:
            return True
        off, swapped = _official(day.year)
        if day.weekday() >= 5:
            return day in swapped
        return day not in off

    def local(self, moment: datetime, name: str = "moment") -> datetime:
        """``moment`` in the calendar's zone; naive datetimes are refused."""
        _require_aware(moment, name)
        return moment.astimezone(self.zone)

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """``day_ends`` of the ``days``-th working day after the day ``start`` is received."""
        _require_count(days)
        day = self._day_of_receipt(self.local(start, "start"))
        for _ in range(days):
            day = self._next_working_day(day)
        return self._end_of(day)

    def add_days(self, start: datetime, days: int) -> datetime:
        """``day_ends`` of the ``days``-th calendar day after ``start``'s day, never before it."""
        _require_count(days)
        local = self.local(start, "start")
        due = self._end_of(local.date() + timedelta(days=days))
        return due if due >= local else self._end_of(local.date() + _ONE_DAY)

    def working_days_between(self, start: datetime, end: datetime) -> int:
        """Working days after the day ``start`` is received that have ended by ``end``.

        The inverse of ``add_working_days``: ``working_days_between(s, add_working_days(s,
        n)) == n``. Zero when ``end`` is not after ``start``.
        """
        local_start = self.local(start, "start")
        local_end = self.local(end, "end")
        if local_end <= local_start:
            return 0
        count = 0
        day = self._next_working_day(self._day_of_receipt(local_start))
        while self._end_of(day) <= local_end:
            count += 1
            day = self._next_working_day(day)
        return count

    # -- helpers, all on local (calendar-zone) datetimes -------------------------------

    def _end_of(self, day: date) -> datetime:
        return datetime.combine(day, self.day_ends, tzinfo=self.zone)

    def _start_of(self, day: date) -> datetime:
        return datetime.combine(day, self.day_starts, tzinfo=self.zone)

    def _next_working_day(self, day: date) -> date:
        for _ in range(_SEARCH_LIMIT):
            day += _ONE_DAY
            if self.is_working_day(day):
                return day
        raise ValueError(f"no working day within {_SEARCH_LIMIT} days after {day}")

    def _day_of_receipt(self, local: datetime) -> date:
        day = local.date()
        if self.is_working_day(day) and local.time() < self.day_ends:
            return day
        return self._next_working_day(day)

    def _in_office_hours(self, local: datetime) -> bool:
        return (
            self.is_working_day(local.date()) and self.day_starts <= local.time() <= self.day_ends
        )

    def _office_moment_at_or_before(self, local: datetime, floor: datetime) -> datetime | None:
        """Latest office-hours moment at or before ``local`` and not before ``floor``."""
        if self._in_office_hours(local):
            return local if local >= floor else None
        day = local.date()
        if not (self.is_working_day(day) and local.time() > self.day_ends):
            day -= _ONE_DAY
        while self._end_of(day) >= floor:
            if self.is_working_day(day):
                return self._end_of(day)
            day -= _ONE_DAY
        return None

    def _office_moment_at_or_after(self, local: datetime) -> datetime:
        """Earliest office-hours moment at or after ``local``."""
        if self._in_office_hours(local):
            return local
        day = local.date()
        if self.is_working_day(day) and local.time() < self.day_starts:
            return self._start_of(day)
        return self._start_of(self._next_working_day(day))


def _require_count(days: int) -> None:
    if isinstance(days, bool) or not isinstance(days, int):
        raise TypeError(f"days must be an int, not {type(days).__name__}")
    if days < 0:
        raise ValueError(f"days must not be negative, got {days}")


@dataclass(frozen=True)
class DeadlineRule:
    """How long an item of one kind may wait: ``amount`` ``unit`` from its start."""

    kind: str  # "tin", "bai", "anh", "video", "van_ban"
    amount: int
    unit: Unit
    remind_before: timedelta = timedelta(hours=4)  # a reminder this long before the deadline
    escalate_after: timedelta = timedelta(0)  # escalate once past due by this much

    def __post_init__(self) -> None:
        if not self.kind:
            raise ValueError("kind must not be empty")
        _require_count(self.amount)
        if self.unit not in ("days", "working_days"):
            raise ValueError(f"unit must be 'days' or 'working_days', got {self.unit!r}")
        if self.remind_before < timedelta(0):
            raise ValueError("remind_before must not be negative")
        if self.escalate_after < timedelta(0):
            raise ValueError("escalate_after must not be negative")


@dataclass(frozen=True)
class Schedule:
    due: datetime
    remind_at: datetime  # in office hours when possible, never before the start
    escalate_at: datetime  # at or after due + escalate_after, in office hours

    def __post_init__(self) -> None:
        for name in ("due", "remind_at", "escalate_at"):
            _require_aware(getattr(self, name), name)


def schedule(rule: DeadlineRule, start: datetime, calendar: Calendar) -> Schedule:
    """Due time, reminder and escalation time of an item that started at ``start``."""
    local_start = calendar.local(start, "start")
    if rule.unit == "working_days":
        due = calendar.add_working_days(local_start, rule.amount)
    else:
        due = calendar.add_days(local_start, rule.amount)

    wanted = due - rule.remind_before
    remind_at = calendar._office_moment_at_or_before(wanted, floor=local_start)
    if remind_at is None:
        first = calendar._office_moment_at_or_after(local_start)
        remind_at = first if first <= due else max(wanted, local_start)

    escalate_at = calendar._office_moment_at_or_after(due + rule.escalate_after)
    return Schedule(due=due, remind_at=remind_at, escalate_at=escalate_at)


def for_seat(s: Schedule, rule: DeadlineRule, asked: datetime, calendar: Calendar) -> Schedule:
    """The item's schedule ``s`` as it stands for a seat asked at ``asked``: escalated no
    sooner than ``rule.remind_before`` after it, in office hours; asked at or after the
    reminder's time, it gets none (``remind_at`` is then its ``escalate_at``)."""
    local = calendar.local(asked, "asked")
    escalate_at = max(
        s.escalate_at, calendar._office_moment_at_or_after(local + rule.remind_before)
    )
    remind_at = s.remind_at if local < s.remind_at else escalate_at
    return Schedule(due=s.due, remind_at=remind_at, escalate_at=escalate_at)


def state_at(s: Schedule, now: datetime) -> State:
    """Where an item stands at ``now``; the deadline instant itself is still in time."""
    _require_aware(now, "now")
    if now > s.due:
        return "escalate" if now >= s.escalate_at else "overdue"
    if now >= s.remind_at:
        return "remind"
    return "on_time"
