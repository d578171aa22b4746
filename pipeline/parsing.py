"""Turn the raw bytes of one e-mail into a `ParsedMail` value.

mail-parser does the envelope work it is good at: guarded MIME parsing (deep nesting raises
its own error instead of `RecursionError`), lenient address lists and lenient dates. The body
walk, the text decoding and the header decoding are done here with the standard library
`email` package, because mail-parser decodes text with the declared charset only, and the
mail of Vietnamese offices is full of Windows-1258, mislabelled ISO-8859-1 and undeclared
charsets: every text part goes through `charsets.decode_bytes`.

Outlook's `winmail.dat` (application/ms-tnef) is unpacked into its real files (`tnef.py`).

Garbage never raises anything but `MessageParseError`, and only when there is no e-mail to
speak of; otherwise what could be read is returned and the problems are listed in `defects`.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import email
import email.utils
import logging
import mimetypes
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.generator import BytesGenerator
from email.message import Message
from email.policy import compat32
from io import BytesIO
from types import MappingProxyType
from typing import Any
from urllib.parse import unquote

import mailparser
from mailparser.exceptions import MailParserRecursionError
from mailparser.utils import get_addresses

from pipeline import charsets, tnef
from pipeline.flowed import unflow
from pipeline.sanitize import shallow_html

__all__ = [
    "Attachment",
    "MessageParseError",
    "ParsedMail",
    "content_lost",
    "decode_header_text",
    "parse_message",
    "sanitize_filename",
]

log = logging.getLogger(__name__)

MAX_DEPTH = 40  # MIME nesting levels walked; deeper parts are dropped with a defect
MAX_FILENAME_CHARS = 180
# What a mail's body is read as. Every stage after this reads it whole (a few
# microseconds a tag, a line of legacy-font text), and the size limit (25 MB) of "<br>"
# held a reader for many minutes and gigabytes, of TCVN3 lines four minutes. The largest
# body of the real mail seen is 50 KB of HTML; what is over is cut, and said so (the
# reviewer sees that content was lost; the raw mail is kept). In HTML, pictures pasted as
# data: URLs go first: the sanitiser drops them anyway.
MAX_BODY_BYTES = 4_000_000  # of all text and HTML parts, decoded in turn
MAX_TEXT_CHARS = 1_000_000
MAX_HTML_CHARS = 1_000_000
TNEF_TYPES = frozenset({"application/ms-tnef", "application/vnd.ms-tnef"})
BODY_TYPES = frozenset({"text/plain", "text/html"})
_ADDRESS_HEADERS = ("from", "reply-to", "to", "cc")
_OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


class MessageParseError(Exception):
    """The input is not an e-mail message at all (or cannot be read safely)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Attachment:
    filename: str  # sanitised: no path parts, NFC, never empty
    content_type: str
    data: bytes = field(repr=False)
    content_id: str | None  # without <>
    inline: bool  # Content-Disposition inline, or referenced by cid: in the HTML

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(frozen=True)
class ParsedMail:
    message_id: str | None  # without <>
    subject: str  # decoded, NFC; legacy-font text is converted later by the caller
    from_name: str
    from_address: str  # lower-case addr-spec, "" if none
    reply_to: str | None
    to: tuple[str, ...]
    cc: tuple[str, ...]
    date: datetime | None  # aware
    in_reply_to: str | None
    references: tuple[str, ...]
    headers: Mapping[str, tuple[str, ...]]  # lower-cased names -> all decoded values
    content_type: str  # top-level, e.g. "multipart/report"
    text_body: str  # best plain text ("" if none)
    html_body: str | None  # raw (unsanitised) HTML if any
    attachments: tuple[Attachment, ...]
    defects: tuple[str, ...]


# --------------------------------------------------------------------------- charsets

# Mailers label text with the old standard and write its Microsoft superset (WHATWG's
# Encoding Standard decodes these labels the same way): "gb2312" mail holds GBK characters.
_SUPERSETS = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "euc-cn": "gb18030",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "shift_jis": "cp932",
    "x-sjis": "cp932",
    "big5": "big5hkscs",
    "tis-620": "cp874",
    "iso-8859-11": "cp874",
}


