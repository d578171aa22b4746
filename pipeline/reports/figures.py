"""The activity report's charts, each drawn over the table it illustrates."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from pipeline.reports.activity import Activity, agency_is, kind_is
from pipeline.reports.charts import PALETTE, Series, bars
from pipeline.reports.royalty import KINDS, LABELS

BLUE, GREEN, RED, GREY = PALETTE[0], PALETTE[1], PALETTE[2], PALETTE[4]
NAME_WIDTH = 40  # characters of an agency's name on an axis


def _short(name: str) -> str:
    return name if len(name) <= NAME_WIDTH else name[: NAME_WIDTH - 1] + "…"


MONTHLY_AT_MOST = 24  # months drawn a bar each; a longer period is drawn a bar a year


def _months(a: Activity) -> list[datetime]:
    zone = ZoneInfo(a.board.timezone)
    month = a.period.start.astimezone(zone).replace(day=1, hour=0, minute=0, second=0)
    out: list[datetime] = []
    while month < a.period.end and len(out) <= MONTHLY_AT_MOST:
        out.append(month)
        month = (month + timedelta(days=32)).replace(day=1)
    return out


def by_month(a: Activity) -> str | None:
    """Received and published per month; per year over a period longer than two years,
    from the first year to the last with any (a period typed as 1900 to 9998 is drawn
    over the years on record, not as 97,000 months)."""
    zone = ZoneInfo(a.board.timezone)
    months = _months(a)
    monthly = len(months) <= MONTHLY_AT_MOST
    form = "%m/%Y" if monthly else "%Y"

    def bucket(moment: datetime | None) -> str | None:
        return moment.astimezone(zone).strftime(form) if moment else None

    received = Counter(bucket(f.arrived_at) for f in a.received)
    published = Counter(bucket(f.published_at) for f in a.published)
    if monthly:
        labels = [m.strftime(form) for m in months]
    else:
        years = [int(y) for y in (received | published) if y]
        if not years:
            return None
        labels = [str(y) for y in range(min(years), max(years) + 1)]
    return bars(
        f"Tin, bài nhận được và được đăng theo {'tháng' if monthly else 'năm'}",
        labels,
        [
            Series("Đã nhận", [received[x] for x in labels]),
            Series("Được đăng", [published[x] for x in labels]),
        ],
        chart_id="bieu-do-thang",
    )


def by_agency(a: Activity) -> str | None:
    rows = [(name, a.tally(agency_is(ref))) for name, ref in a.agencies()]
    rows = [(name, t) for name, t in rows if t.received or t.published or t.rejected]
    if not rows:
        return None
    return bars(
        "Tin, bài theo cơ quan, đơn vị",
        [_short(name) for name, _ in rows],
        [
            Series("Đã nhận", [t.received for _, t in rows]),
            Series("Được đăng", [t.published for _, t in rows]),
            Series("Không duyệt", [t.rejected for _, t in rows], RED),
        ],
        horizontal=True,
        chart_id="bieu-do-co-quan",
    )


def against_plan(a: Activity) -> str | None:
    rows = [(name, a.planned(ref), ref) for name, ref in a.agencies() if ref]
    planned = [(name, plan, a.tally(agency_is(ref))) for name, plan, ref in rows if plan]
    if not planned:
        return None
    return bars(
        "Kế hoạch và số tin, bài đã gửi",
        [_short(name) for name, _, _ in planned],
        [
            Series("Kế hoạch", [plan for _, plan, _ in planned], GREY),
            Series("Đã gửi", [t.received for _, _, t in planned], BLUE),
        ],
        horizontal=True,
        chart_id="bieu-do-ke-hoach",
    )


def on_time(a: Activity) -> str | None:
    rows = [(LABELS[k], a.tally(kind_is(k))) for k in KINDS]
    rows = [(label, t) for label, t in rows if t.timed]
    if not rows:
        return None
    return bars(
        "Đăng đúng hạn và trễ hạn theo loại",
        [label for label, _ in rows],
        [
            Series("Đúng hạn", [t.on_time for _, t in rows], GREEN),
            Series("Trễ hạn", [t.timed - t.on_time for _, t in rows], RED),
        ],
        horizontal=True,
        stacked=True,
        chart_id="bieu-do-dung-han",
    )


def charts(a: Activity) -> dict[str, str | None]:
    """Chart per table name of ``activity.tables``."""
    return {
        "tong-hop": by_month(a),
        "co-quan": by_agency(a),
        "dung-han": on_time(a),
        "ke-hoach": against_plan(a),
    }
