"""The review workflow: an item walks its board's review path, step by step.

``start`` puts a new submission at its first step and asks the reviewers sitting
there; ``act`` records one reviewer's decision (from a reply, a link or the command
line) and moves the item on when the step's quorum is reached; ``revise`` takes a
new version of the content (an edit at a step, a correction from the sender).

A decision binds to the version the reviewer was shown (its content hash): if the
item changed since, the decision does not count and the reviewer is asked again,
with the difference. Everything is written in the caller's transaction, mails
included (``outgoing_mail``), so a crash leaves all of it or none.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email.utils import make_msgid
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline import ids, mailkit, review_mail, routing, writelock
from pipeline.commands import Verb
from pipeline.config import Actor, Board, Member, Quorum, ReviewStep, Role
from pipeline.files import FileStore
from pipeline.mailbuild import Mail
from pipeline.models import (
    STATE_LABELS,
    Event,
    OutgoingMail,
    ReviewNotice,
    ReviewTask,
    State,
    Submission,
    SubmissionVersion,
    TaskState,
    utcnow,
)
from pipeline.replyauth import new_reply_token, plus_address, subject_tag
from pipeline.sanitize import html_to_text, sanitize_html
from pipeline.tokens import Signer

log = logging.getLogger(__name__)

Channel = Literal["reply", "link", "cli"]

DECISION_LABELS: dict[str, str] = {
    Verb.APPROVE: "Duyệt",
    "edit": "Duyệt có chỉnh sửa",
    Verb.REJECT: "Từ chối",
    Verb.CHANGES: "Trả lại người gửi để sửa",
    Verb.FORWARD: "Chuyển thành viên khác",
}


# Once an item is live, the head may still withdraw or correct it: a seat after the path.
AFTER_PUBLISHING = ReviewStep(
    id="da-dang",
    name="Tin bài đã đăng: gỡ bài hoặc đính chính",
    actors=[Actor(role=Role.TRUONG_BAN)],
)


# Where a board verifies by hand (Khánh Hòa Bước 4): its verifier compares the live post
# with the approved version and confirms, or asks for a re-update.
VERIFYING = ReviewStep(
    id="kiem-tra",
    name="Kiểm tra bài trên cổng so với bản đã duyệt",
    actors=[Actor(role=Role.THU_KY)],
)


def step_of(board: Board, index: int) -> ReviewStep:
    """The step at ``index`` of the board's path, or one of the seats after it."""
    steps = board.review.steps
    if index < len(steps):
        return steps[index]
    return AFTER_PUBLISHING if index == len(steps) else VERIFYING


def after_publishing(board: Board, task: ReviewTask) -> bool:
    return task.step_index == len(board.review.steps)


def verifying(board: Board, task: ReviewTask) -> bool:
    return task.step_index == len(board.review.steps) + 1


def content_hash(title: str, html: str) -> str:
    return hashlib.sha256(f"{title}\n{html}".encode()).hexdigest()


@dataclass(frozen=True)
class Links:
    """How reviewers' links are made: signed tokens under the daemon's public address."""

    signer: Signer
    public_url: str

    def url(self, task_id: int, token: str) -> str:
        return f"{self.public_url.rstrip('/')}/duyet/{task_id}/{token}"


@dataclass
class Desk:
    """What the workflow needs besides the item: one board, one transaction, one clock."""

    board: Board
    session: Session
    links: Links
    files: FileStore
    now: datetime = field(default_factory=utcnow)


def today(d: Desk) -> date:
    """The board's own day at ``d.now``: an absence's first and last days are its days, and
    06:30 in Hà Nội is still yesterday in UTC."""
    return d.now.astimezone(ZoneInfo(d.board.timezone)).date()


@dataclass(frozen=True)
class Decision:
    verb: Verb
    text: str | None = None  # reason, what to fix, forward target
    edit: tuple[str, str] | None = None  # approve with edits: (title, html)


@dataclass(frozen=True)
class Evidence:
    channel: Channel
    detail: dict[str, Any] = field(default_factory=dict)  # Message-ID, auth, IP, user agent


