"""Mail held for an operator is not left unseen. A message from a sender the board does
not know is held: not sent for review and not answered (a stranger is never mailed).
Once a day, at the digest hour, the board's secretary is told what was held that she was
not told of yet (the sender, the subject, the first lines), enough to judge whether it is
an agency's submission, whose address the operator then lists in the board's file
before ``bientap reprocess --held`` reads it again, or mail to leave alone.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import exists, func, select

from pipeline import notices, review
from pipeline.config import Board, Member, Role
from pipeline.mailkit import Mail, message, named_address, sender_of, simple, title_line, when_vi
from pipeline.models import Event, RawMessage, State, Submission
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
EXCERPT_CHARS: Final = 240
LISTED: Final = 30  # messages a notice lists; the rest are counted
NOTE: Final = "Thư này được gửi tự động mỗi ngày có thư mới bị tạm giữ."


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
