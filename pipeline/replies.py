"""Mail that answers our own: a reviewer's reply to a review request, or a sender's
correction of an item under review.

A reply is matched to its request by the per-request token (plus-addressed Reply-To
or ``[#r…]`` in the subject) or by In-Reply-To/References. It counts only when it is
no automatic reply, comes from the member the request was for (or one who may act in
his seat), and passes the board's Authentication-Results checks; otherwise it is
recorded as refused and the real reviewer is told. Every outcome is on the record.
"""

from __future__ import annotations

import logging
import re

from sqlalchemy import select

from pipeline import notices, review, review_mail
from pipeline.checks import Action, Flag, decide
from pipeline.commands import Unreadable
from pipeline.models import OutgoingMail, RawMessage, ReviewNotice, State, StoredFile, Submission
from pipeline.reading import Reading, ReplyFacts
from pipeline.review import Decision, Desk, Evidence, Refused

log = logging.getLogger(__name__)

TRACKING_RE = re.compile(r"\bBT-\d{6}-[A-Z2-9]{6}\b")
NO_TOKEN = (
    "Có thư trả lời yêu cầu duyệt không mang mã riêng của yêu cầu (mã [#r…] trong tiêu đề, "
    "địa chỉ trả lời của thư yêu cầu); thư này không được tính. Vui lòng trả lời ngay trên "
    "thư yêu cầu duyệt, giữ nguyên tiêu đề."
)


def find_notice(d: Desk, reply: ReplyFacts) -> ReviewNotice | None:
    refs = reply.refs
    for column, values in (
        (ReviewNotice.token, refs.tokens),
        (ReviewNotice.message_id, refs.message_ids),
    ):
        if values:
            found = d.session.scalars(
                select(ReviewNotice).where(ReviewNotice.board_id == d.board.id, column.in_(values))
            ).first()
            if found is not None:
                return found
    return None


def _refuse(
    d: Desk,
    item: Submission,
    notice: ReviewNotice,
    code: str,
    reason_vi: str,
    evidence: Evidence,
    tell: bool = True,
) -> None:
    review.event(
        d,
        item,
        "reply-refused",
        actor=str(evidence.detail.get("from", "")),
        channel="reply",
        code=code,
        task=notice.task_id,
        **evidence.detail,
    )
    log.warning("board=%s item=%d: reply refused (%s)", d.board.id, item.id, code)
    member = d.board.on_roster(notice.member_id)  # None: he has left the board since
    if tell and member is not None:
        msg = review_mail.refused_reply(
            d.board,
            to=member,
            item=item,
            reason_vi=reason_vi,
            evidence=_evidence_line(evidence),
            in_reply_to=notice.message_id,
        )
        review.queue(d, item, member.email, "reply-refused", msg)


def _evidence_line(evidence: Evidence) -> str:
    detail = evidence.detail
    return f"thư từ {detail.get('from')}, Message-ID {detail.get('message_id')}"


def _answer(d: Desk, item: Submission, to: str, reading: Reading, text: str) -> None:
    msg = review_mail.reply_answer(
        d.board, to=to, subject=reading.title, in_reply_to=reading.message_id, text=text
    )
    review.queue(d, item, to, "reply-answer", msg)


