"""Replies to notifications: authentic by the board's own server, written by a person, and
tied to the notification they answer."""

from __future__ import annotations

import base64
import email
import email.policy
import re
import unicodedata
from email.message import Message

import pytest

from pipeline.config import ReplyAuth
from pipeline.replyauth import (
    MAX_AUTH_HEADER_CHARS,
    TOKEN_PREFIX,
    TOKEN_RE,
    AuthVerdict,
    ReplyRefs,
    check_authentication,
    is_auto_reply,
    new_reply_token,
    plus_address,
    reply_tokens,
    subject_tag,
)

MX = "mx.dongnai.gov.vn"
BOARD = "quantricong@dongnai.gov.vn"
TOKEN = "rk3j9x2m4q7wab"
DMARC_ONLY = ReplyAuth(authserv_ids=[MX])
ALL_THREE = ReplyAuth(authserv_ids=[MX], require=["dkim", "spf", "dmarc"])


def ew(text: str) -> str:
    """An RFC 2047 encoded word, UTF-8 and base64, as Gmail and Outlook write them."""
    return "=?UTF-8?B?" + base64.b64encode(text.encode("utf-8")).decode("ascii") + "?="


def parse(raw: bytes) -> Message:
    return email.message_from_bytes(raw, policy=email.policy.default)


def mail(*headers: str, body: str = "Đồng ý đăng.\r\n") -> Message:
    """A short reply with the given header lines (folded lines allowed) and a plain body."""
    lines = [
        *headers,
        "MIME-Version: 1.0",
        'Content-Type: text/plain; charset="UTF-8"',
        "Content-Transfer-Encoding: 8bit",
    ]
    return parse(("\r\n".join(lines) + "\r\n\r\n" + body).encode("utf-8"))


def stamped(*auth_results: str, sender: str = "An <an@stttt.dongnai.gov.vn>") -> Message:
    """A reply carrying these Authentication-Results values, topmost first."""
    return mail(
        *(f"Authentication-Results: {value}" for value in auth_results),
        f"From: {sender}",
        f"To: {BOARD}",
        "Subject: Re: [#rk3j9x2m4q7wab] Bai moi can duyet",
    )


SUBJECT = "Bài mới cần duyệt: Đồng Nai đẩy mạnh chuyển đổi số năm 2025"

GMAIL_REPLY = (
    "Return-Path: <nguyenvanan.bbt@gmail.com>\r\n"
    "Delivered-To: quantricong+rk3j9x2m4q7wab@dongnai.gov.vn\r\n"
    "Authentication-Results: mx.dongnai.gov.vn;\r\n"
    "\tdkim=pass (2048-bit key; unprotected) header.d=gmail.com header.i=@gmail.com\r\n"
    "\theader.a=rsa-sha256 header.s=20230601 header.b=Xy1aBcDe;\r\n"
    "\tspf=pass (mx.dongnai.gov.vn: domain of nguyenvanan.bbt@gmail.com designates\r\n"
    "\t209.85.210.41 as permitted sender) smtp.mailfrom=nguyenvanan.bbt@gmail.com;\r\n"
    "\tdmarc=pass (p=none dis=none) header.from=gmail.com\r\n"
    "Received: from mail-ot1-f41.google.com (mail-ot1-f41.google.com [209.85.210.41])\r\n"
    "\tby mx.dongnai.gov.vn (Postfix) with ESMTPS id 4Q2xYz0abc\r\n"
    "\tfor <quantricong+rk3j9x2m4q7wab@dongnai.gov.vn>; Mon, 17 Mar 2025 09:12:33 +0700\r\n"
    "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=gmail.com; s=20230601;\r\n"
    "\th=to:subject:message-id:date:from:in-reply-to:references:mime-version;\r\n"
    "\tbh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=Xy1aBcDeFgHi\r\n"
    "MIME-Version: 1.0\r\n"
    "References: <bientap.17.1@dongnai.gov.vn>\r\n"
    " <bientap.17.2@dongnai.gov.vn>\r\n"
    "In-Reply-To: <bientap.17.2@dongnai.gov.vn>\r\n"
    f"From: {ew('Nguyễn Văn An')} <nguyenvanan.bbt@gmail.com>\r\n"
    "Date: Mon, 17 Mar 2025 09:12:20 +0700\r\n"
    "Message-ID: <CAF3xQ+AbCdE=9kq_Lm@mail.gmail.com>\r\n"
    f"Subject: {ew('Re: [#rk3j9x2m4q7wab] ' + SUBJECT)}\r\n"
    f"To: {ew('Ban Biên tập')} <quantricong+rk3j9x2m4q7wab@dongnai.gov.vn>\r\n"
    'Content-Type: multipart/alternative; boundary="000000000000a1b2c3"\r\n'
    "\r\n"
    "--000000000000a1b2c3\r\n"
    'Content-Type: text/plain; charset="UTF-8"\r\n'
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
    "Đồng ý đăng.\r\n"
    "\r\n"
    "Vào Th 2, 17 thg 3, 2025 lúc 08:30 Ban Biên tập đã viết:\r\n"
    "> Bài mới cần duyệt\r\n"
    "--000000000000a1b2c3\r\n"
    'Content-Type: text/html; charset="UTF-8"\r\n'
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
    '<div dir="ltr">Đồng ý đăng.</div>\r\n'
    "--000000000000a1b2c3--\r\n"
).encode()

