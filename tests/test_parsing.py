"""pipeline.parsing: raw bytes -> ParsedMail, for the mail Vietnamese offices really send."""

from __future__ import annotations

import base64
import email
import email.policy
import email.quoprimime
import quopri
import random
import struct
import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage, Message
from email.mime.application import MIMEApplication
from email.mime.base import MIMEBase
from email.mime.image import MIMEImage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from pathlib import Path

import pytest

from pipeline.charsets import encode_cp1258
from pipeline.parsing import (
    MessageParseError,
    ParsedMail,
    decode_header_text,
    parse_message,
    sanitize_filename,
)

DATA = Path(__file__).resolve().parent / "data" / "parsing"
REAL_MAIL = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "real-mail"

TEXT_VI = "Ủy ban nhân dân tỉnh thông báo về việc tăng cường phòng, chống thiên tai năm 2024."
SUBJECT_VI = "Thông báo kết quả Hội nghị trực tuyến"
# A tiny but complete PNG (1x1, RGBA): signature, IHDR, IDAT, IEND.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)

cp1258 = encode_cp1258


def b_word(text: str, charset: str = "utf-8") -> str:
    return f"=?{charset}?B?{base64.b64encode(text.encode(charset)).decode()}?="


def q_word(data: bytes, charset: str = "utf-8") -> str:
    return email.quoprimime.header_encode(data, charset)  # one word, no line breaks


def envelope(msg: Message, subject: str = "x") -> Message:
    msg["From"] = "Ban Bien tap <bbt@example.gov.vn>"
    msg["To"] = "cong-thong-tin@example.gov.vn"
    msg["Subject"] = subject
    msg["Date"] = "Mon, 03 Jun 2024 08:15:00 +0700"
    msg["Message-ID"] = "<m1@example.gov.vn>"
    return msg


def parse(msg: Message) -> ParsedMail:
    return parse_message(msg.as_bytes())


def raw_part(headers: str, body: bytes) -> bytes:
    return headers.replace("\n", "\r\n").encode("ascii") + b"\r\n\r\n" + body


def single_part(content_type: str, body: bytes, cte: str = "8bit") -> bytes:
    return raw_part(
        "From: a@example.vn\nTo: b@example.vn\nSubject: t\nMIME-Version: 1.0\n"
        f"Content-Type: {content_type}\nContent-Transfer-Encoding: {cte}",
        body,
    )


# ------------------------------------------------------------------------- headers


def test_subject_utf8_base64_and_quoted_printable() -> None:
    b_mail = single_part("text/plain", b"x").replace(
        b"Subject: t", f"Subject: {b_word(SUBJECT_VI)}".encode()
    )
    q_mail = single_part("text/plain", b"x").replace(
        b"Subject: t", f"Subject: {q_word(SUBJECT_VI.encode())}".encode()
    )
    assert parse_message(b_mail).subject == SUBJECT_VI
    assert parse_message(q_mail).subject == SUBJECT_VI


def test_header_with_utf8_character_split_across_two_encoded_words() -> None:
    data = "Kế hoạch".encode()
    cut = 2  # inside the three bytes of "ế"
    value = f"{q_word(data[:cut])} {q_word(data[cut:])}"
    text, defects = decode_header_text(value)
    assert text == "Kế hoạch"
    assert defects == ()


def test_broken_encoded_words_are_recovered() -> None:
    missing_padding = "=?utf-8?B?VGjDtG5nIGLDoW8?="  # "Thông báo" without its "="
    assert decode_header_text(missing_padding)[0] == "Thông báo"

    in_the_middle = "Tin=?utf-8?Q?_m=E1=BB=9Bi?=: h\u00f4m nay"
    assert decode_header_text(in_the_middle)[0] == "Tin mới: hôm nay"

    text, defects = decode_header_text("=?x-no-such-charset?Q?Vi=E1=BB=87t_Nam?=")
    assert text == "Việt Nam"  # the bytes are UTF-8; the unknown label is ignored
    assert any("x-no-such-charset" in d for d in defects)

    words = "=?utf-8?Q?Th=C3=B4ng?= =?utf-8*vi?Q?_b=C3=A1o?="  # RFC 2231 language suffix
    assert decode_header_text(words)[0] == "Thông báo"


