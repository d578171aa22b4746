"""``bientap act``, ``dismiss``, ``retry``, ``publications`` and ``audit verify``: an
operator's hand on the record. What an operator does is recorded as an event with
channel "cli"."""

from __future__ import annotations

import argparse
import difflib
import sys

from rich.console import JustifyMethod
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline import audit, review
from pipeline.app import links
from pipeline.cli_argparse import command
from pipeline.cli_common import (
    BOARD,
    ITEM,
    ITEM_HELP,
    REASON,
    console,
    database,
    deployed,
    find,
    json_option,
    operator,
    print_json,
    reason,
    text,
)
from pipeline.cli_items import labelled, publication_dict
from pipeline.commands import Verb
from pipeline.config import Board, ConfigError, load_boards
from pipeline.metrics import known_boards
from pipeline.models import (
    PUB_STATE_LABELS,
    AuditHead,
    Event,
    OutgoingMail,
    Publication,
    PubState,
    ReviewTask,
    State,
    Submission,
    utcnow,
)
from pipeline.postman import MAX_SEND_ATTEMPTS


# -- act -------------------------------------------------------------------------------------
def act(args: argparse.Namespace) -> int:
    """A decision a member gave outside the mail and the links (by phone, on paper),
    recorded by an operator: channel "cli", with the operator and his reason."""
    needed = NEEDS_TEXT.get(Verb(args.verb))
    if needed and not (args.text or "").strip():  # the sender is told it, or it names whom
        print(f"act {args.verb}: cần --text: {needed}", file=sys.stderr)
        return 2
    d = deployed(args)
    signing = links(d)
    with d.sessions.begin() as session:
        item = find(session, args.id)
        if item is None:
            print(f"Không có bài {args.id} (no such item)", file=sys.stderr)
            return 1
        board = next(b for b in d.boards if b.id == item.board_id)
        known_member(board, args.member)
        desk = review.Desk(board, session, signing, d.files)
        seats = [t for t in review.tasks(desk, item) if t.state == "pending"]
        seat = next((t for t in seats if _may(desk, t, item, args.member)), None)
        if seat is None:
            print(
                f"{args.member} không có lượt duyệt nào đang mở ở bài này "
                "(no open review seat on this item)",
                file=sys.stderr,
            )
            return 1
        evidence = review.Evidence("cli", {"operator": operator(), "reason": args.reason})
        decision = review.Decision(Verb(args.verb), args.text)
        try:
            done = review.act(
                desk, seat.id, args.member, decision, item.content_hash or "", evidence
            )
        except review.Refused as exc:
            print(exc.message, file=sys.stderr)
            return 1
        audit.seal(session, board.id)
    print(done)
    return 0


# What a decision must say, by verb: the sender is told the first two, the third names whom.
NEEDS_TEXT = {
    Verb.REJECT: "lý do từ chối, gửi cho người gửi bài (the reason, sent to the sender)",
    Verb.CHANGES: "điều cần sửa, gửi cho người gửi bài (what to fix, sent to the sender)",
    Verb.FORWARD: "thành viên nhận lượt duyệt (the member to forward to)",
}


def known_member(board: Board, member: str) -> None:
    """Refuse an ``--as`` the board does not have: a typo is not "no open seat"."""
    ids = [m.id for m in board.members]
    if member in ids:
        return
    close = difflib.get_close_matches(member, ids, n=3)
    hint = f"có phải {', '.join(close)}?" if close else f"có: {', '.join(ids)}"
    raise ConfigError(f"--as: không có thành viên {member!r} ở {board.id} (no such member); {hint}")


def _may(desk: review.Desk, task: ReviewTask, item: Submission, member: str) -> bool:
    try:
        review.may_act(desk, task, item, member)
    except review.Refused:
        return False
    return True


# -- dismiss ---------------------------------------------------------------------------------
def dismiss(args: argparse.Namespace) -> int:
    """Held messages an operator judged no submission (spam, a stranger's errand): set
    aside with his reason, so they leave the held list; never answered. All or none."""
    with database(args).begin() as session:
        items = [(key, find(session, key)) for key in args.ids]
        wrong = [(key, item) for key, item in items if item is None or item.state != State.HELD]
        for key, item in wrong:
            said = "không có bài này (no such item)" if item is None else NOT_HELD
            print(f"{key}: {said}", file=sys.stderr)
        if wrong:
            return 1
        for _key, item in items:
            assert item is not None
            item.state, item.reason = State.SET_ASIDE, f"Quản trị bỏ qua: {args.reason}"
            session.add(
                Event(
                    board_id=item.board_id,
                    submission_id=item.id,
                    kind="dismissed",
                    actor=operator(),
                    channel="cli",
                    detail={"reason": args.reason},
                )
            )
        for board in sorted({item.board_id for _key, item in items if item is not None}):
            audit.seal(session, board)
    print(f"Đã bỏ qua {len(items)} thư tạm giữ (dismissed).")
    return 0


