"""One self-contained HTML page: headings, notes, charts (inline SVG) and tables.

Nothing is fetched from outside (the page travels as a mail attachment and is opened
from disk), the style is in the page, and every value from the record is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from pipeline.reports.tables import Table, shown

CSS = """
body{margin:0;background:#f3f4f6;color:#111827;font:15px/1.5 Arial,Helvetica,sans-serif}
main{max-width:1000px;margin:0 auto;padding:24px;background:#fff}
h1{font-size:24px;margin:0 0 4px}h2{font-size:19px;margin:32px 0 6px}
p.lead{margin:0 0 4px;color:#374151}p.note{margin:0 0 8px;color:#4b5563;font-size:14px}
figure{margin:8px 0 12px}svg.chart{display:block;width:100%;max-width:820px;height:auto}
table{border-collapse:collapse;width:100%;margin:4px 0 8px}
th,td{border:1px solid #d1d5db;padding:5px 8px;vertical-align:top}
th{background:#dce6f1;text-align:left}td.num{text-align:right;white-space:nowrap}
tr.total td{font-weight:bold;background:#f9fafb}
footer{margin-top:32px;color:#6b7280;font-size:13px}
"""
# Inline style and images only: no script, nothing from the network.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


@dataclass(frozen=True)
class Section:
    table: Table
    chart: str | None = None  # an <svg> element, from pipeline/reports/charts.py


def _table(table: Table, tz: str) -> str:
    head = "".join(f"<th>{escape(c.heading)}</th>" for c in table.columns)
    lines = [f"<thead><tr>{head}</tr></thead><tbody>"]
    rows = [(r, "") for r in table.rows] + ([(table.total, "total")] if table.total else [])
    for row, css in rows:
        cells = "".join(
            f'<td class="{"text" if c.fmt == "text" else "num"}">{escape(shown(v, c.fmt, tz))}</td>'
            for c, v in zip(table.columns, row, strict=True)
        )
        lines.append(f'<tr class="{css}">{cells}</tr>' if css else f"<tr>{cells}</tr>")
    if not table.rows:
        lines.append(f'<tr><td colspan="{len(table.columns)}">Không có số liệu.</td></tr>')
    return "<table>" + "".join(lines) + "</tbody></table>"


def document(
    title: str, lead: Sequence[str], sections: Sequence[Section], tz: str, footer: str
) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="vi"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{CSS}</style></head>",
        f"<body><main><h1>{escape(title)}</h1>",
        *(f'<p class="lead">{escape(line)}</p>' for line in lead),
    ]
    for s in sections:
        parts.append(f'<section id="{escape(s.table.name)}"><h2>{escape(s.table.title)}</h2>')
        if s.table.note:
            parts.append(f'<p class="note">{escape(s.table.note)}</p>')
        if s.chart:
            parts.append(f"<figure>{s.chart}</figure>")
        parts.append(_table(s.table, tz) + "</section>")
    parts.append(f"<footer>{escape(footer)}</footer></main></body></html>\n")
    return "\n".join(parts)