def test_windows_1258_encoded_word_becomes_nfc() -> None:
    value = q_word(cp1258("Nguyễn Thị Hồng"), "windows-1258")
    text, _ = decode_header_text(value)
    assert text == "Nguyễn Thị Hồng"
    assert unicodedata.is_normalized("NFC", text)


def test_gb2312_label_on_gbk_text() -> None:
    text = "镕基"  # "镕" exists in GBK, not in GB2312
    data = text.encode("gbk")
    with pytest.raises(UnicodeDecodeError):
        data.decode("gb2312")
    assert decode_header_text(f"=?gb2312?B?{base64.b64encode(data).decode()}?=")[0] == text
    mail = parse_message(single_part("text/plain; charset=gb2312", data))
    assert mail.text_body == text


def test_from_name_address_and_lists() -> None:
    raw = (
        b"From: " + b_word("Nguyễn Văn An").encode() + b" <An.NV@SoTTTT.Example.GOV.vn>\r\n"
        b'To: "Tr\xe1\xba\xa7n B\xc3\xacnh" <binh@example.vn>, c@example.vn\r\n'
        b"Cc: =?windows-1258?Q?L=EA_Hoa?= <HOA@example.vn>, undisclosed-recipients:;\r\n"
        b"Reply-To: <Reply@Example.vn>\r\n"
        b"Subject: t\r\n"
        b"Date: Mon, 03 Jun 2024 08:15:00 +0700\r\n"
        b"Message-ID: <abc.123@mail.example.vn>\r\n"
        b"In-Reply-To: <parent@mail.example.vn>\r\n"
        b"References: <root@mail.example.vn>\r\n <parent@mail.example.vn>\r\n"
        b"Received: from a by b; Mon, 03 Jun 2024 08:15:02 +0700\r\n"
        b"Received: from c by d; Mon, 03 Jun 2024 08:15:01 +0700\r\n"
        b"Auto-Submitted: no\r\n"
        b"\r\nbody\r\n"
    )
    mail = parse_message(raw)
    assert mail.from_name == "Nguyễn Văn An"
    assert mail.from_address == "an.nv@sotttt.example.gov.vn"
    assert mail.to == ("binh@example.vn", "c@example.vn")
    assert mail.cc == ("hoa@example.vn",)
    assert mail.reply_to == "reply@example.vn"
    assert mail.message_id == "abc.123@mail.example.vn"
    assert mail.in_reply_to == "parent@mail.example.vn"
    assert mail.references == ("root@mail.example.vn", "parent@mail.example.vn")
    assert mail.date == datetime(2024, 6, 3, 8, 15, tzinfo=timezone(timedelta(hours=7)))
    assert mail.date is not None and mail.date.tzinfo is not None
    assert len(mail.headers["received"]) == 2
    assert mail.headers["auto-submitted"] == ("no",)
    assert mail.headers["to"][0].startswith('"Trần Bình"')
    assert mail.content_type == "text/plain"
    assert mail.text_body.strip() == "body"


def test_missing_headers_give_empty_values() -> None:
    mail = parse_message(b"Subject: only a subject\r\n\r\nhello\r\n")
    assert mail.from_address == "" and mail.from_name == ""
    assert mail.message_id is None and mail.date is None and mail.reply_to is None
    assert mail.to == () and mail.references == ()
    assert mail.html_body is None
    assert mail.text_body.strip() == "hello"


# ------------------------------------------------------------------------- bodies


def test_windows_1258_body_with_combining_marks_becomes_nfc() -> None:
    encoded = cp1258(TEXT_VI)
    assert "\u0323".encode("cp1258") in encoded  # really written with combining marks
    mail = parse_message(
        single_part(
            "text/plain; charset=windows-1258",
            quopri.encodestring(encoded),
            "quoted-printable",
        )
    )
    assert mail.text_body.strip() == TEXT_VI
    assert unicodedata.is_normalized("NFC", mail.text_body)


def test_iso_8859_1_label_on_utf8_bytes() -> None:
    msg = MIMEText("", "plain", "utf-8")
    msg.set_payload(base64.encodebytes(TEXT_VI.encode()).decode())
    msg.replace_header("Content-Type", 'text/plain; charset="iso-8859-1"')
    assert parse(envelope(msg)).text_body.strip() == TEXT_VI


