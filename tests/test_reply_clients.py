"""Replies to a real review request, in the bytes the mail clients of Vietnamese officials
send (Gmail, Outlook, Apple Mail, Zimbra, Roundcube, Thunderbird, Samsung Email, Yahoo Mail;
Vietnamese where the client has it), read as the pipeline reads any reply: parsed, then
``reading.reply_facts``. Each ends in what a person reading the mail would understand, or,
where that is unclear, in the reviewer being asked again; never in a wrong approval.
A few of them also go the whole way: sent over SMTP, fetched over IMAP, recorded."""

from __future__ import annotations

import base64
import email.policy
import quopri
import textwrap
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from email.header import Header
from email.message import EmailMessage
from email.utils import make_msgid, parseaddr
from functools import partial
from html import escape
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from pipeline import review_mail
from pipeline.charsets import encode_cp1258
from pipeline.commands import Command, Unreadable, Verb
from pipeline.config import load_board
from pipeline.files import FileStore
from pipeline.mailbuild import Mail
from pipeline.models import State, Submission
from pipeline.parsing import parse_message
from pipeline.reading import reply_facts
from pipeline.samples import article_mail
from tests.helpers import CONFIG
from tests.review_loop import Loop, MakeLoop

BOARD = load_board(CONFIG / "demo.toml")
REVIEWER = BOARD.member("uv-giao-duc")
APPROVE = Command(Verb.APPROVE, None)
ASKED = None  # the reviewer is asked again: what he wrote is no clear command


# --- What a mail client has in hand: the mail it answers -------------------------------------


@dataclass(frozen=True)
class Answered:
    """The mail a reviewer answers, as his mail client sees it."""

    name: str  # the board's display name
    address: str
    reply_to: str
    subject: str
    message_id: str
    text: str
    html: str  # what is inside <body>
    reviewer: str
    reviewer_name: str

    @classmethod
    def of(cls, msg: EmailMessage, reviewer: str, reviewer_name: str) -> Answered:
        name, address = parseaddr(str(msg["From"]))
        text, html = msg.get_body(("plain",)), msg.get_body(("html",))
        assert text is not None and html is not None
        body = BeautifulSoup(html.get_content(), "html.parser").body
        assert body is not None
        return cls(
            name,
            address,
            str(msg["Reply-To"] or msg["From"]),
            str(msg["Subject"]),
            str(msg["Message-ID"]),
            text.get_content(),
            body.decode_contents(),
            reviewer,
            reviewer_name,
        )