class Refused(Exception):
    """A decision that does not count; ``message`` says why, in Vietnamese."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code)
        self.code, self.message = code, message


# -- records ---------------------------------------------------------------------
def event(
    d: Desk,
    item: Submission,
    kind: str,
    actor: str = "system",
    channel: str = "pipeline",
    **detail: Any,
) -> None:
    d.session.add(
        Event(
            board_id=d.board.id,
            submission_id=item.id,
            kind=kind,
            actor=actor,
            channel=channel,
            detail=detail,
            created_at=d.now,
        )
    )


def queue(d: Desk, item: Submission | None, to: str, reason: str, msg: Mail) -> None:
    item_id = item.id if item is not None else None
    d.session.add(OutgoingMail.of(d.board.id, to, reason, msg, item_id, d.now))


def facts(item: Submission) -> routing.Facts:
    return routing.facts_of(list(item.field_ids), item.sender_member_id, list(item.flags))


def versions(d: Desk, item: Submission) -> list[SubmissionVersion]:
    return list(
        d.session.scalars(
            select(SubmissionVersion)
            .where(SubmissionVersion.submission_id == item.id)
            .order_by(SubmissionVersion.number)
        )
    )


def version_by_hash(d: Desk, item: Submission, digest: str) -> SubmissionVersion | None:
    return next((v for v in versions(d, item) if v.content_hash == digest), None)


def tasks(d: Desk, item: Submission, step: int | None = None) -> list[ReviewTask]:
    query = select(ReviewTask).where(
        ReviewTask.submission_id == item.id, ReviewTask.round == item.review_round
    )
    if step is not None:
        query = query.where(ReviewTask.step_index == step)
    return list(d.session.scalars(query.order_by(ReviewTask.id)))


# -- asking ----------------------------------------------------------------------
def local_time(board: Board, moment: datetime) -> str:
    """``dd/mm/yyyy HH:MM`` in the board's time zone, as every mail and page writes it."""
    return mailkit.when_vi(board, moment)


def history(d: Desk, item: Submission) -> list[str]:
    """The decisions taken on the item so far, one Vietnamese line each."""
    lines = []
    for t in d.session.scalars(
        select(ReviewTask)
        .where(
            ReviewTask.submission_id == item.id,
            ReviewTask.decided_at.is_not(None),
            ReviewTask.state != TaskState.VOID,
        )
        .order_by(ReviewTask.decided_at)
    ):
        assert t.decided_at is not None
        who = d.board.name_of(t.actor_id or t.member_id)
        lines.append(f"{local_time(d.board, t.decided_at)}: {who} — {_task_label(t)}")
    return lines


def _task_label(t: ReviewTask) -> str:
    labels = {
        TaskState.APPROVED: "đã duyệt",
        TaskState.REJECTED: f"từ chối ({t.text})",
        TaskState.CHANGES: f"trả lại để sửa ({t.text})",
        TaskState.FORWARDED: f"chuyển cho {t.text}",
    }
    return labels.get(TaskState(t.state), t.state)


CAPACITY_REASONS = {
    "acting": "vắng mặt, theo phân công người thay",
    "delegate": "được ủy quyền duyệt lĩnh vực này",
    "escalated": "quá hạn xử lý, chuyển lên cấp trên",
}


def _shown_before(d: Desk, item: Submission, seen: str | None) -> SubmissionVersion | None:
    """What to show the difference from: the version the reviewer saw, or, for a reviewer
    new to the item, the version as received when it has been edited since."""
    if seen is not None:
        return version_by_hash(d, item, seen) if seen != item.content_hash else None
    return versions(d, item)[0] if item.version > 1 else None


def seat(d: Desk, item: Submission, index: int, step_id: str, member_id: str) -> ReviewTask:
    """A new seat for ``member_id`` at step ``index`` of the item's current round."""
    task = ReviewTask(
        board_id=d.board.id,
        submission_id=item.id,
        round=item.review_round,
        step_index=index,
        step_id=step_id,
        member_id=member_id,
        asked_version=item.content_hash or "",
        created_at=d.now,
    )
    d.session.add(task)
    ids.need(d.session, task)
    return task


def link(d: Desk, item: Submission, task: ReviewTask, member_id: str, action: str) -> str:
    """A signed link for ``member_id`` to do ``action`` in ``task`` on the current version."""
    return signed_url(d, task.id, task.step_index, item.content_hash, member_id, action)


def signed_url(
    d: Desk, task_id: int, step_index: int, version: str | None, member_id: str, action: str
) -> str:
    token = d.links.signer.issue(
        member_id,
        d.board.id,
        task_id,
        step_index,
        action,
        version or "",
        ttl=timedelta(days=d.board.review.link_ttl_days),
        now=d.now,
    )
    return d.links.url(task_id, token)