OUTLOOK_REPLY = (
    "Received: from mail.baodongnai.com.vn (mail.baodongnai.com.vn [113.161.1.2])\r\n"
    "\tby mx.dongnai.gov.vn (Postfix) with ESMTPS id 4Q2y001xyz\r\n"
    "\tfor <quantricong@dongnai.gov.vn>; Mon, 17 Mar 2025 10:01:02 +0700\r\n"
    "Authentication-Results: mx.dongnai.gov.vn; dkim=pass header.d=baodongnai.com.vn\r\n"
    " header.s=selector1 header.b=kP0q; spf=pass smtp.mailfrom=tbt@baodongnai.com.vn;\r\n"
    " dmarc=pass (p=quarantine dis=none) header.from=baodongnai.com.vn\r\n"
    "ARC-Authentication-Results: i=1; mx.microsoft.com 1; spf=pass\r\n"
    " smtp.mailfrom=baodongnai.com.vn; dmarc=pass action=none\r\n"
    " header.from=baodongnai.com.vn; dkim=pass header.d=baodongnai.com.vn; arc=none\r\n"
    f"From: {ew('Trần Thị Bình')} <tbt@baodongnai.com.vn>\r\n"
    f"To: {ew('Ban Biên tập Cổng TTĐT')} <quantricong@dongnai.gov.vn>\r\n"
    f"Subject: {ew('TL: [#rk3j9x2m4q7wab] ' + SUBJECT)}\r\n"
    f"Thread-Topic: {ew('[#rk3j9x2m4q7wab] ' + SUBJECT)}\r\n"
    "Thread-Index: AQHbl0x2pQ3f1c8zU0uYt6mN0kq7aA==\r\n"
    "Date: Mon, 17 Mar 2025 03:00:58 +0000\r\n"
    "Message-ID:\r\n"
    " <SEYPR06MB5678A1B2C3D4E5F6A7B8C9D0E1F2A@SEYPR06MB5678.apcprd06.prod.outlook.com>\r\n"
    "References: <bientap.17.1@dongnai.gov.vn>\r\n"
    "In-Reply-To: <bientap.17.1@dongnai.gov.vn>\r\n"
    "Accept-Language: vi-VN, en-US\r\n"
    "Content-Language: vi-VN\r\n"
    "X-MS-Has-Attach:\r\n"
    "X-MS-TNEF-Correlator:\r\n"
    'Content-Type: text/plain; charset="utf-8"\r\n'
    "Content-Transfer-Encoding: base64\r\n"
    "MIME-Version: 1.0\r\n"
    "\r\n" + base64.encodebytes("Đồng ý, đề nghị đăng ngay.\r\n".encode()).decode("ascii")
).encode("ascii")

