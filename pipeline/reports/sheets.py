"""Tables to files: one XLSX workbook (a sheet per table) and CSV files.

The workbook keeps numbers as numbers, shown in the Vietnamese way by their number
formats (đồng with a thousands separator, percentages, dates). A CSV file keeps plain
values (integers, ISO times in the board's zone) for other programs, in UTF-8 with a
byte-order mark so that Excel reads the diacritics right.

Text comes from mail (a subject, a byline) and is never a formula: the workbook stores
it as a string cell, and a CSV value starting with ``= + - @``, a tab or a carriage
return gets a leading ``'`` (OWASP's advice on CSV injection), so that Excel shows it
instead of running it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from pipeline.reports.tables import Cell, Format, Table

NUMBER_FORMATS: dict[Format, str] = {
    "int": "#,##0",
    "vnd": '#,##0 "₫"',
    "coef": "0.0#",
    "pct": "0.0%",
    "hours": "0.0",
    "when": "dd/mm/yyyy hh:mm",
}
_HEAD_FILL = PatternFill("solid", fgColor="DCE6F1")
_BOLD = Font(bold=True)
_WIDTHS: dict[Format, int] = {"text": 28, "when": 17, "vnd": 16}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _local(value: Cell, tz: str) -> Cell:
    # Excel has no time zones: a time is written as the board's wall clock.
    if isinstance(value, datetime):
        return value.astimezone(ZoneInfo(tz)).replace(tzinfo=None)
    return value


def xlsx_bytes(tables: Sequence[Table], info: Sequence[tuple[str, str]], tz: str) -> bytes:
    """A workbook: an "Thông tin" sheet of ``info`` lines, then one sheet per table."""
    book = Workbook()
    about = book.active
    assert about is not None
    about.title = "Thông tin"
    for key, value in info:
        about.append([key, value])
        about.cell(about.max_row, 1).font = _BOLD
        for cell in about[about.max_row]:
            cell.data_type = "s"  # text from mail is never a formula
    about.column_dimensions["A"].width = 30
    about.column_dimensions["B"].width = 80
    for table in tables:
        _sheet(book, table, tz)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _sheet(book: Workbook, table: Table, tz: str) -> None:
    ws = book.create_sheet(table.sheet_name)
    for n, col in enumerate(table.columns, start=1):
        cell = ws.cell(1, n, col.heading)
        cell.font, cell.fill = _BOLD, _HEAD_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    rows = list(table.rows) + ([table.total] if table.total else [])
    # Each cell is written at its own row and column: asking the sheet for its last row
    # (``ws[ws.max_row]``) scans every cell, and a year's statement took minutes.
    for r, row in enumerate(rows, start=2):
        for n, (col, value) in enumerate(zip(table.columns, row, strict=True), start=1):
            cell = ws.cell(r, n, _local(value, tz))
            if col.fmt in NUMBER_FORMATS:
                cell.number_format = NUMBER_FORMATS[col.fmt]
            if isinstance(value, str):
                cell.data_type = "s"  # openpyxl reads a leading "=" as a formula
            if table.total and r == len(rows) + 1:
                cell.font = _BOLD
    for i, col in enumerate(table.columns, start=1):
        ws.column_dimensions[get_column_letter(i)].width = _WIDTHS.get(col.fmt, 12)
    ws.freeze_panes = "A2"


def _plain(value: Cell, tz: str) -> str | int | float:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(ZoneInfo(tz)).isoformat(timespec="minutes")
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_bytes(table: Table, tz: str) -> bytes:
    """The table as CSV: the headings, the rows, then the totals row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c.heading for c in table.columns])
    for row in list(table.rows) + ([table.total] if table.total else []):
        writer.writerow([_plain(v, tz) for v in row])
    return out.getvalue().encode("utf-8-sig")
