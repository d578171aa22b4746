"""Mails of the review workflow: requests to reviewers, digests, outcomes, answers.

Every function builds and returns an :class:`email.message.EmailMessage` (policy SMTP);
the caller queues it (``outgoing_mail``). Mails to reviewers are read on phones: the
text/plain part comes first, then an HTML alternative in one column (at most 640px
wide, 15px text or larger, links drawn as big buttons), with no script and nothing
fetched from outside. The item's ``body_html`` was sanitised when it was stored and is
embedded as is; every other value put into HTML is escaped here.

Like every mail bientap sends, these carry ``Auto-Submitted``,
``X-Auto-Response-Suppress`` and the loop header, so no mail loop can start.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.errors import HeaderParseError
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import format_datetime, make_msgid
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from pipeline import diffing
from pipeline.commands import HELP_VI
from pipeline.config import Board, Member, Role
from pipeline.docmeta import KIND_LABELS
from pipeline.files import FileStore
from pipeline.models import StoredFile, Submission, utcnow
from pipeline.notices import SIGNATURE
from pipeline.sanitize import text_to_html
from pipeline.screening import LOOP_HEADER

Purpose = Literal["request", "again", "reminder"]
Outcome = Literal["approved", "changes", "rejected"]

DEFAULT_ATTACH_LIMIT = 10 * 1024 * 1024  # bytes of attachments per mail, before encoding
LARGE_FILE_NOTE = "tệp lớn, xem trên trang duyệt"
NO_TITLE = "(không có tiêu đề)"

SUBJECT_PREFIX: dict[str, str] = {
    "request": "[Duyệt tin bài]",
    "again": "[Duyệt lại]",
    "reminder": "[Nhắc duyệt]",
}
HEADLINE: dict[str, str] = {
    "request": "Đề nghị duyệt tin, bài",
    "again": "Đề nghị duyệt lại: nội dung đã thay đổi",
    "reminder": "Nhắc: tin, bài đang chờ ông/bà duyệt",
}

REPLY_FOOTER = (
    "\n\n--\n{name}\nThư này được gửi tự động. Để xử lý, bấm nút hoặc trả lời thư này "
    "theo hướng dẫn ở trên.\n"
)
CORRECTION_FOOTER = (
    "\n\n--\n{name}\nThư này được gửi tự động. Để gửi bản đã sửa, vui lòng trả lời thư này.\n"
)

# Inline styles: Gmail and most mobile clients keep only these.
_BODY = "margin:0;padding:0;background-color:#f3f4f6;"
_WRAP = (
    "max-width:640px;margin:0 auto;padding:16px;background-color:#ffffff;"
    "font-family:Arial,Helvetica,sans-serif;font-size:16px;line-height:1.5;color:#111827;"
)
_H1 = "font-size:22px;line-height:1.3;margin:0 0 12px 0;"
_H2 = "font-size:18px;line-height:1.3;margin:24px 0 8px 0;"
_P = "margin:0 0 12px 0;font-size:16px;"
_MUTED = "margin:0 0 12px 0;font-size:15px;color:#4b5563;"
_BOX = (
    "border:1px solid #d1d5db;border-radius:6px;padding:12px;margin:8px 0 16px 0;"
    "overflow-wrap:break-word;word-wrap:break-word;"
)
_NOTE = (
    "background-color:#fff7ed;border-left:4px solid #ea580c;padding:10px 12px;"
    "margin:8px 0 16px 0;font-size:16px;"
)
_BUTTON = (
    "display:block;padding:14px 16px;margin:10px 0;color:#ffffff;text-decoration:none;"
    "border-radius:6px;font-size:18px;font-weight:bold;text-align:center;"
    "background-color:{color};"
)
_GREEN, _BLUE = "#15803d", "#1d4ed8"
_CODE = "font-weight:bold;font-size:17px;"
_OVERDUE = (
    "display:inline-block;padding:2px 8px;border-radius:4px;background-color:#b91c1c;"
    "color:#ffffff;font-size:15px;font-weight:bold;"
)


@dataclass(frozen=True)
class DigestEntry:
    """One item waiting for the digest's recipient."""

    tracking_code: str
    title: str
    step_name: str
    due_at: datetime | None
    overdue: bool
    view_url: str


# --- Small helpers -------------------------------------------------------------------------------


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _one_line(text: str | None) -> str:
    return " ".join((text or "").split())


