"""Replies to review requests, on real servers: what counts, what is refused and recorded,
and who is told. Every refused reply leaves the item exactly as it was."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import pytest

from pipeline.models import State
from pipeline.samples import NEWS_BODY, article_mail
from tests.review_loop import Loop, MakeLoop

SENDER = "nhung.ltt@sgddt.demo.bientap.vn"
FAIL = "dkim=fail header.d={d}; spf=fail smtp.mailfrom={d}; dmarc=fail header.from={d}"


@pytest.fixture
def loop(make_loop: MakeLoop) -> Loop:
    loop = make_loop("demo", extra_addresses=(SENDER, "ke.gia.mao@evil.example"))
    loop.submit(article_mail(SENDER, loop.board.mailboxes[0].address, "[GD] Ngày hội tuyển sinh"))
    loop.run()
    return loop


def _request(loop: Loop) -> tuple[str, EmailMessage]:
    item = loop.item()
    [task] = loop.pending(item.id)
    member = loop.board.member(task.member_id)
    return member.email, loop.requests(member, item.tracking_code)[-1]


def _unchanged(loop: Loop, before: tuple[object, ...]) -> None:
    item = loop.item()
    assert (item.state, item.review_step, item.version) == before[:3]
    assert [t.id for t in loop.pending(item.id)] == before[3]


def _snapshot(loop: Loop) -> tuple[object, ...]:
    item = loop.item()
    return item.state, item.review_step, item.version, [t.id for t in loop.pending(item.id)]


def _refusals(loop: Loop) -> list[str]:
    item = loop.item()
    return [e.detail["code"] for e in loop.events(item.id) if e.kind == "reply-refused"]


def test_a_reply_from_another_address_is_refused_and_the_reviewer_told(loop: Loop) -> None:
    reviewer, request = _request(loop)
    before = _snapshot(loop)
    loop.reply(request, "DUYỆT", sender="ke.gia.mao@evil.example")
    loop.run()
    _unchanged(loop, before)
    assert _refusals(loop) == ["sender-mismatch"]
    warned = [m for m in loop.inbox(reviewer) if m["Message-ID"] != request["Message-ID"]]
    assert any(
        "ke.gia.mao@evil.example" in (m.get_body(("plain",)) or m).get_content()
        for m in warned
        if m.get_body(("plain",)) is not None
    )


def test_a_reply_failing_authentication_is_refused(loop: Loop) -> None:
    reviewer, request = _request(loop)
    loop.auth[reviewer] = FAIL.format(d=reviewer.rpartition("@")[2])
    before = _snapshot(loop)
    loop.reply(request, "Duyệt", sender=reviewer)  # From forged to be the reviewer's
    loop.run()
    _unchanged(loop, before)
    assert _refusals(loop) == ["authentication"]
    item = loop.item()
    [refused] = [e for e in loop.events(item.id) if e.kind == "reply-refused"]
    assert "dmarc=fail" in refused.detail["auth"]


def _by_message_id(loop: Loop, request: EmailMessage, sender: str, text: str) -> None:
    """A reply carrying the request's Message-ID and nothing else of it: what anyone who
    read a mail server's log (every one logs Message-IDs) can write, the From forged."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = loop.board.mailboxes[0].address
    msg["Subject"] = "Re: Ngày hội tuyển sinh"
    msg["Message-ID"] = make_msgid(domain="evil.example")
    msg["In-Reply-To"] = msg["References"] = str(request["Message-ID"])
    msg.set_content(text)
    loop.send(msg, sender)


def _no_trusted_server(data: dict[str, Any]) -> None:
    data["review"]["reply_auth"] = {"authserv_ids": []}


def test_a_reply_found_by_its_message_id_alone_is_refused_where_nothing_checks_the_sender(
    make_loop: MakeLoop,
) -> None:
    """The reply token was the Message-ID's own text, and In-Reply-To alone found the
    request: a Postfix log line, or «bientap show», was enough to approve as the reviewer."""
    loop = make_loop("demo", extra_addresses=(SENDER,), adjust=_no_trusted_server)
    loop.submit(article_mail(SENDER, loop.board.mailboxes[0].address, "[GD] Ngày hội tuyển sinh"))
    loop.run()
    reviewer, request = _request(loop)
    token = str(request["Reply-To"]).partition("+")[2].partition("@")[0]
    assert token and token not in str(request["Message-ID"])
    before = _snapshot(loop)
    _by_message_id(loop, request, reviewer, "Duyệt")
    loop.run()
    _unchanged(loop, before)
    assert _refusals(loop) == ["no-token"]
    warned = [m for m in loop.inbox(reviewer) if "không mang mã riêng" in _plain(m)]
    assert warned  # the reviewer hears of it, not the forger
    loop.reply(request, "Duyệt", sender=reviewer)  # his own reply, to the request itself
    loop.run()
    assert "approve" in [e.kind for e in loop.events(loop.item().id)]


