"""The royalty statement (bảng kê nhuận bút) of a board for a period.

An item counts in the period its first publication falls in (see ``record``); what it
earns is its kind's coefficient × the board's unit value (``[reports.royalties]``),
rounded to the đồng. An item published and later withdrawn still counts: it was
published, and the statement is what the head approves (Khánh Hòa Đ5.8: counted, then
proposed for approval); such items are marked "Đã gỡ" in the detail sheet, so the head
sees them before approving. So is an item whose title and text went live before as
another item (the same article mailed and approved again): "Trùng nội dung với …".
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import cached_property
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from pipeline.config import Board, Royalties
from pipeline.docmeta import KIND_LABELS
from pipeline.reports.periods import Period
from pipeline.reports.record import Earlier, Fact, facts, repeats
from pipeline.reports.tables import TOTAL, Cell, Column, Table
from pipeline.textfold import fold

KINDS: tuple[str, ...] = ("tin", "bai", "anh", "video", "van_ban")
OTHER = "khac"  # an item with no kind: counted, earns nothing until classified
LABELS: dict[str, str] = {**KIND_LABELS, OTHER: "Chưa phân loại"}
NO_AGENCY = "(không xác định)"
WITHDRAWN_NOTE = "Đã gỡ khỏi cổng"
REPEAT_NOTE = "Trùng nội dung với"
NO_RATES = (
    "Chưa đặt đơn giá nhuận bút: mọi khoản là 0 ₫ (đặt unit_vnd và coefficients ở mục "
    "[reports.royalties] trong tệp cấu hình của ban biên tập)"
)


@dataclass(frozen=True)
class Entry:
    fact: Fact
    kind: str  # one of KINDS or OTHER
    coefficient: float
    amount: int  # đồng
    repeats: Earlier | None = None  # went live before, as another item with this content

    def note(self, tz: str) -> str | None:
        """The detail sheet's remark: withdrawn, or a repeat of an earlier item."""
        notes = [WITHDRAWN_NOTE] if self.fact.withdrawn else []
        if self.repeats is not None:
            when = self.repeats.published_at.astimezone(ZoneInfo(tz))
            notes.append(f"{REPEAT_NOTE} {self.repeats.tracking_code} (đăng ngày {when:%d/%m/%Y})")
        return "; ".join(notes) or None


