#!/usr/bin/env python3
"""Adversarial mail against the reading of one message (``pipeline.reading.read``).

Anyone can mail a board, and a reader process is killed after 5 minutes a message. Two
probes, both seeded and reproducible:

* ``complexity``: mails of one adversarial shape (a run without spaces or newlines,
  100,000 short lines, thousands of "From:" lines, deep or wide HTML, a huge subject,
  many MIME parts, a .docx of countless runs…) at growing sizes; each reading stage and
  the checks are timed apart, and a stage whose time grows faster than its input
  (exponent over 1.3 between two sizes) or takes over 5 s is flagged.
* ``mutate``: the corpus mails and the sample mails, truncated, bit-flipped, with
  headers doubled or dropped, boundaries broken, charsets and transfer encodings
  wrong, NUL bytes and 8-bit headers; any exception out of ``read`` is a defect, and so
  is a mail made "unreadable" by a bug the parser caught ("unexpected parser failure").

A stage is stopped by an alarm after ``--limit`` seconds, except inside nh3 (Rust),
which the alarm reaches only once it returns.

    .venv/bin/python bench/read_fuzz.py complexity [--board config/dongnai.toml]
        [--sizes 10000,100000,1000000,4000000] [--only SHAPE]
    .venv/bin/python bench/read_fuzz.py mutate [--cases 3000] [--seed 1]
"""

from __future__ import annotations

import argparse
import base64
import io
import logging
import math
import random
import signal
import sys
import tempfile
import time
import traceback
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline import checks, reading  # noqa: E402
from pipeline.byline import Byline  # noqa: E402
from pipeline.classify import Sender  # noqa: E402
from pipeline.config import Board, load_board  # noqa: E402
from pipeline.docx import DOCX_TYPE  # noqa: E402
from pipeline.files import FileStore  # noqa: E402
from pipeline.samples import article_mail  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus" / "real-mail"
BOARD_ADDRESS = "bbt@demo.bientap.vn"


class StageTimeout(Exception):
    pass


def _alarm(_signum: int, _frame: FrameType | None) -> None:
    raise StageTimeout


# --------------------------------------------------------------------------- mail building


def mail(
    body: bytes | str,
    *,
    ctype: str = "text/plain; charset=utf-8",
    cte: str = "8bit",
    subject: str = "Tin hoạt động",
    headers: str = "",
) -> bytes:
    """A single-part mail with ``body`` as it is given (no wrapping)."""
    data = body.encode() if isinstance(body, str) else body
    if cte == "base64":
        data = base64.b64encode(data)  # one long line
    head = (
        "From: Nguyễn Văn A <a@sgddt.demo.bientap.vn>\r\n"
        f"To: {BOARD_ADDRESS}\r\n"
        f"Subject: {subject}\r\n"
        "Date: Sun, 15 Mar 2026 09:30:00 +0000\r\n"
        "Message-ID: <fuzz@demo.bientap.vn>\r\n"
        f"{headers}"
        "MIME-Version: 1.0\r\n"
        f"Content-Type: {ctype}\r\n"
        f"Content-Transfer-Encoding: {cte}\r\n\r\n"
    )
    return head.encode() + data


def html_mail(body: str, **kw: str) -> bytes:
    return mail(body, ctype="text/html; charset=utf-8", **kw)


def multipart(parts: list[bytes], boundary: str = "b0und") -> bytes:
    head = (
        "From: a@sgddt.demo.bientap.vn\r\n"
        f"To: {BOARD_ADDRESS}\r\nSubject: Tin\r\nMIME-Version: 1.0\r\n"
        f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'
    ).encode()
    sep = f"\r\n--{boundary}\r\n".encode()
    return head + sep + sep.join(parts) + f"\r\n--{boundary}--\r\n".encode()


def part(body: bytes, ctype: str, name: str | None = None) -> bytes:
    disposition = f'Content-Disposition: attachment; filename="{name}"\r\n' if name else ""
    return (
        f"Content-Type: {ctype}\r\nContent-Transfer-Encoding: base64\r\n{disposition}\r\n"
    ).encode() + base64.encodebytes(body)


def docx(document_xml: str) -> bytes:
    w = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/'
            '2006/content-types"><Default Extension="rels" ContentType="application/vnd.'
            'openxmlformats-package.relationships+xml"/><Default Extension="xml" '
            'ContentType="application/xml"/><Override PartName="/word/document.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.'
            'document.main+xml"/></Types>',
        )
        z.writestr(
            "_rels/.rels",
            '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/'
            'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.'
            'openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
            'Target="word/document.xml"/></Relationships>',
        )
        z.writestr(
            "word/document.xml",
            f'<?xml version="1.0"?><w:document xmlns:w="{w}"><w:body>{document_xml}'
            "</w:body></w:document>",
        )
    return out.getvalue()


def docx_mail(document_xml: str) -> bytes:
    return multipart(
        [
            part("Gửi bài.".encode(), "text/plain; charset=utf-8"),
            part(docx(document_xml), DOCX_TYPE, "bai.docx"),
        ]
    )