def decode_bytes(data: bytes, declared: str | None) -> str:
    """`charsets.decode_bytes`, with CJK/Thai labels widened to the charset really used."""
    label = declared.strip().strip("\"'").lower() if declared else None
    return charsets.decode_bytes(data, _SUPERSETS.get(label or "", declared))


# --------------------------------------------------------------------------- headers

_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?]*)\?=")
_FOLD = re.compile(r"\r?\n(?=[ \t])")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_LINE_BREAKS = re.compile(r"[\t\n\r\v\f\x1c-\x1e\x85\u2028\u2029]+")
_MSG_ID = re.compile(r"<([^<>\s]+)>")


def _raw_text(value: Any) -> str:
    """A raw header value as text: 8-bit bytes smuggled in as surrogates are decoded."""
    text = str(value)
    if any("\udc80" <= ch <= "\udcff" for ch in text):
        return decode_bytes(text.encode("utf-8", "surrogateescape"), None)
    return text


def _b_decode(text: str) -> bytes | None:
    compact = re.sub(r"[^A-Za-z0-9+/]", "", text)
    if len(compact) % 4 == 1:  # one dangling sextet cannot hold a byte
        compact = compact[:-1]
    try:
        return base64.b64decode(compact + "=" * (-len(compact) % 4))
    except (binascii.Error, ValueError):
        return None


