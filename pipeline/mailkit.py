"""Building blocks of the HTML+text mails bientap writes: layout, envelope, attachments.

A mail is a :class:`pipeline.mailbuild.Mail` (built into MIME when it is queued). It is
read on phones: the text/plain part comes first, then an HTML alternative in one column
(at most 640px wide, 15px text or larger, links drawn as big buttons), with inline styles
only, no script and nothing fetched from outside. Every value put into HTML here is
escaped; HTML handed in as a block is the caller's (sanitised or built with :func:`esc`).

Every mail carries ``Auto-Submitted``, ``X-Auto-Response-Suppress`` and the loop header,
so no mail loop can start.
"""

from __future__ import annotations

import base64
import html
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, formataddr, make_msgid
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from pipeline.config import Board
from pipeline.files import FileStore
from pipeline.mailbuild import Mail, Part
from pipeline.models import StoredFile, Submission, utcnow
from pipeline.sanitize import text_to_html
from pipeline.screening import LOOP_HEADER

DEFAULT_ATTACH_LIMIT = 10 * 1024 * 1024  # bytes of attachments per mail, before encoding
LARGE_FILE_NOTE = "tệp lớn, xem trên trang duyệt"
NO_TITLE = "(không có tiêu đề)"
SUBJECT_TITLE_CHARS = 120  # of an item's title in a Subject; the whole title is in the mail

# Inline styles (values of ``style=""``): Gmail and most mobile clients keep only these.
_BODY = "margin:0;padding:0;background-color:#f3f4f6;"
_WRAP = (  # a word longer than the screen (a URL, a code, a run-together title) breaks
    "max-width:640px;margin:0 auto;padding:16px;background-color:#ffffff;"
    "font-family:Arial,Helvetica,sans-serif;font-size:16px;line-height:1.5;color:#111827;"
    "overflow-wrap:anywhere;word-wrap:break-word;word-break:break-word;"
)
# the sender's own HTML (the preview) has no styles: its preformatted text wraps, its
# images and tables keep to the column
_SHEET = "img{max-width:100%;height:auto;}pre{white-space:pre-wrap;}table{max-width:100%;}"
H1 = "font-size:22px;line-height:1.3;margin:0 0 12px 0;"
H2 = "font-size:18px;line-height:1.3;margin:24px 0 8px 0;"
P = "margin:0 0 12px 0;font-size:16px;"  # a paragraph
MUTED = "margin:0 0 12px 0;font-size:15px;color:#4b5563;"  # a grey side note
BOX = (  # a framed block, e.g. the article's preview
    "border:1px solid #d1d5db;border-radius:6px;padding:12px;margin:8px 0 16px 0;"
    "overflow-wrap:break-word;word-wrap:break-word;"
)
NOTE = (  # an orange call-out: what the reader must mind
    "background-color:#fff7ed;border-left:4px solid #ea580c;padding:10px 12px;"
    "margin:8px 0 16px 0;font-size:16px;"
)
_BUTTON = (
    "display:block;padding:14px 16px;margin:10px 0;color:#ffffff;text-decoration:none;"
    "border-radius:6px;font-size:18px;font-weight:bold;text-align:center;"
    "background-color:{color};"
)
GREEN, BLUE = "#15803d", "#1d4ed8"  # button colours
CODE = "font-weight:bold;font-size:17px;"  # a command the reader types
OVERDUE = (  # a red badge
    "display:inline-block;padding:2px 8px;border-radius:4px;background-color:#b91c1c;"
    "color:#ffffff;font-size:15px;font-weight:bold;"
)


# --- Text and HTML -------------------------------------------------------------------------------


def esc(value: object) -> str:
    """``value`` as text escaped for HTML (quotes included)."""
    return html.escape(str(value), quote=True)


def one_line(text: str | None) -> str:
    """``text`` with every run of white space (line breaks included) folded to one space."""
    return " ".join((text or "").split())


def title_line(text: str | None) -> str:
    """A title on one line, or :data:`NO_TITLE` when there is none."""
    return one_line(text) or NO_TITLE


def subject_title(text: str | None) -> str:
    """A title for a Subject: :func:`title_line`, cut after the last whole word that fits
    in :data:`SUBJECT_TITLE_CHARS` and marked "…" (inside a word only when one word is
    most of it), so that what follows the title (a tracking code, a reply tag) is kept."""
    title = title_line(text)
    if len(title) <= SUBJECT_TITLE_CHARS:
        return title
    cut = title[: SUBJECT_TITLE_CHARS + 1].rpartition(" ")[0].rstrip(" ,.;:-–—")
    if len(cut) < SUBJECT_TITLE_CHARS // 2:
        cut = title[:SUBJECT_TITLE_CHARS]
    return f"{cut}…"


def sender_of(item: Submission) -> str:
    """The sender of ``item`` as a reader knows him: "name <address>", or the address."""
    if item.sender_name and one_line(item.sender_name):
        return f"{one_line(item.sender_name)} <{item.sender_address}>"
    return item.sender_address or "(không rõ)"