@pytest.mark.parametrize(
    "body", [TEXT_VI.encode("utf-8"), cp1258(TEXT_VI)], ids=["utf-8", "cp1258"]
)
def test_part_without_charset(body: bytes) -> None:
    mail = parse_message(single_part("text/plain", body))
    assert mail.text_body.strip() == TEXT_VI


def test_alternative_keeps_text_and_html() -> None:
    outer = MIMEMultipart("alternative")
    outer.attach(MIMEText(TEXT_VI, "plain", "utf-8"))
    outer.attach(MIMEText(f"<p><b>{TEXT_VI}</b></p>", "html", "utf-8"))
    mail = parse(envelope(outer))
    assert mail.content_type == "multipart/alternative"
    assert mail.text_body.strip() == TEXT_VI
    assert mail.html_body is not None and f"<p><b>{TEXT_VI}</b></p>" in mail.html_body
    assert mail.attachments == ()


@pytest.mark.parametrize(
    "src", ["cid:logo.123@example.vn", "cid:logo.123%40example.vn", "CID:<Logo.123@Example.vn>"]
)
def test_related_cid_image_is_an_inline_attachment(src: str) -> None:
    related = MIMEMultipart("related")
    related.attach(MIMEText(f'<p>Ảnh:</p><img src="{src}">', "html", "utf-8"))
    image = MIMEImage(PNG, "png")
    image["Content-ID"] = "<logo.123@example.vn>"
    related.attach(image)
    mixed = MIMEMultipart("mixed")
    mixed.attach(related)
    pdf = MIMEApplication(b"%PDF-1.4 report", "pdf")
    pdf.add_header("Content-Disposition", "attachment", filename="bao-cao.pdf")
    mixed.attach(pdf)

    mail = parse(envelope(mixed))
    assert mail.content_type == "multipart/mixed"
    image_part, pdf_part = mail.attachments
    assert image_part.inline is True
    assert image_part.content_id == "logo.123@example.vn"
    assert image_part.data == PNG and image_part.size == len(PNG)
    assert image_part.content_type == "image/png"
    assert image_part.filename.startswith("attachment-1.") and image_part.filename.endswith("png")
    assert pdf_part.inline is False
    assert (pdf_part.filename, pdf_part.data) == ("bao-cao.pdf", b"%PDF-1.4 report")


def test_rfc2231_vietnamese_filename() -> None:
    name = "Báo cáo tháng 5 năm 2024 của Sở Thông tin và Truyền thông tỉnh.docx"
    msg = EmailMessage()
    msg.set_content("Kính gửi Ban Biên tập")
    msg.add_attachment(
        b"PK\x03\x04data", maintype="application", subtype="octet-stream", filename=name
    )
    raw = envelope(msg).as_bytes()
    assert b"filename*0*=utf-8''" in raw  # really RFC 2231 with continuations
    mail = parse_message(raw)
    assert [a.filename for a in mail.attachments] == [name]
    assert mail.attachments[0].data == b"PK\x03\x04data"
    assert mail.text_body.strip() == "Kính gửi Ban Biên tập"


def test_rfc2047_filename_and_path_parts_are_cleaned() -> None:
    mixed = MIMEMultipart("mixed")
    mixed.attach(MIMEText("x", "plain", "utf-8"))
    outlook = MIMEBase("application", "msword")
    outlook.set_payload(b"doc")
    outlook["Content-Disposition"] = f'attachment; filename="{b_word("Tờ trình.doc")}"'
    mixed.attach(outlook)
    sneaky = MIMEApplication(b"MZ", "octet-stream")
    sneaky.add_header(
        "Content-Disposition", "attachment", filename="..\\..\\Windows\\evil\u202egpj.exe"
    )
    mixed.attach(sneaky)
    mail = parse(envelope(mixed))
    assert [a.filename for a in mail.attachments] == ["Tờ trình.doc", "evilgpj.exe"]