def _title(text: str | None) -> str:
    return _one_line(text) or NO_TITLE


def _href(url: str) -> str:
    """An escaped http(s) URL for an ``href``; anything else is a caller's bug."""
    if urlsplit(url).scheme.lower() not in ("http", "https"):
        raise ValueError("review links must be http(s) URLs")
    return _esc(url)


def _local(board: Board, when: datetime) -> datetime:
    aware = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    return aware.astimezone(ZoneInfo(board.timezone))


def when_vi(board: Board, when: datetime) -> str:
    """``dd/mm/yyyy HH:MM`` in the board's time zone."""
    return _local(board, when).strftime("%d/%m/%Y %H:%M")


def _number_vi(value: float) -> str:
    text = f"{value:.1f}".rstrip("0").rstrip(".")
    return text.replace(".", ",")


def size_vi(size: int) -> str:
    """A file size as Vietnamese readers write it: "1,5 MB", "320 KB"."""
    if size >= 1024 * 1024:
        return f"{_number_vi(size / (1024 * 1024))} MB"
    if size >= 1024:
        return f"{_number_vi(size / 1024)} KB"
    return f"{size} byte"


def _indent(text: str, prefix: str = "   ") -> str:
    return "\n".join(prefix + line if line else "" for line in text.strip().splitlines())


def _heading(text: str) -> str:
    return f"{text}\n{'-' * len(text)}"


def _document(title: str, blocks: Sequence[str]) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="vi"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_esc(title)}</title>"
        "<style>img{max-width:100%;height:auto;}</style></head>\n"
        f'<body style="{_BODY}"><div style="{_WRAP}">\n'
        + "\n".join(blocks)
        + "\n</div></body></html>\n"
    )


def _button(label: str, url: str, color: str) -> str:
    return f'<a href="{_href(url)}" style="{_BUTTON.format(color=color)}">{_esc(label)}</a>'


def _footer_html(board: Board, note: str) -> str:
    return f'<p style="{_MUTED}">—<br>{_esc(board.mail_out.from_name)}<br>{_esc(note)}</p>'


# --- The envelope --------------------------------------------------------------------------------


class _MailPolicy(EmailPolicy):
    """``policy.SMTP``, except that a non-ASCII Subject is encoded the compat32 way.

    CPython's folder (3.11 at least) drops the space between two encoded words when it
    folds a long Subject ("tổng kết năm" arrives as "tổng kếtnăm"); ``Header`` keeps the
    spaces inside the encoded words."""

    def _by_hand(self, name: str, value: Any) -> bool:
        return name.lower() == "subject" and not str(value).isascii()

    def fold(self, name: str, value: Any) -> str:
        if not self._by_hand(name, value):
            return super().fold(name, value)
        encoded = Header(str(value), "utf-8", header_name=name).encode(linesep=self.linesep)
        return f"{name}: {encoded}{self.linesep}"

    def fold_binary(self, name: str, value: Any) -> bytes:
        if not self._by_hand(name, value):
            return super().fold_binary(name, value)
        return self.fold(name, value).encode("ascii")


POLICY = _MailPolicy(linesep="\r\n")  # policy.SMTP's settings


def _address(name: str | None, address: str) -> Address | str:
    try:
        return Address(_one_line(name), addr_spec=address)
    except (HeaderParseError, ValueError, IndexError):  # one the parser cannot take apart
        return address


def _bracketed(message_id: str) -> str:
    return f"<{message_id.strip().strip('<>')}>"


def _message(
    board: Board,
    *,
    to: Address | str,
    subject: str,
    message_id: str | None = None,
    in_reply_to: str | None = None,
    reply_to: str | None = None,
    auto_replied: bool = False,
) -> EmailMessage:
    out = board.mail_out
    msg = EmailMessage(policy=POLICY)
    msg["From"] = Address(_one_line(out.from_name), addr_spec=out.from_address)
    msg["To"] = to
    if reply_to:
        msg["Reply-To"] = reply_to
    msg["Subject"] = _one_line(subject)
    msg["Date"] = format_datetime(_local(board, utcnow()))
    if message_id:
        msg["Message-ID"] = _bracketed(message_id)
    else:
        msg["Message-ID"] = make_msgid(domain=out.from_address.rpartition("@")[2])
    if in_reply_to:
        msg["In-Reply-To"] = _bracketed(in_reply_to)
        msg["References"] = _bracketed(in_reply_to)
    # RFC 3834: "auto-replied" for an automatic answer to a message, else "auto-generated".
    msg["Auto-Submitted"] = "auto-replied" if auto_replied else "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"
    msg[LOOP_HEADER] = board.id
    return msg


