"""Sample Vietnamese submissions, for the demo run, the tests and the benchmarks.

Every person, address and event here is invented.
"""

from __future__ import annotations

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


def demo_mails(board_address: str) -> list[tuple[str, bytes]]:
    """The demo's inbox: (what it shows, raw mail). Fixed Message-IDs: a second run adds
    nothing new."""
    mails = [
        (
            "tin bài Unicode của Sở Giáo dục và Đào tạo",
            article_mail("nhung.ltt@sgddt.demo.bientap.vn", board_address),
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
        (label, raw.replace(b"Message-ID: <", f"Message-ID: <demo-{i}.".encode(), 1))
        for i, (label, raw) in enumerate(mails)
    ]


def main(argv: list[str] | None = None) -> int:
    """Drop the demo mails into a Maildir: python -m pipeline.samples MAILDIR ADDRESS"""
    import sys

    from connectors.maildir import deliver

    args = sys.argv[1:] if argv is None else argv
    folder, address = Path(args[0]), args[1]
    for label, raw in demo_mails(address):
        deliver(folder, raw)
        print(f"  + {label}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
