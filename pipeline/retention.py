"""Personal data: senders' addresses and names are kept ``retention_days`` (a board
setting, 365 by default), then anonymised.

What is erased, for items that arrived before the cut-off and are settled (not pending
review or approved-and-waiting: those still need their sender). Mail held that long from
an unknown sender, which nobody admitted, is set aside first and the board's reader told
(pipeline/held.py), then anonymised with the rest:

- the item's sender address and name (and an address in its ``reason``), and its author
  unless it was published: a published author credit was public, and the royalty
  statement (nhuận bút) pays it (a published item without a byline is credited to its
  sender's name, which becomes its author);
- the mail as it arrived (``RawMessage.raw``), replaced by a short placeholder; its size,
  fingerprint and Message-ID stay, so the same mail fetched again is still recognised;
- the attachments of items never published (``StoredFile``: the name goes, and the bytes
  in the content-addressed store once the purge commits, unless another item has the
  same file or a reader stored it again within ``files.FRESH``, for a mail not yet
  recorded); a published item's files were public and stay; files a writer killed
  half-way left in the store go once they are that old, and so do files no row names
  (a purge killed between its commit and their removal left them);
- mail the board sent about it (``OutgoingMail``): the text, and the recipient unless a
  board member or the board itself (board staff are named in the configuration);
- the address in the rate limit of notices to senders (``NoticeLog``);
- addresses of people outside the board in the record (``Event`` actor and detail: a
  sender's correction, a reply from a stranger), sealed events included: see
  pipeline/audit.py for how the chain stays verifiable.

What stays is what the reports count: board, agency, sender member, fields, kind, state,
dates, title and text (the text of a published item is public), the review decisions.
Mail in the board's own mailboxes and in backups made before the purge is outside
bientap's reach: the mail server's retention and ``backup_keep`` govern those.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Text, cast, or_, select, update
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from pipeline import audit, held
from pipeline.config import Board
from pipeline.files import FRESH, FileStore
from pipeline.models import (
    Event,
    NoticeLog,
    OutgoingMail,
    RawMessage,
    RawStatus,
    State,
    StoredFile,
    Submission,
    SubmissionVersion,
)
from pipeline.postman import MAX_SEND_ATTEMPTS

log = logging.getLogger(__name__)

SETTLED = (
    State.PUBLISHED,
    State.WITHDRAWN,
    State.REJECTED,
    State.QUARANTINED,
    State.RETURNED,
    State.SET_ASIDE,
    State.FAILED,
)
PUBLIC = (State.PUBLISHED, State.WITHDRAWN)  # the author credit was on the portal
PLACEHOLDER = b"X-Bientap-Purged: personal data removed at the end of the retention period\r\n\r\n"
ANONYMOUS = "(ẩn danh)"
NOTICE_PREFIX = "an-danh-"  # NoticeLog rows keep their counts under a unique placeholder
COUNTS = (
    "held",
    "submissions",
    "raw_messages",
    "outgoing_mails",
    "notices",
    "versions",
    "events",
    "files",
)
DISCARD = "retention.discard"  # Session.info: store files to remove once the purge commits
LOG = "retention.log"  # Session.info: purges to log once committed


def _known(board: Board) -> set[str]:
    """Addresses that name the board or its members, not a private person."""
    own = {a.lower() for a in board.addresses()}
    for member in board.members:
        own.add(member.email.lower())
        own.update(a.lower() for a in member.aliases)
    return own


def _scrub_text(value: str, known: set[str]) -> str:
    out, last = [], 0
    for start, end in audit.address_spans(value):
        address = value[start:end]
        out += [value[last:start], address if address.lower() in known else ANONYMOUS]
        last = end
    return "".join([*out, value[last:]])


def _scrub(value: Any, known: set[str]) -> Any:
    if isinstance(value, str):
        return _scrub_text(value, known)
    if isinstance(value, list):
        return [_scrub(v, known) for v in value]
    if isinstance(value, dict):
        return {
            k: v if k in audit.NOT_PERSONAL else _scrub(v, known)
            for k, v in value.items()
            if k != audit.SALT
        }
    return value


def _settled(board: Board, cutoff: datetime) -> Any:
    return select(Submission.id).where(
        Submission.board_id == board.id,
        Submission.created_at < cutoff,
        Submission.state.in_(SETTLED),
    )


def _submissions(session: Session, board: Board, cutoff: datetime, known: set[str]) -> int:
    items = session.scalars(
        select(Submission).where(
            Submission.id.in_(_settled(board, cutoff)),
            or_(
                Submission.sender_address != "",
                Submission.sender_name != "",
                Submission.reason.contains("@"),
                Submission.author.is_not(None) & Submission.state.not_in(PUBLIC),
            ),
        )
    ).all()
    for item in items:
        if item.state in PUBLIC and not (item.author or "").strip() and item.sender_name.strip():
            item.author = item.sender_name.strip()  # credited under that name: it stays
        item.sender_address, item.sender_name = "", ""
        item.reason = _scrub_text(item.reason, known) if item.reason else item.reason
        if item.state not in PUBLIC:
            item.author = None
    return len(items)


def _files(
    session: Session, board: Board, cutoff: datetime, now: datetime, store: FileStore
) -> int:
    """Attachments of settled items never published lose their name, and their bytes
    once the transaction commits if no other row names the same content and no reader
    stored it again lately (for a mail not yet recorded); so do half-written files, and
    files no row names since an earlier purge was killed before it removed them."""
    rows = session.scalars(
        select(StoredFile).where(
            StoredFile.submission_id.in_(
                _settled(board, cutoff).where(Submission.state.not_in(PUBLIC))
            ),
            or_(StoredFile.sha256.is_not(None), StoredFile.filename != ANONYMOUS),
        )
    ).all()
    for row in rows:
        row.filename, row.sha256 = ANONYMOUS, None
    session.flush()
    named = session.scalars(select(StoredFile.sha256).where(StoredFile.sha256.is_not(None)))
    unused = sorted(store.digests() - set(named))  # every board's rows: one store
    session.info.setdefault(DISCARD, []).append(lambda: store.discard(unused, now - FRESH))
    _when_committed(session)
    return len(rows)


def _when_committed(session: Session) -> None:
    """Remove the files and log the purges noted in ``session.info`` when its transaction
    commits; forget them on a rollback (a dry run changed nothing)."""
    if not sa_event.contains(session, "after_commit", _committed):
        sa_event.listen(session, "after_commit", _committed)
        sa_event.listen(session, "after_rollback", _rolled_back)


def _committed(session: Session) -> None:
    for discard in session.info.pop(DISCARD, []):
        discard()
    for args in session.info.pop(LOG, []):
        log.info("board=%s: personal data purged before %s: %s", *args)


def _rolled_back(session: Session) -> None:
    session.info.pop(DISCARD, None)
    session.info.pop(LOG, None)


def _raw_messages(session: Session, board: Board, cutoff: datetime) -> int:
    ids = session.scalars(
        select(RawMessage.id)
        .outerjoin(Submission, Submission.raw_message_id == RawMessage.id)
        .where(
            RawMessage.board_id == board.id,
            RawMessage.received_at < cutoff,
            RawMessage.status == RawStatus.DONE,
            RawMessage.raw != PLACEHOLDER,
            or_(Submission.id.is_(None), Submission.id.in_(_settled(board, cutoff))),
        )
    ).all()
    if ids:
        session.execute(update(RawMessage).where(RawMessage.id.in_(ids)).values(raw=PLACEHOLDER))
    return len(ids)


def _outgoing(session: Session, board: Board, cutoff: datetime, known: set[str]) -> int:
    mails = session.scalars(
        select(OutgoingMail).where(
            OutgoingMail.board_id == board.id,
            OutgoingMail.created_at < cutoff,
            or_(OutgoingMail.sent_at.is_not(None), OutgoingMail.attempts >= MAX_SEND_ATTEMPTS),
            or_(
                OutgoingMail.submission_id.is_(None),
                OutgoingMail.submission_id.in_(_settled(board, cutoff)),
            ),
            or_(OutgoingMail.raw != PLACEHOLDER, OutgoingMail.to_address.contains("@")),
        )
    ).all()
    changed = 0
    for mail in mails:
        address = "" if mail.to_address.lower() not in known else mail.to_address
        if (mail.raw, mail.to_address) != (PLACEHOLDER, address):
            mail.raw, mail.to_address = PLACEHOLDER, address
            changed += 1
    return changed


def _notices(session: Session, board: Board, cutoff: datetime, known: set[str]) -> int:
    rows = session.scalars(
        select(NoticeLog).where(
            NoticeLog.board_id == board.id,
            NoticeLog.last_sent_at < cutoff,
            NoticeLog.address.not_like(f"{NOTICE_PREFIX}%"),
        )
    ).all()
    changed = [r for r in rows if r.address.lower() not in known]
    for row in changed:
        row.address = f"{NOTICE_PREFIX}{row.id}@invalid"
    return len(changed)


def _versions(session: Session, board: Board, cutoff: datetime, known: set[str]) -> int:
    versions = session.scalars(
        select(SubmissionVersion).where(
            SubmissionVersion.submission_id.in_(_settled(board, cutoff)),
            SubmissionVersion.made_by.contains("@"),
        )
    ).all()
    changed = [v for v in versions if v.made_by.lower() not in known]
    for version in changed:
        version.made_by = "sender"
    return len(changed)


def _events(
    session: Session, board: Board, cutoff: datetime, known: set[str]
) -> tuple[int, list[list[Any]]]:
    candidates = session.scalars(
        select(Event)
        .where(
            Event.board_id == board.id,
            Event.created_at < cutoff,
            Event.kind != audit.REDACTION,
            or_(Event.submission_id.is_(None), Event.submission_id.in_(_settled(board, cutoff))),
            or_(Event.actor.contains("@"), cast(Event.detail, Text).contains("@")),
        )
        .order_by(Event.id)
    ).all()
    changed, entries = 0, []
    for event in candidates:
        if not audit.addresses(event.actor, event.detail) - known:
            continue
        actor, detail = _scrub_text(event.actor, known), _scrub(event.detail, known)
        if event.seq is None:
            event.actor, event.detail = actor, detail
        else:
            entries.append(audit.redact(event, actor, detail))
        changed += 1
    return changed, entries


def purge(session: Session, board: Board, now: datetime, store: FileStore) -> dict[str, int]:
    """Anonymise the board's records older than its retention; the caller commits (or
    rolls back: a dry run). On the commit the attachments no longer used leave ``store``
    and the purge is logged. Returns how many rows of each kind changed; a second run
    changes nothing and records nothing."""
    cutoff = now - timedelta(days=board.retention_days)
    known = _known(board)
    counts = dict.fromkeys(COUNTS, 0)
    counts["held"] = held.expire(session, board, cutoff, now)  # then settled: purged below
    counts["submissions"] = _submissions(session, board, cutoff, known)
    counts["raw_messages"] = _raw_messages(session, board, cutoff)
    counts["outgoing_mails"] = _outgoing(session, board, cutoff, known)
    counts["notices"] = _notices(session, board, cutoff, known)
    counts["versions"] = _versions(session, board, cutoff, known)
    counts["events"], entries = _events(session, board, cutoff, known)
    counts["files"] = _files(session, board, cutoff, now, store)
    if any(counts.values()):
        session.add(
            Event(
                board_id=board.id,
                kind=audit.REDACTION,
                channel="retention",
                detail={
                    "retention_days": board.retention_days,
                    "before": cutoff.isoformat(),
                    "counts": counts,
                    "redacted": entries,
                },
                created_at=now,
            )
        )
        session.flush()
        audit.seal(session, board.id)
        session.info.setdefault(LOG, []).append((board.id, cutoff, counts))
        _when_committed(session)
    return counts