def _set_bodies(msg: EmailMessage, text: str, html_doc: str) -> EmailMessage:
    msg.set_content(text, subtype="plain", charset="utf-8")
    msg.add_alternative(html_doc, subtype="html", charset="utf-8")
    return msg


def _simple(board: Board, msg: EmailMessage, heading: str, text: str, footer: str) -> EmailMessage:
    """A short mail: the text, and the same text as HTML in the house layout."""
    note = footer.strip().splitlines()[-1]
    blocks = [
        f'<h1 style="{_H1}">{_esc(heading)}</h1>',
        f'<div style="{_P}">{text_to_html(text)}</div>',
        _footer_html(board, note),
    ]
    return _set_bodies(msg, text + footer, _document(heading, blocks))


# --- Attachments ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Files:
    inline: list[tuple[StoredFile, bytes]]  # images the body shows by cid:
    attached: list[tuple[StoredFile, bytes]]
    left_out: list[StoredFile]  # too large for the mail, or not stored


def _is_inline(f: StoredFile) -> bool:
    return f.role == "inline" and bool(f.content_id)


def _pick_files(files: Sequence[StoredFile], store: FileStore, limit: int) -> _Files:
    """Inline images first (the preview needs them), then the others, while they fit."""
    picked = _Files([], [], [])
    budget = limit
    for f in sorted(files, key=lambda f: not _is_inline(f)):
        data: bytes | None = None
        if f.sha256 is not None and f.size <= budget:
            try:
                data = store.get(f.sha256)
            except OSError:
                data = None
        if data is None or len(data) > budget:
            picked.left_out.append(f)
            continue
        budget -= len(data)
        (picked.inline if _is_inline(f) else picked.attached).append((f, data))
    return picked


def _mime_type(content_type: str) -> tuple[str, str]:
    maintype, _, subtype = (content_type or "").partition(";")[0].strip().lower().partition("/")
    if not maintype or not subtype or maintype in ("multipart", "message"):
        return "application", "octet-stream"
    return maintype, subtype


def _filename(f: StoredFile) -> str:
    return _one_line(f.filename).replace("/", "_").replace("\\", "_") or "tep-dinh-kem"


def _attach(msg: EmailMessage, picked: _Files) -> None:
    if picked.inline:
        html_part = msg.get_body(preferencelist=("html",))
        assert isinstance(html_part, EmailMessage)
        for f, data in picked.inline:
            maintype, subtype = _mime_type(f.content_type)
            html_part.add_related(
                data,
                maintype=maintype,
                subtype=subtype,
                cid=_bracketed(_one_line(f.content_id)),
                disposition="inline",
                filename=_filename(f),
            )
    for f, data in picked.attached:
        maintype, subtype = _mime_type(f.content_type)
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=_filename(f))


def _files_section(picked: _Files) -> tuple[str, str]:
    rows = [(f, False) for f, _ in picked.attached] + [(f, True) for f in picked.left_out]
    if not rows:
        return "", ""
    lines, items = [], []
    for f, left in rows:
        note = f" — {LARGE_FILE_NOTE}" if left else ""
        lines.append(f"  - {_filename(f)} ({size_vi(f.size)}){note}")
        items.append(
            f"<li>{_esc(_filename(f))} ({_esc(size_vi(f.size))})"
            + (f" — <i>{_esc(LARGE_FILE_NOTE)}</i>" if left else "")
            + "</li>"
        )
    title = "Tệp đính kèm"
    return (
        _heading(title) + "\n" + "\n".join(lines),
        f'<h2 style="{_H2}">{title}</h2><ul style="{_P}">' + "".join(items) + "</ul>",
    )


# --- Review request: its sections ------------------------------------------------------------


