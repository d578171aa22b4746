"""A submission an agency forwards: the article is stored, not the mail client's forwarding.

Each shape below is what a real client writes when a clerk forwards an author's mail to
the board (Gmail, Outlook web and desktop, Thunderbird, Apple Mail; English and
Vietnamese). The stored item must carry the author's title and article, the cover note if
the clerk wrote one, and none of the header block (the author's private address included).
"""

from __future__ import annotations

import html
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import default
from email.utils import make_msgid
from pathlib import Path

import pytest

from pipeline import forwards
from pipeline.samples import NEWS_BODY, NEWS_TITLE
from tests.helpers import DEMO_BOX, Rig, make_rig

CLERK = "vanthu@sgddt.demo.bientap.vn"  # the agency's clerk, who forwards
AUTHOR = "nhung.ltt.canhan@gmail.example"  # the author's private box: must not be published
COVER = "Kính gửi Ban Biên tập, đơn vị chuyển bài của đồng chí Nhung."
PARAGRAPHS = NEWS_BODY.strip().split("\n\n")
ARTICLE_HTML = "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in PARAGRAPHS)

PLAIN = {
    "gmail": (
        "Fwd: {title}",
        "---------- Forwarded message ---------\nFrom: Lê Thị Hồng Nhung <{author}>\n"
        "Date: Sun, Mar 15, 2026 at 9:12 AM\nSubject: {title}\nTo: <{clerk}>\n\n\n{body}",
    ),
    "gmail in Vietnamese, with a cover note": (
        "Fwd: {title}",
        "{cover}\n\n---------- Thư đã chuyển tiếp ---------\nTừ: Lê Thị Hồng Nhung <{author}>\n"
        "Date: CN, 15 thg 3, 2026 vào lúc 09:12\nSubject: {title}\nTo: <{clerk}>\n\n\n{body}",
    ),
    "outlook": (
        "FW: {title}",
        "\n\n________________________________\nFrom: Lê Thị Hồng Nhung <{author}>\n"
        "Sent: Sunday, March 15, 2026 9:12 AM\nTo: Văn thư Sở <{clerk}>;\n"
        "  Phòng Trung học <trunghoc@sgddt.demo.bientap.vn>\nSubject: {title}\n\n{body}",
    ),
    "outlook in Vietnamese, no separator, with a cover note": (
        "CT: {title}",
        "{cover}\n\nTừ: Lê Thị Hồng Nhung <{author}>\nĐã gửi: Chủ Nhật, 15 tháng 3, 2026 9:12\n"
        "Đến: {clerk}\nChủ đề: {title}\n\n{body}",
    ),
    "apple mail": (
        "Fwd: {title}",
        "Begin forwarded message:\n\nFrom: Lê Thị Hồng Nhung <{author}>\nSubject: {title}\n"
        "Date: 15 March 2026 at 09:12:00 GMT+7\nTo: {clerk}\n\n{body}",
    ),
}

