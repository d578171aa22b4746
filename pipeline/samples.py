"""Sample Vietnamese submissions, for the demo run, the tests and the benchmarks.

Every person, address and event here is invented.
"""

from __future__ import annotations

import mailbox
import re
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from pipeline.charsets import encode_cp1258
from pipeline.vietnamese import encode_legacy

NEWS_TITLE = "Trường THPT Ngô Quyền tổ chức Ngày hội tuyển sinh năm 2026"
NEWS_BODY = """\
Sáng ngày 15/3, Trường THPT Ngô Quyền phối hợp với Sở Giáo dục và Đào tạo tổ chức \
Ngày hội tuyển sinh năm 2026 cho hơn 1.200 học sinh lớp 12 trên địa bàn.

Tại ngày hội, các trường đại học, cao đẳng đã giới thiệu phương thức xét tuyển, \
ngành nghề đào tạo và cơ hội việc làm sau khi tốt nghiệp. Học sinh được giải đáp \
trực tiếp các thắc mắc về hồ sơ, học phí và chính sách hỗ trợ sinh viên.

Phát biểu tại buổi lễ, lãnh đạo Sở Giáo dục và Đào tạo đề nghị nhà trường tiếp tục \
đổi mới công tác tư vấn hướng nghiệp, giúp học sinh lựa chọn ngành học phù hợp với \
năng lực và nhu cầu của thị trường lao động.

Tin, ảnh: Lê Thị Hồng Nhung
Đơn vị: Phòng Giáo dục Trung học, Sở Giáo dục và Đào tạo
"""


