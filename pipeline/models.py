"""The stored record: raw messages, submissions, their files, outgoing mail, events.

The schema is created and upgraded by Alembic migrations (pipeline/migrations);
these classes are the one description the migrations are written from.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """An instant, always handed back aware in UTC. SQLite keeps no offset, so what is
    written there is first converted to UTC (an aware time would be stored as its local
    wall time and read back wrong)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class RawStatus(StrEnum):
    NEW = "new"  # recorded, not processed yet
    DONE = "done"  # processed into a submission row
    UNSERVED = "unserved"  # recorded without its bytes: the mailbox is asked again


class State(StrEnum):
    """Where a submission stands. Review states are added by the workflow."""

    PENDING_REVIEW = "pending_review"
    APPROVED = "approved"  # approved for publication
    PUBLISHED = "published"  # live on the portal and verified
    WITHDRAWN = "withdrawn"  # taken off the portal by the head
    REJECTED = "rejected"  # refused by a reviewer, with the reason
    HELD = "held"  # unknown sender: an operator decides
    QUARANTINED = "quarantined"  # security marking: never publishable
    RETURNED = "returned"  # sent back to the sender with what to fix
    SET_ASIDE = "set_aside"  # not a submission (auto-reply, bounce, list, our own mail)
    FAILED = "failed"  # could not be read; kept raw with the reason


STATE_LABELS: dict[State, str] = {
    State.PENDING_REVIEW: "Chờ duyệt",
    State.APPROVED: "Đã duyệt, chờ đăng",
    State.PUBLISHED: "Đã đăng",
    State.WITHDRAWN: "Đã gỡ khỏi cổng",
    State.REJECTED: "Không duyệt",
    State.HELD: "Tạm giữ (người gửi chưa xác định)",
    State.QUARANTINED: "Cách ly (tài liệu mật)",
    State.RETURNED: "Đã trả lại người gửi",
    State.SET_ASIDE: "Không phải bài gửi",
    State.FAILED: "Không đọc được",
}


class MailboxState(Base):
    """Where the daemon stands in one mailbox (IMAP UIDVALIDITY and last UID)."""

    __tablename__ = "mailbox_state"
    __table_args__ = (UniqueConstraint("board_id", "mailbox"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    board_id: Mapped[str] = mapped_column(String(64))
    mailbox: Mapped[str] = mapped_column(String(64))
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    last_poll_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)


class RawMessage(Base):
    """A message exactly as it arrived, recorded before anything else happens."""

    __tablename__ = "raw_message"
    __table_args__ = (
        UniqueConstraint("board_id", "fingerprint"),
        Index("ix_raw_message_status", "board_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    board_id: Mapped[str] = mapped_column(String(64))
    mailbox: Mapped[str] = mapped_column(String(64))
    source_key: Mapped[str] = mapped_column(String(255))  # IMAP UID or Maildir key
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger)
    message_id: Mapped[str | None] = mapped_column(String(998), index=True)
    fingerprint: Mapped[str] = mapped_column(String(64))  # Message-ID + content hash
    raw: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)  # loaded when read
    size: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default=RawStatus.NEW)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    target_folder: Mapped[str | None] = mapped_column(String(255))  # where to file it
    filed: Mapped[bool] = mapped_column(Boolean, default=False)
    claimed_by: Mapped[str | None] = mapped_column(String(96))  # the daemon working it
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())

    submission: Mapped[Submission | None] = relationship(back_populates="raw_message")


