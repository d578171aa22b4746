"""Mails the pipeline owes people: receipts, returns, alerts (Vietnamese first).

A notice is written to ``outgoing_mail`` in the same transaction as its cause and
sent after the commit, so a crash never loses one. Notices that tell a sender
something is wrong are limited per address and reason (``notice_interval_hours``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline import mailkit
from pipeline.checks import Action, Flag
from pipeline.config import Board, Role
from pipeline.mailbuild import Mail
from pipeline.models import NoticeLog, OutgoingMail, State, Submission, utcnow


def _compose(
    board: Board,
    to: str,
    subject: str,
    body: str,
    reply_to_id: str | None,
    note: str = mailkit.AUTOMATIC,
) -> Mail:
    """A plain-text notice in answer to a sender's mail, signed with ``note``."""
    msg = mailkit.message(board, to=to, subject=subject, in_reply_to=reply_to_id, auto_replied=True)
    msg.text = body + mailkit.signature(board, note)
    return msg


def _queue(
    session: Session, board: Board, item: Submission | None, to: str, reason: str, msg: Mail
) -> OutgoingMail:
    mail = OutgoingMail.of(board.id, to, reason, msg, item.id if item is not None else None)
    session.add(mail)
    return mail


def allowed(
    session: Session,
    board: Board,
    address: str,
    reason: str,
    now: datetime,
    since: datetime | None = None,
) -> bool:
    """At most one notice per address and reason per interval (the board's
    ``notice_interval_hours``, or since ``since``); records the one allowed."""
    log = session.scalar(
        select(NoticeLog).where(
            NoticeLog.board_id == board.id, NoticeLog.address == address, NoticeLog.reason == reason
        )
    )
    cutoff = (
        since if since is not None else now - timedelta(hours=board.checks.notice_interval_hours)
    )
    if log is not None:
        if log.last_sent_at > cutoff:
            log.suppressed += 1
            return False
        log.last_sent_at = now
        return True
    session.add(NoticeLog(board_id=board.id, address=address, reason=reason, last_sent_at=now))
    return True


# Notes on a received item its sender is told in the receipt: something to do next time.
SENDER_NOTES = frozenset({"several-articles"})

_HINTS = (
    ("too-large", "Đề nghị nén, chia nhỏ tệp hoặc gửi đường dẫn tải về."),
    # each with the line to write, as the byline is read (pipeline/byline.py)
    (
        "missing-author",
        "Đề nghị bổ sung họ tên tác giả (tin, bài sưu tầm: người sưu tầm) theo mẫu cung cấp "
        "thông tin, ở cuối tin, bài, ví dụ: “Tác giả: Nguyễn Văn A”.",
    ),
    (
        "missing-unit",
        "Đề nghị bổ sung đơn vị hoặc địa chỉ của tác giả, ví dụ: “Đơn vị: Phòng Văn hóa và "
        "Thông tin huyện” hoặc “Địa chỉ: thôn Đồng Tâm, xã Bảo Đài”.",
    ),
    (
        "missing-source",
        "Đề nghị ghi rõ nguồn của tin, bài sưu tầm, ví dụ: “Nguồn: Báo Bắc Giang” hoặc "
        "“Theo baochinhphu.vn”.",
    ),
    (
        "unreadable-word",
        "Đề nghị gửi lại tệp .docx mở được (không đặt mật khẩu), hoặc dán nội dung tin, bài "
        "vào thư.",
    ),
    (
        "damaged-mail",
        "Lưu ý: thư bị lỗi cấu trúc nên một phần nội dung có thể không đọc được; đề nghị gửi "
        "lại bằng thư thông thường (nội dung trong thân thư hoặc tệp .docx đính kèm).",
    ),
)


def _named(item: Submission) -> str:
    """“title” (mã theo dõi code): the item as a notice names it."""
    return f"“{mailkit.title_line(item.title)}” (mã theo dõi {item.tracking_code})"


def _lines(flags: list[Flag], action: Action) -> str:
    return "\n".join(f"  - {f.message}" for f in flags if f.action is action)


def receipt(session: Session, board: Board, item: Submission) -> None:
    body = (
        f"{mailkit.dear_sender(item)}\n\n"
        f"{board.name} đã nhận được tin, bài của quý cơ quan, đơn vị.\n\n"
        f"  Mã theo dõi: {item.tracking_code}\n"
        f"  Tiêu đề: {mailkit.title_line(item.title)}\n\n"
        "Tin, bài sẽ được chuyển thành viên phụ trách lĩnh vực xem xét theo quy chế của "
        "Ban Biên tập. Quý cơ quan sẽ nhận được thông báo khi có kết quả.\n"
        "Khi liên hệ về tin, bài này, vui lòng ghi mã theo dõi ở trên."
    )
    told = [f["message"] for f in item.flags or [] if f.get("code") in SENDER_NOTES]
    if told:
        body += "\n\nLưu ý:\n" + "\n".join(f"  - {message}" for message in told)
    msg = _compose(
        board,
        item.sender_address,
        f"[{item.tracking_code}] Đã nhận: {mailkit.subject_title(item.title)}",
        body,
        item.message_id,
    )
    _queue(session, board, item, item.sender_address, "receipt", msg)