def dear_sender(item: Submission) -> str:
    """The greeting of a mail to the sender of ``item``: his name, else his address."""
    return f"Kính gửi {one_line(item.sender_name) or item.sender_address},"


def _href(url: str) -> str:
    """An escaped http(s) URL for an ``href``; anything else is a caller's bug."""
    if urlsplit(url).scheme.lower() not in ("http", "https"):
        raise ValueError("review links must be http(s) URLs")
    return esc(url)


def _local(board: Board, when: datetime) -> datetime:
    aware = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    return aware.astimezone(ZoneInfo(board.timezone))


def when_vi(board: Board, when: datetime) -> str:
    """``dd/mm/yyyy HH:MM`` in the board's time zone."""
    return _local(board, when).strftime("%d/%m/%Y %H:%M")


def number_vi(value: float) -> str:
    """A number with at most one decimal, comma-separated: "2,5", "7"."""
    text = f"{value:.1f}".rstrip("0").rstrip(".")
    return text.replace(".", ",")


def size_vi(size: int) -> str:
    """A file size as Vietnamese readers write it: "1,5 MB", "320 KB"."""
    if size >= 1024 * 1024:
        return f"{number_vi(size / (1024 * 1024))} MB"
    if size >= 1024:
        return f"{number_vi(size / 1024)} KB"
    return f"{size} byte"


def over_limit(size: int, limit_mb: float) -> str:
    """A size over a limit, as a sender needs it to act: "25,8 MB; tối đa 25 MB" (rounded
    up, so that a size just over the limit never reads as the limit itself)."""
    tenths = math.ceil(size * 10 / (1024 * 1024)) / 10
    return f"{number_vi(tenths)} MB; tối đa {number_vi(limit_mb)} MB"


def indent(text: str, prefix: str = "   ") -> str:
    """``text`` stripped, each non-empty line prefixed (for quoting in a text part)."""
    return "\n".join(prefix + line if line else "" for line in text.strip().splitlines())


def text_heading(text: str) -> str:
    """A heading for a text part: ``text`` underlined with dashes."""
    return f"{text}\n{'-' * len(text)}"


def html_document(title: str, blocks: Sequence[str]) -> str:
    """The whole HTML part: ``blocks`` (HTML) in the one-column house layout."""
    return (
        '<!DOCTYPE html>\n<html lang="vi"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title>"
        f"<style>{_SHEET}</style></head>\n"
        f'<body style="{_BODY}"><div style="{_WRAP}">\n'
        + "\n".join(blocks)
        + "\n</div></body></html>\n"
    )


def button(label: str, url: str, color: str) -> str:
    """A link drawn as a full-width button; ``url`` must be http(s) (ValueError otherwise)."""
    return f'<a href="{_href(url)}" style="{_BUTTON.format(color=color)}">{esc(label)}</a>'


AUTOMATIC = "Thư này được gửi tự động; vui lòng không trả lời nếu không cần thiết."
CORRECTION_NOTE = "Thư này được gửi tự động. Để gửi bản đã sửa, vui lòng trả lời thư này."


def how_to_correct(code: str) -> str:
    """How a sender sends a corrected version: by answering, the tracking code kept."""
    return (
        "Sau khi sửa, vui lòng trả lời thư này kèm bản đã sửa (trong nội dung thư hoặc tệp "
        f"đính kèm), giữ nguyên mã theo dõi [{code}] trong tiêu đề thư, để Ban Biên tập "
        "tiếp tục xem xét."
    )


def signature(board: Board, note: str = AUTOMATIC) -> str:
    """The text part's signature: RFC 3676's "-- " line, the board's sender name, ``note``
    (a mail client leaves it out of the reply it quotes)."""
    return f"\n\n-- \n{board.mail_out.from_name}\n{note}\n"


def footer_html(board: Board, note: str = AUTOMATIC) -> str:
    """The HTML signature: the board's sender name and ``note``."""
    return f'<p style="{MUTED}">—<br>{esc(board.mail_out.from_name)}<br>{esc(note)}</p>'


# --- The envelope --------------------------------------------------------------------------------


_WORD_BYTES = 45  # of UTF-8 in one base64 encoded word: 12 + 4 * 45 / 3 = 72 characters


def _encoded_words(text: str) -> str:
    """``text`` as RFC 2047 encoded words of at most 75 characters, each ending after a
    whole word and its space where it can, so that a reader that keeps the space between
    two encoded words (RFC 2047 says to drop it) shows two spaces, never a split word."""
    chunks: list[bytes] = [b""]
    for token in re.findall(r"\S+\s*", text):
        data = token.encode("utf-8")
        if chunks[-1] and len(chunks[-1]) + len(data) > _WORD_BYTES:
            chunks.append(b"")
        for char in token:  # a word longer than one encoded word is split by letters
            if len(chunks[-1]) + len(char.encode("utf-8")) > _WORD_BYTES:
                chunks.append(b"")
            chunks[-1] += char.encode("utf-8")
    return " ".join(f"=?utf-8?b?{base64.b64encode(c).decode('ascii')}?=" for c in chunks)