def _q_decode(text: str) -> bytes:
    raw = text.replace("_", " ").encode("utf-8", "surrogateescape")
    return re.sub(rb"=([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), raw)


def _charset_name(declared: str) -> str:
    return declared.split("*", 1)[0].strip().lower()  # RFC 2231 language suffix: utf-8*vi


def _known_charset(name: str) -> bool:
    try:
        codecs.lookup(name)
    except (LookupError, ValueError):  # ValueError: a NUL in the name
        return False
    return True


def decode_header_text(raw: Any) -> tuple[str, tuple[str, ...]]:
    """Decode an unstructured header value (RFC 2047), leniently. Returns (text, defects).

    Encoded words are recognised anywhere (also inside words and quotes, as broken mailers
    write them); adjacent encoded words in one charset are joined as bytes before decoding, so
    a UTF-8 character split across two words survives; unknown charsets and damaged base64
    fall back to `decode_bytes`' detection; a word that cannot be decoded is kept literally.
    """
    text = _FOLD.sub("", _raw_text(raw))
    defects: list[str] = []
    out: list[str] = []
    run: bytearray = bytearray()
    run_charset: str | None = None
    last_end = 0
    previous_was_word = False

    def flush() -> None:
        nonlocal run_charset
        if run_charset is not None:
            out.append(decode_bytes(bytes(run), run_charset))
            run.clear()
            run_charset = None

    for match in _ENCODED_WORD.finditer(text):
        gap = text[last_end : match.start()]
        charset = _charset_name(match.group(1))
        payload = match.group(3)
        data = _b_decode(payload) if match.group(2) in "bB" else _q_decode(payload)
        last_end = match.end()
        if data is None:
            flush()
            out.append(gap + match.group(0))
            defects.append(f"undecodable encoded word kept as is: {match.group(0)[:60]!r}")
            previous_was_word = False
            continue
        if not _known_charset(charset):
            defects.append(f"unknown charset {charset!r} in encoded word; guessed")
        if previous_was_word and not gap.strip():
            if charset != run_charset:
                flush()
        else:
            flush()
            out.append(gap)
        if run_charset is None:
            run_charset = charset
        run.extend(data)
        previous_was_word = True
    flush()
    out.append(text[last_end:])
    # a header is one line, whatever its encoded words decode to: a display name or a
    # subject quoted in a notice cannot start lines of its own
    decoded = _CONTROL.sub("", _LINE_BREAKS.sub(" ", "".join(out)))
    return unicodedata.normalize("NFC", decoded.strip()), tuple(defects)


def _msg_ids(value: str) -> tuple[str, ...]:
    found = _MSG_ID.findall(value)
    if found:
        return tuple(found)
    return tuple(token for token in re.split(r"[\s,]+", value) if "@" in token)


def _first_msg_id(value: str | None) -> str | None:
    if not value:
        return None
    ids = _msg_ids(value)
    if ids:
        return ids[0]
    stripped = value.strip().strip("<>").strip()
    return stripped or None


def _addresses(raw_values: list[Any], defects: list[str]) -> list[tuple[str, str]]:
    result: list[tuple[str, str]] = []
    for raw in raw_values:
        value = _FOLD.sub("", _raw_text(raw))
        try:
            pairs = get_addresses(value, decode_names=False)
        except Exception:  # mail-parser is lenient, but never let an address kill a message
            pairs = email.utils.getaddresses([value])
        for name, address in pairs:
            address = address.strip().lower()
            if not address or "@" not in address:
                continue
            display, name_defects = decode_header_text(name)
            defects.extend(name_defects)
            result.append((display.strip('"').strip(), address))
    return result


# --------------------------------------------------------------------------- filenames

_BIDI_AND_FORMAT = {"Cc", "Cf"}
_FORBIDDEN = re.compile(r'[<>:"|?*]')


def sanitize_filename(name: str | None) -> str | None:
    """A safe base name (no directories, controls or bidi tricks, NFC), or None if none is left."""
    if not name:
        return None
    text = unicodedata.normalize("NFC", name).replace("\\", "/").split("/")[-1]
    text = "".join(ch for ch in text if unicodedata.category(ch) not in _BIDI_AND_FORMAT)
    text = _FORBIDDEN.sub("_", text).strip().strip(".").strip()
    if not text:
        return None
    if len(text) > MAX_FILENAME_CHARS:
        stem, dot, ext = text.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            text = stem[: MAX_FILENAME_CHARS - len(ext) - 1] + "." + ext
        else:
            text = text[:MAX_FILENAME_CHARS]
    return text


def _fallback_filename(index: int, content_type: str) -> str:
    ext = mimetypes.guess_extension(content_type, strict=False)
    if ext is None:
        ext = ".txt" if content_type.startswith(("message/", "text/")) else ".bin"
    return f"attachment-{index}{ext}"


def _param_text(value: Any, defects: list[str]) -> str | None:
    if value is None:
        return None
    if isinstance(value, tuple):  # RFC 2231: (charset, language, %-decoded latin-1 text)
        charset, _language, text = value
        try:
            data = str(text).encode("latin-1")
        except UnicodeEncodeError:
            data = str(text).encode("utf-8", "surrogateescape")
        return unicodedata.normalize("NFC", decode_bytes(data, charset or None))
    decoded, word_defects = decode_header_text(value)  # Outlook puts RFC 2047 words here
    defects.extend(word_defects)
    return decoded


def _raw_header(part: Message, name: str) -> str | None:
    """The first raw value of a header, 8-bit bytes decoded (compat32 would give U+FFFD)."""
    for key, value in part.raw_items():
        if str(key).strip().lower() == name:
            return _FOLD.sub("", _raw_text(value))
    return None


def _part_filename(part: Message, defects: list[str]) -> str | None:
    for header, param in (("content-disposition", "filename"), ("content-type", "name")):
        raw = _raw_header(part, header)
        if raw is None:
            continue
        view = Message()  # a header-only copy holding real text, not surrogates
        view[header] = raw
        try:
            value = view.get_param(param, header=header)
        except Exception:
            defects.append(f"unreadable {header} {param} parameter")
            continue
        text = _param_text(value, defects)
        if text:
            return text
    return None


# --------------------------------------------------------------------------- MIME walk


@dataclass
class _Pending:
    filename: str | None
    content_type: str
    data: bytes
    content_id: str | None
    disposition_inline: bool


@dataclass
class _Walk:
    texts: list[str] = field(default_factory=list)
    htmls: list[str] = field(default_factory=list)
    files: list[_Pending] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)
    tnef_bodies: list[tuple[str, str]] = field(default_factory=list)  # (text, html)
    body_bytes: int = MAX_BODY_BYTES  # of body parts still to be decoded


def _content_type(part: Message) -> str:
    try:
        return part.get_content_type().lower()
    except Exception:
        return "application/octet-stream"


def _disposition(part: Message) -> str | None:
    try:
        return part.get_content_disposition()
    except Exception:
        return None


def _raw_payload(part: Message) -> Any:
    """The part's payload as parsed; None where the standard library fails to give it
    (8-bit text declared in a codec that is no charset, "idna", "punycode", raises)."""
    try:
        return part.get_payload()
    except (UnicodeError, ValueError):
        return None