class RawCopy(Base):
    """Another copy of a recorded message: the same mail in a second mailbox of the board
    (sent to both), or at another place in the same one. It is not processed again; it is
    filed where its message is, once that one is done."""

    __tablename__ = "raw_copy"
    __table_args__ = (Index("ix_raw_copy_mailbox", "board_id", "mailbox", "filed"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    board_id: Mapped[str] = mapped_column(String(64))
    mailbox: Mapped[str] = mapped_column(String(64))
    source_key: Mapped[str] = mapped_column(String(255))  # IMAP UID or Maildir key
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger)
    raw_message_id: Mapped[int] = mapped_column(ForeignKey("raw_message.id"), index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    filed: Mapped[bool] = mapped_column(Boolean, default=False)

    original: Mapped[RawMessage] = relationship()


class Submission(Base):
    """One mailed submission (or a message set aside), as reviewers see it."""

    __tablename__ = "submission"
    __table_args__ = (Index("ix_submission_board_state", "board_id", "state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    board_id: Mapped[str] = mapped_column(String(64))
    raw_message_id: Mapped[int] = mapped_column(ForeignKey("raw_message.id"), unique=True)
    tracking_code: Mapped[str] = mapped_column(String(32), unique=True)
    state: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)  # why it was set aside, held, returned…
    kind: Mapped[str | None] = mapped_column(String(16))
    message_id: Mapped[str | None] = mapped_column(String(998))
    sender_address: Mapped[str] = mapped_column(String(320), default="")
    sender_name: Mapped[str] = mapped_column(String(255), default="")
    agency_id: Mapped[str | None] = mapped_column(String(64))
    sender_member_id: Mapped[str | None] = mapped_column(String(64))
    field_ids: Mapped[list[Any]] = mapped_column(default=list)
    member_ids: Mapped[list[Any]] = mapped_column(default=list)  # owners of the fields
    title: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str] = mapped_column(Text, default="")
    body_text: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str | None] = mapped_column(String(255))
    unit: Mapped[str | None] = mapped_column(String(255))
    source: Mapped[str | None] = mapped_column(String(500))
    document: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    flags: Mapped[list[Any]] = mapped_column(default=list)  # [{"code", "action", "detail"}]
    remote_images: Mapped[list[Any]] = mapped_column(default=list)
    legacy_encoding: Mapped[str | None] = mapped_column(String(16))
    content_hash: Mapped[str | None] = mapped_column(String(64))
    minhash: Mapped[bytes | None] = mapped_column(LargeBinary)
    duplicate_of: Mapped[int | None] = mapped_column(Integer)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # publish by
    version: Mapped[int] = mapped_column(Integer, default=1)  # current SubmissionVersion.number
    review_step: Mapped[int | None] = mapped_column(Integer)  # index into the board's path
    review_round: Mapped[int] = mapped_column(Integer, default=0)  # restarts of the review
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    raw_message: Mapped[RawMessage] = relationship(back_populates="submission")
    files: Mapped[list[StoredFile]] = relationship(
        back_populates="submission", order_by="StoredFile.id"
    )


class StoredFile(Base):
    """An attachment of a submission; its bytes live content-addressed on disk."""

    __tablename__ = "stored_file"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submission.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))  # None: not stored (too large)
    content_id: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))  # attachment | inline | article

    submission: Mapped[Submission] = relationship(back_populates="files")


class ShingleBand(Base):
    """MinHash LSH buckets of a submission, for sub-linear near-duplicate look-up."""

    __tablename__ = "shingle_band"
    __table_args__ = (Index("ix_shingle_band_lookup", "board_id", "bucket"),)

    submission_id: Mapped[int] = mapped_column(ForeignKey("submission.id"), primary_key=True)
    band: Mapped[int] = mapped_column(Integer, primary_key=True)
    board_id: Mapped[str] = mapped_column(String(64))
    bucket: Mapped[int] = mapped_column(BigInteger)


class Composed(Protocol):
    """A mail as built (``pipeline.mailbuild.Mail``): its headers and its bytes."""

    def __getitem__(self, name: str) -> str | None: ...

    def as_bytes(self) -> bytes: ...