OUTLOOK_OUT_OF_OFFICE = (
    "Authentication-Results: mx.dongnai.gov.vn; dkim=pass header.d=baodongnai.com.vn;\r\n"
    " spf=pass smtp.mailfrom=tbt@baodongnai.com.vn; dmarc=pass header.from=baodongnai.com.vn\r\n"
    f"From: {ew('Trần Thị Bình')} <tbt@baodongnai.com.vn>\r\n"
    "To: quantricong+rk3j9x2m4q7wab@dongnai.gov.vn\r\n"
    f"Subject: {ew('Trả lời Tự động: [#rk3j9x2m4q7wab] ' + SUBJECT)}\r\n"
    f"Thread-Topic: {ew('[#rk3j9x2m4q7wab] ' + SUBJECT)}\r\n"
    "Date: Mon, 17 Mar 2025 01:30:02 +0000\r\n"
    "Message-ID: <0f1e2d3c4b5a4f6e8d7c6b5a49382716@SEYPR06MB5678.apcprd06.prod.outlook.com>\r\n"
    "In-Reply-To: <bientap.17.1@dongnai.gov.vn>\r\n"
    "Auto-Submitted: auto-generated\r\n"
    "X-Auto-Response-Suppress: All\r\n"
    "X-MS-Exchange-Inbox-Rules-Loop: tbt@baodongnai.com.vn\r\n"
    "Content-Language: vi-VN\r\n"
    'Content-Type: text/plain; charset="utf-8"\r\n'
    "Content-Transfer-Encoding: base64\r\n"
    "MIME-Version: 1.0\r\n"
    "\r\n"
    + base64.encodebytes("Tôi đang nghỉ phép đến hết ngày 21/3.\r\n".encode()).decode("ascii")
).encode("ascii")


# --------------------------------------------------------------------------- authentication


@pytest.mark.parametrize("mail_policy", [email.policy.default, email.policy.compat32])
def test_gmail_reply_stamped_by_the_board_server_passes(mail_policy: email.policy.Policy) -> None:
    message = email.message_from_bytes(GMAIL_REPLY, policy=mail_policy)
    verdict = check_authentication(message, ALL_THREE, "gmail.com")
    assert verdict == AuthVerdict(
        ok=True,
        checked=True,
        results={"dkim": "pass", "spf": "pass", "dmarc": "pass"},
        detail=f"dkim=pass by {MX}; spf=pass by {MX}; dmarc=pass by {MX}",
        message_vi="Thư trả lời đã qua kiểm tra xác thực của máy chủ thư.",
    )


def test_outlook_reply_passes_and_the_arc_copy_is_not_read() -> None:
    verdict = check_authentication(parse(OUTLOOK_REPLY), ALL_THREE, "baodongnai.com.vn")
    assert verdict.ok and verdict.checked
    # The ARC-Authentication-Results of mx.microsoft.com is another header: not used.
    assert check_authentication(
        parse(OUTLOOK_REPLY), ReplyAuth(authserv_ids=["mx.microsoft.com"]), "baodongnai.com.vn"
    ).detail == ("no Authentication-Results from a trusted server")


def test_dmarc_failure_is_told_to_the_reviewer_in_vietnamese() -> None:
    verdict = check_authentication(
        stamped(f"{MX}; dkim=none; spf=softfail smtp.mailfrom=gmail.com; dmarc=fail"),
        DMARC_ONLY,
        "stttt.dongnai.gov.vn",
    )
    assert not verdict.ok and verdict.checked
    assert verdict.results == {"dkim": "none", "spf": "softfail", "dmarc": "fail"}
    assert verdict.detail == f"dmarc=fail by {MX}"
    assert verdict.message_vi == (
        "Thư trả lời không qua được kiểm tra xác thực DMARC của máy chủ thư."
    )


@pytest.mark.parametrize("forged_on_top", [True, False])
def test_forged_pass_from_another_server_does_not_help(forged_on_top: bool) -> None:
    trusted = f"{MX}; dkim=fail header.d=dongnai.gov.vn; dmarc=fail header.from=dongnai.gov.vn"
    forged = "mx.google.com; dkim=pass header.d=dongnai.gov.vn; dmarc=pass"
    headers = (forged, trusted) if forged_on_top else (trusted, forged)
    verdict = check_authentication(stamped(*headers), DMARC_ONLY, "dongnai.gov.vn")
    assert not verdict.ok
    assert verdict.results == {"dkim": "fail", "dmarc": "fail"}


def test_only_forged_headers_mean_no_trusted_stamp() -> None:
    message = stamped(
        "mx.google.com; dkim=pass header.d=dongnai.gov.vn; spf=pass"
        " smtp.mailfrom=dongnai.gov.vn; dmarc=pass header.from=dongnai.gov.vn",
        "mx.dongnai.gov.vn.evil.example; dmarc=pass header.from=dongnai.gov.vn",
    )
    verdict = check_authentication(message, DMARC_ONLY, "dongnai.gov.vn")
    assert (verdict.ok, verdict.checked, verdict.results) == (False, True, {})
    assert verdict.detail == "no Authentication-Results from a trusted server"
    assert "không có kết quả kiểm tra xác thực" in verdict.message_vi