def _payload_bytes(part: Message, walk: _Walk) -> bytes:
    cte = str(part.get("content-transfer-encoding", "")).strip().lower()
    payload = _raw_payload(part)
    if cte == "base64" and isinstance(payload, str):
        # The stdlib hands back the undecoded text when the base64 length is wrong;
        # decode what is there instead (a truncated file is better than a base64 blob).
        data = _b_decode(payload)
        if data is not None:
            return data
    try:
        decoded = part.get_payload(decode=True)
    except Exception as exc:
        walk.defects.append(f"{_content_type(part)}: payload could not be decoded ({exc})")
        return b""
    return decoded if isinstance(decoded, bytes) else b""


def _serialise(message: Message) -> bytes:
    buffer = BytesIO()
    BytesGenerator(buffer, mangle_from_=False, policy=compat32).flatten(message)
    return buffer.getvalue()


def _message_bytes(part: Message, walk: _Walk) -> bytes:
    payload = _raw_payload(part)
    if isinstance(payload, list):
        try:
            return b"\n".join(_serialise(sub) for sub in payload if isinstance(sub, Message))
        except Exception as exc:
            walk.defects.append(f"{_content_type(part)}: could not be serialised ({exc})")
            return b""
    return _payload_bytes(part, walk)


def _content_id(part: Message) -> str | None:
    value = _raw_header(part, "content-id")
    if value is None:
        return None
    cid = value.strip().strip("<>").strip()
    return cid or None


def _decode_text(part: Message, walk: _Walk) -> str:
    try:
        charset = part.get_content_charset()
    except Exception:
        charset = None
    data = _payload_bytes(part, walk)
    if len(data) > walk.body_bytes:
        kept = max(walk.body_bytes, 0)
        walk.defects.append(f"{_content_type(part)}: body part of {len(data)} bytes cut to {kept}")
        data = data[:kept]
    walk.body_bytes -= len(data)
    text = decode_bytes(data, charset)
    if _content_type(part) == "text/plain" and _param(part, "format") == "flowed":
        return unflow(text, delsp=_param(part, "delsp") == "yes")
    return text


def _param(part: Message, name: str) -> str:
    """A Content-Type parameter, lower case ("" if absent or unreadable)."""
    try:
        value = part.get_param(name)
    except Exception:
        return ""
    return value.strip().lower() if isinstance(value, str) else ""


def _walk(part: Message, walk: _Walk, depth: int) -> None:
    ctype = _content_type(part)
    for defect in getattr(part, "defects", []):
        walk.defects.append(f"{ctype}: {type(defect).__name__}")
    if depth > MAX_DEPTH:
        walk.defects.append(f"{ctype}: nested deeper than {MAX_DEPTH} levels, dropped")
        return
    maintype = ctype.split("/", 1)[0]
    disposition = _disposition(part)
    filename = _part_filename(part, walk.defects)

    if maintype == "message":
        if ctype in ("message/rfc822", "message/global") and not filename:
            filename = _forwarded_name(part)
        data = _message_bytes(part, walk)
        walk.files.append(_Pending(filename, ctype, data, _content_id(part), False))
        return
    if maintype == "multipart":
        payload = _raw_payload(part)
        if isinstance(payload, list):
            children = payload
        else:  # the boundary was not found; the body is one blob (8-bit kept as surrogates)
            blob = _payload_bytes(part, walk).decode("utf-8", "surrogateescape")
            children = _salvage(blob, None, walk)
        epilogue = part.epilogue or ""
        boundary = part.get_boundary()
        if boundary and f"--{boundary}" in epilogue:  # parts after a premature close delimiter
            children = [*children, *_salvage(epilogue, boundary, walk)]
        for sub in children:
            if isinstance(sub, Message):
                _walk(sub, walk, depth + 1)
        return
    if ctype in TNEF_TYPES or (filename or "").lower() == "winmail.dat":
        _unpack_tnef(part, filename, walk)
        return
    if ctype in BODY_TYPES and not filename and disposition != "attachment":
        text = _decode_text(part, walk)
        (walk.htmls if ctype == "text/html" else walk.texts).append(text)
        return
    walk.files.append(
        _Pending(
            filename,
            ctype,
            _payload_bytes(part, walk),
            _content_id(part),
            disposition == "inline",
        )
    )


