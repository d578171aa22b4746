"""The periodic activity report: what came in, what went live, what was refused.

Each count is of what happened in the period: an item is received when it arrived,
published when it first went live (see ``record``), refused when it was rejected, so an
item that arrived in March and went live in July counts in both halves of the year, once
each. An item in several fields (or owned by several members) counts under each of them.
On time: published no later than its due time, or than the later time the board set for
it to go live before that (``bientap schedule``); items of a kind without a deadline are
left out of that share. The quota planned per agency (``[[reports.quotas]]``) is scaled
to the period by its length and set against what the agency sent in it.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property

from sqlalchemy.orm import Session

from pipeline.config import ROLE_LABELS, Board
from pipeline.reports.periods import MONTHS, Period
from pipeline.reports.record import Fact, facts
from pipeline.reports.royalty import KINDS, LABELS, OTHER
from pipeline.reports.tables import TOTAL, Cell, Column, Table

NO_AGENCY = "(không xác định)"
NO_FIELD = "(chưa phân lĩnh vực)"
NO_MEMBER = "(không có thành viên phụ trách)"


@dataclass(frozen=True)
class Tally:
    received: int = 0
    published: int = 0
    rejected: int = 0
    timed: int = 0  # published items that had a due time
    on_time: int = 0

    @property
    def on_time_share(self) -> float | None:
        return self.on_time / self.timed if self.timed else None


@dataclass(frozen=True)
class Activity:
    board: Board
    period: Period
    facts: tuple[Fact, ...]

    @cached_property
    def received(self) -> list[Fact]:
        return [f for f in self.facts if self.period.contains(f.arrived_at)]

    @cached_property
    def published(self) -> list[Fact]:
        return [f for f in self.facts if self.period.contains(f.published_at)]

    @cached_property
    def rejected(self) -> list[Fact]:
        return [f for f in self.facts if self.period.contains(f.rejected_at)]

    def tally(self, keep: Callable[[Fact], bool] = lambda f: True) -> Tally:
        published = [f for f in self.published if keep(f)]
        timed = [f for f in published if f.due_at is not None]
        return Tally(
            received=sum(1 for f in self.received if keep(f)),
            published=len(published),
            rejected=sum(1 for f in self.rejected if keep(f)),
            timed=len(timed),
            on_time=sum(1 for f in timed if _in_time(f)),
        )

    def median_hours(self, keep: Callable[[Fact], bool] = lambda f: True) -> float | None:
        """Median time from arrival to first publication, of items published in the period."""
        spans = [
            (f.published_at - f.arrived_at).total_seconds() / 3600
            for f in self.published
            if keep(f) and f.published_at is not None
        ]
        return statistics.median(spans) if spans else None

    # -- groupings ----------------------------------------------------------------------

    def agencies(self) -> list[tuple[str, str | None]]:
        """(name, id) of every agency of the board, in the configuration's order, then
        agencies on record the configuration no longer has, then items of none."""
        known: list[tuple[str, str | None]] = [(a.name, a.id) for a in self.board.agencies]
        ids = {a.id for a in self.board.agencies}
        seen = sorted({f.agency_id for f in self.facts if f.agency_id and f.agency_id not in ids})
        rows = known + [(ref, ref) for ref in seen]
        if any(f.agency_id is None for f in self.facts):
            rows.append((NO_AGENCY, None))
        return rows

    def planned(self, agency_id: str) -> float | None:
        quota = next((q for q in self.board.reports.quotas if q.agency == agency_id), None)
        if quota is None:
            return None
        return round(quota.items * self.period.months / MONTHS[quota.per], 1)


def _in_time(f: Fact) -> bool:
    return f.published_at is not None and f.due_at is not None and f.published_at <= f.due_at


def report(session: Session, board: Board, period: Period) -> Activity:
    return Activity(board, period, tuple(facts(session, board.id, period)))


# -- tables -------------------------------------------------------------------------------

_COUNTS = (
    Column("Đã nhận", "int"),
    Column("Được đăng", "int"),
    Column("Không duyệt", "int"),
    Column("Tỷ lệ đăng đúng hạn", "pct"),
)


def _counts(t: Tally) -> tuple[Cell, ...]:
    return (t.received, t.published, t.rejected, t.on_time_share)


def _grouped(
    a: Activity, groups: Iterable[tuple[tuple[Cell, ...], Callable[[Fact], bool]]]
) -> tuple[tuple[Cell, ...], ...]:
    rows = []
    for label, keep in groups:
        tally = a.tally(keep)
        rows.append((*label, *_counts(tally)))
    return tuple(rows)


def _summary(a: Activity) -> Table:
    t = a.tally()
    return Table(
        "tong-hop",
        "Tổng hợp",
        (
            *_COUNTS[:3],
            Column("Đăng có hạn", "int"),
            Column("Đăng đúng hạn", "int"),
            _COUNTS[3],
            Column("Thời gian trung vị từ khi nhận đến khi đăng (giờ)", "hours"),
        ),
        (
            (
                t.received,
                t.published,
                t.rejected,
                t.timed,
                t.on_time,
                t.on_time_share,
                a.median_hours(),
            ),
        ),
        note="Đúng hạn: đăng không muộn hơn thời hạn của loại tin, bài.",
    )


def _by_agency(a: Activity) -> Table:
    groups = [((name,), agency_is(ref)) for name, ref in a.agencies()]
    return Table(
        "co-quan",
        "Theo cơ quan, đơn vị",
        (Column("Cơ quan, đơn vị"), *_COUNTS),
        _grouped(a, groups),
        (TOTAL, *_counts(a.tally())),
        sheet="Theo cơ quan",
    )


def agency_is(ref: str | None) -> Callable[[Fact], bool]:
    return lambda f: f.agency_id == ref


def _by_field(a: Activity) -> Table:
    groups: list[tuple[tuple[Cell, ...], Callable[[Fact], bool]]] = [
        ((topic.name,), _has_field(topic.id)) for topic in a.board.fields
    ]
    if any(not f.field_ids for f in a.facts):
        groups.append(((NO_FIELD,), lambda f: not f.field_ids))
    return Table(
        "linh-vuc",
        "Theo lĩnh vực",
        (Column("Lĩnh vực"), *_COUNTS),
        _grouped(a, groups),
        note="Tin, bài thuộc nhiều lĩnh vực được tính ở mỗi lĩnh vực.",
    )


def _has_field(ref: str) -> Callable[[Fact], bool]:
    return lambda f: ref in f.field_ids


def _by_member(a: Activity) -> Table:
    on_record = {m for f in a.facts for m in f.member_ids}
    groups: list[tuple[tuple[Cell, ...], Callable[[Fact], bool]]] = [
        ((m.name, ROLE_LABELS[m.role]), _has_member(m.id))
        for m in a.board.members
        if m.fields or m.id in on_record
    ]
    if any(not f.member_ids for f in a.facts):
        groups.append(((NO_MEMBER, None), lambda f: not f.member_ids))
    return Table(
        "thanh-vien",
        "Theo thành viên phụ trách lĩnh vực",
        (Column("Thành viên"), Column("Chức danh"), *_COUNTS),
        _grouped(a, groups),
        note="Thành viên phụ trách lĩnh vực của tin, bài.",
        sheet="Theo thành viên",
    )


def _has_member(ref: str) -> Callable[[Fact], bool]:
    return lambda f: ref in f.member_ids


def kind_is(kind: str) -> Callable[[Fact], bool]:
    return lambda f: (f.kind if f.kind in KINDS else OTHER) == kind


def _on_time(a: Activity) -> Table:
    rows = []
    kinds = KINDS + ((OTHER,) if any(kind_is(OTHER)(f) for f in a.published) else ())
    for kind in kinds:
        t = a.tally(kind_is(kind))
        rows.append(
            (
                LABELS[kind],
                t.published,
                t.timed,
                t.on_time,
                t.timed - t.on_time,
                t.on_time_share,
                a.median_hours(kind_is(kind)),
            )
        )
    t = a.tally()
    return Table(
        "dung-han",
        "Đăng đúng hạn theo loại tin, bài",
        (
            Column("Loại"),
            Column("Được đăng", "int"),
            Column("Có thời hạn", "int"),
            Column("Đúng hạn", "int"),
            Column("Trễ hạn", "int"),
            Column("Tỷ lệ đúng hạn", "pct"),
            Column("Thời gian trung vị (giờ)", "hours"),
        ),
        tuple(rows),
        (
            TOTAL,
            t.published,
            t.timed,
            t.on_time,
            t.timed - t.on_time,
            t.on_time_share,
            a.median_hours(),
        ),
        sheet="Đúng hạn",
    )


def _quotas(a: Activity) -> Table:
    rows = []
    for name, ref in a.agencies():
        planned = a.planned(ref) if ref else None
        if planned is None:
            continue
        t = a.tally(agency_is(ref))
        rows.append(
            (name, planned, t.received, t.published, t.received / planned if planned else None)
        )
    return Table(
        "ke-hoach",
        "Kế hoạch tin, bài theo cơ quan, đơn vị",
        (
            Column("Cơ quan, đơn vị"),
            Column("Kế hoạch trong kỳ", "coef"),
            Column("Đã gửi", "int"),
            Column("Được đăng", "int"),
            Column("Tỷ lệ đạt kế hoạch", "pct"),
        ),
        tuple(rows),
        note="Kế hoạch phân bổ số lượng tin, bài của Ban Biên tập, quy về độ dài của kỳ.",
        sheet="Kế hoạch",
    )


def tables(a: Activity) -> list[Table]:
    """The report's tables, in the order of the page and the workbook."""
    return [_summary(a), _by_agency(a), _by_field(a), _by_member(a), _on_time(a), _quotas(a)]