def _intro(
    board: Board,
    recipient: Member,
    purpose: Purpose,
    step_name: str,
    acting_for: Member | None,
    acting_reason: str | None,
) -> tuple[str, str]:
    sentences = {
        "request": f"{board.name} gửi ông/bà tin, bài dưới đây để xem xét, cho ý kiến duyệt đăng.",
        "again": (
            "Tin, bài dưới đây đã được sửa sau lần gửi trước. Ý kiến duyệt chỉ có hiệu lực với "
            "bản mới nhất: đề nghị ông/bà xem lại và xử lý theo thư này."
        ),
        "reminder": "Tin, bài dưới đây vẫn đang chờ ý kiến của ông/bà.",
    }
    step = f"Bước: {_one_line(step_name)}"
    if acting_for is not None:
        reason = f", {_one_line(acting_reason)}" if acting_reason else ""
        step += f" (thay {acting_for.name}{reason})"
    greeting = f"Kính gửi ông/bà {recipient.name},"
    text = f"{greeting}\n\n{sentences[purpose]}\n\n{step}"
    html_part = (
        f'<h1 style="{_H1}">{_esc(HEADLINE[purpose])}</h1>'
        f'<p style="{_P}">{_esc(greeting)}</p>'
        f'<p style="{_P}">{_esc(sentences[purpose])}</p>'
        f'<p style="{_P}"><b>{_esc(step)}</b></p>'
    )
    return text, html_part


def _document_line(document: dict[str, object]) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    doc_type, number, issuer = (document.get(k) for k in ("doc_type", "number", "issuer"))
    parts = [str(doc_type) if doc_type else "Văn bản"]
    if number:
        parts.append(f"số {number}")
    if issuer:
        parts.append(f"của {issuer}")
    issued = document.get("issue_date")
    if issued:
        try:
            parts.append(f"ngày {datetime.fromisoformat(str(issued)):%d/%m/%Y}")
        except ValueError:
            parts.append(f"ngày {issued}")
    if doc_type or number:
        rows.append(("Văn bản", " ".join(parts)))
    if document.get("summary"):
        rows.append(("Trích yếu", _one_line(str(document["summary"]))))
    return rows


def _details(board: Board, item: Submission, due_at: datetime | None) -> list[tuple[str, str]]:
    rows = [("Mã theo dõi", item.tracking_code)]
    sender = item.sender_address
    if item.sender_name:
        sender = f"{_one_line(item.sender_name)} <{item.sender_address}>"
    rows.append(("Người gửi", sender or "(không rõ)"))
    agency = next((a.name for a in board.agencies if a.id == item.agency_id), None)
    if agency:
        rows.append(("Cơ quan", agency))
    if item.kind:
        rows.append(("Loại", KIND_LABELS.get(item.kind, item.kind)))
    fields = [t.name for t in board.fields if t.id in (item.field_ids or [])]
    if fields:
        rows.append(("Lĩnh vực", ", ".join(fields)))
    for label, value in (("Tác giả", item.author), ("Đơn vị", item.unit), ("Nguồn", item.source)):
        if value:
            rows.append((label, _one_line(value)))
    if item.document:
        rows.extend(_document_line(item.document))
    if due_at is not None:
        late = " (đã quá hạn)" if due_at < utcnow() else ""
        rows.append(("Hạn xử lý", when_vi(board, due_at) + late))
    return rows


def _rows_section(rows: list[tuple[str, str]]) -> tuple[str, str]:
    text = "\n".join(f"  {label}: {value}" for label, value in rows)
    cells = "<br>".join(f"<b>{_esc(label)}:</b> {_esc(value)}" for label, value in rows)
    return text, f'<p style="{_P}">{cells}</p>'


def _flag_words(flag: dict[str, object]) -> str:
    return _one_line(str(flag.get("message") or flag.get("code") or ""))


def _flags_section(flags: list[dict[str, object]]) -> tuple[str, str]:
    words = [w for w in (_flag_words(f) for f in flags) if w]
    if not words:
        return "", ""
    title = "Lưu ý khi duyệt"
    text = _heading(title) + "\n" + "\n".join(f"  - {w}" for w in words)
    items = "".join(f"<li>{_esc(w)}</li>" for w in words)
    return text, (
        f'<div style="{_NOTE}"><b>{title}</b><ul style="margin:6px 0 0 0;padding-left:20px;">'
        f"{items}</ul></div>"
    )


