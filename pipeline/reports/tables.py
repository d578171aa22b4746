"""A report's tables as plain data, and how their values read in Vietnamese.

Every output (XLSX, CSV, HTML) is written from the same :class:`Table`, so the figures
in the workbook, the CSV file and the page cannot differ.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

Format = Literal["text", "int", "vnd", "coef", "pct", "hours", "when"]
Cell = str | int | float | datetime | None


@dataclass(frozen=True)
class Column:
    heading: str
    fmt: Format = "text"


@dataclass(frozen=True)
class Table:
    name: str  # sheet name (31 characters at most) and CSV file suffix, e.g. "tac-gia"
    title: str  # heading over the table
    columns: tuple[Column, ...]
    rows: tuple[tuple[Cell, ...], ...]
    total: tuple[Cell, ...] | None = None  # the totals row, first cell "Tổng cộng"
    note: str = ""  # one line under the title: what is counted and how
    sheet: str = field(default="")  # the sheet's name when it differs from ``title``

    @property
    def sheet_name(self) -> str:
        return (self.sheet or self.title)[:31]


TOTAL = "Tổng cộng"


def _grouped(value: int) -> str:
    return f"{value:,}".replace(",", ".")  # Vietnamese: 1.250.000


def _decimal(value: float, places: int) -> str:
    whole, _, frac = f"{value:.{places}f}".partition(".")
    return f"{_grouped(int(whole))},{frac}" if frac.strip("0") else _grouped(int(whole))


def shown(value: Cell, fmt: Format, tz: str) -> str:
    """``value`` as a Vietnamese reader expects it on a page: 1.250.000 ₫, 75,0%."""
    if value is None:
        return "" if fmt == "text" else "—"
    if isinstance(value, datetime):
        return value.astimezone(ZoneInfo(tz)).strftime("%d/%m/%Y %H:%M")
    if isinstance(value, str):
        return value
    return {
        "int": lambda v: _grouped(round(v)),
        "vnd": lambda v: f"{_grouped(round(v))} ₫",
        "coef": lambda v: _decimal(v, 2),
        "pct": lambda v: f"{_decimal(v * 100, 1)}%",
        "hours": lambda v: _decimal(v, 1),
    }.get(fmt, str)(value)