def _reply_ids(d: Desk) -> tuple[str, str]:
    """A reply token and the Message-ID of one mail asking to act. The Message-ID does not
    carry the token: every mail server on the way logs it, «bientap show» shows it."""
    token = new_reply_token()
    domain = d.board.mail_out.from_address.rpartition("@")[2]
    return token, make_msgid(domain=domain).strip("<>")


def _send(
    d: Desk,
    item: Submission,
    task: ReviewTask,
    member: Member,
    token: str,
    msg: Mail,
    purpose: str,
    **detail: Any,
) -> None:
    """Queue a mail asking ``member`` to act, and keep what a reply is matched by."""
    message_id = str(msg["Message-ID"]).strip().strip("<>")
    queue(d, item, member.email, f"review-{purpose}", msg)
    d.session.add(
        ReviewNotice(
            board_id=d.board.id,
            task_id=task.id,
            member_id=member.id,
            token=token,
            message_id=message_id,
            version=item.content_hash or "",
            purpose=purpose,
            created_at=d.now,
        )
    )
    event(d, item, "notified", to=member.id, purpose=purpose, message_id=message_id, **detail)


def ask(
    d: Desk,
    item: Submission,
    task: ReviewTask,
    purpose: str,
    seen: str | None = None,
    only: str | None = None,
    notes: tuple[str, ...] = (),
    new: bool = False,
) -> None:
    """Mail everyone who may act in ``task``'s seat (or ``only`` that member): the request,
    with the two ways to act, and the difference from the version ``seen`` if it changed.
    A ``new`` item has no decisions to list yet (the query is saved)."""
    step = step_of(d.board, task.step_index)
    old = _shown_before(d, item, seen)
    box = d.board.mailboxes[0].address
    who = routing.recipients(d.board, task.member_id, facts(item), today(d))
    if task.escalated_to is not None:
        who.append((task.escalated_to, "escalated"))
    for member_id, why in who:
        member = d.board.on_roster(member_id)  # None: replaced since (see reseat)
        if member is None or (only is not None and member_id != only):
            continue
        token, message_id = _reply_ids(d)
        msg = review_mail.review_request(
            d.board,
            item,
            list(item.files),
            d.files,
            recipient=member,
            step_name=step.name,
            acting_for=None if why == "self" else d.board.on_roster(task.member_id),
            acting_reason=CAPACITY_REASONS.get(why),
            view_url=link(d, item, task, member_id, "view"),
            approve_url=link(d, item, task, member_id, "approve"),
            reply_to=plus_address(box, token),
            subject_tag=subject_tag(token),
            message_id=message_id,
            purpose=purpose,  # type: ignore[arg-type]
            diff=(old.body_text, item.body_text) if old is not None else None,
            flags=list(item.flags) + [{"code": "note", "message": n} for n in notes],
            due_at=item.due_at,
            history=[] if new else history(d, item),
            link_days=d.board.review.link_ttl_days,
        )
        _send(
            d,
            item,
            task,
            member,
            token,
            msg,
            purpose,
            capacity=why,
            step=step.id,
            version=item.content_hash,
        )
    task.asked_version = item.content_hash or ""


# -- moving along the path ---------------------------------------------------------
def start(d: Desk, item: Submission, new: bool = False) -> None:
    """Record version 1 and put a submission at the first step of its path. A ``new`` item
    (stored in this transaction) has no versions or decisions yet: nothing is looked up."""
    ids.need(d.session, item)
    if new or not versions(d, item):
        d.session.add(
            SubmissionVersion(
                submission_id=item.id,
                number=1,
                content_hash=item.content_hash or "",
                title=item.title,
                body_html=item.body_html,
                body_text=item.body_text,
                made_by="sender",
                created_at=d.now,
            )
        )
    _enter(d, item, after=-1, new=new)


def _enter(
    d: Desk, item: Submission, after: int, seen: str | None = None, new: bool = False
) -> None:
    seats = routing.next_seats(d.board, facts(item), after)
    if seats is None:
        _approved(d, item)
        return
    item.review_step = seats.index
    event(
        d,
        item,
        "routed",
        step=seats.step.id,
        reviewers=list(seats.members),
        quorum=str(seats.step.quorum),
    )
    for member_id in seats.members:
        task = seat(d, item, seats.index, seats.step.id, member_id)
        ask(d, item, task, "again" if seen else "request", seen, new=new)