def _diff_section(diff: tuple[str, str] | None) -> tuple[str, str]:
    if diff is None:
        return "", ""
    old, new = diff
    title = "Nội dung đã thay đổi so với bản trước"
    line = diffing.summary(old, new)
    plain = diffing.text_diff_plain(old, new)
    text = _heading(title) + f"\n{line}." + (f"\n\n{plain}" if plain else "")
    html_part = f'<h2 style="{_H2}">{title}</h2><p style="{_P}">{_esc(line)}.</p>'
    if plain:
        html_part += f'<div style="{_BOX}">{diffing.text_diff_html(old, new)}</div>'
    return text, html_part


def _preview(item: Submission) -> tuple[str, str]:
    title = "Nội dung tin, bài"
    name = _title(item.title)
    body_text = (item.body_text or "").strip() or "(không có nội dung)"
    text = f"{_heading(title)}\n{name}\n\n{body_text}\n{'-' * len(title)}"
    html_part = (
        f'<h2 style="{_H2}">{title}</h2><div style="{_BOX}">'
        f'<h3 style="font-size:19px;line-height:1.3;margin:0 0 10px 0;">{_esc(name)}</h3>'
        f"{item.body_html or ''}</div>"  # sanitised when stored (pipeline/sanitize.py)
    )
    return text, html_part


def _history_section(history: list[str]) -> tuple[str, str]:
    lines = [_one_line(h) for h in history if h and h.strip()]
    if not lines:
        return "", ""
    title = "Quá trình xử lý"
    items = "".join(f"<li>{_esc(h)}</li>" for h in lines)
    return (
        _heading(title) + "\n" + "\n".join(f"  - {h}" for h in lines),
        f'<h2 style="{_H2}">{title}</h2><ul style="{_P}">{items}</ul>',
    )


def _forward_example(board: Board, recipient: Member) -> str:
    other = next((m for m in board.members if m.id != recipient.id), recipient)
    return other.email


def _commands(board: Board, recipient: Member) -> list[tuple[str, str]]:
    """(command, what it does / an example), in the order reviewers need them."""
    return [
        ("DUYỆT", "duyệt đăng tin, bài"),
        ("TỪ CHỐI: <lý do>", "ví dụ: TỪ CHỐI: Nội dung trùng với tin đã đăng."),
        (
            "SỬA: <nội dung cần sửa>",
            "trả lại người gửi để sửa; ví dụ: SỬA: Bổ sung tên tác giả và nguồn ảnh.",
        ),
        (
            "CHUYỂN <mã, tên hoặc e-mail thành viên>",
            "chuyển cho thành viên khác xem xét; ví dụ: CHUYỂN "
            + _forward_example(board, recipient),
        ),
    ]


def _howto(
    board: Board, recipient: Member, approve_url: str, view_url: str, link_days: float
) -> tuple[str, str]:
    title = "Cách xử lý"
    approve, view = "Duyệt", "Xem, sửa, trả lại hoặc từ chối"
    first = "1. Bấm nút (hoặc mở liên kết):"
    second = (
        "2. Hoặc trả lời thư này, ghi một lệnh ở dòng đầu tiên (có dấu hay không dấu đều được):"
    )
    english = "Tiếng Anh: APPROVE, REJECT: <reason>, CHANGES: <what to fix>, FORWARD <member>."
    own = f"Thư trả lời phải gửi từ địa chỉ thư công vụ của ông/bà ({recipient.email})."
    links = (
        f"Các liên kết trong thư này là riêng của ông/bà, chỉ dùng được một lần và hết hạn sau "
        f"{_number_vi(link_days)} ngày. Vui lòng không chuyển tiếp thư này; để nhờ thành viên "
        "khác xem xét, dùng lệnh CHUYỂN."
    )
    commands = _commands(board, recipient)
    text = "\n".join(
        [
            _heading(title),
            first,
            f"   {approve}: {approve_url}",
            f"   {view}: {view_url}",
            "",
            second,
            *(f"   {cmd}\n      {what}" for cmd, what in commands),
            f"   {english}",
            f"   {own}",
            "",
            links,
        ]
    )
    items = "".join(
        f'<li style="margin-bottom:8px;"><span style="{_CODE}">{_esc(cmd)}</span><br>'
        f"{_esc(what)}</li>"
        for cmd, what in commands
    )
    html_part = (
        f'<h2 style="{_H2}">{title}</h2>'
        f'<p style="{_P}">{_esc(first)}</p>'
        + _button(approve, approve_url, _GREEN)
        + _button(view, view_url, _BLUE)
        + f'<p style="{_P}margin-top:16px;">{_esc(second)}</p>'
        f'<ul style="{_P}padding-left:20px;">{items}</ul>'
        f'<p style="{_P}">{_esc(english)}<br>{_esc(own)}</p>'
        f'<p style="{_MUTED}">{_esc(links)}</p>'
    )
    return text, html_part