def test_a_reply_found_by_its_message_id_alone_counts_once_its_sender_is_authenticated(
    loop: Loop,
) -> None:
    reviewer, request = _request(loop)
    _by_message_id(loop, request, reviewer, "Duyệt")  # DMARC passes at the board's server
    loop.run()
    assert "approve" in [e.kind for e in loop.events(loop.item().id)]


def _plain(msg: EmailMessage) -> str:
    body = msg.get_body(("plain",))
    return body.get_content() if isinstance(body, EmailMessage) else ""


def test_an_out_of_office_reply_never_counts(loop: Loop) -> None:
    reviewer, request = _request(loop)
    before = _snapshot(loop)
    sent_before = len(loop.sink.messages)
    loop.reply(
        request,
        "Tôi đang đi công tác đến hết tuần, sẽ trả lời khi về. DUYỆT các việc khẩn.",
        sender=reviewer,
        extra={"Auto-Submitted": "auto-replied", "X-Autoreply": "yes"},
    )
    loop.run()
    _unchanged(loop, before)
    assert _refusals(loop) == ["auto-reply"]
    # nobody is answered: an answer to an auto-reply starts a mail loop
    assert len(loop.sink.messages) == sent_before + 1  # only the auto-reply itself


def test_a_quoted_reject_below_a_fresh_approval_is_an_approval(loop: Loop) -> None:
    reviewer, request = _request(loop)
    loop.reply(request, "Duyệt.\n\n> TỪ CHỐI: bài viết trùng lặp", sender=reviewer)
    loop.run()
    item = loop.item()
    kinds = [e.kind for e in loop.events(item.id)]
    assert "approve" in kinds and "reject" not in kinds


def test_reject_by_reply_tells_the_sender_the_reason(loop: Loop) -> None:
    reviewer, request = _request(loop)
    loop.reply(request, "Từ chối: nội dung đã đăng trên Cổng ngày 14/3", sender=reviewer)
    loop.run()
    item = loop.item()
    assert item.state == State.REJECTED
    told = [m for m in loop.inbox(SENDER) if item.tracking_code in str(m["Subject"])]
    assert any(
        "đã đăng trên Cổng ngày 14/3" in m.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        for m in told
    )


def test_an_unreadable_reply_is_answered_with_what_is_understood(loop: Loop) -> None:
    reviewer, request = _request(loop)
    before = _snapshot(loop)
    loop.reply(request, "Anh xem lại giúp em đoạn thứ hai nhé", sender=reviewer)
    loop.run()
    _unchanged(loop, before)
    answers = [m for m in loop.inbox(reviewer) if str(m["Subject"]).startswith("Re:")]
    assert answers
    assert str(answers[-1]["Subject"]) == "Re: " + str(request["Subject"])  # not "Re: Re: …"
    body = answers[-1].get_body(("plain",))
    assert body is not None and "DUYỆT" in body.get_content()


def test_an_approval_by_reply_is_confirmed_in_plain_words(loop: Loop) -> None:
    """The confirmation read «Đã ghi nhận: Đã ghi nhận: Duyệt — …»."""
    reviewer, request = _request(loop)
    loop.reply(request, "Duyệt", sender=reviewer)
    loop.run()
    item = loop.item()
    [receipt] = [m for m in loop.inbox(reviewer) if "Đã ghi nhận ý kiến" in str(m["Subject"])]
    text = receipt.get_body(("plain",))
    assert text is not None
    [line] = [x for x in text.get_content().splitlines() if x.startswith("Đã ghi nhận")]
    assert line == f"Đã ghi nhận: Duyệt — {item.tracking_code} «{item.title}»."


def test_forward_by_reply_asks_the_named_member(loop: Loop) -> None:
    reviewer, request = _request(loop)
    loop.reply(request, "Chuyển Phạm Thu Dung", sender=reviewer)
    loop.run()
    item = loop.item()
    [task] = loop.pending(item.id)
    assert task.member_id == "uv-y-te"
    assert loop.requests(loop.board.member("uv-y-te"), item.tracking_code)


def test_a_late_approval_of_a_changed_item_asks_again_with_the_difference(loop: Loop) -> None:
    reviewer, request = _request(loop)
    item = loop.item()
    receipt = next(m for m in loop.inbox(SENDER) if item.tracking_code in str(m["Subject"]))
    correction = article_mail(
        SENDER,
        loop.board.mailboxes[0].address,
        "Re: " + str(receipt["Subject"]),
        NEWS_BODY.replace("hơn 1.200", "gần 1.500"),
        extra_headers={"In-Reply-To": str(receipt["Message-ID"])},
    )
    loop.submit(correction)
    loop.run()
    loop.reply(request, "Duyệt", sender=reviewer)  # he approves the mail he had
    loop.run()
    item = loop.item()
    assert item.state == State.PENDING_REVIEW and item.version == 2
    again = [m for m in loop.inbox(reviewer) if "[Duyệt lại]" in str(m["Subject"])]
    assert again
    text = again[-1].get_body(("plain",))
    assert text is not None and "1.500" in text.get_content()
