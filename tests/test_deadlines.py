"""Deadlines on Vietnamese working days (pipeline/deadlines.py).

Every instant is fixed; the real clock is never read. Holiday facts are the ones the
installed ``holidays`` package gives (inspected, not guessed): Tết 2026 is 16–20 Feb
(Tết Nguyên đán on Tue 17 Feb), Tết 2027 is 4–10 Feb, 2/9/2026 brings Mon 31 Aug off in
exchange for Sat 22 Aug worked.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
import pytest

from pipeline.deadlines import (
    DECIDED,
    STATE_LABELS,
    Calendar,
    DeadlineRule,
    NaiveDatetimeError,
    Schedule,
    official_days_off,
    official_weekend_workdays,
    schedule,
    state_at,
)

VN = ZoneInfo("Asia/Ho_Chi_Minh")
CAL = Calendar()


def at(y: int, m: int, d: int, hh: int = 10, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, ss, tzinfo=VN)


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(n) for n in range((last - first).days + 1)]


# -- what the holidays package says, and that the calendar follows it ------------------


def test_package_knows_tet_nguyen_dan_2026_and_2027() -> None:
    vn = holidays.country_holidays("VN", years=[2026, 2027], language="vi")
    assert vn.get(date(2026, 2, 17)) == "Tết Nguyên Đán"
    assert vn.get(date(2027, 2, 6)) == "Tết Nguyên Đán"
    assert set(days(date(2026, 2, 16), date(2026, 2, 20))) <= official_days_off(2026)
    assert set(days(date(2027, 2, 4), date(2027, 2, 10))) <= official_days_off(2027)


def test_tet_days_are_not_working_days() -> None:
    assert CAL.is_working_day(date(2026, 2, 13))  # Friday before Tết 2026
    assert not any(CAL.is_working_day(d) for d in days(date(2026, 2, 14), date(2026, 2, 22)))
    assert CAL.is_working_day(date(2026, 2, 23))
    assert CAL.is_working_day(date(2027, 2, 3))  # Wednesday before Tết 2027
    assert not any(CAL.is_working_day(d) for d in days(date(2027, 2, 4), date(2027, 2, 10)))
    assert CAL.is_working_day(date(2027, 2, 11))


@pytest.mark.parametrize(
    "day",
    [
        date(2026, 1, 1),  # Tết Dương lịch
        date(2026, 4, 27),  # Giỗ Tổ Hùng Vương falls on Sunday 26/4: observed Monday
        date(2026, 4, 30),
        date(2026, 5, 1),
        date(2026, 8, 31),  # swapped with Saturday 22/8
        date(2026, 9, 1),  # the extra National Day
        date(2026, 9, 2),
        date(2026, 11, 24),  # Ngày Văn hóa Việt Nam, from 2026
        date(2027, 4, 16),  # Hùng Kings 2027
        date(2027, 5, 3),  # 1/5/2027 is a Saturday: observed Monday
        date(2027, 9, 3),
    ],
)
def test_public_holidays_are_not_working_days(day: date) -> None:
    assert day.weekday() < 5
    assert not CAL.is_working_day(day)


def test_weekends_are_off_weekdays_on() -> None:
    assert [CAL.is_working_day(d) for d in days(date(2026, 3, 2), date(2026, 3, 8))] == [
        True,
        True,
        True,
        True,
        True,
        False,
        False,
    ]


def test_swapped_saturday_from_the_package_is_a_working_day() -> None:
    assert date(2026, 8, 22) in official_weekend_workdays(2026)
    assert CAL.is_working_day(date(2026, 8, 22))
    assert not CAL.is_working_day(date(2026, 8, 29))


def test_calendar_agrees_with_the_package_over_two_years() -> None:
    """But for the swaps decided after the package's release (``DECIDED``)."""
    vn = holidays.country_holidays("VN", years=[2026, 2027])
    for d in days(date(2026, 1, 1), date(2027, 12, 31)):
        assert CAL.is_working_day(d) == DECIDED.get(d, vn.is_working_day(d)), d