HTML = {
    "gmail": (
        '<div dir="ltr"><br><br><div class="gmail_quote gmail_quote_container">'
        '<div dir="ltr" class="gmail_attr">---------- Forwarded message ---------<br>From: '
        '<strong class="gmail_sendername" dir="auto">Lê Thị Hồng Nhung</strong> '
        '<span dir="auto">&lt;<a href="mailto:{author}">{author}</a>&gt;</span><br>'
        "Date: Sun, Mar 15, 2026 at 9:12 AM<br>Subject: {title}<br>"
        'To: &lt;<a href="mailto:{clerk}">{clerk}</a>&gt;<br></div><br><br>'
        '<div dir="ltr">{article}</div></div></div>'
    ),
    "outlook web, with a cover note": (
        '<div class="elementToProof">{cover}</div><div id="appendonsend"></div>'
        '<hr style="display:inline-block;width:98%" tabindex="-1">'
        '<div id="divRplyFwdMsg" dir="ltr"><font face="Calibri, sans-serif" '
        'style="font-size:11pt" color="#000000"><b>Từ:</b> Lê Thị Hồng Nhung '
        "&lt;{author}&gt;<br><b>Đã gửi:</b> Chủ Nhật, 15 tháng 3, 2026 9:12<br>"
        "<b>Đến:</b> Văn thư &lt;{clerk}&gt;<br><b>Chủ đề:</b> {title}</font>"
        "<div>&nbsp;</div></div><div>{article}</div>"
    ),
    "outlook desktop": (
        '<div class="WordSection1"><div><div style="border:none;border-top:solid #E1E1E1 '
        '1.0pt;padding:3.0pt 0cm 0cm 0cm"><p class="MsoNormal"><b><span lang="EN-US">'
        'From:</span></b><span lang="EN-US"> Lê Thị Hồng Nhung <br><b>Sent:</b> Sunday, '
        "March 15, 2026 9:12 AM<br><b>To:</b> Văn thư Sở<br><b>Subject:</b> {title}"
        "<o:p></o:p></span></p></div></div>"
        '<p class="MsoNormal"><o:p>&nbsp;</o:p></p>{article}</div>'
    ),
    "thunderbird": (
        '<div class="moz-forward-container"><br><br>-------- Forwarded Message --------'
        '<table class="moz-email-headers-table" cellpadding="0" cellspacing="0" border="0">'
        '<tbody><tr><th valign="BASELINE" nowrap="nowrap" align="RIGHT">Subject: </th>'
        "<td>{title}</td></tr><tr><th>Date: </th><td>Sun, 15 Mar 2026 09:12:00 +0700</td>"
        "</tr><tr><th>From: </th><td>Lê Thị Hồng Nhung "
        '<a class="moz-txt-link-rfc2396E" href="mailto:{author}">&lt;{author}&gt;</a></td>'
        "</tr><tr><th>To: </th><td>{clerk}</td></tr></tbody></table><br>{article}</div>"
    ),
    "apple mail, with a cover note": (
        '<div dir="auto">{cover}<br><div><br><blockquote type="cite">'
        '<div>Begin forwarded message:</div><br class="Apple-interchange-newline">'
        '<div style="margin: 0px;"><span><b>From: </b></span><span>Lê Thị Hồng Nhung '
        '&lt;<a href="mailto:{author}">{author}</a>&gt;<br></span></div>'
        '<div style="margin: 0px;"><span><b>Subject: </b></span><span><b>{title}</b><br>'
        '</span></div><div style="margin: 0px;"><span><b>Date: </b></span>'
        "<span>15 March 2026 at 09:12:00 GMT+7<br></span></div>"
        '<div style="margin: 0px;"><span><b>To: </b></span><span>{clerk}<br></span></div>'
        "<br><div>{article}</div></blockquote></div></div>"
    ),
}


UNFOLDED = default.clone(max_line_length=998)


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    return make_rig(tmp_path, f"sqlite:///{tmp_path / 'bientap.db'}")  # reading is the point


def forwarded(subject: str, *, text: str | None = None, html_body: str | None = None) -> bytes:
    msg = EmailMessage(policy=UNFOLDED)  # the standard library's folding drops a space
    msg["From"] = Address("Văn thư Sở GD&ĐT", *CLERK.split("@"))
    msg["To"] = DEMO_BOX
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="sgddt.demo.bientap.vn")
    if text is not None:
        msg.set_content(text)
    if html_body is not None:
        if text is None:
            msg.set_content(html_body, subtype="html")
        else:
            msg.add_alternative(html_body, subtype="html")
    return bytes(msg)


def fill(template: str) -> str:
    return template.format(
        title=NEWS_TITLE, author=AUTHOR, clerk=CLERK, cover=COVER, body=NEWS_BODY,
        article=ARTICLE_HTML,
    )  # fmt: skip


def assert_the_article_alone(rig: Rig, cover: bool) -> None:
    rig.runner.run_once()
    [item] = rig.items()
    assert item.title == NEWS_TITLE
    assert item.author == "Lê Thị Hồng Nhung"
    text = " ".join(item.body_text.split())
    paragraphs = [" ".join(p.split()) for p in PARAGRAPHS]
    assert text.startswith(COVER if cover else paragraphs[0])
    for paragraph in paragraphs:
        assert paragraph in text
    for leftover in (AUTHOR, CLERK, "Forwarded", "forwarded", "chuyển tiếp", "Subject", "Chủ đề"):
        assert leftover not in item.body_text and leftover not in item.body_html
    assert "<blockquote" not in item.body_html  # what was forwarded is no quotation


@pytest.mark.parametrize("client", PLAIN)
def test_a_forwarded_plain_text_article_is_stored_without_the_forwarding(
    rig: Rig, client: str
) -> None:
    subject, body = PLAIN[client]
    rig.drop(forwarded(fill(subject), text=fill(body)))
    assert_the_article_alone(rig, cover="cover" in client)


@pytest.mark.parametrize("client", HTML)
def test_a_forwarded_html_article_is_stored_without_the_forwarding(rig: Rig, client: str) -> None:
    rig.drop(forwarded(f"Fwd: {NEWS_TITLE}", html_body=fill(HTML[client])))
    assert_the_article_alone(rig, cover="cover" in client)