_DELIMITER = re.compile(r"^--([ -~]{1,70}?)(--)?[ \t]*\r?$", re.MULTILINE)


def _salvage(text: str, boundary: str | None, walk: _Walk) -> list[Message]:
    """Parts of a multipart body whose boundary the parser could not use.

    Senders get the boundary wrong (declared one string, used another) or close the outer
    multipart too early; the parts are still there, delimited by the first "--" line.
    """
    if not text.strip():
        return []
    if boundary is None:
        found = _DELIMITER.search(text)
        if found is None:
            walk.defects.append("multipart body without any boundary line; content dropped")
            return []
        boundary = found.group(1)
    quoted = boundary.replace("\\", "\\\\").replace('"', '\\"')
    head = f'Content-Type: multipart/mixed; boundary="{quoted}"\r\n\r\n'
    try:
        rebuilt = email.message_from_bytes(
            (head + text).encode("utf-8", "surrogateescape"), policy=compat32
        )
    except Exception:
        walk.defects.append("multipart body could not be recovered")
        return []
    payload = rebuilt.get_payload()
    if not isinstance(payload, list):
        walk.defects.append("multipart body could not be recovered")
        return []
    walk.defects.append(f"multipart boundary mismatch; {len(payload)} part(s) recovered")
    return [sub for sub in payload if isinstance(sub, Message)]


def _forwarded_name(part: Message) -> str | None:
    payload = _raw_payload(part)
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        subject = _raw_header(payload[0], "subject")
        if subject is not None:
            text, _ = decode_header_text(subject)
            if text:
                return f"{text}.eml"
    return None


def _unpack_tnef(part: Message, filename: str | None, walk: _Walk) -> None:
    """Replace winmail.dat by the files (and body) inside it; keep it if that fails."""
    data = _payload_bytes(part, walk)
    ctype = _content_type(part)
    try:
        inside = tnef.unpack(data)
    except Exception as exc:
        walk.defects.append(f"winmail.dat could not be unpacked ({type(exc).__name__}: {exc})")
        walk.files.append(_Pending(filename or "winmail.dat", ctype, data, None, False))
        return
    if not inside.files and not inside.text and not inside.html:
        walk.defects.append("winmail.dat holds no attachments or readable body; kept as is")
        walk.files.append(_Pending(filename or "winmail.dat", ctype, data, None, False))
        return
    walk.files.extend(_Pending(name, mime, body, None, False) for name, mime, body in inside.files)
    if inside.text or inside.html:
        walk.tnef_bodies.append((inside.text, inside.html))


# --------------------------------------------------------------------------- assembly


_CID_REF = re.compile(r"cid:<?([^\s\"'<>)]+)")


def _referenced_cids(html: str | None) -> set[str]:
    """The content ids ``html`` refers to (lower case), found in one scan of the body, so
    a mail of many parts costs no scan of the body per part."""
    if not html:
        return set()
    lowered = html.lower()
    return {m for text in (lowered, unquote(lowered)) for m in _CID_REF.findall(text)}


def _finish_attachments(files: list[_Pending], html: str | None) -> tuple[Attachment, ...]:
    result: list[Attachment] = []
    referenced_cids = _referenced_cids(html)
    for index, pending in enumerate(files, start=1):
        name = sanitize_filename(pending.filename) or _fallback_filename(
            index, pending.content_type
        )
        referenced = bool(pending.content_id and pending.content_id.lower() in referenced_cids)
        result.append(
            Attachment(
                filename=name,
                content_type=pending.content_type,
                data=pending.data,
                content_id=pending.content_id,
                inline=pending.disposition_inline or referenced,
            )
        )
    return tuple(result)


# Defects after which part of what the sender wrote is not in what was read.
_CONTENT_LOST = re.compile(r"dropped|could not be (?:decoded|recovered)|cut to \d+")


def content_lost(defects: Sequence[str]) -> tuple[str, ...]:
    """The defects of a parse that lost part of the mail's content."""
    return tuple(d for d in defects if _CONTENT_LOST.search(d))


_DATA_URL = re.compile(r"data:[^\"'\s>]{256,}", re.IGNORECASE)