def review_request(
    board: Board,
    item: Submission,
    files: Sequence[StoredFile],
    filestore: FileStore,
    *,
    recipient: Member,
    step_name: str,
    acting_for: Member | None,
    view_url: str,
    approve_url: str,
    reply_to: str,
    subject_tag: str,
    message_id: str,
    purpose: Purpose,
    diff: tuple[str, str] | None,
    flags: list[dict[str, object]],
    due_at: datetime | None,
    history: list[str],
    link_days: float = 7,
    acting_reason: str | None = None,
    attach_limit: int = DEFAULT_ATTACH_LIMIT,
) -> EmailMessage:
    """Ask ``recipient`` to review ``item`` at a step: by a button, or by a reply."""
    name = _title(item.title)
    subject = f"{SUBJECT_PREFIX[purpose]} {name} — {item.tracking_code} {_one_line(subject_tag)}"
    msg = _message(
        board,
        to=_address(recipient.name, recipient.email),
        subject=subject,
        message_id=message_id,
        reply_to=reply_to,
    )
    picked = _pick_files(files, filestore, attach_limit)
    sections = [
        _intro(board, recipient, purpose, step_name, acting_for, acting_reason),
        _rows_section(_details(board, item, due_at)),
        _flags_section(flags),
        _diff_section(diff),
        _preview(item),
        _files_section(picked),
        _history_section(history),
        _howto(board, recipient, approve_url, view_url, link_days),
    ]
    text = "\n\n".join(t for t, _ in sections if t)
    text += REPLY_FOOTER.format(name=board.mail_out.from_name)
    footer = "Thư này được gửi tự động. Để xử lý, bấm nút hoặc trả lời thư này."
    blocks = [h for _, h in sections if h] + [_footer_html(board, footer)]
    _set_bodies(msg, text, _document(subject, blocks))
    _attach(msg, picked)
    return msg


# --- Digest --------------------------------------------------------------------------------------


def _digest_order(entries: list[DigestEntry]) -> list[DigestEntry]:
    far = datetime.max.replace(tzinfo=UTC)
    return sorted(entries, key=lambda e: (not e.overdue, e.due_at or far))


def _digest_entry(board: Board, n: int, e: DigestEntry) -> tuple[str, str]:
    name = _title(e.title)
    facts = [f"Mã theo dõi: {e.tracking_code}", f"Bước: {_one_line(e.step_name)}"]
    if e.due_at is not None:
        facts.append(f"Hạn: {when_vi(board, e.due_at)}")
    mark = "[Quá hạn] " if e.overdue else ""
    text = f"{n}. {mark}{name}\n   {' · '.join(facts)}\n   Xem và duyệt: {e.view_url}"
    border = "#b91c1c" if e.overdue else "#d1d5db"
    badge = f'<span style="{_OVERDUE}">Quá hạn</span><br>' if e.overdue else ""
    html_part = (
        f'<div style="border:1px solid #d1d5db;border-left:5px solid {border};border-radius:6px;'
        f'padding:10px 12px;margin:0 0 12px 0;">{badge}'
        f'<b style="font-size:17px;">{_esc(name)}</b>'
        f'<p style="font-size:15px;color:#4b5563;margin:4px 0 0 0;">{_esc(" · ".join(facts))}</p>'
        + _button("Xem và duyệt", e.view_url, _BLUE)
        + "</div>"
    )
    return text, html_part