@pytest.mark.parametrize(
    ("subject", "title"),
    [
        ("Fwd: Fwd: Hội nghị", "Hội nghị"),
        ("RE: FW: Hội nghị", "Hội nghị"),
        ("TL: Hội nghị", "Hội nghị"),
        ("Chuyển tiếp: Hội nghị", "Hội nghị"),
        ("[Tin] Fwd: Hội nghị", "[Tin] Hội nghị"),
        ("Re[2]: Hội nghị", "Hội nghị"),
        ("Hội nghị: Re: cải cách", "Hội nghị: Re: cải cách"),
        ("Trường THPT Re", "Trường THPT Re"),
        ("Tre: cây của làng quê", "Tre: cây của làng quê"),
    ],
)
def test_the_title_loses_only_the_prefixes_a_mail_client_added(subject: str, title: str) -> None:
    assert forwards.clean_subject(subject) == title


ARTICLE_LINES = [
    # a schedule in an invitation: "Từ:" and "Chủ đề:" are the article's own
    "Chủ đề: Ngày hội tuyển sinh\nNgày: 15/3/2026\nTừ: 7 giờ 30 đến 11 giờ\nĐến: hết buổi",
    # a form's blank lines
    "Họ và tên:\n____________________\nTừ: ..........\n\nGhi chú thêm",
    # a quoted line of speech
    "Ông Nam nói:\n---------- \nTừ: nay đến cuối năm, tỉnh hoàn thành chỉ tiêu.",
]


@pytest.mark.parametrize("text", ARTICLE_LINES)
def test_an_articles_own_lines_that_look_like_a_header_stay(text: str) -> None:
    assert forwards.strip_text(text) == text
    html_text = "".join(f"<p>{html.escape(line)}</p>" for line in text.split("\n"))
    assert forwards.strip_html(html_text) == html_text


def authors_mail(photo: bytes) -> EmailMessage:
    inner = EmailMessage(policy=UNFOLDED)
    inner["From"] = Address("Lê Thị Hồng Nhung", *AUTHOR.split("@"))
    inner["To"] = CLERK
    inner["Subject"] = NEWS_TITLE
    inner.set_content(NEWS_BODY)
    inner.add_alternative(f"<html><body>{ARTICLE_HTML}</body></html>", subtype="html")
    inner.add_attachment(photo, maintype="image", subtype="jpeg", filename="ngay-hoi.jpg")
    return inner


@pytest.mark.parametrize("subject", [f"FW: {NEWS_TITLE}", ""])
def test_an_article_forwarded_as_an_attachment_is_the_submission(rig: Rig, subject: str) -> None:
    photo = b"\xff\xd8\xff\xe0 a photo of the day"
    outer = EmailMessage(policy=UNFOLDED)
    outer["From"] = Address("Văn thư Sở GD&ĐT", *CLERK.split("@"))
    outer["To"] = DEMO_BOX
    outer["Subject"] = subject
    outer.set_content(COVER)
    outer.add_attachment(authors_mail(photo))  # message/rfc822, as Outlook attaches it
    rig.drop(bytes(outer))
    rig.runner.run_once()
    [item] = rig.items()
    assert (item.title, item.agency_id, item.author) == (NEWS_TITLE, "so-gddt", "Lê Thị Hồng Nhung")
    assert "hơn 1.200 học sinh lớp 12" in item.body_text and AUTHOR not in item.body_html
    assert [(f.filename, f.role) for f in item.files] == [("ngay-hoi.jpg", "attachment")]
    assert rig.files.get(item.files[0].sha256 or "") == photo


def test_a_full_article_with_a_message_attached_for_reference_stays_the_article(rig: Rig) -> None:
    outer = EmailMessage(policy=UNFOLDED)
    outer["From"] = Address("Văn thư Sở GD&ĐT", *CLERK.split("@"))
    outer["To"] = DEMO_BOX
    outer["Subject"] = "Hội thi giáo viên dạy giỏi cấp tỉnh"
    outer.set_content("Hội thi thu hút 300 giáo viên đến từ các trường học trong tỉnh. " * 20)
    outer.add_attachment(authors_mail(b"\xff\xd8\xff\xe0"))
    rig.drop(bytes(outer))
    rig.runner.run_once()
    [item] = rig.items()
    assert item.title == "Hội thi giáo viên dạy giỏi cấp tỉnh"
    assert "300 giáo viên" in item.body_text and "1.200 học sinh" not in item.body_text
    assert [f.filename for f in item.files] == [f"{NEWS_TITLE}.eml"]