def _bounded_html(html: str, defects: list[str]) -> str:
    """``html`` within MAX_HTML_CHARS, and nested at most ``sanitize.MAX_DEPTH`` deep
    (a tree walk that looks up, as many do, costs its depth at every node)."""
    if len(html) > MAX_HTML_CHARS:
        html = _DATA_URL.sub("data:,", html)
    if len(html) > MAX_HTML_CHARS:
        defects.append(f"text/html: body of {len(html)} characters cut to {MAX_HTML_CHARS}")
        html = html[:MAX_HTML_CHARS]
    return shallow_html(html)


MAX_HEADER_FIELD = 64 * 1024  # bytes of one header field, folded lines included
MAX_FIELDS_OF_A_NAME = 100  # header fields of one name read (Received, To…)
HEADER_BYTES = 256 * 1024  # where a message's header fields must end to be read alone
_FIELD_START = re.compile(rb"^(?=[^ \t\r\n])", re.M)


def header_end(raw: bytes, limit: int | None = None) -> int:
    """Where ``raw``'s header fields end (the blank line's first byte), looking at its
    first ``limit`` bytes; -1 if no blank line is there. A bare LF blank line counts when
    it comes before the first CRLF one."""
    stop = len(raw) if limit is None else min(limit, len(raw))
    crlf = raw.find(b"\r\n\r\n", 0, stop)
    lf = raw.find(b"\n\n", 0, crlf if crlf >= 0 else stop)
    return lf if lf >= 0 else crlf


def _clip_headers(raw: bytes, defects: list[str]) -> bytes:
    """``raw`` with each header field over MAX_HEADER_FIELD bytes cut to that size, and
    the fields of one name past the first MAX_FIELDS_OF_A_NAME left out.

    Decoding a header costs time quadratic in its encoded words (the standard library's
    ``decode_header``, which mail-parser calls): a subject of 400,000 of them would hold
    the reader for many minutes. No real header comes near the limit (a long thread's
    References is a few KB). Each address field is parsed twice, by mail-parser and here:
    25 MB of "To:" lines held a reader two minutes; a real mail has a few Received fields
    and one of the others. The raw message stays as it came; only what is read is cut.
    """
    end = header_end(raw)
    head = raw if end < 0 else raw[:end]
    if len(head) <= MAX_HEADER_FIELD:
        return raw
    clipped = []
    fields: dict[str, tuple[str, int]] = {}  # lower-case name -> (name, fields)
    last_left_out = False
    for one in _FIELD_START.split(head):
        name = one.split(b":", 1)[0][:40].decode("ascii", "replace")
        first, count = fields.get(name.strip().lower(), (name.strip(), 0))
        fields[name.strip().lower()] = (first, count + 1)
        if last_left_out := count >= MAX_FIELDS_OF_A_NAME:
            continue
        if len(one) > MAX_HEADER_FIELD:
            defects.append(f"header {name} of {len(one)} bytes cut to {MAX_HEADER_FIELD}")
            ending = one[len(one.rstrip(b"\r\n")) :]  # none on the last field
            one = one[:MAX_HEADER_FIELD].rstrip(b"\r\n") + ending
        clipped.append(one)
    if last_left_out and clipped and end >= 0:  # the last field left out: no line ending after
        clipped[-1] = clipped[-1].rstrip(b"\r\n")
    defects.extend(
        f"header {name}: {count - MAX_FIELDS_OF_A_NAME} fields past the first "
        f"{MAX_FIELDS_OF_A_NAME} not read"
        for name, count in fields.values()
        if count > MAX_FIELDS_OF_A_NAME
    )
    return b"".join(clipped) + (b"" if end < 0 else raw[end:])


def _mailparser_view(raw: bytes, defects: list[str]) -> tuple[Message, Any]:
    """Parse with mail-parser; fall back to the bare standard library if it breaks."""
    try:
        parser = mailparser.parse_from_bytes(raw)
    except (MailParserRecursionError, RecursionError) as exc:
        raise MessageParseError("MIME structure is nested too deeply to parse safely") from exc
    except Exception as exc:  # a library bug must not lose the message
        defects.append(f"mail-parser failed ({type(exc).__name__}); standard parser used")
        try:
            return email.message_from_bytes(raw, policy=compat32), None
        except RecursionError as inner:
            raise MessageParseError("MIME structure is nested too deeply") from inner
    if parser.message is None:
        raise MessageParseError("no message could be read from the input")
    return parser.message, parser