def test_new_year_2026_as_the_government_moved_it() -> None:
    """Văn bản 12729/VPCP-KGVX: 1–4/1/2026 off, Friday 2/1 made up on Saturday 10/1. A
    document arriving on New Year's Eve is due the Tuesday after; one arriving on Friday
    9/1 counts the make-up Saturday."""
    assert not CAL.is_working_day(date(2026, 1, 2))
    assert CAL.is_working_day(date(2026, 1, 10))
    assert CAL.add_working_days(at(2025, 12, 31, 16), 2) == at(2026, 1, 6, 17)
    assert CAL.add_working_days(at(2026, 1, 9, 10), 2) == at(2026, 1, 12, 17)


def test_is_working_day_refuses_a_datetime() -> None:
    with pytest.raises(TypeError):
        CAL.is_working_day(at(2026, 3, 2))


# -- within N working days --------------------------------------------------------------


def test_arrival_in_office_hours_counts_from_the_next_day() -> None:
    assert CAL.add_working_days(at(2026, 3, 2, 10), 2) == at(2026, 3, 4, 17)  # Mon → Wed
    assert CAL.add_working_days(at(2026, 3, 2, 16, 59, 59), 1) == at(2026, 3, 3, 17)
    assert CAL.add_working_days(at(2026, 3, 2, 10), 0) == at(2026, 3, 2, 17)


def test_arrival_at_or_after_day_end_counts_from_the_next_working_day() -> None:
    assert CAL.add_working_days(at(2026, 3, 2, 17), 2) == at(2026, 3, 5, 17)  # Mon 17:00 → Thu
    assert CAL.add_working_days(at(2026, 3, 2, 17), 0) == at(2026, 3, 3, 17)


def test_arrival_on_friday_evening() -> None:
    assert CAL.add_working_days(at(2026, 3, 6, 10), 2) == at(2026, 3, 10, 17)  # Fri day → Tue
    assert CAL.add_working_days(at(2026, 3, 6, 18, 30), 2) == at(2026, 3, 11, 17)  # → Wed


def test_arrival_on_a_weekend_counts_as_monday() -> None:
    assert CAL.add_working_days(at(2026, 3, 7, 9), 2) == at(2026, 3, 11, 17)
    assert CAL.add_working_days(at(2026, 3, 8, 23, 59), 0) == at(2026, 3, 9, 17)


def test_arrival_the_day_before_tet_2026() -> None:
    # Friday 13/2; 14–22/2 are weekend and Tết: Mon 23/2 is day 1, Tue 24/2 day 2.
    assert CAL.add_working_days(at(2026, 2, 13, 10), 2) == at(2026, 2, 24, 17)
    assert CAL.add_working_days(at(2026, 2, 13, 17, 30), 2) == at(2026, 2, 25, 17)


def test_arrival_the_day_before_tet_2027() -> None:
    # Wednesday 3/2; 4–10/2 are Tết (6–7/2 a weekend inside it).
    assert CAL.add_working_days(at(2027, 2, 3, 10), 2) == at(2027, 2, 12, 17)
    assert CAL.add_working_days(at(2027, 2, 3, 18), 2) == at(2027, 2, 15, 17)
    assert CAL.add_working_days(at(2027, 2, 6, 10), 1) == at(2027, 2, 12, 17)  # on Tết itself


def test_reunification_and_labour_day() -> None:
    # 2026: Thu 30/4 and Fri 1/5, then a weekend.
    assert CAL.add_working_days(at(2026, 4, 29, 10), 2) == at(2026, 5, 5, 17)
    # 2027: Fri 30/4, Sat 1/5 observed Mon 3/5.
    assert CAL.add_working_days(at(2027, 4, 29, 10), 2) == at(2027, 5, 5, 17)


def test_national_day_2026_with_its_swap() -> None:
    # Sat 22/8 is worked for Mon 31/8; 1–2/9 are National Day.
    assert CAL.add_working_days(at(2026, 8, 21, 10), 1) == at(2026, 8, 22, 17)
    assert CAL.add_working_days(at(2026, 8, 28, 10), 2) == at(2026, 9, 4, 17)