def digest(board: Board, *, recipient: Member, entries: list[DigestEntry]) -> EmailMessage:
    """The daily list of what waits for ``recipient``, overdue items first."""
    ordered = _digest_order(entries)
    late = sum(1 for e in ordered if e.overdue)
    if ordered:
        subject = f"[Tin bài chờ duyệt] {len(ordered)} tin, bài đang chờ ông/bà duyệt"
        subject += f" ({late} quá hạn)" if late else ""
    else:
        subject = "[Tin bài chờ duyệt] Không có tin, bài chờ ông/bà duyệt"
    msg = _message(board, to=_address(recipient.name, recipient.email), subject=subject)
    heading = "Các tin bài đang chờ ông/bà duyệt"
    greeting = f"Kính gửi ông/bà {recipient.name},"
    as_of = f"Tính đến {when_vi(board, utcnow())}"
    if late:
        as_of += f"; {late} tin, bài đã quá hạn"
    rows = [_digest_entry(board, n, e) for n, e in enumerate(ordered, start=1)]
    empty = "Hiện không có tin, bài nào chờ ông/bà duyệt."
    links = "Các liên kết là riêng của ông/bà và chỉ dùng được một lần."
    text = f"{greeting}\n\n{heading} ({as_of}):\n\n"
    text += "\n\n".join(t for t, _ in rows) if rows else empty
    text += f"\n\n{links}" + SIGNATURE.format(name=board.mail_out.from_name)
    blocks = [
        f'<h1 style="{_H1}">{_esc(heading)}</h1>',
        f'<p style="{_P}">{_esc(greeting)}</p>',
        f'<p style="{_MUTED}">{_esc(as_of)}.</p>',
        *(h for _, h in rows),
        f'<p style="{_MUTED}">{_esc(links)}</p>' if rows else f'<p style="{_P}">{_esc(empty)}</p>',
        _footer_html(board, "Thư này được gửi tự động mỗi ngày."),
    ]
    return _set_bodies(msg, text, _document(subject, blocks))


# --- Outcome to the sender -----------------------------------------------------------------------


def _correction_address(board: Board) -> str | None:
    """Where a corrected version should go, if not to the From address."""
    boxes = [m.address for m in board.mailboxes]
    return None if board.mail_out.from_address in boxes else boxes[0]


def outcome_to_sender(
    board: Board,
    item: Submission,
    *,
    outcome: Outcome,
    text: str | None,
    in_reply_to: str | None,
    message_id: str | None = None,
) -> EmailMessage:
    """Tell the sender the board's decision: approved, changes asked, or rejected."""
    if outcome in ("changes", "rejected") and not (text and text.strip()):
        raise ValueError(f"outcome {outcome!r} needs the text to send (what to fix, the reason)")
    code, name = item.tracking_code, _title(item.title)
    about = f"tin, bài “{name}” (mã theo dõi {code})"
    subjects = {
        "approved": f"[{code}] Đã duyệt: {name}",
        "changes": f"[{code}] Đề nghị chỉnh sửa: {name}",
        "rejected": f"[{code}] Không duyệt đăng: {name}",
    }
    said = _indent(text or "")
    if outcome == "approved":
        body = (
            f"{board.name} đã duyệt {about}. Tin, bài sẽ được đăng tải trên Cổng thông tin điện tử."
        )
        body += f"\n\nÝ kiến của Ban Biên tập:\n{said}" if said else ""
    elif outcome == "changes":
        body = (
            f"{board.name} đã xem {about} và đề nghị quý cơ quan, đơn vị chỉnh sửa trước khi "
            f"đăng tải.\n\nNội dung cần sửa:\n{said}\n\n"
            "Sau khi sửa, vui lòng trả lời thư này kèm bản đã sửa (trong nội dung thư hoặc tệp "
            f"đính kèm), giữ nguyên mã theo dõi [{code}] trong tiêu đề thư, để Ban Biên tập "
            "tiếp tục xem xét."
        )
    else:
        body = (
            f"{board.name} không duyệt đăng {about}.\n\nLý do:\n{said}\n\n"
            "Nếu cần trao đổi thêm, vui lòng liên hệ Ban Biên tập và ghi rõ mã theo dõi ở trên."
        )
    greeting = f"Kính gửi {_one_line(item.sender_name) or item.sender_address},"
    footer = CORRECTION_FOOTER if outcome == "changes" else SIGNATURE
    msg = _message(
        board,
        to=_address(item.sender_name, item.sender_address),
        subject=subjects[outcome],
        message_id=message_id,
        in_reply_to=in_reply_to,
        reply_to=_correction_address(board) if outcome == "changes" else None,
    )
    msg.set_content(
        f"{greeting}\n\n{body}" + footer.format(name=board.mail_out.from_name),
        subtype="plain",
        charset="utf-8",
    )
    return msg