def test_a_reply_without_any_stamp_fails() -> None:
    verdict = check_authentication(mail(f"From: {BOARD}", "Subject: Re: x"), DMARC_ONLY, "x.vn")
    assert not verdict.ok
    assert verdict.detail == "no Authentication-Results from a trusted server"


@pytest.mark.parametrize(
    ("top", "below", "ok"),
    [
        ("dmarc=fail", "dmarc=pass", False),  # a pass smuggled in under the server's own id
        ("dmarc=pass", "dmarc=fail", True),  # an older hop of the same server
    ],
)
def test_the_topmost_trusted_stamp_is_the_one_used(top: str, below: str, ok: bool) -> None:
    message = stamped(f"{MX}; {top}", "relay.example.net; dmarc=none", f"{MX}; {below}")
    assert check_authentication(message, DMARC_ONLY, "stttt.dongnai.gov.vn").ok is ok


def test_authserv_ids_match_whatever_their_case() -> None:
    policy = ReplyAuth(authserv_ids=["MX.DongNai.gov.vn"])
    message = stamped("Mx.DONGNAI.Gov.Vn; dmarc=pass header.from=stttt.dongnai.gov.vn")
    assert check_authentication(message, policy, "STTTT.dongnai.gov.vn").ok


def test_one_of_several_trusted_servers_is_enough() -> None:
    policy = ReplyAuth(authserv_ids=["mx1.dongnai.gov.vn", "mx2.dongnai.gov.vn"])
    assert check_authentication(stamped("mx2.dongnai.gov.vn; dmarc=pass"), policy, "a.vn").ok
    assert not check_authentication(stamped("mx3.dongnai.gov.vn; dmarc=pass"), policy, "a.vn").ok


def test_without_trusted_servers_nothing_is_checked() -> None:
    verdict = check_authentication(stamped(f"{MX}; dmarc=fail"), ReplyAuth(), "dongnai.gov.vn")
    assert (verdict.ok, verdict.checked, verdict.results) == (True, False, {})
    assert "chưa cấu hình" in verdict.message_vi


DKIM_ONLY = ReplyAuth(authserv_ids=[MX], require=["dkim"])


@pytest.mark.parametrize(
    ("dkim", "from_domain", "ok"),
    [
        ("dkim=pass header.d=dongnai.gov.vn", "dongnai.gov.vn", True),
        ("dkim=pass header.d=dongnai.gov.vn", "stttt.dongnai.gov.vn", True),  # parent signs
        ("dkim=pass header.d=DongNai.Gov.VN.", "dongnai.gov.vn", True),
        ("dkim=pass header.i=@dongnai.gov.vn", "dongnai.gov.vn", True),
        ("dkim=pass header.i=an@stttt.dongnai.gov.vn", "stttt.dongnai.gov.vn", True),
        ("dkim=pass header.d=gmail.com", "dongnai.gov.vn", False),  # someone else's signature
        ("dkim=pass header.d=nai.gov.vn", "dongnai.gov.vn", False),  # a suffix, not a parent
        ("dkim=pass header.d=stttt.dongnai.gov.vn", "dongnai.gov.vn", False),  # child
        ("dkim=pass header.d=vn", "dongnai.gov.vn", False),  # a top-level domain
        ("dkim=pass header.s=s1", "dongnai.gov.vn", False),  # no signing domain
        ("dkim=fail header.d=dongnai.gov.vn", "dongnai.gov.vn", False),
        ("dkim=neutral header.d=dongnai.gov.vn", "dongnai.gov.vn", False),
    ],
)
def test_dkim_must_pass_aligned_with_the_from_domain(dkim: str, from_domain: str, ok: bool) -> None:
    verdict = check_authentication(stamped(f"{MX}; {dkim}"), DKIM_ONLY, from_domain)
    assert verdict.ok is ok, verdict.detail


def test_unaligned_dkim_pass_is_explained() -> None:
    verdict = check_authentication(
        stamped(f"{MX}; dkim=pass header.d=sendgrid.net"), DKIM_ONLY, "dongnai.gov.vn"
    )
    assert not verdict.ok
    assert verdict.detail == (
        f"dkim=pass for d=sendgrid.net, not aligned with dongnai.gov.vn by {MX}"
    )
    assert verdict.message_vi == (
        "Thư trả lời không qua được kiểm tra xác thực DKIM của máy chủ thư."
    )