def article_mail(
    sender: str,
    to: str,
    subject: str = NEWS_TITLE,
    body: str = NEWS_BODY,
    *,
    sender_name: str = "Lê Thị Hồng Nhung",
    charset: str = "utf-8",
    legacy: str | None = None,
    html: bool = False,
    message_id: str | None = None,
    attachments: list[tuple[str, str, bytes]] | None = None,
    extra_headers: dict[str, str] | None = None,
) -> bytes:
    """A submission mail. ``legacy`` ("tcvn3"/"vni") types the text in that font's encoding;
    ``charset`` "windows-1258" sends it in that charset (decomposed tone marks)."""
    if legacy is not None:
        subject, body = encode_legacy(subject, legacy), encode_legacy(body, legacy)  # type: ignore[arg-type]
    msg = EmailMessage()
    local, _, domain = sender.partition("@")
    msg["From"] = Address(sender_name, local, domain)
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime(2026, 3, 15, 9, 30, tzinfo=UTC))
    msg["Message-ID"] = message_id or make_msgid(domain=domain)
    for name, value in (extra_headers or {}).items():
        msg[name] = value
    if charset.lower() in ("windows-1258", "cp1258"):
        raw = encode_cp1258(body)
        msg.set_content(raw, maintype="text", subtype="plain", cte="quoted-printable")
        msg.replace_header("Content-Type", 'text/plain; charset="windows-1258"')
    else:
        msg.set_content(body, charset=charset)
    if html:
        paragraphs = "".join(
            "<p>" + p.strip().replace("\n", "<br>") + "</p>" for p in body.split("\n\n")
        )
        msg.add_alternative(f"<html><body>{paragraphs}</body></html>", subtype="html")
    for filename, ctype, data in attachments or []:
        maintype, _, subtype = ctype.partition("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    # no folding: the standard library drops the space between folded encoded-words
    return msg.as_bytes(policy=msg.policy.clone(max_line_length=998))


_MESSAGE_ID = re.compile(rb"^Message-ID: <[^>\r\n]*>", re.MULTILINE)


def demo_mails(board_address: str) -> list[tuple[str, bytes]]:
    """The demo's inbox: (what it shows, raw mail). Fixed Message-IDs and dates: a second
    run adds nothing new. The first is sent by the member who owns its field, so it skips
    his own step and one approval (the standing deputy's) publishes it."""
    mails = [
        (
            "tin bài Unicode của Sở Giáo dục và Đào tạo, do ủy viên phụ trách lĩnh vực gửi",
            article_mail(
                "chau.lm@sgddt.demo.bientap.vn", board_address, sender_name="Lê Minh Châu"
            ),
        ),
        (
            "cùng tin bài, gõ bằng phông .VnTime (TCVN3)",
            article_mail(
                "nhung.ltt@sgddt.demo.bientap.vn",
                board_address,
                subject="Sở Y tế triển khai chiến dịch tiêm chủng mở rộng",
                body=NEWS_BODY.replace("Ngô Quyền", "Lương Thế Vinh"),
                legacy="tcvn3",
                sender_name="Lê Thị Hồng Nhung",
            ),
        ),
        (
            "văn bản có dấu MẬT",
            article_mail(
                "em.hq@stp.demo.bientap.vn",
                board_address,
                subject="Báo cáo tình hình an ninh trật tự quý I",
                body="MẬT\n\nBáo cáo nội bộ về tình hình an ninh trật tự quý I.\n\n"
                "Người viết: Hoàng Quốc Em\nĐơn vị: Sở Tư pháp\n",
                sender_name="Hoàng Quốc Em",
            ),
        ),
        (
            "thư trả lời tự động (không phải bài gửi)",
            article_mail(
                "dung.pt@syt.demo.bientap.vn",
                board_address,
                subject="Trả lời tự động: Vắng mặt tại cơ quan",
                body="Tôi đang đi công tác đến hết ngày 20/3.",
                extra_headers={"Auto-Submitted": "auto-replied"},
            ),
        ),
    ]
    return [
        (label, _MESSAGE_ID.sub(f"Message-ID: <demo-{i}@demo.bientap.vn>".encode(), raw, 1))
        for i, (label, raw) in enumerate(mails)
    ]


def message_ids(folder: Path) -> set[str]:
    """Message-IDs in a Maildir and its sub-folders (where the daemon files handled mail)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    box = mailbox.Maildir(folder, factory=None, create=True)
    boxes = [box, *(box.get_folder(name) for name in box.list_folders())]
    return {str(msg["Message-ID"]).strip() for b in boxes for msg in b if msg["Message-ID"]}


def review_link(config: str) -> str | None:
    """A fresh signed link to a seat of an item waiting for review, the one nearest the end
    of its path (approving it publishes soonest), for the demo to print; None when none."""
    from sqlalchemy import select

    from pipeline import review
    from pipeline.app import links, open_deployment
    from pipeline.models import ReviewTask, State, Submission, TaskState

    d = open_deployment(config)
    boards = {b.id: b for b in d.boards}
    try:
        with d.sessions() as s:
            task = s.scalars(
                select(ReviewTask)
                .join(Submission, Submission.id == ReviewTask.submission_id)
                .where(
                    ReviewTask.state == TaskState.PENDING,
                    ReviewTask.board_id.in_(boards),
                    Submission.state == State.PENDING_REVIEW,  # not a published item's seat
                )
                .order_by(ReviewTask.step_index.desc(), ReviewTask.id)
            ).first()
            if task is None:
                return None
            item = s.get_one(Submission, task.submission_id)
            desk = review.Desk(boards[task.board_id], s, links(d), d.files)
            return review.link(desk, item, task, task.member_id, "view")
    finally:
        d.engine.dispose()


def main(argv: list[str] | None = None) -> int:
    """Drop the demo mails into a Maildir, those not there already:
    python -m pipeline.samples MAILDIR ADDRESS
    Print a fresh link to a pending review seat (nothing if none waits):
    python -m pipeline.samples --link CONFIG"""
    import sys

    from connectors.maildir import deliver

    args = sys.argv[1:] if argv is None else argv
    if args[0] == "--link":
        print(review_link(args[1]) or "")
        return 0
    folder, address = Path(args[0]), args[1]
    there = message_ids(folder)
    for label, raw in demo_mails(address):
        found = _MESSAGE_ID.search(raw)
        if found and found.group().partition(b" ")[2].decode() in there:
            print(f"  = {label} (đã có từ lần chạy trước)")
            continue
        deliver(folder, raw)
        print(f"  + {label}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
