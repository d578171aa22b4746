"""A report put into its files: names, workbook, CSV files and the HTML page."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from pipeline.config import Board
from pipeline.reports import activity, figures, royalty
from pipeline.reports.page import Section, document
from pipeline.reports.periods import Period
from pipeline.reports.sheets import csv_bytes, xlsx_bytes
from pipeline.reports.tables import shown

XLSX_TYPE = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def stem(kind: str, board: Board, period: Period) -> str:
    """``nhuan-but-dongnai-2026-H1``: ASCII, safe as a file name on any system."""
    return f"{kind}-{board.id}-{period.label.replace('..', '_')}"


def span(period: Period) -> str:
    """The period and its days, within a sentence: "quý III năm 2026 (từ ngày 01/07/2026
    đến hết ngày 30/09/2026)"; days typed by staff are said once."""
    days = f"từ ngày {period.start:%d/%m/%Y} đến hết ngày {period.last_day:%d/%m/%Y}"
    if period.kind != "custom":
        return f"{period.phrase} ({days})"
    return period.phrase if period.start.date() == period.last_day else days


def _made(board: Board, now: datetime) -> str:
    return now.astimezone(ZoneInfo(board.timezone)).strftime("%d/%m/%Y %H:%M")


def unfinished(board: Board, period: Period, now: datetime) -> str | None:
    """What a reader must know of figures made before the period ended; None after."""
    if now >= period.end:
        return None
    if now < period.start:
        return "Kỳ báo cáo chưa bắt đầu: chưa có số liệu."
    return f"Số liệu tạm tính: kỳ báo cáo chưa kết thúc, mới tính đến {_made(board, now)}."


def _notes(board: Board, period: Period, now: datetime) -> list[tuple[str, str]]:
    note = unfinished(board, period, now)
    return [("Lưu ý", note)] if note else []


def royalty_files(
    s: royalty.Statement, now: datetime, approval: str, formats: tuple[str, ...]
) -> dict[str, bytes]:
    """File name → content: the workbook and/or one CSV file per table."""
    board, tz = s.board, s.board.timezone
    name = stem("nhuan-but", board, s.period)
    tables = royalty.tables(s)
    out: dict[str, bytes] = {}
    if "xlsx" in formats:
        info = [
            ("Ban Biên tập", board.name),
            ("Báo cáo", "Bảng kê nhuận bút tin, bài được đăng"),
            ("Kỳ", span(s.period)),
            ("Lập lúc", _made(board, now)),
            ("Số tin, bài", shown(len(s.entries), "int", tz)),
            ("Tổng tiền", shown(s.total, "vnd", tz)),
            ("Mã kiểm tra số liệu (SHA-256)", s.digest()),
            ("Phê duyệt", approval),
            *_notes(board, s.period, now),
            *([] if s.rates_set else [("Đơn giá", royalty.NO_RATES)]),
            *([("Trùng nội dung", s.repeated_note)] if s.repeated_note else []),
        ]
        out[f"{name}.xlsx"] = xlsx_bytes(tables, info, tz)
    if "csv" in formats:
        for table in tables:
            out[f"{name}-{table.name}.csv"] = csv_bytes(table, tz)
    return out


def activity_html(a: activity.Activity, now: datetime) -> str:
    charts = figures.charts(a)
    sections = [Section(t, charts.get(t.name)) for t in activity.tables(a)]
    lead = [a.board.name, f"Kỳ báo cáo: {span(a.period)}", f"Lập lúc: {_made(a.board, now)}"]
    return document(
        f"Báo cáo hoạt động {a.period.phrase}",
        lead + [note for _, note in _notes(a.board, a.period, now)],
        sections,
        a.board.timezone,
        "Số liệu lấy từ hồ sơ của hệ thống tiếp nhận tin, bài (bientap).",
    )


def activity_files(a: activity.Activity, now: datetime) -> dict[str, bytes]:
    """File name → content: the HTML page and the workbook."""
    name = stem("bao-cao-hoat-dong", a.board, a.period)
    info = [
        ("Ban Biên tập", a.board.name),
        ("Báo cáo", "Báo cáo hoạt động"),
        ("Kỳ", span(a.period)),
        ("Lập lúc", _made(a.board, now)),
        *_notes(a.board, a.period, now),
    ]
    return {
        f"{name}.html": activity_html(a, now).encode(),
        f"{name}.xlsx": xlsx_bytes(activity.tables(a), info, a.board.timezone),
    }
