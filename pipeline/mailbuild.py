"""A mail being written, and its bytes.

The pipeline writes a review request for nearly every submission, so building a mail is on
the ingestion path. :class:`Mail` collects the headers, the text and HTML bodies and the
files, and builds the MIME tree only when its bytes are asked for, with the standard
library's compat32 classes: several times faster than ``EmailMessage``, whose header
registry parses every header it is given and re-parses it at every look-up. The bytes are
standard MIME either way (RFC 2047 headers, base64 UTF-8 bodies, RFC 2231 file names).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from email import encoders
from email.header import Header
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.mime.text import MIMEText
from email.policy import Compat32


class _Wire(Compat32):
    """compat32 with SMTP's line ends; a short ASCII header is written as it is (compat32
    would run it through ``Header`` only to get the same line back, slowly)."""

    def fold_binary(self, name: str, value: object) -> bytes:
        if isinstance(value, str) and value.isascii() and len(name) + len(value) < 76:
            return f"{name}: {value}\r\n".encode("ascii")  # one line: Mail.add saw to it
        return super().fold_binary(name, value)  # type: ignore[arg-type]


# Folded at 76: the standard library then writes RFC 2047 encoded words of at most 72
# characters (at its default 78 it wrote 76, past the 75 the RFC allows).
WIRE = _Wire(linesep="\r\n", max_line_length=76)


@dataclass(frozen=True)
class Part:
    """A file in a mail: inline in the HTML (``cid`` set) or attached."""

    data: bytes
    maintype: str
    subtype: str
    filename: str
    cid: str | None = None


@dataclass
class Mail:
    """Headers first (:meth:`add`), then the bodies and files; :meth:`as_bytes` builds it."""

    headers: list[tuple[str, str | Header]] = field(default_factory=list)
    text: str = ""
    html: str | None = None  # the HTML alternative, if any
    inline: list[Part] = field(default_factory=list)
    attached: list[Part] = field(default_factory=list)

    def add(self, name: str, value: str) -> None:
        """Add a header: ASCII as it is, anything else as RFC 2047 encoded words. A header
        is one line: a line break in ``value`` (a forged Message-ID we answer, say) becomes
        a space, so no header can be smuggled in."""
        value = " ".join(value.split())
        self.headers.append(
            (name, value if value.isascii() else Header(value, "utf-8", header_name=name))
        )

    def __getitem__(self, name: str) -> str | None:
        """The first ``name`` header's value as it was given, or None."""
        return next((str(v) for k, v in self.headers if k.lower() == name.lower()), None)

    def add_attachment(self, data: bytes, *, maintype: str, subtype: str, filename: str) -> None:
        self.attached.append(Part(data, maintype, subtype, filename))

    def mime(self) -> Message:
        """The whole MIME tree, headers on its root."""
        body: Message = _text(self.text, "plain")
        if self.html is not None:
            html: Message = _text(self.html, "html")
            if self.inline:
                html = _multipart("related", [html, *map(_file, self.inline)])
            body = _multipart("alternative", [body, html])
        if self.attached:
            body = _multipart("mixed", [body, *map(_file, self.attached)])
        body["MIME-Version"] = "1.0"
        for name, value in self.headers:
            body[name] = value  # type: ignore[assignment]  # compat32 folds a Header itself
        return body

    def as_bytes(self) -> bytes:
        return self.mime().as_bytes(policy=WIRE)


def _text(text: str, subtype: str) -> Message:
    part = MIMEText(text, subtype, "utf-8")
    del part["MIME-Version"]  # once, on the root
    return part


def _multipart(subtype: str, parts: list[Message]) -> Message:
    # a random boundary no part can hold, led by "=_", which no base64 or quoted-printable
    # line contains: the generator need not scan the parts for a free one
    multipart = MIMEMultipart(subtype, boundary=f"=_{secrets.token_hex(16)}", _subparts=parts)
    del multipart["MIME-Version"]
    return multipart


def _file(f: Part) -> Message:
    part: MIMEBase = MIMENonMultipart(f.maintype, f.subtype)
    del part["MIME-Version"]
    part.set_payload(f.data)
    encoders.encode_base64(part)
    if f.cid is not None:
        part["Content-ID"] = f.cid
        part.add_header("Content-Disposition", "inline", filename=f.filename)
    else:
        part.add_header("Content-Disposition", "attachment", filename=f.filename)
    return part