def test_any_aligned_dkim_signature_counts() -> None:
    message = stamped(
        f"{MX}; dkim=pass header.d=mailgun.org; dkim=fail header.d=gmail.com;"
        " dkim=pass header.d=dongnai.gov.vn"
    )
    verdict = check_authentication(message, DKIM_ONLY, "dongnai.gov.vn")
    assert verdict.ok
    assert verdict.results == {"dkim": "pass"}


def test_an_aligned_but_broken_signature_with_a_foreign_pass_fails() -> None:
    message = stamped(f"{MX}; dkim=fail header.d=dongnai.gov.vn; dkim=pass header.d=gmail.com")
    verdict = check_authentication(message, DKIM_ONLY, "dongnai.gov.vn")
    assert not verdict.ok
    assert verdict.results == {"dkim": "fail"}


SPF_ONLY = ReplyAuth(authserv_ids=[MX], require=["spf"])


@pytest.mark.parametrize(
    ("spf", "ok"),
    [
        ("spf=pass smtp.mailfrom=an@stttt.dongnai.gov.vn", True),
        ("spf=pass smtp.mailfrom=bounces@dongnai.gov.vn", True),  # relaxed: parent domain
        ("spf=pass smtp.mailfrom=stttt.dongnai.gov.vn", True),  # domain only
        ("spf=pass smtp.mailfrom=bounce@sendgrid.net", False),
        ("spf=pass smtp.helo=mail.stttt.dongnai.gov.vn", False),  # no mailfrom to align
        ("spf=softfail smtp.mailfrom=an@stttt.dongnai.gov.vn", False),
        ("spf=fail smtp.mailfrom=an@stttt.dongnai.gov.vn; spf=pass smtp.mailfrom=x.vn", False),
        ("spf=pass smtp.mailfrom=stttt.dongnai.gov.vn; spf=fail smtp.mailfrom=x.vn", True),
    ],
)
def test_spf_must_pass_for_an_aligned_envelope_sender(spf: str, ok: bool) -> None:
    verdict = check_authentication(stamped(f"{MX}; {spf}"), SPF_ONLY, "stttt.dongnai.gov.vn")
    assert verdict.ok is ok, verdict.detail


@pytest.mark.parametrize(
    ("dmarc", "ok"),
    [
        ("dmarc=pass header.from=stttt.dongnai.gov.vn", True),
        ("dmarc=pass", True),
        ("dmarc=pass header.from=gmail.com", False),  # about another From than the reply's
        ("dmarc=bestguesspass header.from=stttt.dongnai.gov.vn", False),
        ("dmarc=none header.from=stttt.dongnai.gov.vn", False),
        ("dmarc=fail header.from=stttt.dongnai.gov.vn; dmarc=pass", False),  # the first counts
        ("dkim=pass header.d=dongnai.gov.vn", False),  # no DMARC result at all
    ],
)
def test_dmarc_must_pass_for_the_replys_from_domain(dmarc: str, ok: bool) -> None:
    verdict = check_authentication(stamped(f"{MX}; {dmarc}"), DMARC_ONLY, "stttt.dongnai.gov.vn")
    assert verdict.ok is ok, verdict.detail


def test_every_failed_method_is_named() -> None:
    message = stamped(f"{MX}; dkim=fail header.d=x.vn; spf=pass smtp.mailfrom=x.vn; dmarc=fail")
    verdict = check_authentication(message, ALL_THREE, "x.vn")
    assert verdict.detail == f"dkim=fail by {MX}; spf=pass by {MX}; dmarc=fail by {MX}"
    assert verdict.message_vi == (
        "Thư trả lời không qua được kiểm tra xác thực DKIM và DMARC của máy chủ thư."
    )


def test_a_trusted_stamp_is_enough_when_no_method_is_required() -> None:
    policy = ReplyAuth(authserv_ids=[MX], require=[])
    assert check_authentication(stamped(f"{MX}; none"), policy, "x.vn").ok
    assert not check_authentication(stamped("other.example; none"), policy, "x.vn").ok


def test_a_reply_without_a_from_domain_fails() -> None:
    verdict = check_authentication(stamped(f"{MX}; dmarc=pass"), DMARC_ONLY, "")
    assert not verdict.ok
    assert verdict.detail == "the reply has no From domain"


LONG_STAMP = f"{MX}; dmarc=pass header.from=x.vn; " + "; ".join(["x-note=pass"] * 800)