def test_sanitize_filename() -> None:
    assert sanitize_filename("/etc/passwd") == "passwd"
    assert sanitize_filename("C:\\Users\\a\\Ba\u0301o ca\u0301o.pdf") == "Báo cáo.pdf"
    assert sanitize_filename("...") is None
    assert sanitize_filename("") is None
    long_name = "a" * 400 + ".pdf"
    cleaned = sanitize_filename(long_name)
    assert cleaned is not None and len(cleaned) <= 180 and cleaned.endswith(".pdf")


def test_forwarded_message_becomes_eml_attachment() -> None:
    inner = envelope(MIMEText(TEXT_VI, "plain", "utf-8"), subject=b_word("Tin gốc"))
    outer = MIMEMultipart("mixed")
    outer.attach(MIMEText("Chuyển tiếp", "plain", "utf-8"))
    forwarded = MIMEBase("message", "rfc822")
    forwarded.attach(inner)
    outer.attach(forwarded)

    mail = parse(envelope(outer))
    assert mail.text_body.strip() == "Chuyển tiếp"  # the forwarded body is not mixed in
    (attachment,) = mail.attachments
    assert attachment.content_type == "message/rfc822"
    assert attachment.filename == "Tin gốc.eml"
    again = parse_message(attachment.data)
    assert again.subject == "Tin gốc"
    assert again.text_body.strip() == TEXT_VI


def test_report_content_type_and_delivery_status() -> None:
    raw = (DATA / "delivery-report.eml").read_bytes()
    mail = parse_message(raw)
    assert mail.content_type == "multipart/report"
    assert "could not be delivered" in mail.text_body
    kinds = [a.content_type for a in mail.attachments]
    assert kinds == ["message/delivery-status", "message/rfc822"]
    assert b"Status: 5.1.1" in mail.attachments[0].data


def test_broken_message_fixture_is_read_with_defects() -> None:
    mail = parse_message((DATA / "broken-headers.eml").read_bytes())
    assert mail.subject == "Tin mới: Thông báo lịch họp"
    assert mail.from_name == "Nguyễn Văn Bảo"
    assert mail.from_address == "bao.nv@example.gov.vn"
    assert mail.text_body.strip().startswith(TEXT_VI)
    assert mail.date is None  # "Date: hôm qua" cannot be read
    assert mail.defects  # the unterminated multipart and the bad date are reported
    assert any("date" in d.lower() for d in mail.defects)
    (attachment,) = mail.attachments
    assert attachment.filename == "Kế hoạch.pdf"


# ------------------------------------------------------------------------- TNEF
#
# A TNEF stream (MS-OXTNEF) is: uint32 signature 0x223E9F78, uint16 key, then attributes.
# Each attribute is: uint8 level (1 message, 2 attachment), uint16 id, uint16 type,
# uint32 length, the data, uint16 checksum (sum of the data bytes mod 65536).
# An attachment starts with attAttachRendData; attAttachTitle is its short name in the OEM
# code page, attAttachData its bytes, attAttachment a MAPI property list (count, then for each
# property: uint16 type, uint16 id, and for strings uint32 count, uint32 length, data padded
# to 4 bytes).

LVL_MESSAGE, LVL_ATTACHMENT = 1, 2
ATP_STRING, ATP_BYTE, ATP_WORD, ATP_DWORD = 0x0001, 0x0006, 0x0007, 0x0008
PT_LONG, PT_UNICODE, PT_BINARY = 0x0003, 0x001F, 0x0102


def tnef_attribute(level: int, attr_id: int, attr_type: int, data: bytes) -> bytes:
    header = struct.pack("<BHHI", level, attr_id, attr_type, len(data))
    return header + data + struct.pack("<H", sum(data) & 0xFFFF)


def mapi_props(*props: tuple[int, int, object]) -> bytes:
    out = struct.pack("<I", len(props))
    data: object
    for prop_type, prop_id, value in props:
        out += struct.pack("<HH", prop_type, prop_id)
        if prop_type == PT_LONG:
            assert isinstance(value, int)
            out += struct.pack("<I", value)
            continue
        data = (str(value) + "\0").encode("utf-16-le") if prop_type == PT_UNICODE else value
        assert isinstance(data, bytes)
        out += struct.pack("<II", 1, len(data)) + data + b"\0" * (-len(data) % 4)
    return out