@dataclass(frozen=True)
class Line:
    """One author's (or one agency's) row: items by kind and what they earn."""

    name: str
    agency: str
    counts: dict[str, int]
    amount: int

    @property
    def items(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class Statement:
    board: Board
    period: Period
    entries: tuple[Entry, ...]

    @cached_property
    def kinds(self) -> tuple[str, ...]:
        """The kind columns: the five kinds, and "Chưa phân loại" only when needed."""
        other = any(e.kind == OTHER for e in self.entries)
        return KINDS + ((OTHER,) if other else ())

    @property
    def rates_set(self) -> bool:
        """The board set what an item earns (the regulations leave it to each board)."""
        rates = self.board.reports.royalties
        return rates.unit_vnd > 0 and any(rates.coefficients.values())

    @property
    def repeated_note(self) -> str | None:
        """How many items repeat the content of one that went live before, if any."""
        count = sum(1 for e in self.entries if e.repeats is not None)
        if not count:
            return None
        return (
            f"{count} tin, bài trùng nội dung với tin, bài đã đăng trước "
            "(xem cột Ghi chú, trang Chi tiết): kiểm tra trước khi chi trả"
        )

    @property
    def total(self) -> int:
        return sum(e.amount for e in self.entries)

    def by_author(self) -> list[Line]:
        return _lines(self.entries, lambda e: (e.fact.author, self.agency_name(e)))

    def by_agency(self) -> list[Line]:
        return _lines(self.entries, lambda e: ("", self.agency_name(e)))

    @cached_property
    def _agency_names(self) -> dict[str, str]:
        return {a.id: a.name for a in self.board.agencies}

    def agency_name(self, entry: Entry) -> str:
        ref = entry.fact.agency_id
        return self._agency_names.get(ref, ref) if ref else NO_AGENCY

    def figures(self) -> dict[str, object]:
        """What the head approves: the items, their kinds and amounts, who is credited
        (author and agency) and whether withdrawn, the totals."""
        return {
            "board": self.board.id,
            "period": self.period.label,
            "start": self.period.start.isoformat(),
            "end": self.period.end.isoformat(),
            "unit_vnd": self.board.reports.royalties.unit_vnd,
            "items": [
                [
                    e.fact.id,
                    e.kind,
                    e.coefficient,
                    e.amount,
                    e.fact.author,
                    e.fact.agency_id,
                    e.fact.withdrawn,
                ]
                for e in self.entries
            ],
            "items_total": len(self.entries),
            "total_vnd": self.total,
        }

    def digest(self) -> str:
        text = json.dumps(self.figures(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


def _lines(entries: Iterable[Entry], key: Callable[[Entry], tuple[str, str]]) -> list[Line]:
    groups: dict[tuple[str, str], list[Entry]] = defaultdict(list)
    for entry in entries:
        groups[key(entry)].append(entry)
    out = []
    for (name, agency), group in groups.items():
        counts = {k: sum(1 for e in group if e.kind == k) for k in (*KINDS, OTHER)}
        out.append(Line(name, agency, counts, sum(e.amount for e in group)))
    return sorted(out, key=lambda line: (fold(line.agency), fold(line.name)))


def coefficient(rates: Royalties, kind: str) -> float:
    return float(next((v for k, v in rates.coefficients.items() if k == kind), 0.0))


def amount(unit_vnd: int, coefficient: float) -> int:
    """Coefficient × unit value, rounded half up to the đồng."""
    value = Decimal(str(coefficient)) * unit_vnd
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def statement(session: Session, board: Board, period: Period) -> Statement:
    rates = board.reports.royalties
    earlier = repeats(session, board.id)
    entries = []
    for fact in facts(session, board.id, period):
        if not period.contains(fact.published_at):
            continue
        kind = fact.kind if fact.kind in KINDS else OTHER
        coef = coefficient(rates, kind)
        paid = amount(rates.unit_vnd, coef)
        entries.append(Entry(fact, kind, coef, paid, earlier.get(fact.id)))
    entries.sort(key=lambda e: (e.fact.published_at, e.fact.id))
    return Statement(board, period, tuple(entries))


# -- tables -------------------------------------------------------------------------------


def _kind_columns(s: Statement) -> tuple[Column, ...]:
    return tuple(Column(LABELS[k], "int") for k in s.kinds)


def _line_rows(s: Statement, lines: list[Line], named: bool) -> tuple[tuple[Cell, ...], ...]:
    rows = []
    for n, line in enumerate(lines, start=1):
        who: tuple[Cell, ...] = (line.name, line.agency) if named else (line.agency,)
        counts = tuple(line.counts[k] for k in s.kinds)
        rows.append((n, *who, *counts, line.items, line.amount))
    return tuple(rows)


def _total_row(s: Statement, named: bool) -> tuple[Cell, ...]:
    blanks: tuple[Cell, ...] = (None, None) if named else (None,)
    counts = tuple(sum(1 for e in s.entries if e.kind == k) for k in s.kinds)
    return (TOTAL, *blanks, *counts, len(s.entries), s.total)


def tables(s: Statement) -> list[Table]:
    head = (Column("STT", "int"),)
    tail = (Column("Tổng số tin, bài", "int"), Column("Thành tiền (đồng)", "vnd"))
    rates = s.board.reports.royalties
    return [
        Table(
            "tac-gia",
            "Nhuận bút theo tác giả",
            head + (Column("Tác giả"), Column("Cơ quan, đơn vị")) + _kind_columns(s) + tail,
            _line_rows(s, s.by_author(), named=True),
            _total_row(s, named=True),
            note="Tin, bài được đăng trong kỳ, theo tác giả và loại.",
            sheet="Theo tác giả",
        ),
        Table(
            "co-quan",
            "Nhuận bút theo cơ quan, đơn vị",
            head + (Column("Cơ quan, đơn vị"),) + _kind_columns(s) + tail,
            _line_rows(s, s.by_agency(), named=False),
            _total_row(s, named=False),
            note="Tin, bài được đăng trong kỳ, theo cơ quan, đơn vị gửi và loại.",
            sheet="Theo cơ quan",
        ),
        Table(
            "chi-tiet",
            "Chi tiết tin, bài được đăng",
            (
                Column("STT", "int"),
                Column("Mã theo dõi"),
                Column("Tiêu đề"),
                Column("Loại"),
                Column("Tác giả"),
                Column("Cơ quan, đơn vị"),
                Column("Thời điểm đăng", "when"),
                Column("Hệ số", "coef"),
                Column("Thành tiền (đồng)", "vnd"),
                Column("Ghi chú"),
            ),
            tuple(
                (
                    n,
                    e.fact.tracking_code,
                    e.fact.title,
                    LABELS[e.kind],
                    e.fact.author,
                    s.agency_name(e),
                    e.fact.published_at,
                    e.coefficient,
                    e.amount,
                    e.note(s.board.timezone),
                )
                for n, e in enumerate(s.entries, start=1)
            ),
            (TOTAL, None, None, None, None, None, None, None, s.total, None),
            sheet="Chi tiết",
        ),
        Table(
            "don-gia",
            "Hệ số và đơn giá nhuận bút",
            (
                Column("Loại"),
                Column("Hệ số", "coef"),
                Column("Giá trị một đơn vị hệ số (đồng)", "vnd"),
                Column("Đơn giá (đồng)", "vnd"),
            ),
            tuple(
                (
                    LABELS[k],
                    coefficient(rates, k),
                    rates.unit_vnd,
                    amount(rates.unit_vnd, coefficient(rates, k)),
                )
                for k in KINDS
            ),
            sheet="Đơn giá",
        ),
    ]