def _read(mail: Mail) -> EmailMessage:
    parsed = email.message_from_bytes(mail.as_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def _item() -> Submission:
    return Submission(
        tracking_code="BT-261207-K3J9X2",
        title="Hội nghị tổng kết năm học 2025-2026",
        body_html="<p>Sáng nay, Sở Giáo dục và Đào tạo tổ chức hội nghị tổng kết năm học.</p>",
        body_text="Sáng nay, Sở Giáo dục và Đào tạo tổ chức hội nghị tổng kết năm học.",
        sender_address="vanthu@sgddt.demo.bientap.vn",
        sender_name="Văn thư Sở Giáo dục",
        agency_id="so-gddt",
        kind="tin",
        field_ids=["giao-duc"],
        author="Nguyễn Thị Hoa",
        message_id="orig.k3j9x2@sgddt.demo.bientap.vn",
    )


def _review_request(store: Path) -> Answered:
    """A review request as the board sends it: its commands (DUYỆT, TỪ CHỐI…) are in it."""
    mail = review_mail.review_request(
        BOARD,
        _item(),
        [],
        FileStore(store),
        recipient=REVIEWER,
        step_name="Thành viên phụ trách lĩnh vực duyệt",
        acting_for=None,
        view_url="https://duyet.demo.bientap.vn/r/7?t=AbC",
        approve_url="https://duyet.demo.bientap.vn/r/7/approve?t=DeF",
        reply_to="bbt+r.k3j9x2@demo.bientap.vn",
        subject_tag="[#rk3j9x2]",
        message_id="review.k3j9x2@demo.bientap.vn",
        purpose="request",
        diff=None,
        flags=[],
        due_at=None,
        history=[],
    )
    return Answered.of(_read(mail), REVIEWER.email, REVIEWER.name)


def _asked_again() -> Answered:
    """The board's answer to a reply it could not read: the command list is in it."""
    mail = review_mail.reply_answer(
        BOARD,
        to=REVIEWER.email,
        subject="Re: [Duyệt tin bài] Hội nghị tổng kết năm học 2025-2026 [#rk3j9x2]",
        in_reply_to="reply.1@sgddt.demo.bientap.vn",
        text="Không tìm thấy lệnh ở đầu thư trả lời.",
        message_id="answer.1@demo.bientap.vn",
    )
    return Answered.of(_read(mail), REVIEWER.email, REVIEWER.name)


# --- Writing MIME as the clients do ----------------------------------------------------------


@dataclass(frozen=True)
class Part:
    subtype: str  # plain | html
    text: str
    charset: str = "utf-8"
    cte: str = "quoted-printable"  # | base64 | 8bit
    params: str = ""  # "; format=flowed"


def _encoded(part: Part) -> bytes:
    if part.charset == "windows-1258":
        data = encode_cp1258(part.text)  # decomposed tones, as Windows writes them
    else:
        data = part.text.encode(part.charset)
    if part.cte == "base64":
        return base64.encodebytes(data.replace(b"\n", b"\r\n")).replace(b"\n", b"\r\n")
    if part.cte == "quoted-printable":
        return quopri.encodestring(data).replace(b"\n", b"\r\n")
    return data.replace(b"\n", b"\r\n")


def _part(part: Part) -> bytes:
    head = (
        f'Content-Type: text/{part.subtype}; charset="{part.charset}"{part.params}\r\n'
        f"Content-Transfer-Encoding: {part.cte}\r\n\r\n"
    )
    return head.encode() + _encoded(part)


def _mail(to: Answered, agent: str, parts: list[Part], prefix: str = "Re: ") -> bytes:
    domain = to.reviewer.rpartition("@")[2]
    head = (
        f"From: {Header(to.reviewer_name, 'utf-8').encode()} <{to.reviewer}>\r\n"
        f"To: {to.reply_to}\r\n"
        f"Subject: {Header(prefix + to.subject, 'utf-8').encode()}\r\n"
        "Date: Mon, 07 Dec 2026 10:20:00 +0700\r\n"
        f"Message-ID: {make_msgid(domain=domain)}\r\n"
        f"In-Reply-To: {to.message_id}\r\n"
        f"References: {to.message_id}\r\n"
        f"{agent}\r\n"
        "MIME-Version: 1.0\r\n"
    ).encode()
    if len(parts) == 1:
        return head + _part(parts[0])
    boundary = "000000000000c0ffee5a1b2c3d"
    out = head + f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'.encode()
    for part in parts:
        out += f"--{boundary}\r\n".encode() + _part(part) + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


def _quoted(text: str) -> str:
    return "\n".join("> " + line if line.strip() else ">" for line in text.splitlines())


def _lines(answer: str, tag: str = "div", attrs: str = "") -> str:
    """One element per typed line, an empty line as <br>: how web and phone editors write."""
    return "".join(
        f"<{tag}{attrs}>{escape(line) if line.strip() else '<br>'}</{tag}>"
        for line in answer.split("\n")
    )


def _flowed(text: str, width: int = 72) -> str:
    """text/plain; format=flowed (RFC 3676): long lines broken after a space, quotes kept."""
    out: list[str] = []
    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        prefix, rest = line[:depth], line[depth:].removeprefix(" ")
        lead = prefix + " " if prefix else ""
        while len(lead + rest) > width and " " in rest[: width - len(lead)]:
            cut = rest.rfind(" ", 0, width - len(lead)) + 1
            out.append(lead + rest[:cut])
            rest = rest[cut:]
        out.append(lead + rest if prefix or rest else "")
    return "\n".join(out)


def _hard_wrapped(text: str, width: int) -> str:
    return "\n".join(textwrap.fill(line, width) if line else "" for line in text.split("\n"))


# --- The clients -------------------------------------------------------------------------------


def gmail(to: Answered, answer: str, *, app: bool = False, html_only: bool = False) -> bytes:
    """Gmail on the web (dir="ltr", «vào lúc») or its Android/iOS app (dir="auto", «lúc»)."""
    when = "Vào Th 2, 7 thg 12, 2026 " + ("lúc" if app else "vào lúc") + f" 10:05 {to.name}"
    text = f"{when} <\n{to.address}> đã viết:\n\n{_quoted(to.text)}\n"  # Gmail breaks it there
    html = (
        f'<div dir="{"auto" if app else "ltr"}">{_lines(answer) if answer else "<br>"}</div><br>'
        '<div class="gmail_quote gmail_quote_container"><div dir="ltr" class="gmail_attr">'
        f'{escape(when)} &lt;<a href="mailto:{to.address}">{to.address}</a>&gt; đã viết:<br>'
        '</div><blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;'
        f'border-left:1px solid rgb(204,204,204);padding-left:1ex">{to.html}</blockquote></div>\n'
    )
    parts = [Part("html", html)]
    if not html_only:
        parts.insert(0, Part("plain", f"{answer}\n\n{text}" if answer else text))
    return _mail(to, "X-Gm-Message-State: AOJu0Yw", parts)


_OUTLOOK_VI = ("Từ", "Đã gửi", "Đến", "Chủ đề", "Thứ Hai, 7 tháng 12, 2026 10:05 SA")
_OUTLOOK_EN = ("From", "Sent", "To", "Subject", "Monday, December 7, 2026 10:05 AM")


def outlook(to: Answered, answer: str, *, charset: str = "utf-8", vi: bool = True) -> bytes:
    """Outlook for Windows: Word's HTML (MsoNormal, <o:p>), the quote under a header block and
    not marked with ">"; its text part the same."""
    who, sent, dest, subject, date = _OUTLOOK_VI if vi else _OUTLOOK_EN
    block = (
        f"{who}: {to.name} <{to.address}>\n{sent}: {date}\n"
        f"{dest}: {to.reviewer_name} <{to.reviewer}>\n{subject}: {to.subject}\n"
    )
    lines = "".join(
        f"<p class=MsoNormal>{escape(line) if line.strip() else '&nbsp;'}<o:p></o:p></p>"
        for line in answer.split("\n")
    )
    html = (
        '<html xmlns:v="urn:schemas-microsoft-com:vml" '
        'xmlns:o="urn:schemas-microsoft-com:office:office"><head>'
        f'<meta http-equiv=Content-Type content="text/html; charset={charset}">'
        '<!--[if gte mso 9]><xml><o:shapedefaults v:ext="edit" spidmax="1026" /></xml>'
        "<![endif]--><style><!-- p.MsoNormal {margin:0cm;font-size:11.0pt;} --></style></head>"
        f'<body lang=VI link="#0563C1"><div class=WordSection1>{lines}'
        "<p class=MsoNormal><o:p>&nbsp;</o:p></p><div><div style='border:none;"
        "border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm'><p class=MsoNormal>"
        f"<b>{who}:</b> {escape(to.name)} &lt;{to.address}&gt; <br><b>{sent}:</b> {date}<br>"
        f"<b>{dest}:</b> {escape(to.reviewer_name)} &lt;{to.reviewer}&gt;<br>"
        f"<b>{subject}:</b> {escape(to.subject)}<o:p></o:p></p></div></div>"
        f"<p class=MsoNormal><o:p>&nbsp;</o:p></p>{to.html}</div></body></html>"
    )
    text = f"{answer}\n\n{block}\n{to.text}\n"
    return _mail(
        to,
        "X-Mailer: Microsoft Outlook 16.0\r\nThread-Index: AQHZc2xq",
        [Part("plain", text, charset), Part("html", html, charset)],
        "RE: ",
    )


def outlook_plain(
    to: Answered, answer: str, *, separator: str = "-----Original Message-----"
) -> bytes:
    """Outlook writing plain text: lines broken at 76 characters, the quote not marked."""
    text = (
        f"{_hard_wrapped(answer, 76)}\n\n{separator}\nFrom: {to.name} <{to.address}>\n"
        f"Sent: Monday, December 7, 2026 10:05 AM\nTo: {to.reviewer_name} <{to.reviewer}>\n"
        f"Subject: {to.subject}\n\n{to.text}\n"
    )
    return _mail(to, "X-Mailer: Microsoft Outlook 16.0", [Part("plain", text)], "RE: ")


def owa(to: Answered, answer: str, *, html_only: bool = False, signature: str = "") -> bytes:
    """Outlook on the web, new Outlook, Outlook for iOS/Android (their signature, if given):
    #appendonsend and #divRplyFwdMsg, the quote not marked."""
    mobile = (
        f'<div id="ms-outlook-mobile-signature"><div dir="ltr">{escape(signature)}</div></div>'
        if signature
        else ""
    )
    html = (
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8">'
        '</head><body dir="ltr"><div class="elementToProof" style="font-size:12pt">'
        f"{_lines(answer) if answer else '<br>'}</div>{mobile}"
        '<div id="appendonsend"></div><hr style="display:inline-block;width:98%" tabindex="-1">'
        '<div id="divRplyFwdMsg" dir="ltr"><font face="Calibri, sans-serif" color="#000000">'
        f"<b>Từ:</b> {escape(to.name)} &lt;{to.address}&gt;<br>"
        "<b>Đã gửi:</b> Thứ Hai, ngày 7 tháng 12 năm 2026 10:05<br>"
        f"<b>Đến:</b> {escape(to.reviewer_name)} &lt;{to.reviewer}&gt;<br>"
        f"<b>Chủ đề:</b> {escape(to.subject)}</font><div>&nbsp;</div></div>{to.html}"
        "</body></html>"
    )
    below = f"\n\n{signature}<https://aka.ms/o0ukef>" if signature else ""
    text = (
        f"{answer}{below}\n________________________________\nTừ: {to.name} <{to.address}>\n"
        "Đã gửi: Thứ Hai, ngày 7 tháng 12 năm 2026 10:05\n"
        f"Đến: {to.reviewer_name} <{to.reviewer}>\nChủ đề: {to.subject}\n\n{to.text}\n"
    )
    parts = [Part("html", html)]
    if not html_only:
        parts.insert(0, Part("plain", text))
    return _mail(to, "X-MS-Has-Attach:\r\nX-MS-TNEF-Correlator:", parts, "TL: ")


def apple(
    to: Answered, answer: str, *, signature: str = "Gửi từ iPhone của tôi", nfd: bool = False
) -> bytes:
    """Mail on an iPhone: the header inside the quote, a BOM before the quoted text, marks
    decomposed when typed so (``nfd``)."""
    if nfd:
        answer = unicodedata.normalize("NFD", answer)
    when = f"Vào 10:05, 7 thg 12, 2026, {to.name} <{to.address}> đã viết:"
    text = f"{answer}\n\n{signature}\n\n> {when}\n>\n> \ufeff{_quoted(to.text)[2:]}\n"
    html = (
        '<html><head><meta http-equiv="content-type" content="text/html; charset=utf-8"></head>'
        '<body dir="auto">'
        + "<br>".join(escape(line) for line in answer.split("\n"))
        + f'<br><br><div dir="ltr">{escape(signature)}</div><div dir="ltr"><br>'
        f'<blockquote type="cite">{escape(when)}<br><br></blockquote></div>'
        f'<blockquote type="cite"><div dir="ltr">\ufeff{to.html}</div></blockquote></body></html>'
    )
    return _mail(to, "X-Mailer: iPhone Mail (21F90)", [Part("plain", text), Part("html", html)])


def zimbra(to: Answered, answer: str, *, vi: bool = True) -> bytes:
    """Zimbra web client (many *.gov.vn mail systems): «----- Thư gốc -----», Từ/Đến/Đã gửi."""
    if vi:
        labels = ("----- Thư gốc -----", "Từ", "Đến", "Đã gửi", "Chủ đề")
        date = "Thứ Hai, 7 Tháng 12 2026 10:05:00"
    else:
        labels = ("----- Original Message -----", "From", "To", "Sent", "Subject")
        date = "Monday, December 7, 2026 10:05:00 AM"
    rule, who, dest, sent, subject = labels
    text = (
        f'{answer}\n\n{rule}\n{who}: "{to.name}" <{to.address}>\n'
        f'{dest}: "{to.reviewer_name}" <{to.reviewer}>\n{sent}: {date}\n'
        f"{subject}: {to.subject}\n\n{to.text}\n"
    )
    html = (
        '<html><body><div style="font-family: arial, helvetica, sans-serif; font-size: 12pt">'
        f'{_lines(answer)}<div><br></div><hr id="zwchr" data-marker="__DIVIDER__">'
        f'<div data-marker="__HEADERS__"><b>{who}: </b>"{escape(to.name)}" &lt;{to.address}&gt;'
        f'<br><b>{dest}: </b>"{escape(to.reviewer_name)}" &lt;{to.reviewer}&gt;<br>'
        f"<b>{sent}: </b>{date}<br><b>{subject}: </b>{escape(to.subject)}<br></div><div><br>"
        f'</div><div data-marker="__QUOTED_TEXT__">{to.html}</div></div></body></html>'
    )
    return _mail(
        to,
        "X-Mailer: Zimbra 8.8.15_GA_4581 (ZimbraWebClient - GC120 (Win)/8.8.15_GA_4581)",
        [Part("plain", text), Part("html", html)],
    )


def roundcube(to: Answered, answer: str, *, below: bool = True, html_only: bool = False) -> bytes:
    """Roundcube webmail: by default the cursor is put *below* the quote; format=flowed."""
    when = f"Vào ngày 2026-12-07 10:05, {to.name} đã viết:"
    signature = f"-- \n{to.reviewer_name}"
    quote = f"{when}\n{_quoted(to.text)}"
    text = f"{quote}\n\n{answer}\n\n{signature}\n" if below else f"{answer}\n\n{quote}\n"
    quote_html = (
        f'<p id="reply-intro">{escape(when)}</p><blockquote type="cite" style="padding: 0 0.4em;'
        f' border-left: #1010ff 2px solid; margin: 0">{to.html}</blockquote>'
    )
    mine = f'{_lines(answer, "p")}<div id="_rc_sig">-- <br />{escape(to.reviewer_name)}</div>'
    body = quote_html + mine if below else mine + quote_html
    html = f'<html><head></head><body style="font-size: 10pt">{body}</body></html>'
    parts = [Part("html", html)]
    if not html_only:
        parts.insert(0, Part("plain", _flowed(text), params="; format=flowed"))
    return _mail(to, "User-Agent: Roundcube Webmail/1.6.6", parts)


def thunderbird(to: Answered, answer: str, *, below: bool = True, html: bool = False) -> bytes:
    """Thunderbird (recommended to state agencies): by default the reply goes *below* the
    quote; plain text is format=flowed, HTML has a moz-cite-prefix and a blockquote."""
    when = f"Vào 07/12/2026 10:05, {to.name} đã viết:"
    signature = f"-- \n{to.reviewer_name}"
    if html:
        quote = (
            f'<div class="moz-cite-prefix">{escape(when)}<br></div>'
            f'<blockquote type="cite" cite="mid:{to.message_id.strip("<>")}">{to.html}</blockquote>'
        )
        mine = (
            "<p>" + "<br>".join(escape(line) for line in answer.split("\n")) + "</p>"
            f'<pre class="moz-signature" cols="72">-- \n{escape(to.reviewer_name)}</pre>'
        )
        page = f"<html><body>{quote + mine if below else mine + quote}</body></html>"
        return _mail(to, "User-Agent: Mozilla Thunderbird", [Part("html", page)])
    quote = f"{when}\n{_quoted(to.text)}"
    text = f"{quote}\n\n{answer}\n\n{signature}\n" if below else f"{answer}\n\n{quote}\n"
    return _mail(
        to,
        "User-Agent: Mozilla Thunderbird",
        [Part("plain", _flowed(text), cte="8bit", params="; format=flowed")],
    )


AUTO = ' dir="auto"'


def samsung(to: Answered, answer: str) -> bytes:
    """Samsung Email on a Galaxy phone, in Vietnamese; both parts base64."""
    signature = "Đã gửi từ điện thoại thông minh Samsung Galaxy của tôi."
    head = (
        f"Từ: {to.name} <{to.address}> \nNgày: 07/12/2026 10:05 (GMT+07:00) \n"
        f"Đến: {to.reviewer_name} <{to.reviewer}> \nChủ đề: {to.subject} \n"
    )
    text = f"{answer}\n\n\n{signature}\n\n-------- Tin nhắn gốc --------\n{head}\n{to.text}\n"
    html = (
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=UTF-8"></head>'
        f'<body>{_lines(answer, attrs=AUTO)}<div dir="auto"><br></div>'
        f'<div id="composer_signature" dir="auto"><div style="font-size:85%;color:#575757" '
        f'dir="auto">{signature}</div></div><div dir="auto"><br></div>'
        '<div align="left" dir="auto" style="font-size:100%;color:#000000">'
        "<div>-------- Tin nhắn gốc --------</div>"
        + "".join(f"<div>{escape(line)}</div>" for line in head.splitlines())
        + f"<div><br></div></div>{to.html}</body></html>"
    )
    return _mail(
        to,
        "X-Mailer: Samsung Email",
        [Part("plain", text, cte="base64"), Part("html", html, cte="base64")],
    )


def yahoo(to: Answered, answer: str) -> bytes:
    """Yahoo Mail on Android: its text part runs the header and the quote into one line."""
    flat = " ".join(line.strip() for line in to.text.splitlines() if line.strip())
    when = f"Vào Th 2, 7 thg 12, 2026 lúc 10:05, {to.name}"
    text = (
        f"{answer}\n\nGửi từ Yahoo Mail trên Android\n \n  {when}<{to.address}> đã viết:   "
        f"{flat}  \n"
    )
    html = (
        f'<html><head></head><body><div id="yMail_cursorElementTracker_1">{escape(answer)}'
        '</div><div><br></div><div id="ymail_android_signature"><a href="https://go.onelink.me/'
        '107872968?pid=InProduct">Gửi từ Yahoo Mail trên Android</a></div><br>'
        f'<blockquote style="margin: 0 0 20px 0;"><div>{escape(when)}</div>'
        f"<div>&lt;{to.address}&gt; đã viết:</div><div>{to.html}</div></blockquote></body></html>"
    )
    return _mail(
        to, "X-Mailer: WebService/1.1.22 YMailNorrin", [Part("plain", text), Part("html", html)]
    )


def unknown_client(to: Answered, answer: str) -> bytes:
    """A client whose reply header bientap does not know, the quote not marked: only the
    request's own shape keeps its command list from being read as the answer."""
    text = f"{answer}\n\nNgười gửi: {to.name}\nThời gian: 07/12/2026 10:05\n\n{to.text}\n"
    return _mail(to, "X-Mailer: Lotus Notes Release 9.0.1", [Part("plain", text)])


# --- The cases ----------------------------------------------------------------------------------

Client = Callable[..., bytes]
REFUSED = Command(Verb.REJECT, "đề nghị sửa đoạn 2")
# Lines the client broke at its line length just before the verb: «không | đồng ý».
NOT_AGREED = "Em đã đọc kỹ bài, số liệu ở đoạn hai chưa khớp với báo cáo nên em không đồng ý ạ."
NOT_APPROVED = (
    "Em đã đọc kỹ bài, số liệu ở đoạn 2 chưa khớp với báo cáo tổng kết nên không duyệt ạ."
)
LONG_REASON = (
    "bài trùng với tin «Hội nghị tổng kết năm học» đã đăng trên Cổng ngày 3/12/2026, "
    "đề nghị Sở không gửi lại."
)


def case(client: Client, answer: str, expected: Command | None, name: str) -> object:
    return pytest.param(client, answer, expected, id=name)


CASES = [
    # Gmail: web, Android/iOS app; multipart or HTML only; its signature block
    case(gmail, "Duyệt", APPROVE, "gmail-web"),
    case(gmail, "", ASKED, "gmail-web-empty"),
    case(gmail, "DUYỆT", APPROVE, "gmail-web-upper"),
    case(gmail, "Duyệt\n\n-- \nLê Minh Châu\nPhó Trưởng ban", APPROVE, "gmail-web-signature"),
    case(gmail, "Duyệt - Lê Minh Châu", APPROVE, "gmail-web-signed-on-the-line"),
    case(gmail, "Duyệt - Trần Văn Bình xem lại", ASKED, "gmail-web-another-name-on-the-line"),
    case(partial(gmail, app=True), "dong y", APPROVE, "gmail-app-no-diacritics"),
    case(partial(gmail, app=True), "Duyệt. Cảm ơn anh.", APPROVE, "gmail-app-courtesy"),
    case(partial(gmail, app=True), "Duyệt ạ, cám ơn anh nhiều!", APPROVE, "gmail-app-thanks"),
    case(partial(gmail, html_only=True), "Duyệt", APPROVE, "gmail-html-only"),
    case(partial(gmail, html_only=True), "", ASKED, "gmail-html-only-empty"),
    case(
        partial(gmail, html_only=True),
        "Không duyệt\nđề nghị sửa đoạn 2",
        REFUSED,
        "gmail-html-only-reason-on-next-line",
    ),
    # Outlook for Windows, in Vietnamese and English, UTF-8 and Windows-1258; plain text
    case(outlook, "Duyệt", APPROVE, "outlook"),
    case(outlook, "", ASKED, "outlook-empty"),
    case(outlook, "Không duyệt, đề nghị sửa đoạn 2", REFUSED, "outlook-refusal"),
    case(partial(outlook, vi=False), "Duyệt", APPROVE, "outlook-english"),
    case(partial(outlook, charset="windows-1258"), "Duyệt", APPROVE, "outlook-1258"),
    case(
        partial(outlook, charset="windows-1258"),
        "Từ chối: trùng với tin đã đăng ngày 3/12",
        Command(Verb.REJECT, "trùng với tin đã đăng ngày 3/12"),
        "outlook-1258-rejection",
    ),
    case(outlook_plain, "Duyệt", APPROVE, "outlook-plain"),
    case(outlook_plain, "", ASKED, "outlook-plain-empty"),
    case(partial(outlook_plain, separator="-----Thư gốc-----"), "duyet", APPROVE, "outlook-vi"),
    case(outlook_plain, NOT_APPROVED, ASKED, "outlook-plain-wrapped-before-duyet"),
    case(
        outlook_plain,
        f"Từ chối: {LONG_REASON}",
        Command(Verb.REJECT, LONG_REASON),
        "outlook-plain-wrapped-reason",
    ),
    # Outlook on the web, new Outlook, Outlook for iOS/Android
    case(owa, "Duyệt", APPROVE, "owa"),
    case(owa, "", ASKED, "owa-empty"),
    case(partial(owa, html_only=True), "Đồng ý", APPROVE, "owa-html-only"),
    case(
        partial(owa, html_only=True),
        "Từ chối: trùng bài đã đăng ngày 3/12\nảnh chưa rõ nguồn",
        Command(Verb.REJECT, "trùng bài đã đăng ngày 3/12\nảnh chưa rõ nguồn"),
        "owa-html-only-reason-on-two-lines",
    ),
    case(partial(owa, signature="Tải Outlook cho iOS"), "Duyệt", APPROVE, "outlook-ios"),
    case(partial(owa, signature="Get Outlook for Android"), "", ASKED, "outlook-android-empty"),
    # Mail on iPhone, Vietnamese and English; marks typed decomposed
    case(apple, "Duyệt", APPROVE, "iphone"),
    case(apple, "", ASKED, "iphone-empty"),
    case(partial(apple, signature="Sent from my iPhone"), "Đồng ý", APPROVE, "iphone-english"),
    case(partial(apple, nfd=True), "Duyệt", APPROVE, "iphone-nfd"),
    case(partial(apple, nfd=True), "Không duyệt, đề nghị sửa đoạn 2", REFUSED, "iphone-nfd-no"),
    # Zimbra and Roundcube webmail, Thunderbird
    case(zimbra, "Duyệt", APPROVE, "zimbra"),
    case(zimbra, "", ASKED, "zimbra-empty"),
    case(partial(zimbra, vi=False), "DUYỆT", APPROVE, "zimbra-english"),
    case(roundcube, "Duyệt", APPROVE, "roundcube-below-quote"),
    case(roundcube, "", ASKED, "roundcube-empty"),
    case(roundcube, "Không duyệt, đề nghị sửa đoạn 2", REFUSED, "roundcube-refusal-below-quote"),
    case(
        partial(roundcube, below=False),
        "Sửa: đoạn 2 thiếu nguồn ảnh",
        Command(Verb.CHANGES, "đoạn 2 thiếu nguồn ảnh"),
        "roundcube-above-quote",
    ),
    case(partial(roundcube, html_only=True), "Duyệt", APPROVE, "roundcube-html-below-quote"),
    case(thunderbird, "Duyệt", APPROVE, "thunderbird-below-quote"),
    case(thunderbird, "", ASKED, "thunderbird-empty"),
    case(partial(thunderbird, below=False), "Duyệt", APPROVE, "thunderbird-above-quote"),
    case(partial(thunderbird, html=True), "Duyệt", APPROVE, "thunderbird-html-below-quote"),
    case(partial(thunderbird, html=True), "", ASKED, "thunderbird-html-empty"),
    case(partial(thunderbird, below=False), NOT_AGREED, ASKED, "thunderbird-flowed-before-dong-y"),
    case(thunderbird, NOT_AGREED, ASKED, "thunderbird-flowed-before-dong-y-below-quote"),
    # Samsung Email and Yahoo Mail on phones
    case(samsung, "Duyệt", APPROVE, "samsung"),
    case(samsung, "", ASKED, "samsung-empty"),
    case(yahoo, "Duyệt", APPROVE, "yahoo"),
    case(yahoo, "", ASKED, "yahoo-empty"),
    # A header bientap does not know: the quoted request's command list is not the answer
    case(unknown_client, "", ASKED, "unknown-client-empty"),
    case(unknown_client, "Cảm ơn anh", ASKED, "unknown-client-thanks"),
]


@pytest.fixture(scope="module")
def request_mail(tmp_path_factory: pytest.TempPathFactory) -> Answered:
    return _review_request(tmp_path_factory.mktemp("files"))


def _command(raw: bytes) -> Command | Unreadable:
    facts = reply_facts(BOARD, parse_message(raw), raw)
    assert facts is not None  # it answers the request
    return facts.command


@pytest.mark.parametrize(("client", "answer", "expected"), CASES)
def test_a_reply_is_read_as_its_reader_would(
    request_mail: Answered, client: Client, answer: str, expected: Command | None
) -> None:
    got = _command(client(request_mail, answer))
    if expected is ASKED:
        assert isinstance(got, Unreadable), got
    else:
        assert got == expected


@pytest.mark.parametrize(
    "client", [outlook, outlook_plain, gmail, partial(thunderbird, below=False), unknown_client]
)
def test_the_quoted_command_list_of_an_answer_is_never_read_as_a_command(client: Client) -> None:
    # The board's "asked again" answer lists every command, one a line ("- DUYỆT: …").
    got = _command(client(_asked_again(), ""))
    assert isinstance(got, Unreadable), got


# --- The whole way: SMTP, IMAP, the record ----------------------------------------------------

SENDER = "nhung.ltt@sgddt.demo.bientap.vn"


@pytest.fixture
def loop(make_loop: MakeLoop) -> Loop:
    loop = make_loop("demo", extra_addresses=(SENDER,))
    loop.submit(article_mail(SENDER, loop.board.mailboxes[0].address, "[GD] Ngày hội tuyển sinh"))
    loop.run()
    return loop


def _answer_by(loop: Loop, client: Client, answer: str) -> str:
    item = loop.item()
    [task] = loop.pending(item.id)
    member = loop.board.member(task.member_id)
    request = Answered.of(loop.requests(member, item.tracking_code)[-1], member.email, member.name)
    loop.send_bytes(client(request, answer), member.email, request.reply_to)
    loop.run()
    return member.email


def _decisions(loop: Loop) -> list[str]:
    kinds = ("approve", "reject", "changes", "forward")
    return [e.kind for e in loop.events(loop.item().id) if e.kind in kinds]


def test_an_approval_below_a_thunderbird_quote_is_recorded(loop: Loop) -> None:
    _answer_by(loop, thunderbird, "Duyệt ạ")
    assert _decisions(loop) == ["approve"]


def test_a_refusal_broken_by_outlook_before_its_verb_approves_nothing(loop: Loop) -> None:
    reviewer = _answer_by(loop, outlook_plain, NOT_APPROVED)
    assert _decisions(loop) == []
    assert loop.item().state == State.PENDING_REVIEW
    answers = [m for m in loop.inbox(reviewer) if str(m["Subject"]).lower().startswith("re:")]
    assert "“không duyệt”" in _plain(answers[-1])  # asked again, with what was understood


def test_a_reason_on_the_line_below_reaches_the_sender(loop: Loop) -> None:
    _answer_by(loop, partial(owa, html_only=True), "Không duyệt\nẢnh chưa rõ nguồn.")
    item = loop.item()
    assert item.state == State.REJECTED
    told = [m for m in loop.inbox(SENDER) if item.tracking_code in str(m["Subject"])]
    assert any("Ảnh chưa rõ nguồn." in _plain(m) for m in told)


def _plain(msg: EmailMessage) -> str:
    body = msg.get_body(("plain",))
    return body.get_content() if body is not None else ""