class OutgoingMail(Base):
    """A mail the pipeline owes someone; written in the same transaction as its cause."""

    __tablename__ = "outgoing_mail"
    __table_args__ = (Index("ix_outgoing_pending", "board_id", "sent_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    board_id: Mapped[str] = mapped_column(String(64))
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submission.id"), index=True)
    to_address: Mapped[str] = mapped_column(String(320))
    reason: Mapped[str] = mapped_column(String(64))  # receipt, returned, quarantine-alert…
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    claimed_by: Mapped[str | None] = mapped_column(String(96))  # the daemon working it
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @classmethod
    def of(
        cls,
        board_id: str,
        to: str,
        reason: str,
        msg: Composed,
        item_id: int | None = None,
        now: datetime | None = None,
    ) -> OutgoingMail:
        """The row owing ``msg`` to ``to``, made ``now`` (else when it is written)."""
        made = {"created_at": now} if now is not None else {}
        return cls(
            board_id=board_id,
            submission_id=item_id,
            to_address=to,
            reason=reason,
            message_id=str(msg["Message-ID"]).strip().strip("<>"),
            raw=msg.as_bytes(),
            **made,
        )


class NoticeLog(Base):
    """When a sender was last told something is wrong, per reason (rate limit)."""

    __tablename__ = "notice_log"
    __table_args__ = (UniqueConstraint("board_id", "address", "reason"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    board_id: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(320))
    reason: Mapped[str] = mapped_column(String(64))
    last_sent_at: Mapped[datetime] = mapped_column(UTCDateTime())
    suppressed: Mapped[int] = mapped_column(Integer, default=0)


class Event(Base):
    """What happened to a message or submission, in order.

    Sealed events (``seq`` set) form a hash chain per board (pipeline/audit.py): each
    carries the hash of the one before, so a changed or removed event shows.
    """

    __tablename__ = "event"
    __table_args__ = (UniqueConstraint("board_id", "seq", name="uq_event_board_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    board_id: Mapped[str] = mapped_column(String(64))
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submission.id"), index=True)
    raw_message_id: Mapped[int | None] = mapped_column(ForeignKey("raw_message.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(320), default="system")
    channel: Mapped[str] = mapped_column(String(32), default="pipeline")
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    seq: Mapped[int | None] = mapped_column(Integer)  # position in the board's chain
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))


class AuditHead(Base):
    """The end of a board's audit chain: the last sealed event's number and hash."""

    __tablename__ = "audit_head"

    board_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    hash: Mapped[str] = mapped_column(String(64))


class SubmissionVersion(Base):
    """One version of an item's content: as received, edited by a reviewer, corrected by
    the sender. Approvals bind to a version's hash."""

    __tablename__ = "submission_version"
    __table_args__ = (UniqueConstraint("submission_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submission.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    body_text: Mapped[str] = mapped_column(Text)
    made_by: Mapped[str] = mapped_column(String(320))  # "sender" or a member id
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TaskState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    CHANGES = "changes"  # asked to send the item back to the sender
    FORWARDED = "forwarded"  # handed to another member, whose task replaces this one
    VOID = "void"  # the step was decided without it, or the item changed


TASK_STATE_LABELS: dict[str, str] = {
    TaskState.PENDING: "Chờ ý kiến",
    TaskState.APPROVED: "Đồng ý",
    TaskState.REJECTED: "Không duyệt",
    TaskState.CHANGES: "Trả lại để sửa",
    TaskState.FORWARDED: "Chuyển người khác",
    TaskState.VOID: "Không còn hiệu lực",
}


class ReviewTask(Base):
    """One reviewer's seat at one step of one item's review."""

    __tablename__ = "review_task"
    __table_args__ = (Index("ix_review_task_open", "board_id", "state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    board_id: Mapped[str] = mapped_column(String(64))
    submission_id: Mapped[int] = mapped_column(ForeignKey("submission.id"), index=True)
    round: Mapped[int] = mapped_column(Integer, default=0)
    step_index: Mapped[int] = mapped_column(Integer)
    step_id: Mapped[str] = mapped_column(String(64))
    member_id: Mapped[str] = mapped_column(String(64))  # the seat
    state: Mapped[str] = mapped_column(String(16), default=TaskState.PENDING)
    asked_version: Mapped[str] = mapped_column(String(64))  # hash shown in the last request
    decided_version: Mapped[str | None] = mapped_column(String(64))
    actor_id: Mapped[str | None] = mapped_column(String(64))  # who acted (seat or delegate)
    channel: Mapped[str | None] = mapped_column(String(16))  # reply | link | cli
    text: Mapped[str | None] = mapped_column(Text)  # reason, what to fix, forward target
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    escalated_to: Mapped[str | None] = mapped_column(String(64))  # may act in this seat too


class ReviewNotice(Base):
    """A mail asking a reviewer to act; a reply is matched to it by Message-ID or token."""

    __tablename__ = "review_notice"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    board_id: Mapped[str] = mapped_column(String(64))
    task_id: Mapped[int] = mapped_column(ForeignKey("review_task.id"), index=True)
    member_id: Mapped[str] = mapped_column(String(64))  # the recipient
    token: Mapped[str] = mapped_column(String(40), unique=True)
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    version: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(String(16))  # review_mail.Purpose: request, check…
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class UsedLink(Base):
    """A link token that has been used: a second use is refused."""

    __tablename__ = "used_link"

    nonce: Mapped[str] = mapped_column(String(32), primary_key=True)
    board_id: Mapped[str] = mapped_column(String(64))
    task_id: Mapped[int] = mapped_column(Integer)
    used_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PubState(StrEnum):
    QUEUED = "queued"  # approved; waiting for its (next) attempt
    SENDING = "sending"  # a request may be in flight: find the key before sending again
    PUBLISHED = "published"  # the CMS has it; not yet verified
    VERIFIED = "verified"  # read back equal to what was approved
    MISMATCH = "mismatch"  # read back different even after a re-update: a person checks
    CHECKING = "checking"  # the board verifies by hand: its verifier compares the two
    DEAD = "dead"  # gave up: the operator was told why
    WITHDRAWING = "withdrawing"  # the head asked: to be taken off the portal
    WITHDRAWN = "withdrawn"


PUB_STATE_LABELS: dict[str, str] = {
    PubState.QUEUED: "Chờ đăng",
    PubState.SENDING: "Đang gửi lên cổng",
    PubState.PUBLISHED: "Đã đăng, chờ đối chiếu",
    PubState.VERIFIED: "Đã đăng, đã đối chiếu",
    PubState.MISMATCH: "Bài trên cổng khác bản duyệt",
    PubState.CHECKING: "Chờ người đối chiếu",
    PubState.DEAD: "Không đăng được",
    PubState.WITHDRAWING: "Đang gỡ khỏi cổng",
    PubState.WITHDRAWN: "Đã gỡ khỏi cổng",
}


class Publication(Base):
    """One approved item on one CMS. The idempotency key is recorded before the first
    request, so no retry, timeout or crash can create a second post."""

    __tablename__ = "publication"
    __table_args__ = (Index("ix_publication_due", "board_id", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    board_id: Mapped[str] = mapped_column(String(64))
    submission_id: Mapped[int] = mapped_column(ForeignKey("submission.id"), unique=True)
    connector: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(64), unique=True)
    state: Mapped[str] = mapped_column(String(16), default=PubState.QUEUED)
    version: Mapped[str] = mapped_column(String(64))  # content hash to be (or that is) live
    remote_id: Mapped[str | None] = mapped_column(String(255))
    url: Mapped[str | None] = mapped_column(String(2000))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    reupdated: Mapped[bool] = mapped_column(Boolean, default=False)
    difference: Mapped[str | None] = mapped_column(Text)  # what verification found
    live_title: Mapped[str | None] = mapped_column(Text)  # as read back, for a person to see
    live_html: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claimed_by: Mapped[str | None] = mapped_column(String(96))  # the daemon working it
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CmsBreaker(Base):
    """A board's circuit breaker on its CMS: open after failures in a row, for a while."""

    __tablename__ = "cms_breaker"

    board_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    open_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Lease(Base):
    """A job only one daemon may run at a time (a mailbox's watcher, a board's reminder
    sweep): held until ``expires_at`` and renewed by its holder; when the holder dies it
    lapses and another daemon takes it over."""

    __tablename__ = "lease"

    name: Mapped[str] = mapped_column(String(160), primary_key=True)
    holder: Mapped[str] = mapped_column(String(96))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
