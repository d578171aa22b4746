"""Mail held for an operator is not left unseen. A message from a sender the board does
not know is held: not sent for review and not answered (a stranger is never mailed).
Once a working day, at the digest hour, the board's secretary is told what was held that
she was not told of yet (the sender, the subject, the first lines), enough to judge
whether it is an agency's submission, whose address the operator then lists in the
board's file before ``bientap reprocess --held`` reads it again, or mail to leave alone.

Mail held longer than the board keeps personal data (``retention_days``) has been left
alone: the daily purge sets it aside (``expire``), so that it is anonymised like all
settled mail, and tells her which, once.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from pipeline import notices, review
from pipeline.config import Board, Member, Role
from pipeline.mailkit import Mail, message, named_address, sender_of, simple, title_line, when_vi
from pipeline.models import Event, OutgoingMail, RawMessage, State, Submission
from pipeline.review import Desk

# Who is told: the first of these roles the board has a member in (Thư ký keeps the
# board's incoming documents; Đồng Nai has none, its editing staff read the mailbox).
READERS: Final = (
    Role.THU_KY,
    Role.TO_CHUYEN_VIEN,
    Role.PHO_TRUONG_BAN_THUONG_TRUC,
    Role.TRUONG_BAN,
)
REASON: Final = "held-digest"  # the notice log's and the outgoing mail's reason
REPORTED: Final = "held-reported"  # an item's event: its message was in a notice
EXPIRED: Final = "held-expired"  # an item's event; the reason of the notice that lists it
EXCERPT_CHARS: Final = 240
LISTED: Final = 30  # messages a notice lists; the rest are counted
NOTE: Final = "Thư này được gửi tự động mỗi ngày làm việc có thư mới bị tạm giữ."


@dataclass(frozen=True)
class Held:
    item: Submission
    arrived: datetime  # when its message was received


def reader(board: Board) -> Member | None:
    for role in READERS:
        found = next((m for m in board.members if m.role == role), None)
        if found is not None:
            return found
    return None


def _unreported(d: Desk) -> list[Held]:
    """Messages held and in no notice yet, oldest first, one more than a notice lists."""
    told = select(Event.id).where(Event.submission_id == Submission.id, Event.kind == REPORTED)
    rows = d.session.execute(
        select(Submission, RawMessage.received_at)
        .join(RawMessage, RawMessage.id == Submission.raw_message_id)
        .where(Submission.board_id == d.board.id, Submission.state == State.HELD, ~exists(told))
        .order_by(RawMessage.received_at)
        .limit(LISTED + 1)
    )
    return [Held(item, arrived) for item, arrived in rows]


def _entry(board: Board, n: int, held: Held) -> str:
    item = held.item
    excerpt = textwrap.shorten(item.body_text or "", EXCERPT_CHARS, placeholder=" …")
    return (
        f"{n}. {title_line(item.title)}\n"
        f"   Mã theo dõi: {item.tracking_code} · Nhận lúc: {when_vi(board, held.arrived)}\n"
        f"   Người gửi: {sender_of(item)}" + (f"\n   «{excerpt}»" if excerpt else "")
    )


def mail(board: Board, recipient: Member, new: list[Held], total: int) -> Mail:
    """The notice: each newly held message, what to do about it, how many are held."""
    subject = "[Thư tạm giữ] Thư mới từ người gửi chưa có trong danh sách"
    heading = "Thư đang tạm giữ"
    entries = [_entry(board, n, held) for n, held in enumerate(new[:LISTED], start=1)]
    if len(new) > LISTED:
        entries.append("… và các thư khác: xem đủ bằng lệnh bientap list --state held.")
    text = (
        f"Kính gửi ông/bà {recipient.name},\n\n"
        "Các thư dưới đây gửi đến hộp thư của Ban Biên tập từ địa chỉ chưa có trong danh "
        "sách cơ quan, thành viên, nên đang được tạm giữ: chưa được gửi duyệt và người "
        "gửi chưa được trả lời.\n\n" + "\n\n".join(entries) + "\n\n"
        "Nếu thư là tin, bài của một cơ quan, đơn vị: đề nghị bộ phận quản trị bổ sung "
        "địa chỉ người gửi vào danh sách của Ban Biên tập rồi xử lý lại thư theo mã theo "
        "dõi (bientap reprocess <mã theo dõi>). Tin, bài khi đó được gửi duyệt và người "
        "gửi nhận thư báo đã nhận. Nếu không phải (thư quảng cáo, thư rác), bộ phận quản "
        "trị có thể bỏ qua thư (bientap dismiss <mã theo dõi>); người gửi không được trả "
        "lời.\n\n"
        f"Hiện có tổng cộng {total} thư đang tạm giữ."
    )
    msg = message(board, to=named_address(recipient.name, recipient.email), subject=subject)
    return simple(board, msg, heading, text, NOTE)


def report(d: Desk, local_day_start: datetime) -> bool:
    """Tell the board's reader what was held that she was not told of yet, at most once a
    day; whether a notice was queued."""
    member = reader(d.board)
    if member is None:
        return False
    new = _unreported(d)
    if not new or not notices.allowed(
        d.session, d.board, member.email, REASON, d.now, since=local_day_start
    ):
        return False
    total = d.session.scalar(
        select(func.count())
        .select_from(Submission)
        .where(Submission.board_id == d.board.id, Submission.state == State.HELD)
    )
    review.queue(d, None, member.email, REASON, mail(d.board, member, new, total or 0))
    for held in new[:LISTED]:
        review.event(d, held.item, REPORTED, to=member.id)
    return True


def expire(session: Session, board: Board, cutoff: datetime, now: datetime) -> int:
    """Set aside the mail held since before ``cutoff`` (kept past the board's retention,
    nobody admitted it), and queue one notice to the board's reader listing it. Returns
    how many were set aside."""
    rows = session.execute(
        select(Submission, RawMessage.received_at)
        .join(RawMessage, RawMessage.id == Submission.raw_message_id)
        .where(
            Submission.board_id == board.id,
            Submission.state == State.HELD,
            Submission.created_at < cutoff,
        )
        .order_by(RawMessage.received_at)
    ).all()
    reason = f"Tạm giữ quá {board.retention_days} ngày mà không được xử lý"
    for item, _arrived in rows:
        item.state, item.reason = State.SET_ASIDE, reason
        session.add(
            Event(
                board_id=board.id,
                submission_id=item.id,
                kind=EXPIRED,
                actor="system",
                channel="retention",
                detail={"retention_days": board.retention_days},
                created_at=now,
            )
        )
    member = reader(board)
    if rows and member is not None:
        expired = [Held(item, arrived) for item, arrived in rows]
        msg = expired_mail(board, member, expired)
        session.add(OutgoingMail.of(board.id, member.email, EXPIRED, msg, now=now))
    return len(rows)


def expired_mail(board: Board, recipient: Member, expired: list[Held]) -> Mail:
    """The notice of held mail set aside at the end of the retention period."""
    count = len(expired)
    entries = [
        f"{n}. {title_line(h.item.title)}\n"
        f"   Mã theo dõi: {h.item.tracking_code} · Nhận lúc: {when_vi(board, h.arrived)}"
        for n, h in enumerate(expired[:LISTED], start=1)
    ]
    if count > LISTED:
        entries.append(f"… và {count - LISTED} thư khác.")
    text = (
        f"Kính gửi ông/bà {recipient.name},\n\n"
        f"{count} thư dưới đây từ người gửi chưa có trong danh sách đã bị tạm giữ quá "
        f"{board.retention_days} ngày (thời hạn Ban Biên tập lưu giữ thông tin cá nhân) mà "
        "không được xử lý. Các thư này đã được chuyển sang «Không phải bài gửi»; địa chỉ, "
        "tên người gửi và thư gốc được xóa theo thời hạn lưu giữ, nên không xử lý lại "
        "được nữa.\n\n" + "\n\n".join(entries) + "\n\n"
        "Nếu trong số này có tin, bài của một cơ quan, đơn vị cần đăng, đề nghị liên hệ "
        "cơ quan, đơn vị đó để gửi lại."
    )
    subject = f"[Thư tạm giữ] {count} thư quá thời hạn lưu giữ đã được loại bỏ"
    msg = message(board, to=named_address(recipient.name, recipient.email), subject=subject)
    return simple(board, msg, "Thư tạm giữ quá thời hạn lưu giữ", text)