def take_reply(d: Desk, raw: RawMessage, reading: Reading) -> bool:
    """Apply a reviewer's reply; False when the message answers no review request."""
    reply = reading.reply
    if reply is None:
        return False
    notice = find_notice(d, reply)
    if notice is None:
        return False
    task, item = review.open_task(d, notice.task_id)
    evidence = Evidence(
        "reply",
        {
            "message_id": reading.message_id,
            "from": reading.from_address,
            "auth": reply.auth.detail,
            "raw_message_id": raw.id,
        },
    )
    sender = d.board.member_by_address(reading.from_address)
    if reply.auto_reply:
        _refuse(d, item, notice, "auto-reply", "", evidence, tell=False)
        return True
    if sender is None or review.capacity(d, task, item, sender.id) is None:
        _refuse(
            d,
            item,
            notice,
            "sender-mismatch",
            f"Có thư trả lời yêu cầu duyệt gửi từ địa chỉ {reading.from_address or '(không rõ)'}, "
            "không phải địa chỉ của người được giao duyệt; thư này không được tính.",
            evidence,
        )
        return True
    if not reply.auth.ok:
        _refuse(d, item, notice, "authentication", reply.auth.message_vi, evidence)
        return True
    if notice.token not in reply.refs.tokens and not reply.auth.checked:
        # found by its In-Reply-To alone: a Message-ID is in every mail server's log, and
        # nothing here says who wrote the reply
        _refuse(d, item, notice, "no-token", NO_TOKEN, evidence)
        return True
    if isinstance(reply.command, Unreadable):
        review.event(
            d, item, "reply-unreadable", actor=sender.id, channel="reply", **evidence.detail
        )
        _answer(d, item, reading.from_address, reading, reply.command.reason)  # + the commands
        return True
    command = reply.command
    try:
        done = review.act(
            d, task.id, sender.id, Decision(command.verb, command.text), notice.version, evidence
        )
    except Refused as exc:
        review.event(
            d,
            item,
            "reply-refused",
            actor=sender.id,
            channel="reply",
            code=exc.code,
            task=task.id,
            **evidence.detail,
        )
        _answer(d, item, reading.from_address, reading, exc.message)
        return True
    msg = review_mail.decision_receipt(
        d.board, to=sender, item=item, text=done, in_reply_to=reading.message_id
    )
    review.queue(d, item, sender.email, "decision-receipt", msg)
    return True


def corrected_item(d: Desk, reading: Reading) -> Submission | None:
    """The item under review (or sent back) that a sender's mail corrects, if any."""
    if reading.outcome != "submission" or not reading.from_address:
        return None
    item: Submission | None = None
    ids = reading.reply.refs.message_ids if reading.reply is not None else ()
    if ids:
        item = d.session.scalars(
            select(Submission)
            .join(OutgoingMail, OutgoingMail.submission_id == Submission.id)
            .where(OutgoingMail.board_id == d.board.id, OutgoingMail.message_id.in_(ids))
        ).first()
    if item is None:
        code = TRACKING_RE.search(reading.title)
        if code is not None:
            item = d.session.scalars(
                select(Submission).where(Submission.tracking_code == code.group())
            ).first()
    if item is None or item.board_id != d.board.id:
        return None
    if item.sender_address != reading.from_address:
        return None
    return item if item.state in (State.PENDING_REVIEW, State.RETURNED) else None


def refuse_correction(d: Desk, raw: RawMessage, reading: Reading, item: Submission) -> None:
    """A sender's correction over the size limit (only its header fields were read): the
    item stays as it was, and the sender is told that the correction was not taken."""
    review.event(
        d,
        item,
        "correction-too-large",
        actor=reading.from_address,
        channel="mail",
        raw_message_id=raw.id,
        size=", ".join(reading.oversized),
    )
    notices.correction_too_large(d.session, d.board, item, reading.oversized)


def take_correction(
    d: Desk, raw: RawMessage, reading: Reading, item: Submission, flags: list[Flag]
) -> None:
    """A sender's new version of an item, checked like a new submission (``flags``): the
    review starts again with it, unless the checks now quarantine, hold or return it."""
    state, before = decide(flags), (item.flags, item.reason)
    item.flags = [f.to_dict() for f in flags]  # the review path reads them (escalation)
    item.reason = "; ".join(f.message for f in flags if f.action is not Action.NOTE) or None
    # the Word file's own headline, as for a new submission; a reply's subject is only
    # «Re: [code] Cần bổ sung: …», so the title stands otherwise
    title = reading.headline if reading.own_headline else item.title
    version = review.revise(
        d,
        item,
        title,
        reading.html,
        made_by="sender",
        note=f"thư {reading.message_id}",
        state=state,
    )
    if version is None:  # the same content: its flags and state stand as they were
        item.flags, item.reason = before
    for f in reading.files:
        item.files.append(StoredFile(**vars(f)))
    review.event(
        d,
        item,
        "correction",
        actor=reading.from_address,
        channel="mail",
        raw_message_id=raw.id,
        new_version=version.number if version else None,
        state=str(item.state),
    )
    if version is not None and state != State.PENDING_REVIEW:
        notices.for_state(d.session, d.board, item, flags)