NOT_HELD = "không phải thư đang tạm giữ (not a held message)"


# -- retry -----------------------------------------------------------------------------------
def retry(args: argparse.Namespace) -> int:
    if (args.id is None) == (args.mail is None):
        print(
            "retry: cho một bài (đăng lại) hoặc --mail ID|all (an item, or --mail ID|all)",
            file=sys.stderr,
        )
        return 2
    with database(args)() as session:
        if args.mail is not None:
            return _retry_mail(session, args.mail, args.board)
        return _retry_publication(session, args.id)


def _retry_publication(session: Session, key: str) -> int:
    item = find(session, key)
    pub = (
        session.scalar(select(Publication).where(Publication.submission_id == item.id))
        if item
        else None
    )
    if item is None or pub is None:
        print(f"{key}: không có lần đăng nào (no publication)", file=sys.stderr)
        return 1
    if pub.state not in (PubState.DEAD, PubState.MISMATCH):
        print(
            f"{key}: lần đăng đang ở trạng thái {pub.state}, không phải dead hay mismatch "
            "(only a dead or mismatched publication is retried)",
            file=sys.stderr,
        )
        return 1
    # a dead withdrawal is tried again as one: the item stays off the portal
    again = PubState.WITHDRAWING if item.state == State.WITHDRAWN else PubState.QUEUED
    pub.state, pub.attempts, pub.next_attempt_at = again, 0, utcnow()
    pub.reupdated = False
    session.add(
        Event(
            board_id=item.board_id,
            submission_id=item.id,
            kind="publish-retry-requested",
            actor=operator(),
            channel="cli",
        )
    )
    session.commit()
    if again == PubState.WITHDRAWING:
        print(f"{item.tracking_code}: đã xếp hàng gỡ lại khỏi cổng (queued for withdrawal again)")
    else:
        print(f"{item.tracking_code}: đã xếp hàng đăng lại (queued for publishing again)")
    return 0


def _retry_mail(session: Session, which: str, board: str | None) -> int:
    """Mail the daemon gave up on (a refused login, a rejected recipient…) is tried again
    from its first attempt at the next pass, once the cause is fixed."""
    query = select(OutgoingMail).where(
        OutgoingMail.sent_at.is_(None), OutgoingMail.attempts >= MAX_SEND_ATTEMPTS
    )
    if which != "all":
        if not which.isdecimal():
            print("retry --mail: số thư hoặc all (a mail id or all)", file=sys.stderr)
            return 2
        query = query.where(OutgoingMail.id == int(which))
    if board:
        query = query.where(OutgoingMail.board_id == board)
    mails = list(session.scalars(query.order_by(OutgoingMail.id)))
    if not mails and which == "all":  # nothing to retry: all is well (cron says nothing)
        print("Không có thư nào đã bỏ gửi (no mail given up on)")
        return 0
    if not mails:
        print(f"Không có thư đã bỏ gửi nào khớp {which} (no mail given up on)", file=sys.stderr)
        return 1
    who = operator()
    for mail in mails:
        session.add(
            Event(
                board_id=mail.board_id,
                submission_id=mail.submission_id,
                kind="mail-retry-requested",
                actor=who,
                channel="cli",
                detail={"mail": mail.id, "reason": mail.reason, "error": mail.last_error},
            )
        )
        mail.attempts, mail.last_error = 0, None
        mail.claimed_by, mail.claimed_until = None, None
    session.commit()
    console().print(f"Đã xếp {len(mails)} thư để gửi lại ở lượt sau (queued to be sent again).")
    return 0


# -- publications, audit -----------------------------------------------------------------------
PUBLICATION_COLUMNS: tuple[tuple[str, str, JustifyMethod], ...] = (
    ("Mục", "item", "right"),
    ("Trạng thái", "state", "left"),
    ("Lần thử", "attempts", "right"),
    ("Địa chỉ", "url", "left"),
    ("Lỗi gần nhất", "last_error", "left"),
)


def publications(args: argparse.Namespace) -> int:
    with database(args)() as session:
        query = select(Publication).order_by(Publication.id)
        if args.state:
            query = query.where(Publication.state == args.state)
        rows = [publication_dict(p) for p in session.scalars(query)]
    if args.json:
        print_json(rows)
        return 0
    table = Table(title=f"{len(rows)} bài đăng (publications)", title_justify="left")
    for heading, _key, justify in PUBLICATION_COLUMNS:
        table.add_column(heading, justify=justify)
    for r in rows:
        r = r | {"state": labelled(r["state"], PUB_STATE_LABELS)}
        table.add_row(*(text(r[key]) for _h, key, _j in PUBLICATION_COLUMNS))
    console().print(table)
    return 0