def returned(session: Session, board: Board, item: Submission, flags: list[Flag]) -> bool:
    reason = "returned:" + ",".join(sorted(f.code for f in flags if f.action is Action.RETURN))
    if not allowed(session, board, item.sender_address, reason, utcnow()):
        return False
    body = (
        f"{mailkit.dear_sender(item)}\n\n"
        f"{board.name} đã nhận tin, bài {_named(item)} nhưng chưa thể tiếp nhận vì:\n\n"
        f"{_lines(flags, Action.RETURN)}\n\n"
        + "\n".join(hint for code, hint in _HINTS if any(f.code == code for f in flags))
        + f"\n\n{mailkit.how_to_correct(item.tracking_code)}"
    )
    msg = _compose(
        board,
        item.sender_address,
        f"[{item.tracking_code}] Cần bổ sung: {mailkit.subject_title(item.title)}",
        body,
        item.message_id,
        mailkit.CORRECTION_NOTE,
    )
    _queue(session, board, item, item.sender_address, "returned", msg)
    return True


def correction_too_large(
    session: Session, board: Board, item: Submission, oversized: tuple[str, ...]
) -> None:
    """The sender's correction of ``item`` was over the size limit and not taken."""
    if not allowed(session, board, item.sender_address, "correction-too-large", utcnow()):
        return
    body = (
        f"{mailkit.dear_sender(item)}\n\n"
        f"{board.name} đã nhận thư gửi bổ sung cho tin, bài {_named(item)}, nhưng thư "
        f"vượt dung lượng cho phép: {', '.join(oversized)}, nên chưa được tiếp nhận. "
        "Tin, bài vẫn giữ như bản trước.\n\n"
        f"{dict(_HINTS)['too-large']}\n\n{mailkit.how_to_correct(item.tracking_code)}"
    )
    msg = _compose(
        board,
        item.sender_address,
        f"[{item.tracking_code}] Chưa nhận bản bổ sung: {mailkit.subject_title(item.title)}",
        body,
        item.message_id,
        mailkit.CORRECTION_NOTE,
    )
    _queue(session, board, item, item.sender_address, "correction-too-large", msg)


def quarantined(session: Session, board: Board, item: Submission, flags: list[Flag]) -> None:
    """The sender is told it cannot be received this way, unless the board does not know
    the address (a From anyone can forge: the board's server would mail strangers what a
    forger wrote); the head is alerted."""
    stranger = any(f.code == "unknown-sender" for f in flags)
    if not stranger and allowed(session, board, item.sender_address, "quarantined", utcnow()):
        body = (
            f"{mailkit.dear_sender(item)}\n\n"
            f"Thư {_named(item)} có dấu mức độ mật. "
            "Tài liệu mật không được gửi qua thư điện tử và không được đăng tải trên "
            "Cổng thông tin điện tử. Thư đã được cách ly và báo cáo Trưởng ban."
        )
        msg = _compose(
            board,
            item.sender_address,
            f"[{item.tracking_code}] Không tiếp nhận: tài liệu mật",
            body,
            item.message_id,
        )
        _queue(session, board, item, item.sender_address, "quarantined", msg)
    for head in board.members_with_role(Role.TRUONG_BAN):
        body = (
            f"Kính gửi ông/bà {head.name},\n\n"
            f"Hệ thống đã cách ly một thư có dấu mức độ mật gửi đến {board.name}.\n\n"
            f"  Mã theo dõi: {item.tracking_code}\n"
            f"  Người gửi: {mailkit.sender_of(item)}\n"
            f"  Tiêu đề: {mailkit.title_line(item.title)}\n"
            f"{_lines(flags, Action.QUARANTINE)}\n\n"
            "Thư không được đưa vào quy trình duyệt đăng và không thể xuất bản."
        )
        msg = _compose(
            board, head.email, f"[{item.tracking_code}] Cảnh báo: thư có dấu mật", body, None
        )
        _queue(session, board, item, head.email, "quarantine-alert", msg)


def for_state(session: Session, board: Board, item: Submission, flags: list[Flag]) -> None:
    """The notices a freshly stored submission calls for."""
    if not item.sender_address:
        return
    if item.state == State.PENDING_REVIEW:
        receipt(session, board, item)
    elif item.state == State.RETURNED:
        returned(session, board, item, flags)
    elif item.state == State.QUARANTINED:
        quarantined(session, board, item, flags)
