"""A mail built by pipeline.mailbuild reads back, in any client, as it was written."""

from __future__ import annotations

import email
import email.policy
import re
from email.message import EmailMessage

from pipeline.mailbuild import Mail, Part

SUBJECT = "[Cần duyệt] Hội nghị tổng kết công tác năm 2026 của Sở Giáo dục và Đào tạo tỉnh"
REFS = " ".join(f"<ref{i}.k3j9x2@demo.bientap.vn>" for i in range(4))  # long, ASCII


def _mail() -> Mail:
    mail = Mail()
    mail.add("From", "=?utf-8?b?QmFuIEJpw6puIHThuq1w?= <btt@demo.bientap.vn>")
    mail.add("To", "a@demo.bientap.vn")
    mail.add("Subject", SUBJECT)
    mail.add("References", REFS)
    mail.add("Message-ID", "<k3j9x2@demo.bientap.vn>")
    mail.text = "Kính gửi ông Nguyễn Văn A,\n\nTin bài mới cần duyệt."
    mail.html = '<p>Kính gửi ông Nguyễn Văn A,</p><img src="cid:anh1@demo">'
    mail.inline.append(Part(b"\x89PNG\r\n", "image", "png", "ảnh hội nghị.png", "<anh1@demo>"))
    mail.add_attachment(
        b"%PDF-1.4", maintype="application", subtype="pdf", filename="Công văn 1060.pdf"
    )
    return mail


def _read(raw: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_headers_bodies_and_files_read_back_as_written() -> None:
    raw = _mail().as_bytes()
    msg = _read(raw)
    assert msg["Subject"] == SUBJECT
    assert msg["References"] == REFS
    assert msg["Message-ID"] == "<k3j9x2@demo.bientap.vn>"
    text = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert text is not None and "Nguyễn Văn A" in text.get_content()
    assert html is not None and "cid:anh1@demo" in html.get_content()
    related = next(p for p in msg.walk() if p.get_content_type() == "multipart/related")
    [image] = [p for p in related.iter_parts() if p.get_content_type() == "image/png"]
    assert image["Content-ID"] == "<anh1@demo>"
    assert image.get_filename() == "ảnh hội nghị.png"
    assert image.get_payload(decode=True) == b"\x89PNG\r\n"
    [pdf] = list(msg.iter_attachments())
    assert pdf.get_filename() == "Công văn 1060.pdf"
    assert pdf.get_payload(decode=True) == b"%PDF-1.4"


def test_the_wire_form_is_smtp_ready() -> None:
    """CRLF line ends, 7-bit, no line over 78 characters, MIME-Version once, and no
    encoded word over the 75 characters of RFC 2047 (the standard library wrote 76: a
    strict reader shows such a Vietnamese subject as «=?utf-8?b?…?=»)."""
    raw = _mail().as_bytes()
    assert raw.isascii()
    lines = raw.split(b"\r\n")
    assert b"\n" not in b"".join(lines)
    assert max(len(line) for line in lines) <= 78
    assert raw.count(b"MIME-Version:") == 1
    words = re.findall(rb"=\?[^?]+\?[bBqQ]\?[^?]*\?=", raw.split(b"\r\n\r\n")[0])
    assert words and max(len(word) for word in words) <= 75


def test_a_line_break_in_a_value_cannot_add_a_header() -> None:
    """A Message-ID we answer comes from the sender: a forged one must not smuggle in a
    Bcc (nor stop the mail)."""
    mail = Mail()
    mail.add("In-Reply-To", "<a@demo.bientap.vn>\r\nBcc: evil@attacker.example")
    mail.add("Subject", "Tiêu đề\nBcc: evil@attacker.example")
    mail.text = "x"
    msg = _read(mail.as_bytes())
    assert msg["Bcc"] is None
    assert msg["In-Reply-To"] == "<a@demo.bientap.vn> Bcc: evil@attacker.example"
    assert msg["Subject"] == "Tiêu đề Bcc: evil@attacker.example"