def test_configured_make_up_saturday() -> None:
    saturday = date(2026, 3, 7)
    cal = Calendar(extra_working_days=frozenset({saturday}))
    assert not CAL.is_working_day(saturday)
    assert cal.is_working_day(saturday)
    assert CAL.add_working_days(at(2026, 3, 6, 10), 1) == at(2026, 3, 9, 17)
    assert cal.add_working_days(at(2026, 3, 6, 10), 1) == at(2026, 3, 7, 17)
    assert cal.add_working_days(at(2026, 3, 7, 9), 0) == at(2026, 3, 7, 17)  # arrives on it


def test_configured_extra_day_off() -> None:
    monday = date(2026, 3, 9)
    cal = Calendar(extra_days_off=frozenset({monday}))
    assert not cal.is_working_day(monday)
    assert cal.add_working_days(at(2026, 3, 6, 10), 1) == at(2026, 3, 10, 17)
    assert cal.add_working_days(at(2026, 3, 9, 10), 0) == at(2026, 3, 10, 17)


def test_configured_days_override_the_package() -> None:
    cal = Calendar(
        extra_days_off=frozenset({date(2026, 8, 22)}),  # the package's swapped Saturday
        extra_working_days=frozenset({date(2026, 11, 24)}),  # a package holiday
    )
    assert not cal.is_working_day(date(2026, 8, 22))
    assert cal.is_working_day(date(2026, 11, 24))


def test_calendar_takes_plain_sets_and_stays_hashable() -> None:
    cal = Calendar(extra_days_off={date(2026, 3, 9)})  # type: ignore[arg-type]
    assert cal.extra_days_off == frozenset({date(2026, 3, 9)})
    assert hash(cal) == hash(Calendar(extra_days_off=frozenset({date(2026, 3, 9)})))


def test_a_day_both_off_and_working_is_refused() -> None:
    both = frozenset({date(2026, 3, 7)})
    with pytest.raises(ValueError, match="2026-03-07"):
        Calendar(extra_days_off=both, extra_working_days=both)


def test_configurable_day_end() -> None:
    cal = Calendar(day_ends=time(16, 30))
    assert cal.add_working_days(at(2026, 3, 2, 10), 1) == at(2026, 3, 3, 16, 30)
    assert cal.add_working_days(at(2026, 3, 2, 16, 45), 1) == at(2026, 3, 4, 16, 30)
    assert CAL.add_working_days(at(2026, 3, 2, 16, 45), 1) == at(2026, 3, 3, 17)


def test_bad_calendar_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        Calendar(day_starts=time(17, 0), day_ends=time(8, 0))
    with pytest.raises(ZoneInfoNotFoundError):
        Calendar(tz="Asia/Lục_Nam")
    with pytest.raises(ValueError):
        CAL.add_working_days(at(2026, 3, 2), -1)


# -- within N calendar days --------------------------------------------------------------


def test_calendar_days_include_weekends_and_holidays() -> None:
    assert CAL.add_days(at(2026, 3, 6, 20), 2) == at(2026, 3, 8, 17)  # Fri event → Sunday
    assert CAL.add_days(at(2026, 2, 16, 9), 2) == at(2026, 2, 18, 17)  # inside Tết
    assert CAL.add_days(at(2026, 3, 2, 9), 0) == at(2026, 3, 2, 17)


def test_calendar_days_never_end_before_the_event() -> None:
    assert CAL.add_days(at(2026, 3, 2, 19), 0) == at(2026, 3, 3, 17)


# -- working days between ----------------------------------------------------------------


def test_working_days_between_across_tet() -> None:
    start = at(2026, 2, 13, 10)
    assert CAL.working_days_between(start, at(2026, 2, 22, 12)) == 0
    assert CAL.working_days_between(start, at(2026, 2, 23, 16, 59)) == 0
    assert CAL.working_days_between(start, at(2026, 2, 23, 17)) == 1
    assert CAL.working_days_between(start, at(2026, 2, 24, 17)) == 2
    assert CAL.working_days_between(start, at(2026, 2, 10)) == 0  # end before start


def test_working_days_between_inverts_add_working_days() -> None:
    cal = Calendar(extra_working_days=frozenset({date(2027, 1, 30)}))
    for start in (at(2026, 12, 31, 16), at(2027, 1, 29, 18), at(2027, 2, 3, 10)):
        for n in range(8):
            assert cal.working_days_between(start, cal.add_working_days(start, n)) == n