def build_tnef(
    files: list[tuple[bytes, str | None, bytes]], html: str | None = None, codepage: int = 1258
) -> bytes:
    """files: (short title in the OEM code page, long Unicode name or None, data)."""
    out = struct.pack("<IH", 0x223E9F78, 0x0001)
    out += tnef_attribute(LVL_MESSAGE, 0x9006, ATP_DWORD, struct.pack("<I", 0x00010000))
    out += tnef_attribute(LVL_MESSAGE, 0x9007, ATP_BYTE, struct.pack("<II", codepage, 0))
    out += tnef_attribute(LVL_MESSAGE, 0x8008, ATP_WORD, b"IPM.Microsoft Mail.Note\0")
    if html is not None:
        body = mapi_props((PT_LONG, 0x3FDE, 65001), (PT_BINARY, 0x1013, html.encode()))
        out += tnef_attribute(LVL_MESSAGE, 0x9003, ATP_BYTE, body)
    for title, long_name, data in files:
        rend = struct.pack("<HIHHI", 1, 0xFFFFFFFF, 0xFFFF, 0xFFFF, 0)
        out += tnef_attribute(LVL_ATTACHMENT, 0x9002, ATP_BYTE, rend)
        out += tnef_attribute(LVL_ATTACHMENT, 0x8010, ATP_STRING, title + b"\0")
        out += tnef_attribute(LVL_ATTACHMENT, 0x800F, ATP_BYTE, data)
        props: list[tuple[int, int, object]] = [(PT_UNICODE, 0x370E, "application/octet-stream")]
        if long_name is not None:
            props.append((PT_UNICODE, 0x3707, long_name))
        out += tnef_attribute(LVL_ATTACHMENT, 0x9005, ATP_BYTE, mapi_props(*props))
    return out


def outlook_mail(tnef: bytes, with_text: bool = True) -> bytes:
    outer = MIMEMultipart("mixed")
    if with_text:
        outer.attach(MIMEText("Xem tệp đính kèm.", "plain", "utf-8"))
    part = MIMEApplication(tnef, "ms-tnef")
    part.add_header("Content-Disposition", "attachment", filename="winmail.dat")
    outer.attach(part)
    return envelope(outer).as_bytes()


DOCX_BYTES = b"PK\x03\x04 fake docx \x00\x00"
PHOTO_BYTES = PNG + b"\x00\x00"  # trailing NULs must survive


def test_winmail_dat_is_unpacked_into_its_real_files() -> None:
    tnef = build_tnef(
        [
            (b"BAOCAO~1.DOC", "Báo cáo tổng kết năm 2024.docx", DOCX_BYTES),
            (cp1258("Ảnh hội nghị.png"), None, PHOTO_BYTES),  # short title only, cp1258
        ]
    )
    mail = parse_message(outlook_mail(tnef))
    assert [(a.filename, a.data) for a in mail.attachments] == [
        ("Báo cáo tổng kết năm 2024.docx", DOCX_BYTES),
        ("Ảnh hội nghị.png", PHOTO_BYTES),
    ]
    assert all(a.filename != "winmail.dat" for a in mail.attachments)
    assert mail.text_body.strip() == "Xem tệp đính kèm."
    assert mail.html_body is None


def test_winmail_dat_body_used_when_mail_has_none() -> None:
    html = "<html><body><p>Nội dung bài viết</p></body></html>"
    tnef = build_tnef([(b"A.TXT", "a.txt", b"abc")], html=html)
    mail = parse_message(outlook_mail(tnef, with_text=False))
    assert mail.html_body is not None and "<p>Nội dung bài viết</p>" in mail.html_body
    assert [a.filename for a in mail.attachments] == ["a.txt"]


@pytest.mark.parametrize(
    "tnef",
    [b"not a tnef stream at all", build_tnef([(b"A.TXT", "a.txt", b"abc")])[:40]],
    ids=["bad-signature", "truncated"],
)
def test_broken_winmail_dat_is_kept_with_a_defect(tnef: bytes) -> None:
    mail = parse_message(outlook_mail(tnef))
    (attachment,) = mail.attachments
    assert attachment.filename == "winmail.dat"
    assert attachment.data == tnef
    assert any("winmail.dat" in d for d in mail.defects)