def _approved(d: Desk, item: Submission) -> None:
    from pipeline import publishing  # publishing builds on review

    item.state = State.APPROVED
    item.review_step = None
    event(d, item, "approved-for-publication", version=item.content_hash)
    _tell_sender(d, item, "approved", None)
    publishing.enqueue(d, item)


Outcome = Literal["approved", "changes", "rejected"]


def _tell_sender(d: Desk, item: Submission, outcome: Outcome, text: str | None) -> None:
    if not item.sender_address:
        return
    msg = review_mail.outcome_to_sender(
        d.board, item, outcome=outcome, text=text, in_reply_to=item.message_id
    )
    queue(d, item, item.sender_address, f"outcome-{outcome}", msg)


def _close_step(d: Desk, item: Submission, step: int) -> None:
    for t in tasks(d, item, step):
        if t.state == TaskState.PENDING:
            t.state = TaskState.VOID
            t.decided_at = d.now


def seated(d: Desk, item: Submission, step: int) -> set[str]:
    """The members who hold a seat at ``step`` in this round (not forwarded away)."""
    closed = (TaskState.FORWARDED, TaskState.VOID)
    return {t.member_id for t in tasks(d, item, step) if t.state not in closed}


def _heads_seat(d: Desk, everyone: list[ReviewTask], seats: list[ReviewTask]) -> ReviewTask | None:
    """The seat that speaks for the head in a tie: his own, or where he forwarded it."""
    member = next((t.member_id for t in everyone if routing.is_head(d.board, t.member_id)), None)
    seen: set[str] = set()
    while member is not None and member not in seen:
        seen.add(member)
        live = next((t for t in seats if t.member_id == member), None)
        if live is not None:
            return live
        gone = next((t for t in everyone if t.member_id == member and t.text), None)
        member = gone.text if gone is not None and gone.state == TaskState.FORWARDED else None
    return None


def _tally(d: Desk, item: Submission, step: int) -> None:
    everyone = tasks(d, item, step)
    seats = [t for t in everyone if t.state not in (TaskState.FORWARDED, TaskState.VOID)]
    current = item.content_hash
    yes = [t for t in seats if t.state == TaskState.APPROVED and t.decided_version == current]
    no = [t for t in seats if t.state == TaskState.REJECTED]
    quorum = d.board.review.steps[step].quorum
    verdict: bool | None = None
    if quorum is Quorum.ANY:
        verdict = True if yes else (False if no else None)
    elif quorum is Quorum.ALL:
        verdict = False if no else (True if len(yes) == len(seats) else None)
    elif 2 * len(yes) > len(seats):
        verdict = True
    elif 2 * len(no) > len(seats):
        verdict = False
    elif len(yes) + len(no) == len(seats):  # a tie: the head's side wins (Tuyên Quang Đ2.1)
        head = _heads_seat(d, everyone, seats)
        if head is None:  # the configuration puts the head at every majority step
            log.error("item %s: a tie at step %s with no head's seat", item.id, step)
            return
        verdict = head in yes
        event(
            d,
            item,
            "tie-broken",
            step=d.board.review.steps[step].id,
            approve=len(yes),
            reject=len(no),
            head=head.member_id,
            approved=verdict,
        )
    if verdict is None:
        return
    _close_step(d, item, step)
    if verdict:
        event(d, item, "step-approved", step=d.board.review.steps[step].id, votes=len(yes))
        _enter(d, item, after=step)
    else:
        reasons = "; ".join(t.text or "" for t in no if t.text)
        item.state = State.REJECTED
        item.reason = reasons or None
        item.review_step = None
        event(d, item, "rejected", step=d.board.review.steps[step].id, reason=reasons)
        _tell_sender(d, item, "rejected", reasons)