def audit_verify(args: argparse.Namespace) -> int:
    configured = load_boards(args.config)
    with database(args, configured)() as session:
        sealed = session.scalars(select(AuditHead.board_id))
        named = [*(b.id for b in configured), *sealed]
        boards = [args.board] if args.board else known_boards(session, named)
        broken = 0
        for board_id in boards:
            verdict = audit.verify(session, board_id)
            if verdict.ok and not verdict.checked:
                print(f"{board_id}: chưa có sự kiện nào được ghi (nothing on record yet)")
            elif verdict.ok:
                print(
                    f"{board_id}: {verdict.checked} sự kiện, chuỗi nhật ký toàn vẹn (intact); "
                    f"mã băm cuối (last hash) #{verdict.checked} {verdict.last_hash}"
                )
            else:
                broken += 1
                print(
                    f"{board_id}: CHUỖI NHẬT KÝ BỊ PHÁ VỠ (broken) sau {verdict.checked} sự kiện: "
                    f"{verdict.problem}"
                )
    return 1 if broken else 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    actor = command(
        sub,
        "act",
        "ghi nhận quyết định thành viên đưa ra ngoài thư và liên kết, như qua điện thoại "
        "(record a reviewer's decision on his behalf)",
    )
    actor.add_argument("id", metavar=ITEM, help=ITEM_HELP)
    actor.add_argument(
        "verb",
        choices=[v.value for v in Verb],
        metavar="QUYẾT_ĐỊNH",
        help="gõ approve để duyệt, reject để từ chối, changes để yêu cầu sửa, forward để "
        "chuyển thành viên khác, withdraw để gỡ bài đã đăng (the decision)",
    )
    actor.add_argument(
        "--as",
        dest="member",
        required=True,
        metavar="THÀNH_VIÊN",
        help="mã thành viên đã quyết định (the member who decided)",
    )
    actor.add_argument(
        "--reason",
        required=True,
        type=reason,
        metavar=REASON,
        help="vì sao ghi từ đây, để lưu hồ sơ (why it is recorded from here)",
    )
    actor.add_argument(
        "--text",
        metavar="NỘI_DUNG",
        help="lý do từ chối, điều cần sửa, hoặc thành viên nhận chuyển "
        "(reason to reject, what to fix, or whom to forward to)",
    )
    actor.set_defaults(handler=act)
    dismisser = command(
        sub, "dismiss", "bỏ qua thư tạm giữ không phải bài gửi (set held messages aside)"
    )
    dismisser.add_argument(
        "ids",
        nargs="+",
        metavar="THƯ",
        help="số ID hoặc mã theo dõi của thư tạm giữ (item id or tracking code)",
    )
    dismisser.add_argument(
        "--reason",
        required=True,
        type=reason,
        metavar=REASON,
        help="lý do, để lưu hồ sơ (why, for the record)",
    )
    dismisser.set_defaults(handler=dismiss)
    retrier = command(
        sub,
        "retry",
        "đăng (hoặc gỡ) lại bài không đăng được, hoặc gửi lại thư đã bỏ gửi "
        "(publish or withdraw again, or send mail given up on again)",
    )
    retrier.add_argument(
        "id",
        nargs="?",
        metavar=ITEM,
        help="tin bài cần đăng lại: số ID hoặc mã theo dõi (the item to publish again)",
    )
    retrier.add_argument(
        "--mail",
        metavar="SỐ_THƯ",
        help="số của thư gửi đi đã bỏ gửi, hoặc all: mọi thư đã bỏ gửi "
        "(an outgoing mail's id, or all)",
    )
    retrier.add_argument(
        "--board", metavar=BOARD, help="với --mail all: chỉ một ban (one board only)"
    )
    retrier.set_defaults(handler=retry)
    pubs = command(
        sub,
        "publications",
        "các lần đăng lên cổng theo trạng thái, như bài không đăng được "
        "(publications by state: dead letters…)",
    )
    pubs.add_argument(
        "--state",
        choices=[s.value for s in PubState],
        metavar="TRẠNG_THÁI",
        help="chỉ các lần đăng ở trạng thái này (one state): %(choices)s",
    )
    json_option(pubs)
    pubs.set_defaults(handler=publications)
    auditor = command(
        sub,
        "audit",
        "kiểm tra nhật ký chống sửa đổi, chuỗi mã băm của từng ban (the tamper-evident record)",
    )
    auditor.add_argument(
        "action", choices=["verify"], help="kiểm tra (verify) chuỗi nhật ký còn toàn vẹn"
    )
    auditor.add_argument(
        "--board",
        metavar=BOARD,
        help="chỉ một ban; mặc định mọi ban có trong hồ sơ (default: every board on record)",
    )
    auditor.set_defaults(handler=audit_verify)