def test_winmail_dat_with_a_huge_property_count_is_not_unpacked() -> None:
    """A count of 2**32-1 properties would keep tnefparse looping for hours."""
    bomb = struct.pack("<I", 0xFFFFFFFF) + struct.pack("<HH", 0x0002, 0x0E17)
    tnef = build_tnef([(b"A.TXT", "a.txt", b"abc")])
    tnef += tnef_attribute(LVL_ATTACHMENT, 0x9005, ATP_BYTE, bomb)
    mail = parse_message(outlook_mail(tnef))
    assert [a.filename for a in mail.attachments] == ["winmail.dat"]
    assert any("cannot fit" in d for d in mail.defects)


def test_winmail_dat_of_countless_tiny_objects_is_not_unpacked() -> None:
    """tnefparse copies the rest of the stream for each object: 1.2 million 12-byte ones
    (a 20 MB mail) would hold the reader for many minutes."""
    tnef = build_tnef([(b"A.TXT", "a.txt", b"abc")])
    tnef += tnef_attribute(LVL_MESSAGE, 0x0099, 0, b"\x00") * 30_000
    mail = parse_message(outlook_mail(tnef))
    assert [a.filename for a in mail.attachments] == ["winmail.dat"]
    assert any("objects" in d for d in mail.defects)


# ------------------------------------------------------------------------- garbage


@pytest.mark.parametrize(
    "raw",
    [b"", b"   \r\n\r\n", bytes(range(256)) * 8, b"\x00\x01\x02 no headers here\n\nbody"],
    ids=["empty", "blank", "binary", "no-headers"],
)
def test_unparseable_input_raises_message_parse_error(raw: bytes) -> None:
    with pytest.raises(MessageParseError) as caught:
        parse_message(raw)
    assert caught.value.reason


def test_non_bytes_input_raises_message_parse_error() -> None:
    with pytest.raises(MessageParseError):
        parse_message("From: a@b\n\nx")  # type: ignore[arg-type]


def nested(depth: int) -> bytes:
    head = "".join(
        f"--b{i}\r\nContent-Type: multipart/mixed; boundary=b{i + 1}\r\n\r\n" for i in range(depth)
    )
    return (
        "From: a@example.vn\r\nMIME-Version: 1.0\r\n"
        "Content-Type: multipart/mixed; boundary=b0\r\n\r\n"
        + head
        + f"--b{depth}\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
    ).encode()


def test_pathologically_nested_multipart_is_refused() -> None:
    with pytest.raises(MessageParseError) as caught:
        parse_message(nested(3000))
    assert "nested" in caught.value.reason


def test_deep_but_parseable_nesting_is_cut_with_a_defect() -> None:
    assert parse_message(nested(30)).text_body.strip() == "hello"
    deep = parse_message(nested(45))
    assert deep.text_body == ""
    assert any("nested deeper" in d for d in deep.defects)


def test_damaged_mime_is_read_with_defects() -> None:
    raw = (
        b"From: a@example.vn\r\nSubject: =?utf-8?B?!!!?=\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="zz"\r\n\r\n'
        b"--zz\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n"
        + base64.b64encode(TEXT_VI.encode())[:-3]
        + b"\r\n--zz\r\nContent-Type: application/pdf; name=x.pdf\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQ#@!\r\n"
    )
    mail = parse_message(raw)
    assert mail.text_body.startswith(TEXT_VI[:40])
    assert mail.attachments[0].filename == "x.pdf"
    assert mail.defects


def test_wrong_boundary_and_early_close_are_recovered() -> None:
    declared_other = raw_part(
        "From: a@example.vn\nMIME-Version: 1.0\n"
        'Content-Type: multipart/alternative; boundary="--=_declared"',
        b"----=_used\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        b"<p>Tin b\xc3\xa0i</p>\r\n----=_used--\r\n",
    )
    mail = parse_message(declared_other)
    assert mail.html_body is not None and "<p>Tin bài</p>" in mail.html_body
    assert any("boundary mismatch" in d for d in mail.defects)

    early_close = raw_part(
        "From: a@example.vn\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=zz",
        b"--zz\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nbody\r\n--zz--\r\n"
        b"--zz\r\nContent-Type: application/pdf; name=late.pdf\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--zz--\r\n",
    )
    mail = parse_message(early_close)
    assert mail.text_body.strip() == "body"
    assert [(a.filename, a.data) for a in mail.attachments] == [("late.pdf", b"%PDF-1.4\n")]