def reseat(d: Desk, task: ReviewTask, item: Submission) -> list[str]:
    """Hand over a waiting seat whose member the board has taken off its roster: whoever
    the step names now (his successor in the field or role) gets a seat and a request;
    with no one new the step goes on without him (passed, when nobody else sits at it).
    Returns the members asked."""
    task.state, task.decided_at = TaskState.VOID, d.now
    found = routing.seats(d.board, task.step_index, facts(item))
    taken = seated(d, item, task.step_index)
    members = [m for m in (found.members if found is not None else ()) if m not in taken]
    event(d, item, "reseated", seat=task.member_id, to=members, step=task.step_id)
    for member_id in members:
        ask(d, item, seat(d, item, task.step_index, task.step_id, member_id), "request")
    if not members:
        if taken:
            _tally(d, item, task.step_index)
        else:
            _enter(d, item, after=task.step_index)
    return members


# -- acting -------------------------------------------------------------------------
def open_task(d: Desk, task_id: int) -> tuple[ReviewTask, Submission]:
    """The task and its item, locked and read fresh: two decisions on one item, taken at
    once (two daemons, two taps on a phone), are recorded one after the other."""
    writelock.hold(d.session)
    d.session.flush()
    task = d.session.get(ReviewTask, task_id, with_for_update=True, populate_existing=True)
    if task is None:
        raise Refused("unknown-task", "Không tìm thấy yêu cầu duyệt này.")
    item = d.session.get(
        Submission, task.submission_id, with_for_update=True, populate_existing=True
    )
    assert item is not None
    return task, item


def check_open(d: Desk, task: ReviewTask, item: Submission) -> None:
    live = State.PENDING_REVIEW
    if after_publishing(d.board, task):
        live = State.PUBLISHED
    elif verifying(d.board, task):
        live = State.APPROVED
    if task.state != TaskState.PENDING or item.state != live or task.round != item.review_round:
        raise Refused(
            "closed",
            f"Yêu cầu này đã được xử lý; tin bài {item.tracking_code} hiện ở trạng thái: "
            f"{_state_label(item)}.",
        )


def _state_label(item: Submission) -> str:
    return STATE_LABELS.get(State(item.state), item.state)


def capacity(d: Desk, task: ReviewTask, item: Submission, actor_id: str) -> str | None:
    """In what capacity ``actor_id`` may act in ``task``'s seat: "self", "acting",
    "delegate", "escalated"; None if he may not (as one the board has taken off its
    roster: the links and replies he still holds count no more)."""
    if d.board.on_roster(actor_id) is None:
        return None
    found = routing.capacity(d.board, task.member_id, actor_id, facts(item), today(d))
    if found is None and actor_id == task.escalated_to:
        return "escalated"
    return found


def may_act(d: Desk, task: ReviewTask, item: Submission, actor_id: str) -> str:
    """``capacity``, or Refused if he may not act there."""
    found = capacity(d, task, item, actor_id)
    if found is None:
        raise Refused(
            "not-reviewer",
            f"{d.board.name_of(actor_id)} không phải người được giao duyệt bước này.",
        )
    return found