# -- schedules: reminder and escalation --------------------------------------------------

VAN_BAN = DeadlineRule("van_ban", 2, "working_days")
TIN = DeadlineRule("tin", 2, "days")


def test_schedule_of_a_document_on_working_days() -> None:
    s = schedule(VAN_BAN, at(2026, 3, 2, 10), CAL)
    assert s == Schedule(
        due=at(2026, 3, 4, 17), remind_at=at(2026, 3, 4, 13), escalate_at=at(2026, 3, 4, 17)
    )


def test_reminder_before_office_hours_moves_to_previous_day_end() -> None:
    rule = DeadlineRule("van_ban", 2, "working_days", remind_before=timedelta(hours=10))
    s = schedule(rule, at(2026, 3, 2, 10), CAL)
    assert s.remind_at == at(2026, 3, 3, 17)  # 07:00 Wed → 17:00 Tue


def test_reminder_on_a_holiday_moves_back_across_tet() -> None:
    rule = DeadlineRule("van_ban", 2, "working_days", remind_before=timedelta(days=2))
    s = schedule(rule, at(2026, 2, 13, 10), CAL)
    assert s.due == at(2026, 2, 24, 17)
    assert s.remind_at == at(2026, 2, 13, 17)  # Sunday 22/2 → Friday before Tết


def test_reminder_of_news_due_on_a_sunday_comes_on_friday() -> None:
    s = schedule(TIN, at(2026, 3, 6, 10), CAL)
    assert s.due == at(2026, 3, 8, 17)
    assert s.remind_at == at(2026, 3, 6, 17)
    assert s.escalate_at == at(2026, 3, 9, 8)  # not on the Sunday evening: Monday morning


def test_reminder_never_before_the_start() -> None:
    # Friday evening arrival, due Tuesday: three days back is before it; first office
    # moment after the start is Monday 08:00.
    rule = DeadlineRule("van_ban", 1, "working_days", remind_before=timedelta(days=3))
    s = schedule(rule, at(2026, 3, 6, 18, 30), CAL)
    assert s.due == at(2026, 3, 10, 17)
    assert s.remind_at == at(2026, 3, 9, 8)
    # Same-day deadline, arrival an hour before it: remind at once.
    rule0 = DeadlineRule("van_ban", 0, "working_days")
    assert schedule(rule0, at(2026, 3, 2, 16), CAL).remind_at == at(2026, 3, 2, 16)


def test_reminder_when_no_office_hours_lie_before_the_deadline() -> None:
    rule = DeadlineRule("tin", 0, "days")
    sunday = at(2026, 3, 8, 3)
    s = schedule(rule, sunday, CAL)
    assert s.due == at(2026, 3, 8, 17)
    assert s.remind_at == at(2026, 3, 8, 13)
    assert s.remind_at >= sunday


def test_escalation_delay_lands_in_office_hours() -> None:
    one_day = DeadlineRule("van_ban", 2, "working_days", escalate_after=timedelta(days=1))
    assert schedule(one_day, at(2026, 3, 2, 10), CAL).escalate_at == at(2026, 3, 5, 17)
    two_hours = DeadlineRule("van_ban", 2, "working_days", escalate_after=timedelta(hours=2))
    assert schedule(two_hours, at(2026, 3, 2, 10), CAL).escalate_at == at(2026, 3, 5, 8)
    before_tet = DeadlineRule("van_ban", 0, "working_days", escalate_after=timedelta(hours=1))
    assert schedule(before_tet, at(2026, 2, 13, 10), CAL).escalate_at == at(2026, 2, 23, 8)


def test_bad_rules_are_refused() -> None:
    with pytest.raises(ValueError):
        DeadlineRule("tin", -1, "days")
    with pytest.raises(ValueError):
        DeadlineRule("tin", 2, "weeks")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        DeadlineRule("tin", 2, "days", remind_before=timedelta(hours=-1))
    with pytest.raises(ValueError):
        DeadlineRule("tin", 2, "days", escalate_after=timedelta(hours=-1))


# -- states ------------------------------------------------------------------------------