def test_a_header_of_endless_encoded_words_is_cut_and_the_mail_read() -> None:
    """Decoding a header costs time quadratic in its encoded words: a subject of 400,000
    would hold the reader for many minutes. It is cut, said so, and the mail is read."""
    subject = " ".join([b_word("á")] * 60_000)
    raw = single_part("text/plain; charset=utf-8", "Nội dung tin.".encode()).replace(
        b"Subject: ", f"Subject: {subject}\r\nX-Old-Subject: ".encode(), 1
    )
    mail = parse_message(raw)
    assert mail.subject.startswith("ááá") and len(mail.subject) < 10_000
    assert any(d.startswith("header Subject of") for d in mail.defects)
    assert mail.text_body.strip() == "Nội dung tin."


def test_header_fields_of_one_name_past_a_hundred_are_not_read() -> None:
    """Each address field is parsed twice: 25 MB of "To:" lines held a reader two minutes.
    The first hundred of a name are read, the rest left out and said so; the body stays."""
    to_lines = "".join(f"To: u{i}@example.vn\r\n" for i in range(30_000))
    raw = single_part("text/plain; charset=utf-8", "Nội dung tin.".encode()).replace(
        b"Subject: t\r\n", f"Subject: t\r\n{to_lines}".encode(), 1
    )
    mail = parse_message(raw)
    assert mail.to == ("b@example.vn", *(f"u{i}@example.vn" for i in range(99)))
    assert "header To: 29901 fields past the first 100 not read" in mail.defects
    assert mail.text_body.strip() == "Nội dung tin."
    last = parse_message(raw.replace(b"8bit\r\n\r\n", b"8bit\r\nTo: x@y.vn\r\n\r\n", 1))
    assert last.text_body == mail.text_body


def test_outlook_msg_file_is_refused_with_a_clear_reason() -> None:
    with pytest.raises(MessageParseError) as caught:
        parse_message(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600)
    assert ".msg" in caught.value.reason


@pytest.mark.parametrize("codec", ["idna", "punycode"])
def test_8bit_text_declared_in_a_codec_that_is_no_charset_is_read(codec: str) -> None:
    """The standard library decodes such a part with the codec named, which raises: the
    whole mail was unreadable ("unexpected parser failure")."""
    mail = parse_message(single_part(f"text/plain; charset={codec}", "Nội dung tin.".encode()))
    assert mail.text_body.strip() == "Nội dung tin."


def test_an_encoded_word_whose_charset_holds_a_nul_is_kept_and_the_mail_read() -> None:
    """codecs.lookup raises ValueError on a NUL: the whole mail was unreadable."""
    raw = single_part("text/plain; charset=utf-8", "Nội dung tin.".encode()).replace(
        b"Subject: t", b"Subject: =?utf\x00-8?B?4bqh?= tin", 1
    )
    mail = parse_message(raw)
    assert mail.text_body.strip() == "Nội dung tin."
    assert mail.subject.endswith("tin")


def test_mangled_messages_never_raise_anything_else() -> None:
    """Truncated and bit-flipped copies of a rich message: a result or MessageParseError."""
    outer = MIMEMultipart("mixed")
    alternative = MIMEMultipart("alternative")
    alternative.attach(MIMEText(TEXT_VI, "plain", "utf-8"))
    alternative.attach(MIMEText(f"<p>{TEXT_VI}</p>", "html", "utf-8"))
    outer.attach(alternative)
    outer.attach(MIMEApplication(build_tnef([(b"A.TXT", "a.txt", b"abc")]), "ms-tnef"))
    outer.attach(MIMEImage(PNG, "png"))
    original = envelope(outer).as_bytes()
    rng = random.Random(20240603)
    samples = [original[: rng.randrange(len(original))] for _ in range(60)]
    for _ in range(140):
        mangled = bytearray(original)
        for _ in range(rng.randrange(1, 40)):
            mangled[rng.randrange(len(mangled))] = rng.randrange(256)
        samples.append(bytes(mangled))
    parsed = 0
    for sample in samples:
        try:
            parse_message(sample)
        except MessageParseError as exc:
            assert not exc.reason.startswith("unexpected"), exc.__cause__
            continue
        parsed += 1
    assert parsed > 150  # damage is tolerated, not refused