def _rep(unit: str, n: int) -> str:
    return (unit * (n // max(1, len(unit)) + 1))[:n]


# Each shape: name -> (size in bytes -> raw mail).
SHAPES: dict[str, Callable[[int], bytes]] = {
    # plain text
    "text-no-spaces": lambda n: mail(_rep("a", n)),
    "text-vi-no-spaces": lambda n: mail(_rep("ệ", n // 3)),
    "text-short-lines": lambda n: mail(_rep("ab\n", n)),
    "text-blank-lines": lambda n: mail(_rep("\n", n)),
    "text-spaces": lambda n: mail("x" + _rep(" ", n) + "x"),
    "text-from-lines": lambda n: mail(_rep("From: Nguyễn Văn A <a@b.vn>\n", n)),
    "text-tu-lines": lambda n: mail(_rep("Từ: Nguyễn Văn A <a@b.vn>\n", n)),
    "text-fwd-blocks": lambda n: mail(
        _rep(
            "---------- Forwarded message ---------\nFrom: A <a@b.vn>\nDate: 1/1/2026\n"
            "Subject: x\nTo: <c@d.vn>\n\n",
            n,
        )
    ),
    "text-header-lines-noblank": lambda n: mail(
        _rep("From: A <a@b.vn>\nDate: x\nSubject: y\nTo: c@d.vn\n", n)
    ),
    "text-from-colon-run": lambda n: mail("From" + _rep(" ", n) + "x"),
    "text-dashes": lambda n: mail(_rep("-", n)),
    "text-dashes-lines": lambda n: mail(_rep("-" * 60 + "\n", n)),
    "text-underscores": lambda n: mail(_rep("_", n)),
    "text-gt": lambda n: mail(_rep(">", n)),
    "text-gt-lines": lambda n: mail(_rep("> quoted line\n", n)),
    "text-colons": lambda n: mail(_rep(":", n)),
    "text-brackets": lambda n: mail(_rep("[", n)),
    "text-parens": lambda n: mail(_rep("(", n)),
    "text-at": lambda n: mail(_rep("@", n)),
    "text-lt-at": lambda n: mail(_rep("<a@b>", n)),
    "text-digits": lambda n: mail(_rep("1", n)),
    "text-slashes": lambda n: mail(_rep("1/", n)),
    "text-so-slashes": lambda n: mail("Số: " + _rep("1/", n)),
    "text-so-lines": lambda n: mail(_rep("Số: 12/2026/QĐ-UBND\n", n)),
    "text-dates": lambda n: mail(_rep("Đồng Nai, ngày 1/1/2026 ", n)),
    "text-hieu-luc": lambda n: mail(_rep("có hiệu lực từ ngày ", n)),
    "text-hieu-luc-nodate": lambda n: mail(_rep("hiệu lực ", n)),
    "text-star": lambda n: mail(_rep("*", n)),
    "text-labels": lambda n: mail(_rep("Tin, ảnh: Minh Anh\n", n)),
    "text-label-colon": lambda n: mail(_rep("ab:", n)),
    "text-url": lambda n: mail("https://" + _rep("a", n)),
    "text-urls": lambda n: mail(_rep("https://a.vn/)", n)),
    "text-url-parens": lambda n: mail("https://a.vn/" + _rep("(", n // 2) + _rep(")", n // 2)),
    "text-tcvn3": lambda n: mail(_rep("Th«ng b¸o cña UBND ", n).encode("cp1252")),
    "text-tcvn3-no-spaces": lambda n: mail(_rep("Th«ngb¸o", n).encode("cp1252")),
    "text-tcvn3-lines": lambda n: mail(_rep("Th«ng b¸o\n", n).encode("cp1252")),
    "text-tcvn3-caps": lambda n: mail(_rep("CéNG HßA ", n).encode("cp1252")),
    "text-tcvn3-sentences": lambda n: mail(_rep("b¸o. ", n).encode("cp1252")),
    "text-vni": lambda n: mail(_rep("Thoâng baùo cuûa ", n).encode("cp1252")),
    "text-vni-no-spaces": lambda n: mail(_rep("aùaø", n).encode("cp1252")),
    "text-cp1258": lambda n: mail(
        _rep("Thông báo ", n).encode("cp1258", "replace"),
        ctype="text/plain; charset=windows-1258",
    ),
    "text-8bit-undeclared": lambda n: mail(
        bytes(random.Random(1).randrange(128, 256) for _ in range(n)), ctype="text/plain"
    ),
    "text-mostly-bad-utf8": lambda n: mail(_rep("\xe1\xba", n).encode("latin-1")),
    "text-combining": lambda n: mail("a" + _rep("\u0301", n // 2)),
    "text-flowed": lambda n: mail(_rep("word ", n), ctype="text/plain; format=flowed"),
    "text-flowed-quoted": lambda n: mail(
        _rep("> word \n", n), ctype="text/plain; format=flowed; delsp=yes"
    ),
    "text-flowed-depths": lambda n: mail(
        "".join(">" * (i % 50) + " w \n" for i in range(n // 30)),
        ctype="text/plain; format=flowed",
    ),
    "text-base64-one-line": lambda n: mail(_rep("Thông báo ", n), cte="base64"),
    "text-qp-soft-breaks": lambda n: mail(_rep("=\r\n", n), cte="quoted-printable"),
    "text-cid": lambda n: mail(_rep("cid:", n)),
    "text-su-tam": lambda n: mail(_rep("sưu tầm ", n)),
    "text-names": lambda n: mail(_rep("Nguyễn Văn An\n", n)),
    "text-keyword-dense": lambda n: mail(_rep("giáo dục y tế tư pháp ", n)),
    "text-security": lambda n: mail(_rep("MẬT\n", n)),
    "text-security-long": lambda n: mail(_rep("Độ mật: ", n)),
    # HTML
    "html-nested-div": lambda n: html_mail("<div>" * (n // 5) + "x"),
    "html-nested-div-fwd": lambda n: html_mail(
        "forwarded message" + "<div>" * (n // 5) + "From: a@b.vn"
    ),
    "html-nested-blockquote": lambda n: html_mail("<blockquote>" * (n // 12) + "x"),
    "html-nested-font": lambda n: html_mail("<font>x " * (n // 8)),
    "html-nested-table": lambda n: html_mail("<table><tr><td>" * (n // 15) + "x"),
    "html-nested-li": lambda n: html_mail("<ul><li>" * (n // 8) + "x"),
    "html-nested-pre": lambda n: html_mail("<pre>" * (n // 5) + "x"),
    "html-br": lambda n: html_mail(_rep("<br>", n)),
    "html-br-text": lambda n: html_mail(_rep("a<br>", n)),
    "html-divs": lambda n: html_mail(_rep("<div>x</div>", n)),
    "html-divs-fwd": lambda n: html_mail("forwarded message" + _rep("<div>x</div>", n)),
    "html-divs-fwd-fields": lambda n: html_mail(
        "forwarded message" + _rep("<div>From: A a@b.vn</div>", n)
    ),
    "html-ps-empty": lambda n: html_mail(_rep("<p></p>", n)),
    "html-spans": lambda n: html_mail(_rep("<span>x</span>", n)),
    "html-blockquotes": lambda n: html_mail(_rep("<blockquote>x</blockquote>", n)),
    "html-separators": lambda n: html_mail(
        _rep("<div>-----Original Message-----</div><div>From: A a@b.vn</div>", n)
    ),
    "html-separator-brs": lambda n: html_mail(
        _rep("-----Original Message-----<br>From: A a@b.vn<br>", n)
    ),
    "html-separator-then-brs": lambda n: html_mail("-----Original Message-----" + _rep("<br>", n)),
    "html-gmail-attr": lambda n: html_mail(_rep('<div class="gmail_attr">From: a@b</div>', n)),
    "html-divrply": lambda n: html_mail(_rep('<div id="divRplyFwdMsg">x</div>', n)),
    "html-border-top": lambda n: html_mail(
        _rep('<div style="border-top:solid"><p>From: a@b.vn</p></div>', n)
    ),
    "html-hr-many": lambda n: html_mail("original message" + _rep("<hr>", n) + "<div>x</div>"),
    "html-big-attribute": lambda n: html_mail('<a href="http://' + _rep("a", n) + '">x</a>'),
    "html-big-title-attr": lambda n: html_mail('<p title="' + _rep("a", n) + '">x</p>'),
    "html-many-attrs": lambda n: html_mail("<p " + _rep('a="b" ', n) + ">x</p>"),
    "html-imgs-remote": lambda n: html_mail(_rep('<img src="http://a.vn/x.png">', n)),
    "html-imgs-remote-distinct": lambda n: html_mail(
        "".join(f'<img src="http://a.vn/{i}.png">' for i in range(n // 30))
    ),
    "html-imgs-cid-distinct": lambda n: html_mail(
        "".join(f'<img src="cid:{i}">' for i in range(n // 20))
    ),
    "html-links": lambda n: html_mail(_rep('<a href="http://a.vn/">x</a>', n)),
    "html-comments": lambda n: html_mail(_rep("<!-- x -->", n)),
    "html-comment-open": lambda n: html_mail("<!--" + _rep("-", n)),
    "html-entities": lambda n: html_mail(_rep("&#7875;", n)),
    "html-lt": lambda n: html_mail(_rep("<", n)),
    "html-lt-a": lambda n: html_mail(_rep("<a", n)),
    "html-tcvn3": lambda n: mail(
        _rep("<p>Th«ng b¸o</p>", n).encode("cp1252"), ctype="text/html; charset=windows-1252"
    ),
    "html-tcvn3-nodes": lambda n: mail(
        _rep("<b>Th«ng</b> <i>b¸o</i> ", n).encode("cp1252"),
        ctype="text/html; charset=windows-1252",
    ),
    "html-from-gt": lambda n: html_mail(_rep("> from:", n)),
    "html-cid-refs": lambda n: html_mail(_rep("cid:%", n)),
    # headers
    "subject-long": lambda n: mail("x", subject=_rep("Tin ", min(n, 60_000))),
    "subject-no-spaces": lambda n: mail("x", subject=_rep("a", min(n, 60_000))),
    "subject-fwd-prefixes": lambda n: mail("x", subject=_rep("Fwd: ", min(n, 60_000))),
    "subject-tags": lambda n: mail("x", subject=_rep("[Tin]", min(n, 60_000))),
    "subject-open-tags": lambda n: mail("x", subject=_rep("[", min(n, 60_000))),
    "subject-re-digits": lambda n: mail("x", subject=_rep("RE[1]:", min(n, 60_000))),
    "subject-doc": lambda n: mail("x", subject="Gửi " + _rep("số 1/QĐ ", min(n, 60_000))),
    "subject-doc-cua": lambda n: mail(
        "x", subject="Gửi Quyết định số 1/QĐ-UBND của " + _rep("của ", min(n, 60_000))
    ),
    "subject-doc-gui": lambda n: mail("x", subject=_rep("gửi ", min(n, 60_000))),
    "subject-doc-dash": lambda n: mail("x", subject="1/QĐ của " + _rep("a -", min(n, 60_000))),
    "subject-doc-ngay": lambda n: mail("x", subject="1/QĐ ngày " + _rep("1/1/", min(n, 60_000))),
    "subject-slashes": lambda n: mail("x", subject=_rep("1/", min(n, 60_000))),
    "subject-symbol-codes": lambda n: mail("x", subject="1/" + _rep("A-", min(n, 60_000))),
    "subject-auto": lambda n: mail("x", subject=_rep(" ", min(n, 60_000)) + "x"),
    "subject-encoded-words": lambda n: mail(
        "x", subject=" ".join(["=?utf-8?b?4bqh?="] * (min(n, 60_000) // 17))
    ),
    "subject-encoded-q": lambda n: mail("x", subject=_rep("=?utf-8?q?=E1=BA=A1?=", min(n, 60_000))),
    "subject-token-tags": lambda n: mail("x", subject=_rep("[#rabcdefghijk]", min(n, 60_000))),
    "headers-many": lambda n: mail("x", headers=_rep("X-A: b\r\n", n)),
    "headers-many-received": lambda n: mail("x", headers=_rep("Received: from a by b\r\n", n)),
    "headers-many-to": lambda n: mail("x", headers=_rep("To: a@b.vn\r\n", n)),
    "headers-to-list": lambda n: mail(
        "x", headers="Cc: " + ", ".join(f"u{i}@b.vn" for i in range(min(n, 60_000) // 10)) + "\r\n"
    ),
    "headers-references": lambda n: mail(
        "x", headers="References: " + _rep("<a@b> ", min(n, 60_000)) + "\r\n"
    ),
    "headers-references-many": lambda n: mail(
        "x", headers=_rep("References: <a@b>\r\n", n) + "In-Reply-To: <a@b>\r\n"
    ),
    "headers-in-reply-to-body-lt-at": lambda n: mail(
        _rep("<a@b>", n), headers="In-Reply-To: <x@y>\r\n"
    ),
    "headers-auth-results": lambda n: mail(
        "x",
        headers=_rep("Authentication-Results: mx.demo; dkim=pass\r\n", n)
        + "In-Reply-To: <x@y>\r\n",
    ),
    "headers-folded": lambda n: mail(
        "x", headers="X-A: " + _rep("a\r\n ", min(n, 60_000)) + "\r\n"
    ),
    "headers-ctype-params": lambda n: mail(
        "x", ctype="text/plain; " + _rep('a="b"; ', min(n, 60_000))
    ),
    "headers-rfc2231-filename": lambda n: multipart(
        [
            b"Content-Type: application/pdf\r\nContent-Disposition: attachment; "
            + b"".join(f"filename*{i}=a;".encode() for i in range(min(n, 60_000) // 14))
            + b"\r\n\r\nx"
        ]
    ),
    # replies (read_command)
    "reply-text-lines": lambda n: mail(_rep("Duyệt\n", n), headers="In-Reply-To: <x@y>\r\n"),
    "reply-attribution": lambda n: mail(
        _rep("On Mon, A wrote ", n), headers="In-Reply-To: <x@y>\r\n"
    ),
    "reply-on-lines": lambda n: mail(_rep("on a\n", n), headers="In-Reply-To: <x@y>\r\n"),
    "reply-wrote-spaces": lambda n: mail(
        "on " + _rep("wrote ", n), headers="In-Reply-To: <x@y>\r\n"
    ),
    "reply-address-wrote": lambda n: mail(_rep("<a@b> wrote", n), headers="In-Reply-To: <x@y>\r\n"),
    "reply-from-lines": lambda n: mail(_rep("From: a\n", n), headers="In-Reply-To: <x@y>\r\n"),
    "reply-long-line": lambda n: mail(_rep("a" * 70 + "\n", n), headers="In-Reply-To: <x@y>\r\n"),
    "reply-words": lambda n: mail("Từ chối: " + _rep("a ", n), headers="In-Reply-To: <x@y>\r\n"),
    "reply-one-line-words": lambda n: mail(
        "x\ny\n" + _rep("duyệt ", n), headers="In-Reply-To: <x@y>\r\n"
    ),
    "reply-ok-fillers": lambda n: mail(_rep("ok ", n), headers="In-Reply-To: <x@y>\r\n"),
    "reply-approve-tail": lambda n: mail(
        "Duyệt " + _rep("ạ ", n), headers="In-Reply-To: <x@y>\r\n"
    ),
    "reply-gather": lambda n: mail(
        "Từ chối: a\n" + _rep("Từ chối\n", n), headers="In-Reply-To: <x@y>\r\n"
    ),
    "reply-forward-target": lambda n: mail(
        "Chuyển " + _rep("<", n // 2) + _rep(">", n // 2), headers="In-Reply-To: <x@y>\r\n"
    ),
    "reply-forward-particles": lambda n: mail(
        "Chuyển a" + _rep(" ạ", n), headers="In-Reply-To: <x@y>\r\n"
    ),
    "reply-html-blockquotes": lambda n: html_mail(
        _rep("<blockquote>x</blockquote>", n), headers="In-Reply-To: <x@y>\r\n"
    ),
    "reply-html-nested-blockquotes": lambda n: html_mail(
        "<blockquote>" * (n // 12), headers="In-Reply-To: <x@y>\r\n"
    ),
    "reply-html-divs": lambda n: html_mail(
        _rep("<div></div>", n), headers="In-Reply-To: <x@y>\r\n"
    ),
    "reply-html-nested-divs": lambda n: html_mail(
        "<div>" * (n // 5), headers="In-Reply-To: <x@y>\r\n"
    ),
    "reply-html-gmail-quote": lambda n: html_mail(
        _rep('<div class="gmail_quote">x</div>', n), headers="In-Reply-To: <x@y>\r\n"
    ),
    "reply-html-nested-cut": lambda n: html_mail(
        "<div>" * (n // 5) + '<div class="gmail_quote">x</div>', headers="In-Reply-To: <x@y>\r\n"
    ),
    # MIME structure
    "mime-many-parts": lambda n: multipart([b"Content-Type: text/plain\r\n\r\nx"] * (n // 40)),
    "mime-many-attachments": lambda n: multipart(
        [part(b"x", "application/pdf", f"{i}.pdf") for i in range(n // 120)]
    ),
    "mime-many-inline-cids": lambda n: multipart(
        [
            part(
                b"<p>" + b"".join(b'<img src="cid:%d">' % i for i in range(n // 200)) + b"</p>",
                "text/html",
            )
        ]
        + [b"Content-Type: image/png\r\nContent-ID: <%d>\r\n\r\nx" % i for i in range(n // 200)]
    ),
    "mime-many-html-parts": lambda n: multipart(
        [b"Content-Type: text/html\r\n\r\n<p>x</p>"] * (n // 40)
    ),
    "mime-many-rfc822": lambda n: multipart(
        [b"Content-Type: message/rfc822\r\n\r\nSubject: a\r\n\r\nx"] * (n // 50)
    ),
    "mime-nested": lambda n: (
        b"From: a@b.vn\r\nSubject: x\r\n"
        + b"".join(
            b'Content-Type: multipart/mixed; boundary="%d"\r\n\r\n--%d\r\n' % (i, i)
            for i in range(n // 60)
        )
        + b"Content-Type: text/plain\r\n\r\nx"
    ),
    "mime-boundary-lines": lambda n: mail(
        _rep("--x\r\n", n), ctype='multipart/mixed; boundary="y"'
    ),
    "mime-boundary-mismatch-parts": lambda n: mail(
        _rep("--x\r\nContent-Type: text/plain\r\n\r\nx\r\n", n),
        ctype='multipart/mixed; boundary="y"',
    ),
    "mime-epilogue-parts": lambda n: (
        multipart([b"Content-Type: text/plain\r\n\r\nx"])
        + _rep("--b0und\r\nContent-Type: text/plain\r\n\r\nx\r\n", n).encode()
    ),
    "mime-forwarded-article": lambda n: multipart(
        [
            b"Content-Type: text/plain\r\n\r\nxem",
            b"Content-Type: message/rfc822\r\n\r\n" + mail(_rep("Tin. ", n)),
        ]
    ),
    "mime-forwarded-nested": lambda n: (
        b"".join(
            [
                b"From: a@b.vn\r\nSubject: \r\n"
                b"Content-Type: multipart/mixed; boundary=z\r\n\r\n--z\r\n"
                b"Content-Type: message/rfc822\r\n\r\n"
            ]
            * min(30, n // 100)
        )
        + b"Subject: x\r\n\r\nbody"
    ),
    "mime-base64-long-line": lambda n: multipart(
        [
            part(b"x", "text/plain").split(b"\r\n\r\n")[0]
            + b"\r\n\r\n"
            + base64.b64encode(b"\x00" * n)
        ]
    ),
    "mime-base64-garbage": lambda n: mail(_rep("!@#$", n), cte="base64"),
    "mime-tnef-garbage": lambda n: multipart(
        [part(b"\x78\x9f\x3e\x22" + b"\x01" * n, "application/ms-tnef", "winmail.dat")]
    ),
    # .docx
    "docx-runs": lambda n: docx_mail("<w:p>" + "<w:r><w:t>a</w:t></w:r>" * (n // 24) + "</w:p>"),
    "docx-paragraphs": lambda n: docx_mail("<w:p><w:r><w:t>a</w:t></w:r></w:p>" * (n // 35)),
    "docx-legacy-runs": lambda n: docx_mail(
        "<w:p>" + '<w:r><w:rPr><w:rFonts w:ascii=".VnTime" w:hAnsi=".VnTime"/></w:rPr>'
        "<w:t>Th\u00abng b\u00b8o</w:t></w:r>" * (n // 110) + "</w:p>"
    ),
    "docx-legacy-paragraphs": lambda n: docx_mail(
        '<w:p><w:r><w:rPr><w:rFonts w:ascii=".VnTime" w:hAnsi=".VnTime"/></w:rPr>'
        "<w:t>Th\u00abng b\u00b8o</w:t></w:r></w:p>" * (n // 110)
    ),
    "docx-legacy-text-nodes": lambda n: docx_mail(
        '<w:p><w:r><w:rPr><w:rFonts w:ascii=".VnTime"/></w:rPr>'
        + "<w:t>b\u00b8o</w:t>" * (n // 14)
        + "</w:r></w:p>"
    ),
    "docx-nested": lambda n: docx_mail(
        "<w:p>"
        + "<w:hyperlink>" * (n // 30)
        + "<w:r><w:t>a</w:t></w:r>"
        + "</w:hyperlink>" * (n // 30)
        + "</w:p>"
    ),
    "docx-tables": lambda n: docx_mail(
        "<w:tbl><w:tr><w:tc><w:p><w:r><w:t>a</w:t></w:r></w:p></w:tc></w:tr></w:tbl>" * (n // 80)
    ),
}


# --------------------------------------------------------------------------- timing


def timed_read(board: Board, files: FileStore, raw: bytes, limit: float) -> dict[str, float]:
    """Seconds each stage of ``read`` took (and the checks), like ``read`` does it; a stage
    over ``limit`` seconds is stopped and reported as ``inf``."""
    times: dict[str, float] = {}
    d = reading.Draft(board=board, files=files, raw=raw)
    signal.signal(signal.SIGALRM, _alarm)
    for name, stage in reading.STAGES:
        start = time.perf_counter()
        signal.setitimer(signal.ITIMER_REAL, limit)
        try:
            stage(d)
        except (reading.SetAside, reading.Unreadable) as exc:
            times[name] = time.perf_counter() - start
            times["outcome:" + type(exc).__name__] = 0.0
            return times
        except StageTimeout:
            times[name] = math.inf
            return times
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        times[name] = time.perf_counter() - start
    facts = checks.Facts(
        board=board,
        sender=d.sender or Sender(None, None),
        title=d.title,
        text=d.text,
        byline=d.byline or Byline(None, None, None, False),
        file_names=tuple(a.filename for a in d.attachments),
        oversized=tuple(d.oversized),
        duplicate_of=None,
        legacy_encoding=d.legacy,
        remote_images=d.remote_images,
        damage=(),
        article_file=d.article_file,
    )
    start = time.perf_counter()
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        checks.run_checks(facts)
        times["checks"] = time.perf_counter() - start
    except StageTimeout:
        times["checks"] = math.inf
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return times


def complexity(board: Board, sizes: list[int], only: str | None, limit: float) -> int:
    flagged = 0
    with tempfile.TemporaryDirectory() as tmp:
        files = FileStore(Path(tmp))
        for shape, build in SHAPES.items():
            if only and only not in shape:
                continue
            previous: tuple[int, dict[str, float]] | None = None
            for size in sizes:
                raw = build(size)
                if len(raw) > board.limits.max_message_mb * 1024 * 1024:
                    break
                try:
                    times = timed_read(board, files, raw, limit)
                except Exception as exc:  # noqa: BLE001 - a crash is a finding
                    print(f"CRASH {shape} {size}: {type(exc).__name__}: {exc}", flush=True)
                    traceback.print_exc(limit=-4)
                    flagged += 1
                    break
                notes = []
                for stage, seconds in times.items():
                    if stage.startswith("outcome:"):
                        notes.append(stage)
                        continue
                    if seconds > 5:
                        notes.append(f"SLOW {stage} {seconds:.1f}s")
                    if previous and stage in previous[1] and seconds > 0.3:
                        before = max(previous[1][stage], 1e-3)
                        exponent = math.log(seconds / before) / math.log(size / previous[0])
                        if exponent > 1.3:
                            notes.append(f"GROWS {stage} n^{exponent:.2f}")
                worst = max(
                    ((s, t) for s, t in times.items() if not s.startswith("outcome:")),
                    key=lambda item: item[1],
                )
                total = sum(t for s, t in times.items() if not s.startswith("outcome:"))
                line = (
                    f"{shape:32} {size:>9} {len(raw):>9}B total {total:8.3f}s"
                    f" worst {worst[0]} {worst[1]:.3f}s {' '.join(notes)}"
                )
                print(line, flush=True)
                if any(n.startswith(("SLOW", "GROWS")) for n in notes):
                    flagged += 1
                if math.isinf(worst[1]):
                    break
                previous = (size, times)
    return flagged


# --------------------------------------------------------------------------- mutation


def seeds() -> list[tuple[str, bytes]]:
    found = [(p.name, p.read_bytes()) for p in sorted(CORPUS.glob("*.eml"))]
    to = BOARD_ADDRESS
    sender = "chau.lm@sgddt.demo.bientap.vn"
    found += [
        ("sample-plain", article_mail(sender, to)),
        ("sample-html", article_mail(sender, to, html=True)),
        ("sample-tcvn3", article_mail(sender, to, legacy="tcvn3")),
        ("sample-vni", article_mail(sender, to, legacy="vni")),
        ("sample-cp1258", article_mail(sender, to, charset="windows-1258")),
        (
            "sample-attachments",
            article_mail(
                sender,
                to,
                attachments=[
                    ("anh.jpg", "image/jpeg", b"\xff\xd8\xff" + bytes(200)),
                    ("bai.docx", DOCX_TYPE, docx("<w:p><w:r><w:t>Bài</w:t></w:r></w:p>")),
                ],
            ),
        ),
        (
            "sample-reply",
            article_mail(
                "an.nv@demo.bientap.vn",
                to,
                subject="Re: [#rabcdefghijk] Tin",
                body="Duyệt\n\nOn Mon, Ban wrote:\n> Tin\n",
                extra_headers={"In-Reply-To": "<x@demo.bientap.vn>"},
            ),
        ),
        (
            "sample-forward",
            article_mail(
                sender,
                to,
                subject="Fwd: Tin",
                body="---------- Forwarded message ---------\nFrom: A <a@b.vn>\n"
                "Date: Mon, 1 Jan 2026\nSubject: Tin\nTo: <c@d.vn>\n\nNội dung tin.\n",
            ),
        ),
    ]
    return found


_CHARSETS = [
    "utf-8",
    "windows-1258",
    "x-unknown",
    "utf-16",
    "utf-7",
    "iso-2022-jp",
    "idna",
    "rot13",
    "base64",
    "cp1258*vi",
    '"',
    "",
    "utf-8'vi'",
    "punycode",
    "hz",
    "uu",
]
_CTES = [
    "base64",
    "quoted-printable",
    "8bit",
    "7bit",
    "binary",
    "x-uuencode",
    "uuencode",
    "bogus",
    "base64 base64",
    "",
]


def mutate(raw: bytes, rng: random.Random) -> tuple[str, bytes]:
    kind = rng.choice(
        [
            "truncate", "flip", "flip", "dup-header", "strip-header", "boundary", "charset",
            "cte", "nul", "surrogate", "8bit-header", "splice", "crlf", "delete-range",
            "insert-junk", "repeat-range",
        ]
    )  # fmt: skip
    data = bytearray(raw)
    n = max(1, len(data))
    if kind == "truncate":
        return kind, bytes(data[: rng.randrange(n)])
    if kind == "flip":
        for _ in range(rng.randint(1, 20)):
            data[rng.randrange(n)] ^= 1 << rng.randrange(8)
        return kind, bytes(data)
    head_end = raw.find(b"\n\n") if raw.find(b"\r\n\r\n") < 0 else raw.find(b"\r\n\r\n")
    head_end = head_end if head_end > 0 else min(len(raw), 2000)
    head_lines = raw[:head_end].split(b"\n")
    if kind == "dup-header":
        line = rng.choice(head_lines)
        return kind, raw.replace(line, line + b"\n" + line * rng.randint(1, 3), 1)
    if kind == "strip-header":
        line = rng.choice(head_lines)
        return kind, raw.replace(line + b"\n", b"", 1)
    if kind == "boundary":
        i = raw.find(b"boundary=")
        if i < 0:
            return kind, raw.replace(b"\n--", b"\n-", 1)
        choice = rng.randrange(3)
        if choice == 0:
            return kind, raw[: i + 9] + b'"zzz"' + raw[i + 9 :]
        if choice == 1:
            return kind, raw.replace(b"\n--", b"\n--x", rng.randint(1, 3))
        return kind, raw.replace(b"--\r\n", b"\r\n").replace(b"--\n", b"\n")
    if kind == "charset":
        new = rng.choice(_CHARSETS).encode()
        pieces = raw.split(b"charset=")
        if len(pieces) == 1:
            declared = b"Content-Type: text/plain; charset=" + new
            return kind, raw.replace(b"Content-Type: text/plain", declared, 1)
        out = bytearray(pieces[0])
        for piece in pieces[1:]:
            end = 0
            while end < len(piece) and piece[end : end + 1] not in b";\r\n \t":
                end += 1
            out += b"charset=" + (new if rng.random() < 0.7 else piece[:end]) + piece[end:]
        return kind, bytes(out)
    if kind == "cte":
        new = rng.choice(_CTES).encode()
        pieces = raw.split(b"Content-Transfer-Encoding: ")
        out = bytearray(pieces[0])
        for piece in pieces[1:]:
            end = piece.find(b"\n")
            end = end if end >= 0 else len(piece)
            value = new if rng.random() < 0.7 else piece[:end].rstrip(b"\r")
            out += b"Content-Transfer-Encoding: " + value + piece[end:]
        return kind, bytes(out)
    if kind == "nul":
        for _ in range(rng.randint(1, 10)):
            data.insert(rng.randrange(n), 0)
        return kind, bytes(data)
    if kind == "surrogate":
        where = rng.randrange(n)
        junk = rng.choice(
            [
                b"\xed\xa0\x80",
                b"\xed\xbf\xbf",
                b"=?utf-8?b?7aCA?=",
                b"&#xD800;",
                b"=ED=A0=80",
                b"\\ud800",
            ]
        )
        return kind, bytes(data[:where]) + junk + bytes(data[where:])
    if kind == "8bit-header":
        line = rng.choice(head_lines)
        junk = bytes(rng.randrange(128, 256) for _ in range(rng.randint(1, 30)))
        return kind, raw.replace(
            line, line.rstrip(b"\r") + junk + (b"\r" if line.endswith(b"\r") else b""), 1
        )
    if kind == "splice":
        a, b = sorted(rng.randrange(n) for _ in range(2))
        return kind, bytes(data[:a]) + bytes(data[b:]) + bytes(data[a:b])
    if kind == "crlf":
        return kind, raw.replace(b"\r\n", b"\n") if b"\r\n" in raw else raw.replace(b"\n", b"\r\n")
    if kind == "delete-range":
        a = rng.randrange(n)
        return kind, bytes(data[:a]) + bytes(data[a + rng.randint(1, 500) :])
    if kind == "insert-junk":
        a = rng.randrange(n)
        junk = rng.choice(
            [
                b"\r\n\r\n",
                b"\r\n--",
                b"=?",
                b"?=",
                b"<",
                b">",
                b"\x00",
                b'\r\nContent-Type: multipart/mixed; boundary=""\r\n',
                b"\r\nContent-Type: message/rfc822\r\n",
                b"\r\nContent-Type: application/ms-tnef\r\n",
                b"\r\nContent-Transfer-Encoding: base64\r\n",
                b"\r\nIn-Reply-To: <x@y>\r\n",
                b"<![x",
                b"<![if x>",
                b"<a ",
                b"<a b='>'",
                b"<!--",
                b"</",
                b"<?",
                b"<blockquote>" * 40,
                b"<div>" * 300,
                b"<font>x" * 300,
                b"<div class=gmail_quote>",
                b"-----Original Message-----<br>",
                b"<span>" * 50,
                b"&#",
                b"<p></p>" * 50,
                b"[" * 100,
                bytes(rng.randrange(256) for _ in range(16)),
            ]
        )
        return kind, bytes(data[:a]) + junk + bytes(data[a:])
    a = rng.randrange(n)
    b = min(n, a + rng.randint(1, 200))
    return kind, bytes(data[:b]) + bytes(data[a:b]) * rng.randint(2, 50) + bytes(data[b:])


def mutation_cases(count: int, seed: int) -> Iterator[tuple[str, bytes]]:
    rng = random.Random(seed)
    bases = seeds()
    for index in range(count):
        name, raw = bases[index % len(bases)]
        label = name
        for _ in range(rng.choice([1, 1, 1, 2, 3])):
            kind, raw = mutate(raw, rng)
            label += f"+{kind}"
        yield f"{index}:{label}", raw


def fuzz(board: Board, count: int, seed: int, limit: float) -> int:
    defects = 0
    outcomes: dict[str, int] = {}
    slowest = (0.0, "")
    with tempfile.TemporaryDirectory() as tmp:
        files = FileStore(Path(tmp))
        signal.signal(signal.SIGALRM, _alarm)
        for label, raw in mutation_cases(count, seed):
            start = time.perf_counter()
            signal.setitimer(signal.ITIMER_REAL, limit)
            try:
                result = reading.read(board, files, raw)
                outcomes[result.outcome] = outcomes.get(result.outcome, 0) + 1
                if result.outcome not in ("submission", "set_aside", "unreadable"):
                    print(f"BAD OUTCOME {label}: {result.outcome}")
                    defects += 1
                if "unexpected parser failure" in (result.reason or ""):
                    print(f"INTERNAL {label}: {result.reason}")  # a bug caught, the mail lost
                    defects += 1
                if result.outcome == "submission":
                    checks.run_checks(
                        checks.Facts(
                            board=board,
                            sender=Sender(None, None),
                            title=result.title,
                            text=result.text,
                            byline=result.byline,
                            file_names=result.file_names,
                            oversized=result.oversized,
                            duplicate_of=None,
                            legacy_encoding=result.legacy,
                            remote_images=result.remote_images,
                            damage=result.damage,
                        )
                    )
            except StageTimeout:
                print(f"TIMEOUT {label} ({len(raw)} bytes)", flush=True)
                defects += 1
            except Exception as exc:  # noqa: BLE001 - a crash is the finding
                print(f"CRASH {label}: {type(exc).__name__}: {exc}", flush=True)
                traceback.print_exc(limit=-3)
                defects += 1
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            took = time.perf_counter() - start
            slowest = max(slowest, (took, label))
    print(
        f"{count} cases, outcomes {outcomes}, defects {defects}, slowest {slowest[1]} "
        f"{slowest[0]:.2f}s"
    )
    return defects


def main() -> int:
    logging.basicConfig(level=logging.CRITICAL)  # mail-parser's notes on every odd part
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    comp = sub.add_parser("complexity")
    comp.add_argument("--board", default=str(REPO / "config" / "demo.toml"))
    comp.add_argument("--sizes", default="10000,100000,1000000,4000000")
    comp.add_argument("--only")
    comp.add_argument("--limit", type=float, default=60.0, help="seconds a stage may take")
    mut = sub.add_parser("mutate")
    mut.add_argument("--board", default=str(REPO / "config" / "demo.toml"))
    mut.add_argument("--cases", type=int, default=3000)
    mut.add_argument("--seed", type=int, default=1)
    mut.add_argument("--limit", type=float, default=30.0, help="seconds a mail may take")
    args = parser.parse_args()
    board = load_board(args.board)
    if args.command == "complexity":
        sizes = [int(s) for s in args.sizes.split(",")]
        return 1 if complexity(board, sizes, args.only, args.limit) else 0
    return 1 if fuzz(board, args.cases, args.seed, args.limit) else 0


if __name__ == "__main__":
    sys.exit(main())