@pytest.mark.parametrize(
    "malformed",
    [
        f"{MX}; dmarc=pass header.from=x.vn; ; spf=pass",  # empty clause
        f"{MX} dmarc=pass header.from=x.vn",  # no semicolon
        f"(scanned) {MX}; dmarc=pass header.from=x.vn \u00e9",  # 8-bit rubbish
        f"{MX}; dmarc=pass (" + "(" * 3000 + ")" * 2999,  # nested comments without end
        LONG_STAMP,  # valid, but too long to read
    ],
)
def test_a_trusted_stamp_that_cannot_be_parsed_fails(malformed: str) -> None:
    verdict = check_authentication(stamped(malformed), DMARC_ONLY, "x.vn")
    assert not verdict.ok and verdict.checked
    assert verdict.detail == f"malformed Authentication-Results by {MX}"
    assert verdict.results.get("dmarc") == "pass"  # read for the record, never trusted
    assert "bị lỗi" in verdict.message_vi


def test_the_long_stamp_is_well_formed_and_only_its_length_is_wrong() -> None:
    assert len(LONG_STAMP) > MAX_AUTH_HEADER_CHARS
    short = LONG_STAMP[: LONG_STAMP.index("; x-note=pass; x-note")]
    assert check_authentication(stamped(short), DMARC_ONLY, "x.vn").ok


def test_a_malformed_stamp_of_another_server_is_ignored() -> None:
    message = stamped("relay.example.net; dkim=pass ; ; (", f"{MX}; dmarc=pass header.from=x.vn")
    assert check_authentication(message, DMARC_ONLY, "x.vn").ok


# --------------------------------------------------------------------------- auto-replies


def test_genuine_replies_are_not_auto_replies() -> None:
    assert is_auto_reply(parse(GMAIL_REPLY)) is None
    assert is_auto_reply(parse(OUTLOOK_REPLY)) is None


def test_outlook_out_of_office_in_vietnamese_is_an_auto_reply() -> None:
    assert is_auto_reply(parse(OUTLOOK_OUT_OF_OFFICE)) is not None


def _reply_with(*extra: str, subject: str = "Re: [#rk3j9x2m4q7wab] Bai moi") -> Message:
    return mail(
        "From: An <an@stttt.dongnai.gov.vn>",
        f"To: {BOARD}",
        f"Subject: {subject}",
        *extra,
    )


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("Auto-Submitted: auto-replied (zimbra; vacation)", "Auto-Submitted"),
        ("Auto-Submitted: auto-generated", "Auto-Submitted"),
        ("X-Autoreply: yes", "x-autoreply"),
        ("X-Autorespond: Tôi đang đi công tác", "x-autorespond"),
        ("Precedence: bulk", "Precedence: bulk"),
        ("Precedence: junk", "Precedence: junk"),
        ("Precedence: auto_reply", "Precedence: auto_reply"),
        ("Precedence: list", "Precedence: list"),
        ("X-Auto-Response-Suppress: All", "X-Auto-Response-Suppress"),
        ("X-Auto-Response-Suppress: DR, OOF", "X-Auto-Response-Suppress"),
        ("X-Auto-Response-Suppress: AutoReply", "X-Auto-Response-Suppress"),
        ("X-MS-Exchange-Inbox-Rules-Loop: an@stttt.dongnai.gov.vn", "Exchange inbox rule"),
        ("X-Bientap-Loop: 1", "loop header"),
        ("Return-Path: <>", "bounce"),
    ],
)
def test_automatic_reply_headers(header: str, reason: str) -> None:
    found = is_auto_reply(_reply_with(header))
    assert found is not None and reason.lower() in found.lower()


@pytest.mark.parametrize(
    "header",
    [
        "Auto-Submitted: no",
        "Precedence: first-class",
        "X-Auto-Response-Suppress: DR, RN",  # only receipts suppressed
        "Importance: high",
    ],
)
def test_headers_a_person_can_send(header: str) -> None:
    assert is_auto_reply(_reply_with(header)) is None