def test_state_transitions() -> None:
    rule = DeadlineRule("van_ban", 2, "working_days", escalate_after=timedelta(days=1))
    s = schedule(rule, at(2026, 3, 2, 10), CAL)
    assert (s.remind_at, s.due, s.escalate_at) == (
        at(2026, 3, 4, 13),
        at(2026, 3, 4, 17),
        at(2026, 3, 5, 17),
    )
    assert state_at(s, at(2026, 3, 2, 10)) == "on_time"
    assert state_at(s, at(2026, 3, 4, 12, 59, 59)) == "on_time"
    assert state_at(s, at(2026, 3, 4, 13)) == "remind"
    assert state_at(s, at(2026, 3, 4, 17)) == "remind"  # the deadline instant is in time
    assert state_at(s, at(2026, 3, 4, 17, 0, 1)) == "overdue"
    assert state_at(s, at(2026, 3, 5, 16, 59, 59)) == "overdue"
    assert state_at(s, at(2026, 3, 5, 17)) == "escalate"


def test_escalation_at_once_skips_overdue() -> None:
    s = schedule(VAN_BAN, at(2026, 3, 2, 10), CAL)
    assert state_at(s, at(2026, 3, 4, 17)) == "remind"
    assert state_at(s, at(2026, 3, 4, 17, 0, 1)) == "escalate"


def test_state_labels_are_vietnamese() -> None:
    assert STATE_LABELS == {
        "on_time": "Trong hạn",
        "remind": "Sắp đến hạn",
        "overdue": "Quá hạn",
        "escalate": "Quá hạn, đã báo cấp trên",
    }


# -- time zones --------------------------------------------------------------------------


def test_instants_in_other_zones_are_converted() -> None:
    # 09:59 UTC is 16:59 in Hà Nội (office day still open); 10:30 UTC is 17:30 (closed).
    friday_open = datetime(2026, 3, 6, 9, 59, tzinfo=UTC)
    friday_closed = datetime(2026, 3, 6, 10, 30, tzinfo=UTC)
    assert CAL.add_working_days(friday_open, 1) == at(2026, 3, 9, 17)
    assert CAL.add_working_days(friday_closed, 1) == at(2026, 3, 10, 17)
    # Sunday 29/3/2026 23:30 in Berlin (after its DST change) is Monday 04:30 in Hà Nội.
    berlin = datetime(2026, 3, 29, 23, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    assert CAL.add_working_days(berlin, 0) == at(2026, 3, 30, 17)


def test_results_are_local_and_utc_plus_seven_all_year() -> None:
    for month in range(1, 13):
        due = CAL.add_working_days(datetime(2026, month, 10, 3, tzinfo=UTC), 1)
        assert due.tzinfo == VN
        assert due.utcoffset() == timedelta(hours=7)
        assert due.time() == time(17, 0)
    # No DST: exactly 24 hours between consecutive 17:00 deadlines, spring and autumn alike.
    for day in (date(2026, 3, 30), date(2026, 10, 26)):
        first = CAL.add_days(datetime.combine(day, time(9), VN), 0)
        second = CAL.add_days(datetime.combine(day, time(9), VN), 1)
        assert second - first == timedelta(hours=24)


def test_naive_datetimes_are_refused() -> None:
    naive = datetime(2026, 3, 2, 10)
    with pytest.raises(NaiveDatetimeError, match="naive datetime"):
        CAL.add_working_days(naive, 2)
    with pytest.raises(NaiveDatetimeError, match="start"):
        CAL.add_days(naive, 2)
    with pytest.raises(NaiveDatetimeError, match="end"):
        CAL.working_days_between(at(2026, 3, 2), naive)
    with pytest.raises(NaiveDatetimeError):
        schedule(VAN_BAN, naive, CAL)
    s = schedule(VAN_BAN, at(2026, 3, 2), CAL)
    with pytest.raises(NaiveDatetimeError, match="now"):
        state_at(s, naive)
    with pytest.raises(NaiveDatetimeError, match="due"):
        Schedule(due=naive, remind_at=s.remind_at, escalate_at=s.escalate_at)
    assert issubclass(NaiveDatetimeError, ValueError)