# --- Answers to reviewers ------------------------------------------------------------------------


def _secretaries(board: Board) -> str:
    people = board.members_with_role(Role.THU_KY)
    if not people:
        return "Thư ký Ban Biên tập"
    return "Thư ký Ban Biên tập (" + ", ".join(f"{m.name}, {m.email}" for m in people) + ")"


def _about(item: Submission | None) -> str:
    if item is None:
        return "tin, bài"
    return f"tin, bài “{_title(item.title)}” (mã theo dõi {item.tracking_code})"


def refused_reply(
    board: Board,
    *,
    to: Member,
    item: Submission | None,
    reason_vi: str,
    evidence: str,
    in_reply_to: str | None,
    message_id: str | None = None,
) -> EmailMessage:
    """Tell the real reviewer that an answer in his name was not counted, and why."""
    code = f" — {item.tracking_code}" if item is not None else ""
    subject = f"[Cảnh báo] Ý kiến nhân danh ông/bà không được ghi nhận{code}"
    text = (
        f"Kính gửi ông/bà {to.name},\n\n"
        f"Hệ thống đã không ghi nhận một ý kiến gửi nhân danh ông/bà về {_about(item)}.\n\n"
        f"Lý do: {reason_vi.strip()}\n"
        f"Thông tin ghi nhận: {evidence.strip()}\n\n"
        "Nếu đó là ông/bà, hãy dùng liên kết trong thư mới nhất hoặc trả lời từ địa chỉ thư "
        f"công vụ {to.email}.\n\n"
        "Nếu không phải ông/bà, ý kiến đó không có hiệu lực và ông/bà không cần làm gì thêm; "
        f"đề nghị báo cho {_secretaries(board)} biết để kiểm tra."
    )
    msg = _message(
        board,
        to=_address(to.name, to.email),
        subject=subject,
        message_id=message_id,
        in_reply_to=in_reply_to,
    )
    return _simple(
        board,
        msg,
        "Ý kiến nhân danh ông/bà không được ghi nhận",
        text,
        SIGNATURE.format(name=board.mail_out.from_name),
    )


def _reply_subject(subject: str) -> str:
    subject = _one_line(subject)
    lowered = subject.lower()
    if lowered.startswith(("re:", "tl:", "trả lời:", "aw:")):
        return subject
    return f"Re: {subject}" if subject else "Re: Yêu cầu duyệt tin, bài"


def reply_answer(
    board: Board,
    *,
    to: str,
    subject: str,
    in_reply_to: str | None,
    text: str,
    message_id: str | None = None,
) -> EmailMessage:
    """Answer a reply that could not be read or applied; the commands are appended.

    ``subject`` is the subject of the mail answered; "Re: " is added unless it has one."""
    body = text.strip()
    if HELP_VI not in body:
        body += f"\n\n{HELP_VI}"
    msg = _message(
        board,
        to=to,
        subject=_reply_subject(subject),
        message_id=message_id,
        in_reply_to=in_reply_to,
        auto_replied=in_reply_to is not None,
    )
    return _simple(
        board,
        msg,
        "Chưa thực hiện được ý kiến của ông/bà",
        body,
        REPLY_FOOTER.format(name=board.mail_out.from_name),
    )


def decision_receipt(
    board: Board,
    *,
    to: Member,
    item: Submission,
    text: str,
    in_reply_to: str | None,
    message_id: str | None = None,
) -> EmailMessage:
    """Confirm to a reviewer what was recorded in his name."""
    subject = f"[{item.tracking_code}] Đã ghi nhận ý kiến: {_title(item.title)}"
    body = (
        f"Kính gửi ông/bà {to.name},\n\n"
        f"Đã ghi nhận: {text.strip()}\n\n"
        f"Về: {_about(item)}\n"
        f"Thời điểm: {when_vi(board, utcnow())}\n\n"
        "Nếu không phải ông/bà gửi ý kiến này, vui lòng báo ngay cho "
        f"{_secretaries(board)}."
    )
    msg = _message(
        board,
        to=_address(to.name, to.email),
        subject=subject,
        message_id=message_id,
        in_reply_to=in_reply_to,
        auto_replied=in_reply_to is not None,
    )
    return _simple(
        board, msg, "Đã ghi nhận ý kiến", body, SIGNATURE.format(name=board.mail_out.from_name)
    )