@pytest.mark.parametrize(
    "subject",
    [
        "Automatic reply: [#rk3j9x2m4q7wab] Bài mới cần duyệt",
        "Out of Office: Bài mới cần duyệt",
        "OUT OF THE OFFICE",
        "Auto: [#rk3j9x2m4q7wab] Bài mới cần duyệt",
        "Autosvar: Bài mới cần duyệt",
        "Trả lời tự động: [#rk3j9x2m4q7wab] Bài mới cần duyệt",
        "TRẢ LỜI TỰ ĐỘNG: Bài mới cần duyệt",
        "Tra loi tu dong: Bai moi can duyet",
        "Tự động trả lời: Bài mới cần duyệt",
        "Vắng mặt: Bài mới cần duyệt",
        "Đang nghỉ phép đến 21/3",
        "[EXTERNAL] Automatic reply: Bài mới cần duyệt",
        unicodedata.normalize("NFD", "Trả lời tự động: Bài mới"),  # decomposed marks
        "Thư trả lời tự động: Bài mới cần duyệt",
        "Không có mặt tại cơ quan từ 17/3",
        "Away from the office",
    ],
)
def test_out_of_office_subjects_in_vietnamese_and_english(subject: str) -> None:
    found = is_auto_reply(_reply_with(subject=ew(subject)))
    assert found is not None and "automatic reply subject" in found


@pytest.mark.parametrize(
    "subject",
    [
        "Read: [#rk3j9x2m4q7wab] Bài mới cần duyệt",  # a read receipt
        "Đã đọc: [#rk3j9x2m4q7wab] Bài mới cần duyệt",
        "Undeliverable: [#rk3j9x2m4q7wab] Bài mới cần duyệt",
        "Thư bị trả lại: [#rk3j9x2m4q7wab] Bài mới cần duyệt",
    ],
)
def test_receipts_and_bounces_by_subject_are_no_decision(subject: str) -> None:
    assert is_auto_reply(_reply_with(subject=ew(subject))) is not None


@pytest.mark.parametrize(
    "subject",
    [
        "Re: [#rk3j9x2m4q7wab] Bài mới cần duyệt",
        "TL: [#rk3j9x2m4q7wab] Đồng ý đăng",
        "Re: Bài 'Vắng mặt tại hội nghị' có cần sửa?",  # the phrase, but not at the start
        "Re: Automation of the portal",
    ],
)
def test_ordinary_reply_subjects(subject: str) -> None:
    assert is_auto_reply(_reply_with(subject=ew(subject))) is None


def test_a_delivery_report_is_no_decision() -> None:
    message = parse(
        b"From: MAILER-DAEMON@mx.dongnai.gov.vn\r\n"
        b"To: quantricong@dongnai.gov.vn\r\n"
        b"Subject: Re: [#rk3j9x2m4q7wab] x\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n'
        b"\r\n--b\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n--b--\r\n"
    )
    found = is_auto_reply(message)
    assert found is not None and "report" in found


# --------------------------------------------------------------------------- reply tokens


def test_gmail_reply_carries_its_token_and_thread() -> None:
    refs = reply_tokens(parse(GMAIL_REPLY), [BOARD])
    assert refs == ReplyRefs(
        message_ids=("bientap.17.2@dongnai.gov.vn", "bientap.17.1@dongnai.gov.vn"),
        tokens=(TOKEN,),
    )


def test_outlook_reply_token_is_read_from_the_encoded_subject() -> None:
    refs = reply_tokens(parse(OUTLOOK_REPLY), [BOARD])
    assert refs.tokens == (TOKEN,)
    assert refs.message_ids == ("bientap.17.1@dongnai.gov.vn",)


def test_plus_address_tokens_come_before_the_subject_token() -> None:
    message = mail(
        "From: an@stttt.dongnai.gov.vn",
        f"To: {ew('Ban Biên tập, Đồng Nai')} <quantricong+rplus0000000001@dongnai.gov.vn>",
        "Cc: other+rcc00000000002@dongnai.gov.vn, quantricong+rcc00000000003@dongnai.gov.vn",
        "X-Original-To: quantricong+roriginal00004@dongnai.gov.vn",
        "Delivered-To: quantricong+rplus0000000001@dongnai.gov.vn",
        f"Subject: {ew('Re: [#rsubject000005] Bài mới cần duyệt')}",
    )
    assert reply_tokens(message, [BOARD]).tokens == (
        "rplus0000000001",
        "rcc00000000003",
        "roriginal00004",
        "rsubject000005",
    )


def test_a_subject_tag_in_capitals_still_names_the_token() -> None:
    message = mail(f"To: {BOARD}", "Subject: RE: [#RK3J9X2M4Q7WAB] BAI MOI")
    assert reply_tokens(message, [BOARD]).tokens == (TOKEN,)