def act(
    d: Desk,
    task_id: int,
    actor_id: str,
    decision: Decision,
    seen: str,
    evidence: Evidence,
) -> str:
    """Record ``actor_id``'s decision in a task; a Vietnamese line saying what was done.

    Raises ``Refused`` (and changes nothing but the record) when the decision does not
    count: the task is closed, the actor may not sit there, or the content changed since
    the version ``seen`` (then the reviewer is asked again, with the difference).
    """
    task, item = open_task(d, task_id)
    check_open(d, task, item)
    how = may_act(d, task, item, actor_id)
    if after_publishing(d.board, task):
        return _on_live_item(d, task, item, actor_id, decision, evidence)
    if verifying(d.board, task):
        return _on_check(d, task, item, actor_id, decision, evidence)
    if decision.verb is Verb.WITHDRAW:
        raise Refused("not-live", "Tin bài chưa được đăng nên không có gì để gỡ.")
    if seen != item.content_hash:
        if task.asked_version != item.content_hash:
            ask(d, item, task, "again", seen)
        raise Refused(
            "stale",
            "Nội dung tin bài đã thay đổi sau khi ông/bà xem; quyết định chưa được ghi nhận. "
            "Thư mới với phần thay đổi đã được gửi để ông/bà xem và quyết định lại.",
        )
    target: Member | None = None
    if decision.verb is Verb.FORWARD:
        target = routing.find_member(d.board, decision.text or "")
        if target is None or target.id in (task.member_id, actor_id):
            raise Refused(
                "bad-forward",
                f"Không xác định được thành viên để chuyển: {decision.text or '(trống)'}. "
                "Hãy ghi mã, họ tên hoặc địa chỉ thư của thành viên Ban Biên tập.",
            )
        if target.id == item.sender_member_id or target.id in seated(d, item, task.step_index):
            raise Refused(  # one person, two votes (or his own item): the step would lie
                "bad-forward",
                f"{target.name} đã có ý kiến ở bước này hoặc là người gửi bài, nên không thể "
                "nhận thêm lượt duyệt này. Hãy chuyển cho một thành viên khác.",
            )
    task.actor_id, task.channel = actor_id, evidence.channel
    task.decided_at, task.decided_version = d.now, item.content_hash
    task.text = decision.text
    kind = "edited" if decision.edit else str(decision.verb)
    step_id = task.step_id
    event(
        d,
        item,
        kind,
        actor=actor_id,
        channel=evidence.channel,
        step=step_id,
        capacity=how,
        version=item.content_hash,
        text=decision.text,
        **evidence.detail,
    )
    if decision.verb is Verb.APPROVE:
        if decision.edit is not None:
            revise(d, item, *decision.edit, made_by=actor_id, note=decision.text, keep=task)
        task.state = TaskState.APPROVED
        task.decided_version = item.content_hash
        _tally(d, item, task.step_index)
    elif decision.verb is Verb.REJECT:
        task.state = TaskState.REJECTED
        _tally(d, item, task.step_index)
    elif decision.verb is Verb.CHANGES:
        task.state = TaskState.CHANGES
        _close_step(d, item, task.step_index)
        item.state = State.RETURNED
        item.reason = decision.text
        item.review_step = None
        _tell_sender(d, item, "changes", decision.text)
    else:
        assert target is not None
        task.state = TaskState.FORWARDED
        task.text = target.id
        ask(d, item, seat(d, item, task.step_index, task.step_id, target.id), "request")
    label = "Duyệt có chỉnh sửa" if decision.edit else DECISION_LABELS[decision.verb]
    return f"Đã ghi nhận: {label} — {item.tracking_code} «{item.title}»."


def revise(
    d: Desk,
    item: Submission,
    title: str,
    html: str,
    made_by: str,
    note: str | None = None,
    keep: ReviewTask | None = None,
    state: State = State.PENDING_REVIEW,
) -> SubmissionVersion | None:
    """A new version of the content, sanitised again. None when nothing changed.

    An edit by a reviewer (``keep`` is his task) stands as his approval; everyone else at
    his step who approved the old version is asked again, with the difference. A
    correction from the sender restarts the review from the first step, or stops it
    when the checks of the new version give the item another ``state`` (quarantined…).
    """
    clean = sanitize_html(html).html
    title = " ".join(title.split())
    digest = content_hash(title, clean)
    if digest == item.content_hash:
        return None
    old = item.content_hash
    number = item.version + 1
    version = SubmissionVersion(
        submission_id=item.id,
        number=number,
        content_hash=digest,
        title=title,
        body_html=clean,
        body_text=html_to_text(clean),
        made_by=made_by,
        note=note,
        created_at=d.now,
    )
    d.session.add(version)
    item.version, item.content_hash = number, digest
    item.title, item.body_html, item.body_text = title, clean, version.body_text
    event(d, item, "new-version", actor=made_by, number=number, version=digest, previous=old)
    if keep is not None:
        for t in tasks(d, item, keep.step_index):
            if t.id != keep.id and t.state in (TaskState.PENDING, TaskState.APPROVED):
                t.state = TaskState.PENDING
                t.decided_at = None
                ask(d, item, t, "again", old)
    elif item.state in (State.PENDING_REVIEW, State.RETURNED):
        for t in tasks(d, item):
            if t.state == TaskState.PENDING:
                t.state = TaskState.VOID
        item.state = state
        item.review_round += 1
        if state == State.PENDING_REVIEW:
            _enter(d, item, after=-1, seen=old)
    return version


