"""Mails of the review workflow: requests to reviewers, published notices, digests,
outcomes, answers.

Every function builds and returns a :class:`pipeline.mailbuild.Mail` with the
building blocks of :mod:`pipeline.mailkit` (layout, envelope, attachments); the caller
queues it (``outgoing_mail``). The item's ``body_html`` was sanitised when it was stored
and is embedded as is; every other value put into HTML is escaped.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from pipeline import diffing
from pipeline.commands import HELP_VI
from pipeline.config import Board, Member, Role
from pipeline.docmeta import KIND_LABELS
from pipeline.files import FileStore
from pipeline.mailbuild import Mail
from pipeline.mailkit import (
    BLUE,
    BOX,
    CODE,
    CORRECTION_NOTE,
    DEFAULT_ATTACH_LIMIT,
    GREEN,
    H1,
    H2,
    MUTED,
    NOTE,
    OVERDUE,
    P,
    attach,
    button,
    dear_sender,
    esc,
    files_section,
    footer_html,
    how_to_correct,
    html_document,
    indent,
    message,
    named_address,
    number_vi,
    one_line,
    pick_files,
    sender_of,
    set_bodies,
    signature,
    simple,
    subject_title,
    text_heading,
    title_line,
    when_vi,
)
from pipeline.models import StoredFile, Submission, utcnow
from pipeline.sanitize import with_destinations

# "check": the verifier compares the live post with the approved version (verify = "human")
Purpose = Literal["request", "again", "reminder", "escalated", "check"]
Outcome = Literal["approved", "changes", "rejected"]

SUBJECT_PREFIX: dict[str, str] = {
    "request": "[Duyệt tin bài]",
    "again": "[Duyệt lại]",
    "reminder": "[Nhắc duyệt]",
    "escalated": "[Quá hạn, đề nghị duyệt thay]",
    "check": "[Kiểm tra bài đã đăng]",
}
HEADLINE: dict[str, str] = {
    "request": "Đề nghị duyệt tin, bài",
    "again": "Đề nghị duyệt lại: nội dung đã thay đổi",
    "reminder": "Nhắc: tin, bài đang chờ ông/bà duyệt",
    "escalated": "Tin, bài đã quá hạn: đề nghị ông/bà duyệt thay",
    "check": "Đề nghị kiểm tra bài đã đăng trên cổng",
}

REPLY_NOTE = (
    "Thư này được gửi tự động. Để xử lý, bấm nút hoặc trả lời thư này theo hướng dẫn ở trên."
)
DIGEST_NOTE = (
    "Thư này được gửi tự động mỗi ngày làm việc; vui lòng không trả lời nếu không cần thiết."
)
ANSWER_NOTE = "Thư này được gửi tự động. Để xử lý, vui lòng trả lời thư này theo hướng dẫn ở trên."
RECORDED = "Đã ghi nhận:"


@dataclass(frozen=True)
class DigestEntry:
    """One item waiting for the digest's recipient."""

    tracking_code: str
    title: str
    step_name: str
    due_at: datetime | None
    overdue: bool
    view_url: str


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
        "escalated": (
            "Tin, bài dưới đây đã quá hạn xử lý mà chưa có ý kiến duyệt. Đề nghị ông/bà "
            "xem xét, cho ý kiến thay ở bước này."
        ),
        "check": (
            "Tin, bài dưới đây đã được đăng lên Cổng thông tin điện tử. Đề nghị ông/bà đối "
            "chiếu bài trên cổng với bản đã duyệt, rồi xác nhận hoặc yêu cầu cập nhật lại."
        ),
    }
    step = f"Bước: {one_line(step_name)}"
    if acting_for is not None:
        reason = f", {one_line(acting_reason)}" if acting_reason else ""
        step += f" (thay {acting_for.name}{reason})"
    greeting = f"Kính gửi ông/bà {recipient.name},"
    text = f"{greeting}\n\n{sentences[purpose]}\n\n{step}"
    html_part = (
        f'<h1 style="{H1}">{esc(HEADLINE[purpose])}</h1>'
        f'<p style="{P}">{esc(greeting)}</p>'
        f'<p style="{P}">{esc(sentences[purpose])}</p>'
        f'<p style="{P}"><b>{esc(step)}</b></p>'
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
        rows.append(("Trích yếu", one_line(str(document["summary"]))))
    return rows


def _details(board: Board, item: Submission, due_at: datetime | None) -> list[tuple[str, str]]:
    rows = [("Mã theo dõi", item.tracking_code)]
    rows.append(("Người gửi", sender_of(item)))
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
            rows.append((label, one_line(value)))
    if item.document:
        rows.extend(_document_line(item.document))
    if due_at is not None:
        late = " (đã quá hạn)" if due_at < utcnow() else ""
        rows.append(("Hạn xử lý", when_vi(board, due_at) + late))
    return rows


def _rows_section(rows: list[tuple[str, str]]) -> tuple[str, str]:
    text = "\n".join(f"  {label}: {value}" for label, value in rows)
    cells = "<br>".join(f"<b>{esc(label)}:</b> {esc(value)}" for label, value in rows)
    return text, f'<p style="{P}">{cells}</p>'


def _flag_words(flag: dict[str, object]) -> str:
    return one_line(str(flag.get("message") or flag.get("code") or ""))


def _flags_section(flags: list[dict[str, object]]) -> tuple[str, str]:
    words = [w for w in (_flag_words(f) for f in flags) if w]
    if not words:
        return "", ""
    title = "Lưu ý khi duyệt"
    text = text_heading(title) + "\n" + "\n".join(f"  - {w}" for w in words)
    items = "".join(f"<li>{esc(w)}</li>" for w in words)
    return text, (
        f'<div style="{NOTE}"><b>{title}</b><ul style="margin:6px 0 0 0;padding-left:20px;">'
        f"{items}</ul></div>"
    )


def _diff_section(diff: tuple[str, str] | None) -> tuple[str, str]:
    if diff is None:
        return "", ""
    old, new = diff
    title = "Nội dung đã thay đổi so với bản trước"
    line = diffing.summary(old, new)
    plain = diffing.text_diff_plain(old, new)
    text = text_heading(title) + f"\n{line}." + (f"\n\n{plain}" if plain else "")
    html_part = f'<h2 style="{H2}">{title}</h2><p style="{P}">{esc(line)}.</p>'
    if plain:
        html_part += f'<div style="{BOX}">{diffing.text_diff_html(old, new)}</div>'
    return text, html_part


def _preview(item: Submission) -> tuple[str, str]:
    title = "Nội dung tin, bài"
    name = title_line(item.title)
    body_text = (item.body_text or "").strip() or "(không có nội dung)"
    text = f"{text_heading(title)}\n{name}\n\n{body_text}\n{'-' * len(title)}"
    html_part = (
        f'<h2 style="{H2}">{title}</h2><div style="{BOX}">'
        f'<h3 style="font-size:19px;line-height:1.3;margin:0 0 10px 0;">{esc(name)}</h3>'
        f"{with_destinations(item.body_html or '')}</div>"  # sanitised when stored
    )
    return text, html_part


def _history_section(history: list[str]) -> tuple[str, str]:
    lines = [one_line(h) for h in history if h and h.strip()]
    if not lines:
        return "", ""
    title = "Quá trình xử lý"
    items = "".join(f"<li>{esc(h)}</li>" for h in lines)
    return (
        text_heading(title) + "\n" + "\n".join(f"  - {h}" for h in lines),
        f'<h2 style="{H2}">{title}</h2><ul style="{P}">{items}</ul>',
    )


def _forward_example(board: Board, recipient: Member) -> str:
    other = next((m for m in board.members if m.id != recipient.id), recipient)
    return other.email


def _commands(board: Board, recipient: Member, purpose: Purpose) -> list[tuple[str, str]]:
    """(command, what it does / an example), in the order reviewers need them; a verifier
    has two (``review._on_check`` refuses the others)."""
    if purpose == "check":
        return [
            ("DUYỆT", "xác nhận bài trên cổng đúng với bản đã duyệt"),
            (
                "SỬA: <nội dung cần cập nhật>",
                "yêu cầu cập nhật lại bài trên cổng; ví dụ: SỬA: Ảnh thứ hai chưa được đăng.",
            ),
        ]
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
    board: Board,
    recipient: Member,
    purpose: Purpose,
    approve_url: str,
    view_url: str,
    link_days: float,
) -> tuple[str, str]:
    title = "Cách xử lý"
    check = purpose == "check"
    if check:  # the labels of the link page's buttons
        approve, view = "Đúng — xác nhận bài đã đăng", "Xem, so sánh hoặc yêu cầu cập nhật lại"
        english = "Tiếng Anh: APPROVE, CHANGES: <what to fix>."
        forward = ""
    else:
        approve, view = "Duyệt", "Xem, sửa, trả lại hoặc từ chối"
        english = "Tiếng Anh: APPROVE, REJECT: <reason>, CHANGES: <what to fix>, FORWARD <member>."
        forward = "; để nhờ thành viên khác xem xét, dùng lệnh CHUYỂN"
    first = "1. Bấm nút (hoặc mở liên kết):"
    second = (
        "2. Hoặc trả lời thư này, ghi một lệnh ở dòng đầu tiên (có dấu hay không dấu đều được):"
    )
    own = f"Thư trả lời phải gửi từ địa chỉ thư công vụ của ông/bà ({recipient.email})."
    links = (
        f"Các liên kết trong thư này là riêng của ông/bà, chỉ dùng được một lần và hết hạn sau "
        f"{number_vi(link_days)} ngày. Vui lòng không chuyển tiếp thư này{forward}."
    )
    commands = _commands(board, recipient, purpose)
    text = "\n".join(
        [
            text_heading(title),
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
        f'<li style="margin-bottom:8px;"><span style="{CODE}">{esc(cmd)}</span><br>{esc(what)}</li>'
        for cmd, what in commands
    )
    html_part = (
        f'<h2 style="{H2}">{title}</h2>'
        f'<p style="{P}">{esc(first)}</p>'
        + button(approve, approve_url, GREEN)
        + button(view, view_url, BLUE)
        + f'<p style="{P}margin-top:16px;">{esc(second)}</p>'
        f'<ul style="{P}padding-left:20px;">{items}</ul>'
        f'<p style="{P}">{esc(english)}<br>{esc(own)}</p>'
        f'<p style="{MUTED}">{esc(links)}</p>'
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
) -> Mail:
    """Ask ``recipient`` to review ``item`` at a step: by a button, or by a reply."""
    name = subject_title(item.title)
    subject = f"{SUBJECT_PREFIX[purpose]} {name} — {item.tracking_code} {one_line(subject_tag)}"
    msg = message(
        board,
        to=named_address(recipient.name, recipient.email),
        subject=subject,
        message_id=message_id,
        reply_to=reply_to,
    )
    picked = pick_files(files, filestore, attach_limit)
    sections = [
        _intro(board, recipient, purpose, step_name, acting_for, acting_reason),
        _rows_section(_details(board, item, due_at)),
        _flags_section(flags),
        _diff_section(diff),
        _preview(item),
        files_section(picked),
        _history_section(history),
        _howto(board, recipient, purpose, approve_url, view_url, link_days),
    ]
    text = "\n\n".join(t for t, _ in sections if t)
    text += signature(board, REPLY_NOTE)
    blocks = [h for _, h in sections if h] + [footer_html(board, REPLY_NOTE)]
    set_bodies(msg, text, html_document(subject, blocks))
    attach(msg, picked)
    return msg


# --- Published: the head may withdraw or correct -----------------------------------------------

PUBLISHED_FOOTER = (
    "Thư này được gửi tự động. Nếu cần gỡ bài hoặc đính chính, bấm nút hoặc trả lời thư này "
    "theo hướng dẫn ở trên."
)
EXCERPT_CHARS = 300  # of the body text, in the published notice


def _published_intro(recipient: Member) -> tuple[str, str]:
    heading = "Tin, bài đã được đăng trên cổng"
    greeting = f"Kính gửi ông/bà {recipient.name},"
    sentence = "Tin, bài dưới đây đã được đăng trên Cổng thông tin điện tử."
    text = f"{greeting}\n\n{sentence}"
    html_part = (
        f'<h1 style="{H1}">{esc(heading)}</h1>'
        f'<p style="{P}">{esc(greeting)}</p>'
        f'<p style="{P}">{esc(sentence)}</p>'
    )
    return text, html_part


def _published_details(item: Submission, public_url: str) -> tuple[str, str]:
    label = "Xem trên cổng"
    rows = [("Tiêu đề", title_line(item.title)), ("Mã theo dõi", item.tracking_code)]
    text, html_part = _rows_section(rows)
    return f"{text}\n  {label}: {public_url}", html_part + button(label, public_url, GREEN)


def _excerpt(item: Submission) -> tuple[str, str]:
    body = textwrap.shorten(item.body_text or "", EXCERPT_CHARS, placeholder=" …")
    if not body:
        return "", ""
    title = "Trích nội dung"
    return (
        f"{text_heading(title)}\n{body}",
        f'<h2 style="{H2}">{title}</h2><div style="{BOX}">{esc(body)}</div>',
    )


def _published_howto(recipient: Member, view_url: str, link_days: float) -> tuple[str, str]:
    title = "Cách xử lý nếu cần"
    fine = "Nếu tin, bài đã đúng, ông/bà không cần làm gì."
    view = "Gỡ bài hoặc đính chính"
    first = "1. Bấm nút (hoặc mở liên kết):"
    correct = (
        "Đính chính được thực hiện trên trang này: ông/bà sửa nội dung ngay trên trang, cổng "
        "được cập nhật theo bản đã sửa. Trên trang này cũng có thể gỡ bài khỏi cổng."
    )
    second = (
        "2. Hoặc, để gỡ bài khỏi cổng, trả lời thư này, ghi ở dòng đầu tiên "
        "(có dấu hay không dấu đều được):"
    )
    command, example = "GỠ BÀI: <lý do>", "ví dụ: GỠ BÀI: Số liệu trong bài chưa chính xác."
    english = "Tiếng Anh: WITHDRAW: <reason>."
    own = f"Thư trả lời phải gửi từ địa chỉ thư công vụ của ông/bà ({recipient.email})."
    links = (
        f"Liên kết “{view}” là riêng của ông/bà, chỉ dùng được một lần và hết hạn sau "
        f"{number_vi(link_days)} ngày. Vui lòng không chuyển tiếp thư này."
    )
    text = "\n".join(
        [
            text_heading(title),
            fine,
            "",
            first,
            f"   {view}: {view_url}",
            f"   {correct}",
            "",
            second,
            f"   {command}\n      {example}",
            f"   {english}",
            f"   {own}",
            "",
            links,
        ]
    )
    html_part = (
        f'<h2 style="{H2}">{title}</h2>'
        f'<p style="{P}">{esc(fine)}</p>'
        f'<p style="{P}">{esc(first)}</p>'
        + button(view, view_url, BLUE)
        + f'<p style="{P}">{esc(correct)}</p>'
        f'<p style="{P}margin-top:16px;">{esc(second)}</p>'
        f'<p style="{P}"><span style="{CODE}">{esc(command)}</span><br>{esc(example)}</p>'
        f'<p style="{P}">{esc(english)}<br>{esc(own)}</p>'
        f'<p style="{MUTED}">{esc(links)}</p>'
    )
    return text, html_part


def published_notice(
    board: Board,
    item: Submission,
    *,
    recipient: Member,
    public_url: str,
    view_url: str,
    reply_to: str,
    subject_tag: str,
    message_id: str,
    link_days: float = 7,
) -> Mail:
    """Tell ``recipient`` (the head) that ``item`` is live at ``public_url``.

    He may withdraw or correct it on his page ``view_url``, or withdraw it by a reply
    (``GỠ BÀI: <lý do>``). Both URLs must be http(s) (ValueError otherwise)."""
    name = subject_title(item.title)
    subject = f"[Đã đăng] {name} — {item.tracking_code} {one_line(subject_tag)}"
    msg = message(
        board,
        to=named_address(recipient.name, recipient.email),
        subject=subject,
        message_id=message_id,
        reply_to=reply_to,
    )
    sections = [
        _published_intro(recipient),
        _published_details(item, public_url),
        _excerpt(item),
        _published_howto(recipient, view_url, link_days),
    ]
    text = "\n\n".join(t for t, _ in sections if t)
    text += signature(board, PUBLISHED_FOOTER)
    blocks = [h for _, h in sections if h] + [footer_html(board, PUBLISHED_FOOTER)]
    return set_bodies(msg, text, html_document(subject, blocks))


# --- Digest --------------------------------------------------------------------------------------


def _digest_order(entries: list[DigestEntry]) -> list[DigestEntry]:
    far = datetime.max.replace(tzinfo=UTC)
    return sorted(entries, key=lambda e: (not e.overdue, e.due_at or far))


def _digest_entry(board: Board, n: int, e: DigestEntry) -> tuple[str, str]:
    name = title_line(e.title)
    facts = [f"Mã theo dõi: {e.tracking_code}", f"Bước: {one_line(e.step_name)}"]
    if e.due_at is not None:
        facts.append(f"Hạn: {when_vi(board, e.due_at)}")
    mark = "[Quá hạn] " if e.overdue else ""
    text = f"{n}. {mark}{name}\n   {' · '.join(facts)}\n   Xem và duyệt: {e.view_url}"
    border = "#b91c1c" if e.overdue else "#d1d5db"
    badge = f'<span style="{OVERDUE}">Quá hạn</span><br>' if e.overdue else ""
    html_part = (
        f'<div style="border:1px solid #d1d5db;border-left:5px solid {border};border-radius:6px;'
        f'padding:10px 12px;margin:0 0 12px 0;">{badge}'
        f'<b style="font-size:17px;">{esc(name)}</b>'
        f'<p style="font-size:15px;color:#4b5563;margin:4px 0 0 0;">{esc(" · ".join(facts))}</p>'
        + button("Xem và duyệt", e.view_url, BLUE)
        + "</div>"
    )
    return text, html_part


def digest(board: Board, *, recipient: Member, entries: list[DigestEntry]) -> Mail:
    """The daily list of what waits for ``recipient``, overdue items first."""
    ordered = _digest_order(entries)
    late = sum(1 for e in ordered if e.overdue)
    if ordered:
        subject = f"[Tin bài chờ duyệt] {len(ordered)} tin, bài đang chờ ông/bà duyệt"
        subject += f" ({late} quá hạn)" if late else ""
    else:
        subject = "[Tin bài chờ duyệt] Không có tin, bài chờ ông/bà duyệt"
    msg = message(board, to=named_address(recipient.name, recipient.email), subject=subject)
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
    text += f"\n\n{links}" + signature(board, DIGEST_NOTE)
    blocks = [
        f'<h1 style="{H1}">{esc(heading)}</h1>',
        f'<p style="{P}">{esc(greeting)}</p>',
        f'<p style="{MUTED}">{esc(as_of)}.</p>',
        *(h for _, h in rows),
        f'<p style="{MUTED}">{esc(links)}</p>' if rows else f'<p style="{P}">{esc(empty)}</p>',
        footer_html(board, DIGEST_NOTE),
    ]
    return set_bodies(msg, text, html_document(subject, blocks))


# --- Outcome to the sender -----------------------------------------------------------------------


def outcome_to_sender(
    board: Board,
    item: Submission,
    *,
    outcome: Outcome,
    text: str | None,
    in_reply_to: str | None,
    message_id: str | None = None,
) -> Mail:
    """Tell the sender the board's decision: approved, changes asked, or rejected."""
    if outcome in ("changes", "rejected") and not (text and text.strip()):
        raise ValueError(f"outcome {outcome!r} needs the text to send (what to fix, the reason)")
    code, name = item.tracking_code, title_line(item.title)
    about = f"tin, bài “{name}” (mã theo dõi {code})"
    short = subject_title(item.title)
    subjects = {
        "approved": f"[{code}] Đã duyệt: {short}",
        "changes": f"[{code}] Đề nghị chỉnh sửa: {short}",
        "rejected": f"[{code}] Không duyệt đăng: {short}",
    }
    said = indent(text or "")
    if outcome == "approved":
        body = (
            f"{board.name} đã duyệt {about}. Tin, bài sẽ được đăng tải trên Cổng thông tin điện tử."
        )
        body += f"\n\nÝ kiến của Ban Biên tập:\n{said}" if said else ""
    elif outcome == "changes":
        body = (
            f"{board.name} đã xem {about} và đề nghị quý cơ quan, đơn vị chỉnh sửa trước khi "
            f"đăng tải.\n\nNội dung cần sửa:\n{said}\n\n{how_to_correct(code)}"
        )
    else:
        body = (
            f"{board.name} không duyệt đăng {about}.\n\nLý do:\n{said}\n\n"
            "Nếu cần trao đổi thêm, vui lòng liên hệ Ban Biên tập và ghi rõ mã theo dõi ở trên."
        )
    greeting = dear_sender(item)
    msg = message(
        board,
        to=named_address(item.sender_name, item.sender_address),
        subject=subjects[outcome],
        message_id=message_id,
        in_reply_to=in_reply_to,
    )
    msg.text = f"{greeting}\n\n{body}" + (
        signature(board, CORRECTION_NOTE) if outcome == "changes" else signature(board)
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
    return f"tin, bài “{title_line(item.title)}” (mã theo dõi {item.tracking_code})"


def _to_member(
    board: Board,
    to: Member,
    subject: str,
    heading: str,
    text: str,
    *,
    message_id: str | None,
    in_reply_to: str | None,
    auto_replied: bool = False,
) -> Mail:
    """A short mail to a board member, signed by the board."""
    msg = message(
        board,
        to=named_address(to.name, to.email),
        subject=subject,
        message_id=message_id,
        in_reply_to=in_reply_to,
        auto_replied=auto_replied,
    )
    return simple(board, msg, heading, text)


def refused_reply(
    board: Board,
    *,
    to: Member,
    item: Submission | None,
    reason_vi: str,
    evidence: str,
    in_reply_to: str | None,
    message_id: str | None = None,
) -> Mail:
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
    return _to_member(
        board,
        to,
        subject,
        "Ý kiến nhân danh ông/bà không được ghi nhận",
        text,
        message_id=message_id,
        in_reply_to=in_reply_to,
    )


def _reply_subject(subject: str) -> str:
    subject = one_line(subject)
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
) -> Mail:
    """Answer a reply that could not be read or applied; the commands are appended.

    ``subject`` is the subject of the mail answered; "Re: " is added unless it has one."""
    body = text.strip()
    if HELP_VI not in body:
        body += f"\n\n{HELP_VI}"
    msg = message(
        board,
        to=to,
        subject=_reply_subject(subject),
        message_id=message_id,
        in_reply_to=in_reply_to,
        auto_replied=in_reply_to is not None,
    )
    return simple(board, msg, "Chưa thực hiện được ý kiến của ông/bà", body, ANSWER_NOTE)


def decision_receipt(
    board: Board,
    *,
    to: Member,
    item: Submission,
    text: str,
    in_reply_to: str | None,
    message_id: str | None = None,
) -> Mail:
    """Confirm to a reviewer what was recorded in his name: ``text`` says it, with or
    without its leading «Đã ghi nhận:» (the workflow's own answer has it)."""
    subject = f"[{item.tracking_code}] Đã ghi nhận ý kiến: {subject_title(item.title)}"
    said = text.strip().removeprefix(RECORDED).strip()
    body = (
        f"Kính gửi ông/bà {to.name},\n\n"
        f"{RECORDED} {said}\n\n"
        f"Về: {_about(item)}\n"
        f"Thời điểm: {when_vi(board, utcnow())}\n\n"
        "Nếu không phải ông/bà gửi ý kiến này, vui lòng báo ngay cho "
        f"{_secretaries(board)}."
    )
    return _to_member(
        board,
        to,
        subject,
        "Đã ghi nhận ý kiến",
        body,
        message_id=message_id,
        in_reply_to=in_reply_to,
        auto_replied=in_reply_to is not None,
    )