def test_board_addresses_match_whatever_their_case() -> None:
    message = mail("To: QuanTriCong+RK3J9X2M4Q7WAB@DongNai.Gov.VN", "Subject: Re: x")
    assert reply_tokens(message, ["QUANTRICONG@dongnai.gov.vn"]).tokens == (TOKEN,)


@pytest.mark.parametrize(
    ("to", "subject"),
    [
        (BOARD, "Re: Bài mới cần duyệt"),  # nothing at all
        (BOARD, "Re: [#abc0000000000] Bài mới"),  # not our prefix
        (BOARD, "Re: [#r12345] Bài mới"),  # too short
        (BOARD, "Re: [#r" + "a" * 33 + "] Bài mới"),  # too long
        (BOARD, "Re: #rk3j9x2m4q7wab Bài mới"),  # not a tag
        ("an+rk3j9x2m4q7wab@dongnai.gov.vn", "Re: x"),  # plus address of someone else
        ("quantricong+rk3j9x2m4q7wab@evil.example", "Re: x"),  # the board's name elsewhere
        ("quantricong+r-k3j9x2m4q7wab@dongnai.gov.vn", "Re: x"),  # not the alphabet
    ],
)
def test_no_token_is_found_where_there_is_none(to: str, subject: str) -> None:
    message = mail(f"To: {to}", f"Subject: {ew(subject)}")
    assert reply_tokens(message, [BOARD]).tokens == ()


def test_message_ids_keep_their_case_and_run_nearest_first() -> None:
    message = mail(
        "In-Reply-To: < CAF3xQ+AbC@mail.gmail.com >",
        "References: <bientap.1@dongnai.gov.vn>\r\n\t<Bientap.2@DongNai.gov.vn>\r\n"
        " <CAF3xQ+AbC@mail.gmail.com>",
        "Subject: Re: x",
    )
    assert reply_tokens(message, [BOARD]).message_ids == (
        "CAF3xQ+AbC@mail.gmail.com",
        "Bientap.2@DongNai.gov.vn",
        "bientap.1@dongnai.gov.vn",
    )


def test_message_ids_without_brackets_are_read() -> None:
    message = mail("In-Reply-To: bientap.9@dongnai.gov.vn", "Subject: Re: x")
    assert reply_tokens(message, [BOARD]).message_ids == ("bientap.9@dongnai.gov.vn",)


def test_at_most_fifty_message_ids_the_nearest_kept() -> None:
    references = " ".join(f"<m{n}@dongnai.gov.vn>" for n in range(60))
    message = mail("In-Reply-To: <reply@x.vn>", f"References: {references}", "Subject: Re")
    ids = reply_tokens(message, [BOARD]).message_ids
    assert len(ids) == 50
    assert ids[:3] == ("reply@x.vn", "m59@dongnai.gov.vn", "m58@dongnai.gov.vn")
    assert "m0@dongnai.gov.vn" not in ids


def test_new_reply_tokens_are_well_formed_and_unique() -> None:
    tokens = {new_reply_token() for _ in range(2000)}
    assert len(tokens) == 2000
    for token in tokens:
        assert re.fullmatch(r"r[a-z2-7]{16}", token)
        assert token.startswith(TOKEN_PREFIX) and TOKEN_RE.fullmatch(token)


def test_tags_and_addresses_are_built_as_documented() -> None:
    assert plus_address("bbt@x.vn", "rabc") == "bbt+rabc@x.vn"
    assert subject_tag("rabc") == "[#rabc]"


def test_a_new_token_comes_back_from_a_reply_to_its_tag_and_address() -> None:
    token = new_reply_token()
    message = mail(
        f"To: {plus_address(BOARD, token)}",
        f"Subject: {ew('Re: ' + subject_tag(token) + ' Bài mới cần duyệt')}",
    )
    assert reply_tokens(message, [BOARD]).tokens == (token,)
    assert reply_tokens(mail(f"Subject: Re: {subject_tag(token)} x"), [BOARD]).tokens == (token,)


@pytest.mark.parametrize("token", ["", "rABC", "r\r\nBcc: x@evil.example", "r@x", "r+1"])
def test_unsafe_tokens_are_refused(token: str) -> None:
    with pytest.raises(ValueError):
        plus_address(BOARD, token)
    with pytest.raises(ValueError):
        subject_tag(token)


def test_plus_address_needs_an_address() -> None:
    with pytest.raises(ValueError):
        plus_address("quantricong", "rabc")