def named_address(name: str | None, address: str) -> str:
    """``name <address>`` for a header; a name that is not ASCII is written in short
    encoded words the header folds between (one word for the whole name broke RFC 2047's
    75 characters from about 40 Vietnamese letters, and SMTP's 998 from about 700)."""
    shown = one_line(name)
    if not address.isascii():  # the header would encode it whole: no name then
        return address
    if shown.isascii():
        return formataddr((shown, address))
    return f"{_encoded_words(shown)} <{address}>"


# A Message-ID we answer is the sender's: one longer than this would make a header line
# past SMTP's 998 characters (RFC 5322 2.1.1), and a server may refuse the whole mail.
MAX_REFERENCED_ID = 900


def _bracketed(message_id: str) -> str:
    return f"<{message_id.strip().strip('<>')}>"


def message(
    board: Board,
    *,
    to: str,
    subject: str,
    message_id: str | None = None,
    in_reply_to: str | None = None,
    reply_to: str | None = None,
    auto_replied: bool = False,
) -> Mail:
    """A mail from the board with its headers set and no body yet. Its replies go to
    ``reply_to``, else to the board's first mailbox when the From address is none of its
    mailboxes (a sender's corrected version, a reviewer's answer would be lost there)."""
    out = board.mail_out
    msg = Mail()
    msg.add("From", named_address(out.from_name, out.from_address))
    msg.add("To", to)
    boxes = [m.address for m in board.mailboxes]
    reply_to = reply_to or (None if out.from_address in boxes else boxes[0])
    if reply_to:
        msg.add("Reply-To", reply_to)
    msg.add("Subject", one_line(subject))
    msg.add("Date", format_datetime(_local(board, utcnow())))
    if message_id:
        msg.add("Message-ID", _bracketed(message_id))
    else:
        msg.add("Message-ID", make_msgid(domain=out.from_address.rpartition("@")[2]))
    if in_reply_to and len(in_reply_to) <= MAX_REFERENCED_ID:
        msg.add("In-Reply-To", _bracketed(in_reply_to))
        msg.add("References", _bracketed(in_reply_to))
    # RFC 3834: "auto-replied" for an automatic answer to a message, else "auto-generated".
    msg.add("Auto-Submitted", "auto-replied" if auto_replied else "auto-generated")
    msg.add("X-Auto-Response-Suppress", "All")
    msg.add(LOOP_HEADER, board.id)
    return msg


def set_bodies(msg: Mail, text: str, html_doc: str) -> Mail:
    """Give ``msg`` its text/plain part and then its text/html alternative."""
    msg.text, msg.html = text, html_doc
    return msg


def simple(board: Board, msg: Mail, heading: str, text: str, note: str = AUTOMATIC) -> Mail:
    """A short mail: the text, and the same text as HTML in the house layout, both signed
    with the board's name and ``note``."""
    blocks = [
        f'<h1 style="{H1}">{esc(heading)}</h1>',
        f'<div style="{P}">{text_to_html(text)}</div>',
        footer_html(board, note),
    ]
    return set_bodies(msg, text.rstrip() + signature(board, note), html_document(heading, blocks))


# --- Attachments ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Files:
    """The stored files of an item, sorted for one mail by :func:`pick_files`."""

    inline: list[tuple[StoredFile, bytes]]  # images the body shows by cid:
    attached: list[tuple[StoredFile, bytes]]
    left_out: list[StoredFile]  # too large for the mail, or not stored


def _is_inline(f: StoredFile) -> bool:
    return f.role == "inline" and bool(f.content_id)


def pick_files(files: Sequence[StoredFile], store: FileStore, limit: int) -> Files:
    """Inline images first (the preview needs them), then the others, while they fit."""
    picked = Files([], [], [])
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
    return one_line(f.filename).replace("/", "_").replace("\\", "_") or "tep-dinh-kem"


def attach(msg: Mail, picked: Files) -> None:
    """Add the picked files: inline images to the HTML part (by cid), the rest to the mail."""
    for f, data in picked.inline:
        maintype, subtype = _mime_type(f.content_type)
        cid = _bracketed(one_line(f.content_id))
        msg.inline.append(Part(data, maintype, subtype, _filename(f), cid))
    for f, data in picked.attached:
        maintype, subtype = _mime_type(f.content_type)
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=_filename(f))


def files_section(picked: Files) -> tuple[str, str]:
    """(text, HTML) listing the attached files and those left out; ("", "") if none."""
    rows = [(f, False) for f, _ in picked.attached] + [(f, True) for f in picked.left_out]
    if not rows:
        return "", ""
    lines, items = [], []
    for f, left in rows:
        note = f" — {LARGE_FILE_NOTE}" if left else ""
        lines.append(f"  - {_filename(f)} ({size_vi(f.size)}){note}")
        items.append(
            f"<li>{esc(_filename(f))} ({esc(size_vi(f.size))})"
            + (f" — <i>{esc(LARGE_FILE_NOTE)}</i>" if left else "")
            + "</li>"
        )
    title = "Tệp đính kèm"
    return (
        text_heading(title) + "\n" + "\n".join(lines),
        f'<h2 style="{H2}">{title}</h2><ul style="{P}">' + "".join(items) + "</ul>",
    )