def test_parsed_mail_is_immutable() -> None:
    mail = parse_message(single_part("text/plain; charset=utf-8", b"x"))
    with pytest.raises(AttributeError):
        mail.subject = "y"  # type: ignore[misc]
    with pytest.raises(TypeError):
        mail.headers["x"] = ("y",)  # type: ignore[index]


@pytest.mark.parametrize("path", sorted(REAL_MAIL.glob("*.eml")), ids=lambda p: p.name)
def test_real_mail_parses_or_raises_message_parse_error(path: Path) -> None:
    raw = path.read_bytes()
    try:
        mail = parse_message(raw)
    except MessageParseError as exc:
        assert exc.reason and not exc.reason.startswith("unexpected"), exc.__cause__
        return
    assert isinstance(mail, ParsedMail)
    assert mail.date is None or mail.date.tzinfo is not None
    for attachment in mail.attachments:
        assert attachment.filename and "/" not in attachment.filename
        assert "\\" not in attachment.filename
    assert unicodedata.is_normalized("NFC", mail.subject)
    assert unicodedata.is_normalized("NFC", mail.text_body)


def test_real_mail_corpus_is_present() -> None:
    assert len(list(REAL_MAIL.glob("*.eml"))) >= 20


def _flowed(body: str, delsp: bool) -> bytes:
    """A plain-text mail sent as format=flowed (``delsp``: DelSp=yes)."""
    return (
        "From: a@so.example\r\nTo: b@so.example\r\nSubject: x\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8; format=flowed"
        + ("; delsp=yes" if delsp else "")
        + "\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        + body
    ).encode()


@pytest.mark.parametrize("delsp", [False, True])
def test_flowed_plain_text_is_read_as_typed(delsp: bool) -> None:
    """Roundcube, Thunderbird and Apple Mail break plain text at their width, each line that
    goes on ending in a space (RFC 3676): the article is one paragraph again, not lines of
    72 characters that become line breaks on the portal."""
    typed = (
        "Sáng 7/12, Sở Giáo dục và Đào tạo tổ chức hội nghị tổng kết năm học 2025-2026 "
        "với sự tham dự của hơn 200 đại biểu đến từ các trường trên địa bàn tỉnh."
    )
    words = typed.split(" ")
    cut = [" ".join(words[:12]), " ".join(words[12:24]), " ".join(words[24:])]
    soft = "  \r\n" if delsp else " \r\n"  # DelSp=yes: the client added one space more
    body = soft.join(cut) + "\r\n\r\n>> Thư trước" + soft + ">> ở đây\r\n"
    text = parse_message(_flowed(body, delsp)).text_body
    assert text.split("\n")[0] == typed
    assert ">> Thư trước ở đây" in text


@pytest.mark.parametrize("delsp", [False, True])
def test_a_flowed_paragraph_ending_in_a_space_typed_is_not_run_into_the_next(
    delsp: bool,
) -> None:
    """The last line of a paragraph ended in a space the sender typed, then a blank line:
    the next paragraph was joined to it, two paragraphs published as one line."""
    soft = "  " if delsp else " "
    body = f"Xin chào các bạn{soft}\r\n\r\nĐoạn hai của bài.\r\n"
    paragraphs = [p.strip() for p in parse_message(_flowed(body, delsp)).text_body.split("\n\n")]
    assert paragraphs[:2] == ["Xin chào các bạn", "Đoạn hai của bài."]


def test_reference_date_utc_conversion() -> None:
    mail = parse(envelope(MIMEText("x", "plain", "utf-8")))
    assert mail.date is not None
    assert mail.date.astimezone(UTC) == datetime(2024, 6, 3, 1, 15, tzinfo=UTC)
    assert email.utils.parsedate_to_datetime("Mon, 03 Jun 2024 08:15:00 +0700") == mail.date