def _date(message: Message, parser: Any, defects: list[str]) -> datetime | None:
    if parser is not None:
        for item in parser.date_header_defects:
            defects.append(f"date: {item.get('reason', 'invalid')}")
        value = parser.date
    else:
        try:
            value = email.utils.parsedate_to_datetime(str(message.get("date", "")))
        except (TypeError, ValueError, IndexError):
            value = None
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _looks_like_mail(message: Message) -> bool:
    return any(re.fullmatch(r"[!-9;-~]+", str(name)) for name, _value in message.raw_items())


def parse_message(raw: bytes) -> ParsedMail:
    """Parse one message. Raises only `MessageParseError`, and only when there is no e-mail."""
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise MessageParseError(f"expected bytes, got {type(raw).__name__}")
    try:
        return _parse(bytes(raw))
    except MessageParseError:
        raise
    except Exception as exc:  # a bug of ours or of a library: the message goes to a person
        log.exception("unexpected failure while parsing a message of %d bytes", len(raw))
        raise MessageParseError(f"unexpected parser failure ({type(exc).__name__})") from exc


def _parse(raw: bytes) -> ParsedMail:
    if not raw.strip():
        raise MessageParseError("input is empty")
    if raw.startswith(_OLE_SIGNATURE):
        raise MessageParseError("input is an Outlook .msg (OLE compound) file, not a MIME message")
    defects: list[str] = []
    message, parser = _mailparser_view(_clip_headers(raw, defects), defects)
    if not _looks_like_mail(message):
        raise MessageParseError("input has no header fields; it is not an e-mail message")

    headers: dict[str, list[str]] = {}
    raw_headers: dict[str, list[Any]] = {}
    for name, value in message.raw_items():
        key = str(name).strip().lower()
        raw_headers.setdefault(key, []).append(value)
        text, _ = decode_header_text(value)
        headers.setdefault(key, []).append(text)

    subject, subject_defects = decode_header_text(raw_headers.get("subject", [""])[0])
    defects.extend(f"subject: {item}" for item in subject_defects)
    address_lists = {key: _addresses(raw_headers.get(key, []), defects) for key in _ADDRESS_HEADERS}
    sender = address_lists["from"][0] if address_lists["from"] else ("", "")

    walk = _Walk()
    try:
        _walk(message, walk, 0)
    except RecursionError as exc:
        raise MessageParseError("MIME structure is nested too deeply to walk") from exc
    defects.extend(walk.defects)

    text_body = "\n\n".join(text for text in walk.texts if text.strip())
    html_parts = [html for html in walk.htmls if html.strip()]
    for tnef_text, tnef_html in walk.tnef_bodies:  # only when the mail itself has no body
        if not text_body and tnef_text:
            text_body = tnef_text
        if not html_parts and tnef_html:
            html_parts = [tnef_html]
    if len(text_body) > MAX_TEXT_CHARS:
        defects.append(f"text/plain: body of {len(text_body)} characters cut to {MAX_TEXT_CHARS}")
        text_body = text_body[:MAX_TEXT_CHARS]
    html_body = _bounded_html("\n".join(html_parts), defects) if html_parts else None

    def first(name: str) -> str | None:
        values = headers.get(name)
        return values[0] if values else None

    return ParsedMail(
        message_id=_first_msg_id(first("message-id")),
        subject=subject,
        from_name=sender[0],
        from_address=sender[1],
        reply_to=address_lists["reply-to"][0][1] if address_lists["reply-to"] else None,
        to=tuple(address for _name, address in address_lists["to"]),
        cc=tuple(address for _name, address in address_lists["cc"]),
        date=_date(message, parser, defects),
        in_reply_to=_first_msg_id(first("in-reply-to")),
        references=_msg_ids(" ".join(headers.get("references", []))),
        headers=MappingProxyType({key: tuple(values) for key, values in headers.items()}),
        content_type=_content_type(message),
        text_body=unicodedata.normalize("NFC", text_body),
        html_body=unicodedata.normalize("NFC", html_body) if html_body is not None else None,
        attachments=_finish_attachments(walk.files, html_body),
        defects=tuple(dict.fromkeys(defects)),
    )
