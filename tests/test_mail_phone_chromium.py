"""The HTML part of the mails, as a phone's mail app shows it (Chromium at 360 CSS px):
nothing wider than the screen, text large enough to read, buttons large enough to tap.

What submissions bring is the hard part: a title typed as one run of letters, a long
tracking link, the sender's preformatted text."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from functools import partial

from playwright.sync_api import Page, ViewportSize

from pipeline import held, review, review_mail
from pipeline.config import load_board
from pipeline.files import FileStore
from pipeline.mailbuild import Mail
from pipeline.models import Submission
from pipeline.review_mail import DigestEntry
from tests.helpers import CONFIG

PHONE: ViewportSize = {"width": 360, "height": 740}
WORD = "Hộinghịtổngkếtchuyểnđổisốquốcgiagiaiđoạnhaingànkhônghaimươisáu"  # 66 letters
URL = "https://congthongtin.demo.bientap.vn/tin-tuc/" + "-".join(["tuyen-sinh"] * 20) + "?id=12"
LINK = "https://duyet.demo.bientap.vn/r/7?t=" + "AbC" * 30

MEASURE = """() => {
  const out = {width: document.documentElement.scrollWidth, smallest: 99, lowest: 999};
  for (const el of document.body.querySelectorAll('*')) {
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (own) out.smallest = Math.min(out.smallest, parseFloat(getComputedStyle(el).fontSize));
  }
  for (const a of document.querySelectorAll('a[style*="display:block"]')) {
    out.lowest = Math.min(out.lowest, a.getBoundingClientRect().height);
  }
  return out;
}"""


def _html(mail: Mail) -> str:
    part = message_from_bytes(mail.as_bytes(), policy=policy.default).get_body(("html",))
    assert part is not None
    return str(part.get_content())


def _mails() -> dict[str, Mail]:
    board = load_board(CONFIG / "demo.toml")
    head, owner = board.member("truong-ban"), board.member("uv-giao-duc")
    item = Submission(
        tracking_code="BT-250301-K3J9X2",
        title=f"[GD] {WORD} tại Trường THPT Ngô Quyền",
        body_html=f"<p>Sở Giáo dục tổ chức hội nghị. Xem: {URL}</p><pre>{'=' * 120}</pre>",
        body_text=f"Sở Giáo dục tổ chức hội nghị. Xem: {URL}",
        sender_address="vanthu@sgddt.demo.bientap.vn",
        sender_name=f"Văn thư {WORD}",
        author=WORD,
    )
    asking = partial(  # the owner's request and the head's once it is overdue
        review_mail.review_request,
        board,
        item,
        [],
        FileStore(CONFIG / "no-files-here"),
        step_name="Ủy viên phụ trách lĩnh vực kiểm duyệt",
        view_url=LINK,
        approve_url=LINK + "&a=1",
        due_at=datetime(2030, 3, 2, 2, 30, tzinfo=UTC),
    )
    request = asking(
        recipient=owner,
        acting_for=None,
        reply_to="bbt+rk3j9x2@demo.bientap.vn",
        subject_tag="[#rk3j9x2]",
        message_id="review.k3j9x2@demo.bientap.vn",
        purpose="request",
        diff=(item.body_text or "", f"{item.body_text} {WORD}"),
        flags=[{"code": "note", "message": f"Gần trùng với {WORD}"}],
        history=[f"01/03/2030 08:15: {WORD}"],
    )
    published = review_mail.published_notice(
        board,
        item,
        recipient=head,
        public_url=URL,
        view_url=LINK,
        reply_to="bbt+rk3j9x3@demo.bientap.vn",
        subject_tag="[#rk3j9x3]",
        message_id="published.k3j9x2@demo.bientap.vn",
    )
    entry = DigestEntry(item.tracking_code, item.title or "", "Duyệt", None, True, LINK)
    digest = review_mail.digest(board, recipient=owner, entries=[entry, entry])
    refused = review_mail.refused_reply(
        board,
        to=owner,
        item=item,
        reason_vi="Thư trả lời gửi từ địa chỉ khác.",
        evidence=f"thư từ ke.gia.mao@evil.example, Message-ID {WORD}.{WORD}@evil.example",
        in_reply_to=None,
    )
    escalated = asking(
        recipient=head,
        acting_for=owner,
        acting_reason=review.CAPACITY_REASONS["escalated"],
        reply_to="bbt+rk3j9x4@demo.bientap.vn",
        subject_tag="[#rk3j9x4]",
        message_id="escalated.k3j9x2@demo.bientap.vn",
        purpose="escalated",
        diff=None,
        flags=[],
        history=[],
    )
    arrived = datetime(2030, 3, 1, 1, 15, tzinfo=UTC)
    kept = [held.Held(item, arrived)] * 3
    secretary = board.member("thu-ky")
    return {
        "request": request,
        "escalated": escalated,
        "published": published,
        "digest": digest,
        "refused": refused,
        "held": held.mail(board, secretary, kept, 3),
        "held-expired": held.expired_mail(board, secretary, kept),
    }


def test_every_mail_fits_a_phone_screen_and_its_buttons_a_finger(page: Page) -> None:
    page.set_viewport_size(PHONE)
    for kind, mail in _mails().items():
        page.set_content(_html(mail))
        seen = page.evaluate(MEASURE)
        assert seen["width"] <= PHONE["width"], f"{kind}: scrolls sideways ({seen['width']}px)"
        assert seen["smallest"] >= 14, f"{kind}: text of {seen['smallest']}px"
        assert seen["lowest"] >= 44, f"{kind}: a button {seen['lowest']}px high"