# -- after publishing --------------------------------------------------------------------
def watch(d: Desk, item: Submission, public_url: str) -> None:
    """Tell the head an item is live, with the two ways to withdraw or correct it."""
    index = len(d.board.review.steps)
    for head in d.board.members_with_role(Role.TRUONG_BAN):
        task = seat(d, item, index, AFTER_PUBLISHING.id, head.id)
        token, message_id = _reply_ids(d)
        msg = review_mail.published_notice(
            d.board,
            item,
            recipient=head,
            public_url=public_url,
            view_url=link(d, item, task, head.id, "view"),
            reply_to=plus_address(d.board.mailboxes[0].address, token),
            subject_tag=subject_tag(token),
            message_id=message_id,
            link_days=d.board.review.link_ttl_days,
        )
        _send(d, item, task, head, token, msg, "published", step=AFTER_PUBLISHING.id)


def _on_live_item(
    d: Desk,
    task: ReviewTask,
    item: Submission,
    actor_id: str,
    decision: Decision,
    evidence: Evidence,
) -> str:
    """The head withdraws a live item, or corrects it (the portal is updated)."""
    from pipeline import publishing  # publishing builds on review

    detail = {"actor": actor_id, "channel": evidence.channel, **evidence.detail}
    if decision.verb is Verb.WITHDRAW:
        task.state, task.actor_id, task.channel = TaskState.APPROVED, actor_id, evidence.channel
        task.decided_at, task.text = d.now, decision.text
        item.state, item.reason = State.WITHDRAWN, decision.text
        for other in tasks(d, item, task.step_index):
            if other.id != task.id and other.state == TaskState.PENDING:
                other.state = TaskState.VOID
        publishing.withdraw(d, item)
        event(d, item, "withdraw", reason=decision.text, **detail)
        return f"Đã ghi nhận: Gỡ bài — {item.tracking_code} «{item.title}»; cổng sẽ được cập nhật."
    if decision.verb is Verb.APPROVE and decision.edit is not None:
        version = revise(d, item, *decision.edit, made_by=actor_id, note=decision.text)
        if version is None:
            return "Nội dung không thay đổi; không có gì để đính chính."
        publishing.republish(d, item)
        event(d, item, "corrected", number=version.number, reason=decision.text, **detail)
        return (
            f"Đã ghi nhận: Đính chính — {item.tracking_code} «{item.title}»; "
            "cổng sẽ được cập nhật và kiểm tra lại."
        )
    raise Refused(
        "live-item",
        "Tin bài này đã đăng: chỉ có thể gỡ bài (trả lời «GỠ BÀI: lý do») hoặc đính chính "
        "trên trang liên kết.",
    )


# -- verification by hand ----------------------------------------------------------------
def ask_verifiers(d: Desk, item: Submission, found: list[str]) -> None:
    """Ask the board's verifiers to compare the live post with the approved version."""
    index = len(d.board.review.steps) + 1
    notes = tuple(f"Trên cổng: {f}" for f in found) or (
        "Kiểm tra tự động không thấy khác biệt; đề nghị xem lại bài trên cổng và xác nhận.",
    )
    for member in d.board.members_with_role(d.board.publish.verifier_role):
        ask(d, item, seat(d, item, index, VERIFYING.id, member.id), "check", notes=notes)


def _on_check(
    d: Desk,
    task: ReviewTask,
    item: Submission,
    actor_id: str,
    decision: Decision,
    evidence: Evidence,
) -> str:
    """The verifier confirms the live post, or asks for it to be updated again."""
    from pipeline import publishing  # publishing builds on review

    if decision.verb not in (Verb.APPROVE, Verb.CHANGES) or decision.edit is not None:
        raise Refused(
            "check-only",
            "Ở bước kiểm tra chỉ có thể xác nhận bài trên cổng đúng (DUYỆT) hoặc yêu cầu "
            "cập nhật lại (SỬA: …).",
        )
    confirmed = decision.verb is Verb.APPROVE
    task.state = TaskState.APPROVED if confirmed else TaskState.CHANGES
    task.actor_id, task.channel, task.decided_at = actor_id, evidence.channel, d.now
    task.decided_version, task.text = item.content_hash, decision.text
    _close_step(d, item, task.step_index)
    kind = "checked-live" if confirmed else "reupdate-requested"
    event(
        d,
        item,
        kind,
        actor=actor_id,
        channel=evidence.channel,
        text=decision.text,
        **evidence.detail,
    )
    if confirmed:
        publishing.went_live(d, item)
        return f"Đã ghi nhận: bài trên cổng đúng với bản đã duyệt — {item.tracking_code}."
    publishing.republish(d, item)
    return f"Đã ghi nhận: yêu cầu cập nhật lại bài trên cổng — {item.tracking_code}."
