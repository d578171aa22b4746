"""Ingestion from a real Dovecot, receipts through a real SMTP server. No mocked IMAP."""

from __future__ import annotations

import re
import secrets
import socket
import threading
import tracemalloc
import unicodedata
from collections.abc import Callable, Iterator
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from connectors.base import TransientError
from connectors.imap import ImapSource
from pipeline import cli
from pipeline.app import Deployed, Watcher, watchers
from pipeline.config import Board, Deployment, load_board
from pipeline.db import open_database
from pipeline.files import FileStore
from pipeline.models import (
    MailboxState,
    OutgoingMail,
    RawCopy,
    RawMessage,
    State,
    Submission,
)
from pipeline.postman import retry_delay
from pipeline.runner import MAX_ATTEMPTS
from pipeline.samples import NEWS_BODY, NEWS_TITLE, article_mail
from tests.helpers import CONFIG, Clock
from tests.services import Dovecot, ImapAccount, SmtpSink
from tests.test_daemon import demo_variant

BOARD_BOX = "bbt@demo.bientap.vn"
SENDER = "nhung.ltt@sgddt.demo.bientap.vn"


def imap_board(
    dovecot: Dovecot, account: ImapAccount, sink: SmtpSink | None, folder: str = "INBOX"
) -> Board:
    demo = load_board(CONFIG / "demo.toml")
    data = demo.model_dump(exclude={"source_file"})
    data["mailboxes"] = [
        {
            "name": "imap",
            "address": BOARD_BOX,
            "source": "imap",
            "host": dovecot.host,
            "port": dovecot.port,
            "ssl": False,
            "username": account.name,
            "password": "env:TEST_IMAP_PASSWORD",
            "folder": folder,
            "poll_seconds": 5,
        }
    ]
    if sink is not None:
        data["mail_out"] = {
            "transport": "smtp",
            "from_address": BOARD_BOX,
            "host": "127.0.0.1",
            "port": sink.port,
            "starttls": False,
            "username": sink.username,
            "password": "env:TEST_SMTP_PASSWORD",
        }
    return Board.model_validate(data)


@pytest.fixture
def deploy(
    tmp_path: Path,
    dovecot: Dovecot,
    imap_user: ImapAccount,
    smtp_sink: SmtpSink,
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[..., tuple[Deployed, Watcher]]:
    monkeypatch.setenv("TEST_IMAP_PASSWORD", imap_user.password)
    monkeypatch.setenv("TEST_SMTP_PASSWORD", smtp_sink.password or "")

    def make(folder: str = "INBOX", db_url: str | None = None) -> tuple[Deployed, Watcher]:
        board = imap_board(dovecot, imap_user, smtp_sink, folder)
        engine, sessions = open_database(db_url or f"sqlite:///{tmp_path}/b.db")
        d = Deployed(Deployment(), [board], engine, sessions, FileStore(tmp_path / "f"), tmp_path)
        [watcher] = watchers(d)
        return d, watcher

    return make


def _items(d: Deployed) -> list[Submission]:
    with d.sessions() as s:
        return list(s.scalars(select(Submission).order_by(Submission.id)))


VARIANTS: dict[str, dict[str, Any]] = {
    "utf-8": {},
    "tcvn3": {"legacy": "tcvn3"},
    "vni": {"legacy": "vni"},
    "windows-1258": {"charset": "windows-1258"},
    "nfd": {
        "subject": unicodedata.normalize("NFD", NEWS_TITLE),
        "body": unicodedata.normalize("NFD", NEWS_BODY),
    },
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_submission_from_dovecot_is_stored_clean_classified_and_acknowledged(
    deploy,
    dovecot: Dovecot,
    imap_user: ImapAccount,
    smtp_sink: SmtpSink,
    variant: str,
    db_url: str,
) -> None:
    d, watcher = deploy(db_url=db_url)
    dovecot.append(
        imap_user.name,
        article_mail(SENDER, BOARD_BOX, html=variant == "utf-8", **VARIANTS[variant]),
    )
    result = watcher.run_once()
    assert result is not None and result.processed == 1

    [item] = _items(d)
    assert item.state == State.PENDING_REVIEW
    assert item.title == NEWS_TITLE  # identical NFC text whatever the encoding
    assert unicodedata.is_normalized("NFC", item.body_text)
    assert "Ngày hội tuyển sinh năm 2026 cho hơn 1.200 học sinh lớp 12" in item.body_text
    assert "<script" not in item.body_html
    assert (item.agency_id, item.field_ids, item.member_ids) == (
        "so-gddt",
        ["giao-duc"],
        ["uv-giao-duc"],
    )
    assert item.author == "Lê Thị Hồng Nhung"
    if variant in ("tcvn3", "vni"):
        assert item.legacy_encoding == variant

    sent = smtp_sink.wait_for(2)  # the receipt, then the first reviewer's request
    [received] = [m for m in sent if m.rcpt_tos == (SENDER,)]
    receipt = message_from_bytes(received.data, policy=policy.default)
    assert item.tracking_code in str(receipt["Subject"])
    assert received.login == smtp_sink.username  # authenticated with the env secret
    # filed in the Vietnamese folder, never deleted
    assert dovecot.messages(imap_user.name, "INBOX") == []
    assert len(dovecot.messages(imap_user.name, "Đã xử lý")) == 1


def test_only_new_uids_are_fetched_and_uidvalidity_change_resyncs(
    deploy, dovecot: Dovecot, imap_user: ImapAccount
) -> None:
    folder = "Bài gửi"
    d, watcher = deploy(folder=folder)
    mails = [article_mail(SENDER, BOARD_BOX, message_id=f"<m{i}@x>") for i in range(3)]
    for raw in mails[:2]:
        dovecot.append(imap_user.name, raw, folder)
    runner = watcher.runner
    assert runner.record() == 2
    assert runner.record() == 0  # `UID n:*` returns the last message: it must be filtered
    # the folder is recreated: new UIDVALIDITY, the same two messages and a new one
    with dovecot.client(imap_user.name) as imap:
        imap.delete_folder(folder)
    for raw in mails:
        dovecot.append(imap_user.name, raw, folder)
    # The session may keep the old folder's view (or be dropped); the periodic re-SELECT
    # sees the new UIDVALIDITY and re-reads the folder without duplicating anything.
    runner.source.reselect_seconds = 0
    try:
        recorded = runner.record()
    except TransientError:  # dropped instead: the next pass reconnects
        recorded = runner.record()
    assert recorded == 1
    with d.sessions() as s:
        assert s.scalar(select(func.count(RawMessage.id))) == 3
    # all three are filed by their new UIDs, none left behind in the folder
    assert runner.process() == 3 and runner.file() == 3
    assert dovecot.messages(imap_user.name, folder) == []
    assert len(dovecot.messages(imap_user.name, "Đã xử lý")) == 3


def test_a_folder_renumbered_between_reading_and_filing_files_no_unread_mail(
    deploy, dovecot: Dovecot, imap_user: ImapAccount
) -> None:
    """The connection drops after a message is read and the folder is made again with
    other mail meanwhile: the message now at the read one's UID has not been read, and is
    not filed unread (before: it was moved to the handled folder and never became an
    item). The next pass reads the folder again and files both."""
    folder = "Bài gửi"
    d, watcher = deploy(folder=folder)
    runner = watcher.runner
    old = article_mail(SENDER, BOARD_BOX, message_id="<a@x>")
    dovecot.append(imap_user.name, old, folder)
    assert runner.record() == 1 and runner.process() == 1
    assert runner.source._client is not None
    runner.source._client._imap.sock.shutdown(socket.SHUT_RDWR)  # the connection drops
    with dovecot.client(imap_user.name) as imap:
        imap.delete_folder(folder)
    unread = article_mail(SENDER, BOARD_BOX, "Tin hai", message_id="<b@x>")
    for raw in (unread, old):  # the unread mail takes UID 1, the old one's
        dovecot.append(imap_user.name, raw, folder)
    with pytest.raises(TransientError):
        runner.file()
    runner.file()
    assert len(dovecot.messages(imap_user.name, folder)) == 2
    with dovecot.client(imap_user.name) as imap:
        assert not imap.folder_exists("Đã xử lý")  # nothing was filed
    result = watcher.run_once()
    assert result is not None and (result.recorded, result.filed) == (1, 2)
    assert [i.message_id for i in _items(d)] == ["a@x", "b@x"]
    assert dovecot.messages(imap_user.name, folder) == []
    assert len(dovecot.messages(imap_user.name, "Đã xử lý")) == 2


def test_a_message_expunged_between_search_and_fetch_is_skipped(
    deploy, dovecot: Dovecot, imap_user: ImapAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A mail client expunges a message after the pass's SEARCH: Dovecot answers the FETCH
    with NIL for it (before: the pass died on it). The rest is read and filed."""
    d, watcher = deploy()
    for i in range(3):
        dovecot.append(imap_user.name, article_mail(SENDER, BOARD_BOX, message_id=f"<e{i}@x>"))
    source = watcher.runner.source
    real_call = source._call

    def expunge_before_fetch(fn: str, *args: Any, **kwargs: Any) -> Any:
        if fn == "fetch" and not _inbox_count(dovecot, imap_user.name) < 3:
            with dovecot.client(imap_user.name) as imap:
                imap.select_folder("INBOX")
                imap.add_flags([2], [b"\\Deleted"])
                imap.expunge()
        return real_call(fn, *args, **kwargs)

    monkeypatch.setattr(source, "_call", expunge_before_fetch)
    result = watcher.run_once()
    assert result is not None and (result.recorded, result.filed) == (2, 2)
    assert [i.message_id for i in _items(d)] == ["e0@x", "e2@x"]
    assert dovecot.messages(imap_user.name) == []


def test_a_folder_read_that_is_renamed_away_is_named_in_the_error(
    deploy, dovecot: Dovecot, imap_user: ImapAccount
) -> None:
    """An operator renames the folder the mailbox reads: the passes back off and the error
    `bientap status` shows names the folder as the board's file does (imapclient's own
    text dropped its Vietnamese letters: «Bi gi»). What was read is still processed."""
    folder = "Bài gửi"
    d, watcher = deploy(folder=folder)
    dovecot.append(imap_user.name, article_mail(SENDER, BOARD_BOX, message_id="<a@x>"), folder)
    assert watcher.runner.record() == 1
    with dovecot.client(imap_user.name) as imap:
        imap.rename_folder(folder, "Bài gửi cũ")
    assert watcher.run_once() is None  # Dovecot drops the session that had it selected
    watcher.retry_at = 0  # the backoff has passed
    assert watcher.run_once() is None and watcher.failures == 2
    with d.sessions() as s:
        state = s.scalar(select(MailboxState))
        assert state is not None and f"cannot open folder '{folder}'" in (state.last_error or "")
    assert [i.state for i in _items(d)] == [State.PENDING_REVIEW]


def test_a_backlog_of_large_mail_is_fetched_a_bounded_amount_at_a_time(
    deploy, dovecot: Dovecot, imap_user: ImapAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A FETCH's answer is held whole while it is recorded: 200 mails of the 25 MB a
    board takes were 5 GB in one answer, and a daemon killed for its memory fetched them
    again on each start. Runs of about BATCH_BYTES are fetched instead (made small here:
    20 mails of 1 MB held at once before)."""
    monkeypatch.setattr("connectors.imap.BATCH_BYTES", 2 * 1024 * 1024)
    d, watcher = deploy()
    attached = [("anh.bin", "application/octet-stream", bytes(range(256)) * 3000)]
    dovecot.bulk_append(
        imap_user.name,
        (
            article_mail(SENDER, BOARD_BOX, message_id=f"<l{i}@x>", attachments=attached)
            for i in range(20)
        ),
    )
    tracemalloc.start()
    try:
        assert watcher.runner.record() == 20
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 12 * 1024 * 1024
    with d.sessions() as s:
        assert s.scalar(select(MailboxState.last_uid)) == 20


def test_a_message_whose_size_the_server_cannot_tell_does_not_hold_up_the_rest(
    deploy, dovecot: Dovecot, imap_user: ImapAccount
) -> None:
    """The sizes are asked before the mail: a message file Dovecot cannot read and whose
    name does not give its size makes it refuse that too. The mail is then fetched one
    by one, and the unreadable message is asked for again later, as ever."""
    d, watcher = deploy()
    dovecot.append(imap_user.name, article_mail(SENDER, BOARD_BOX, message_id="<bad@x>"))
    dovecot.append(imap_user.name, article_mail(SENDER, BOARD_BOX, "Tin hai", message_id="<ok@x>"))
    bad = _message_file(dovecot, imap_user.name, b"<bad@x>")
    unsized = bad.with_name(re.sub(r",[SW]=\d+", "", bad.name))
    bad.rename(unsized)
    for index in dovecot.maildir(imap_user.name).glob("dovecot.index*"):
        index.unlink()  # nor does Dovecot's index know it
    unsized.chmod(0)
    result = watcher.run_once()
    assert result is not None and (result.recorded, result.filed) == (2, 1)
    assert [i.message_id for i in _items(d)] == ["ok@x"]
    assert _inbox_count(dovecot, imap_user.name) == 1


def test_a_mailbox_closed_and_taken_again_files_its_mail(
    deploy, dovecot: Dovecot, imap_user: ImapAccount
) -> None:
    """A daemon that lost a mailbox's lease closes its connection; taking it back, it
    selects the folder again (before: MOVE failed, "illegal in state AUTH")."""
    _d, watcher = deploy()
    dovecot.append(imap_user.name, article_mail(SENDER, BOARD_BOX, message_id="<c@x>"))
    runner = watcher.runner
    assert runner.record() == 1 and runner.process() == 1
    runner.source.close()
    assert runner.file() == 1
    assert len(dovecot.messages(imap_user.name, "Đã xử lý")) == 1


def test_a_dropped_connection_is_taken_up_again_at_once_and_nothing_is_lost(
    deploy, dovecot: Dovecot, imap_user: ImapAccount, smtp_sink: SmtpSink
) -> None:
    """The server closed the session kept between passes (it restarted; Exchange and
    others end idle sessions after minutes): the next pass connects again and reads the
    new mail, with no error shown and no wait. A server that does not answer at all is
    a failure, retried with backoff."""
    d, watcher = deploy()
    dovecot.append(imap_user.name, article_mail(SENDER, BOARD_BOX, message_id="<a@x>"))
    assert watcher.run_once() is not None
    source = watcher.runner.source
    source._client._imap.sock.shutdown(socket.SHUT_RDWR)  # the connection drops
    dovecot.append(
        imap_user.name, article_mail(SENDER, BOARD_BOX, "Tin thứ hai", message_id="<b@x>")
    )
    assert watcher.run_once() is not None and watcher.failures == 0
    assert [i.message_id for i in _items(d)] == ["a@x", "b@x"]
    source._client._imap.sock.shutdown(socket.SHUT_RDWR)
    port, source.port = source.port, _closed_port()  # and nobody answers any more
    dovecot.append(
        imap_user.name, article_mail(SENDER, BOARD_BOX, "Tin thứ ba", message_id="<c@x>")
    )
    assert watcher.run_once() is None  # a transient failure, recorded with backoff
    assert watcher.failures == 1 and watcher.retry_at > 0
    source.port, watcher.retry_at = port, 0  # the server is back, the backoff has passed
    assert watcher.run_once() is not None
    assert [i.message_id for i in _items(d)] == ["a@x", "b@x", "c@x"]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again once the socket is


def test_bad_credentials_are_reported_not_fatal(
    tmp_path: Path, dovecot: Dovecot, imap_user: ImapAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_IMAP_PASSWORD", "wrong")
    board = imap_board(dovecot, imap_user, None)
    engine, sessions = open_database(f"sqlite:///{tmp_path}/b.db")
    d = Deployed(Deployment(), [board], engine, sessions, FileStore(tmp_path / "f"), tmp_path)
    [watcher] = watchers(d)
    assert watcher.run_once() is None
    with sessions() as s:
        from pipeline.models import MailboxState

        state = s.scalar(select(MailboxState))
        assert state is not None and "login refused" in (state.last_error or "")
        assert "wrong" not in (state.last_error or "")


def test_a_password_with_vietnamese_letters_logs_in(
    tmp_path: Path, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """imaplib sends LOGIN as ASCII: the pass died of a UnicodeEncodeError, with nothing on
    record («bientap status» said no error) and the daemon's --once crashed."""
    account = dovecot.add_user(f"vn{secrets.token_hex(4)}", "Mật-khẩu-Đồng-Nai-42")
    dovecot.append(account.name, article_mail(SENDER, BOARD_BOX, NEWS_TITLE, NEWS_BODY))
    monkeypatch.setenv("TEST_IMAP_PASSWORD", account.password)
    board = imap_board(dovecot, account, None)
    engine, sessions = open_database(f"sqlite:///{tmp_path}/b.db")
    d = Deployed(Deployment(), [board], engine, sessions, FileStore(tmp_path / "f"), tmp_path)
    [watcher] = watchers(d)
    try:
        result = watcher.run_once()
    finally:
        watcher.close()
    assert result is not None and result.recorded == 1
    assert [i.title for i in _items(d)] == [NEWS_TITLE]


def test_an_error_a_stopped_daemon_recorded_is_cleared_once_the_mailbox_answers(
    deploy, dovecot: Dovecot, imap_user: ImapAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The login was refused, the operator fixed the password and restarted the daemon:
    `bientap status` and /metrics stop showing the error as soon as a pass gets in."""
    monkeypatch.setenv("TEST_IMAP_PASSWORD", "wrong")
    d, refused = deploy()
    assert refused.run_once() is None
    refused.close()
    d.crew.let_go(d.sessions)  # as the stopped daemon did
    monkeypatch.setenv("TEST_IMAP_PASSWORD", imap_user.password)
    _d, restarted = deploy()
    assert restarted.run_once() is not None
    with d.sessions() as s:
        state = s.scalar(select(MailboxState))
        assert state is not None and state.last_poll_at is not None
        assert state.last_error is None


def test_while_the_mailbox_refuses_us_recorded_mail_is_still_processed_and_answered(
    deploy, dovecot: Dovecot, imap_user: ImapAccount, smtp_sink: SmtpSink
) -> None:
    """A daemon stopped after recording a message; the IMAP password is changed before
    the next one starts: that one processes the message and sends the receipt and review
    request, backs off, shows the error, and files the message once the login works."""
    _d, stopped = deploy()
    dovecot.append(imap_user.name, article_mail(SENDER, BOARD_BOX, message_id="<a@x>"))
    assert stopped.runner.record() == 1
    stopped.close()
    dovecot.add_user(imap_user.name, "changed-password")
    d, watcher = deploy()
    assert watcher.run_once() is None
    assert watcher.failures == 1 and watcher.retry_at > 0
    [item] = _items(d)
    assert item.state == State.PENDING_REVIEW
    reviewer = d.boards[0].member("uv-giao-duc").email
    receipt, request = smtp_sink.wait_for(2)
    assert (receipt.rcpt_tos, request.rcpt_tos) == ((SENDER,), (reviewer,))
    with d.sessions() as s:
        assert (
            s.scalar(select(func.count(OutgoingMail.id)).where(OutgoingMail.sent_at.is_(None))) == 0
        )
        state = s.scalar(select(MailboxState))
        assert state is not None and "login refused" in (state.last_error or "")
    dovecot.add_user(imap_user.name, imap_user.password)
    watcher.retry_at = 0  # the backoff has passed
    result = watcher.run_once()
    assert result is not None and (result.recorded, result.filed) == (0, 1)
    assert dovecot.messages(imap_user.name) == []
    assert len(smtp_sink.messages) == 2


def _two_mailboxes(
    dovecot: Dovecot,
    a: ImapAccount,
    b: ImapAccount,
    smtp_sink: SmtpSink,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    db_url: str,
) -> tuple[Deployed, Watcher, Watcher]:
    """A board reading two mailboxes (the users ``a`` and ``b``), and their watchers."""
    monkeypatch.setenv("TEST_IMAP_PASSWORD", a.password)
    monkeypatch.setenv("TEST_IMAP_PASSWORD_B", b.password)
    monkeypatch.setenv("TEST_SMTP_PASSWORD", smtp_sink.password or "")
    data = imap_board(dovecot, a, smtp_sink).model_dump(exclude={"source_file"})
    second = data["mailboxes"][0] | {
        "name": "imap2",
        "address": "toasoan@demo.bientap.vn",
        "username": b.name,
        "password": "env:TEST_IMAP_PASSWORD_B",
        "processed_folder": "Bài đã nhận",
    }
    board = Board.model_validate(data | {"mailboxes": [*data["mailboxes"], second]})
    engine, sessions = open_database(db_url)
    d = Deployed(Deployment(), [board], engine, sessions, FileStore(tmp_path / "f"), tmp_path)
    first, other = watchers(d)
    return d, first, other


@pytest.mark.parametrize("delivery", ["identical", "traced"])
def test_one_mail_sent_to_both_mailboxes_of_a_board_is_one_item_filed_in_each(
    dovecot: Dovecot,
    make_imap_user: Callable[[], ImapAccount],
    smtp_sink: SmtpSink,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    delivery: str,
    db_url: str,
) -> None:
    """Đồng Nai's board has two mailboxes; a sender writes to both. The MTA delivers a
    copy to each with its own trace fields (or, a relay, the same bytes): one item, one
    receipt, and each copy filed in its own mailbox, in that mailbox's folder."""
    a, b = make_imap_user(), make_imap_user()
    d, first, other = _two_mailboxes(dovecot, a, b, smtp_sink, tmp_path, monkeypatch, db_url)
    mail = article_mail(SENDER, BOARD_BOX, message_id="<cc@x>")
    for second_at, user in enumerate((a, b)):
        trace = (
            f"Return-Path: <{SENDER}>\r\nDelivered-To: {user.name}@demo\r\n"
            f"Received: by mx.demo for <{user.name}@demo>;\r\n"
            f"\tMon, 7 Dec 2026 07:00:0{second_at} +0700\r\n"
        )
        dovecot.append(user.name, (trace if delivery == "traced" else "").encode() + mail)
    assert first.run_once() is not None and other.run_once() is not None
    assert first.run_once() is not None  # filed after the item is done, in either order
    [item] = _items(d)
    assert item.state == State.PENDING_REVIEW
    with d.sessions() as s:
        [raw] = s.scalars(select(RawMessage)).all()
        assert (raw.mailbox, raw.filed) == ("imap", True)  # A's own row, not re-keyed
    assert dovecot.messages(a.name) == [] and dovecot.messages(b.name) == []
    assert len(dovecot.messages(a.name, "Đã xử lý")) == 1
    assert len(dovecot.messages(b.name, "Bài đã nhận")) == 1
    assert [m.rcpt_tos for m in smtp_sink.wait_for(2)].count((SENDER,)) == 1


def test_filing_is_not_taken_for_new_mail(deploy, dovecot: Dovecot, imap_user: ImapAccount) -> None:
    """Dovecot answers a MOVE with «* 0 RECENT»: that is no new mail, and the wait after a
    pass that filed mail does not end on it (before: every such pass was followed by
    another, which SELECTs the folder again)."""
    _d, watcher = deploy()
    dovecot.append(imap_user.name, article_mail(SENDER, BOARD_BOX, message_id="<a@x>"))
    result = watcher.run_once()
    assert result is not None and result.filed == 1
    assert watcher.runner.source.wait(1) is False


def test_idle_wakes_when_mail_arrives(deploy, dovecot: Dovecot, imap_user: ImapAccount) -> None:
    _d, watcher = deploy()
    watcher.run_once()
    outcome: list[bool] = []
    waiter = threading.Thread(target=lambda: outcome.append(watcher.runner.source.wait(60)))
    waiter.start()
    import time

    time.sleep(0.5)  # let IDLE start; the assertion is on the outcome, not on time
    dovecot.append(imap_user.name, article_mail(SENDER, BOARD_BOX))
    waiter.join(65)
    assert outcome == [True]
    assert watcher.run_once() is not None and watcher.last.processed == 1


def test_a_handled_folder_deleted_while_the_daemon_runs_is_made_again(
    deploy, dovecot: Dovecot, imap_user: ImapAccount
) -> None:
    _d, watcher = deploy()
    dovecot.append(imap_user.name, article_mail(SENDER, BOARD_BOX, message_id="<a@x>"))
    assert watcher.run_once() is not None
    with dovecot.client(imap_user.name) as imap:  # an operator deletes it meanwhile
        imap.delete_folder("Đã xử lý")
    dovecot.append(imap_user.name, article_mail(SENDER, BOARD_BOX, "Tin hai", message_id="<b@x>"))
    result = watcher.run_once()
    assert result is not None and result.filed == 1
    assert dovecot.messages(imap_user.name, "INBOX") == []
    assert len(dovecot.messages(imap_user.name, "Đã xử lý")) == 1


@pytest.mark.parametrize(
    ("folder", "lookalike"), [("Bài*", "Bài gửi cũ"), ("Xử lý 100%", "Xử lý 100")]
)
def test_a_handled_folder_named_with_a_list_wildcard_is_created(
    folder: str,
    lookalike: str,
    tmp_path: Path,
    dovecot: Dovecot,
    imap_user: ImapAccount,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``*`` and ``%`` are wildcards to LIST: another folder must not pass for this one."""
    monkeypatch.setenv("TEST_IMAP_PASSWORD", imap_user.password)
    data = imap_board(dovecot, imap_user, None).model_dump(exclude={"source_file"})
    data["mailboxes"][0]["processed_folder"] = folder
    engine, sessions = open_database(f"sqlite:///{tmp_path}/b.db")
    board = Board.model_validate(data)
    d = Deployed(Deployment(), [board], engine, sessions, FileStore(tmp_path / "f"), tmp_path)
    [watcher] = watchers(d)
    with dovecot.client(imap_user.name) as imap:
        imap.create_folder(lookalike)
    dovecot.append(imap_user.name, article_mail(SENDER, BOARD_BOX, message_id="<a@x>"))
    result = watcher.run_once()
    assert result is not None and result.filed == 1
    assert len(dovecot.messages(imap_user.name, folder)) == 1
    assert dovecot.messages(imap_user.name, lookalike) == []


@pytest.fixture(scope="module")
def dovecot_without_move() -> Iterator[Dovecot]:
    """A server with neither MOVE nor UIDPLUS: filing is COPY, \\Deleted and EXPUNGE."""
    with Dovecot(capabilities="IMAP4rev1 IDLE") as server:
        yield server


def _watcher_on(
    server: Dovecot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Watcher, ImapSource, str]:
    user = server.new_user()
    monkeypatch.setenv("TEST_IMAP_PASSWORD", user.password)
    board = imap_board(server, user, None)
    engine, sessions = open_database(f"sqlite:///{tmp_path}/b.db")
    d = Deployed(Deployment(), [board], engine, sessions, FileStore(tmp_path / "f"), tmp_path)
    [watcher] = watchers(d)
    assert isinstance(watcher.runner.source, ImapSource)
    return watcher, watcher.runner.source, user.name


def test_without_move_or_uidplus_mail_is_filed_once(
    dovecot_without_move: Dovecot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = dovecot_without_move
    watcher, _source, user = _watcher_on(server, tmp_path, monkeypatch)
    server.append(user, article_mail(SENDER, BOARD_BOX, message_id="<a@x>"))
    results = []
    for _ in range(3):
        watcher.retry_at = 0
        results.append(watcher.run_once())
    assert None not in results and [r.filed for r in results if r] == [1, 0, 0]
    assert server.messages(user, "INBOX") == []
    assert len(server.messages(user, "Đã xử lý")) == 1


def test_without_uidplus_mail_someone_else_flagged_deleted_is_not_expunged(
    dovecot_without_move: Dovecot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = dovecot_without_move
    watcher, source, user = _watcher_on(server, tmp_path, monkeypatch)
    server.append(user, article_mail(SENDER, BOARD_BOX, message_id="<a@x>"))
    theirs = article_mail(SENDER, BOARD_BOX, "Tin hai", message_id="<b@x>")
    real_file = source.file

    def file_while_someone_deletes(uidvalidity: int | None, moves: Any) -> None:
        server.append(user, theirs, flags=["\\Deleted"])  # a mail client, during the pass
        real_file(uidvalidity, moves)

    monkeypatch.setattr(source, "file", file_while_someone_deletes)
    result = watcher.run_once()
    assert result is not None and result.filed == 1
    assert len(server.messages(user, "Đã xử lý")) == 1
    assert len(server.messages(user, "INBOX")) == 2  # theirs kept, ours left flagged


def test_without_uidplus_an_interrupted_filing_copies_once_more_at_most(
    dovecot_without_move: Dovecot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = dovecot_without_move
    watcher, source, user = _watcher_on(server, tmp_path, monkeypatch)
    server.append(user, article_mail(SENDER, BOARD_BOX, message_id="<a@x>"))
    real_call = source._call

    dropped: list[str] = []

    def drop_after_copy(fn: str, *args: Any, **kwargs: Any) -> Any:
        if fn == "add_flags" and not dropped:
            dropped.append(fn)
            assert source._client is not None
            source._client._imap.sock.shutdown(socket.SHUT_RDWR)  # the connection drops
        return real_call(fn, *args, **kwargs)

    monkeypatch.setattr(source, "_call", drop_after_copy)
    assert watcher.run_once() is None  # copied, then the connection dropped
    for _ in range(3):
        watcher.retry_at = 0
        assert watcher.run_once() is not None
    assert server.messages(user, "INBOX") == []
    assert len(server.messages(user, "Đã xử lý")) == 2


def test_mail_announced_with_the_answer_to_a_pass_command_is_fetched_next(
    deploy, dovecot: Dovecot, imap_user: ImapAccount
) -> None:
    """The new mail's EXISTS comes with the answer to the pass's MOVE: no later NOOP (or
    IDLE) repeats it, so it must be remembered, not left to the 5-minute re-SELECT."""
    _d, watcher = deploy()
    source = watcher.runner.source
    dovecot.append(imap_user.name, article_mail(SENDER, BOARD_BOX, message_id="<a@x>"))
    real_file = source.file

    def file_after_new_mail(uidvalidity: int | None, moves: Any) -> None:
        dovecot.append(
            imap_user.name, article_mail(SENDER, BOARD_BOX, "Tin hai", message_id="<b@x>")
        )
        real_file(uidvalidity, moves)

    source.file = file_after_new_mail
    assert watcher.run_once().recorded == 1
    source.file = real_file
    assert source.wait(5) is True  # IDLE: no need to wait for the mailbox to change
    assert watcher.run_once().recorded == 1
    assert watcher.run_once().recorded == 0


def _message_file(dovecot: Dovecot, user: str, message_id: bytes) -> Path:
    """The file in Dovecot's Maildir that holds the message ``message_id``."""
    root = dovecot.maildir(user)
    folders = (root / "new", root / "cur")
    [path] = [p for f in folders for p in f.iterdir() if message_id in p.read_bytes()]
    return path


def _inbox_count(dovecot: Dovecot, user: str) -> int:
    with dovecot.client(user) as imap:
        imap.select_folder("INBOX", readonly=True)
        return len(imap.search("ALL"))


def test_a_message_the_server_cannot_serve_is_fetched_again_and_the_rest_goes_on(
    deploy, dovecot: Dovecot, imap_user: ImapAccount
) -> None:
    """Dovecot cannot read one message file (the FETCH of the chunk fails, with BYE): the
    mail behind it goes on, the cursor past both; once the file can be read, a later pass
    fetches the message and it becomes an item like any other, and is filed."""
    d, watcher = deploy()
    watcher.runner.clock = clock = Clock()
    dovecot.append(imap_user.name, article_mail(SENDER, BOARD_BOX, message_id="<bad@x>"))
    dovecot.append(imap_user.name, article_mail(SENDER, BOARD_BOX, "Tin hai", message_id="<ok@x>"))
    bad = _message_file(dovecot, imap_user.name, b"<bad@x>")
    mode = bad.stat().st_mode
    bad.chmod(0)  # Dovecot cannot read it
    result = watcher.run_once()
    assert result is not None and result.recorded == 2 and result.filed == 1
    [good] = _items(d)
    assert good.message_id == "ok@x" and good.state == State.PENDING_REVIEW
    with d.sessions() as s:
        assert s.scalars(select(MailboxState.last_uid)).one() == 2  # not held up by it
    assert _inbox_count(dovecot, imap_user.name) == 1
    _message_file(dovecot, imap_user.name, b"<bad@x>").chmod(mode)  # put right
    clock.later(retry_delay(1))
    result = watcher.run_once()
    assert result is not None and (result.recorded, result.processed, result.filed) == (0, 1, 1)
    good, late = _items(d)
    assert late.message_id == "bad@x" and late.state == State.PENDING_REVIEW
    assert late.title == NEWS_TITLE
    assert _inbox_count(dovecot, imap_user.name) == 0
    assert len(dovecot.messages(imap_user.name, "Đã xử lý")) == 2


def test_a_message_never_served_is_kept_failed_and_reprocessed_from_the_mailbox(
    deploy,
    dovecot: Dovecot,
    imap_user: ImapAccount,
    tmp_path: Path,
    db_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Refused at every try, the message is kept as a failed item with the server's
    answer, left in the mailbox. Once the file is put right, ``bientap reprocess`` fetches
    it from the mailbox and the failed item becomes the proper one."""
    d, watcher = deploy(db_url=db_url)
    watcher.runner.clock = clock = Clock()
    dovecot.append(imap_user.name, article_mail(SENDER, BOARD_BOX, message_id="<bad@x>"))
    bad = _message_file(dovecot, imap_user.name, b"<bad@x>")
    mode = bad.stat().st_mode
    bad.chmod(0)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        assert _items(d) == []  # not yet: it is asked for again
        assert watcher.run_once() is not None
        clock.later(retry_delay(attempt))
    [failed] = _items(d)
    assert failed.state == State.FAILED and "không trả được thư" in (failed.reason or "")
    assert f"sau {MAX_ATTEMPTS} lần thử" in (failed.reason or "")
    assert "FETCH failed" in (failed.reason or "")
    assert watcher.run_once() is not None  # the tries are over: it is not asked again
    assert [i.state for i in _items(d)] == [State.FAILED]
    assert _inbox_count(dovecot, imap_user.name) == 1
    _message_file(dovecot, imap_user.name, b"<bad@x>").chmod(mode)
    config = demo_variant(
        tmp_path / "imap.toml",
        ('name = "hop-thu-chinh"', 'name = "imap"'),
        (
            'source = "maildir"\npath = "demo/inbox"',
            f'source = "imap"\nhost = "{dovecot.host}"\nport = {dovecot.port}\nssl = false\n'
            f'username = "{imap_user.name}"\npassword = "env:TEST_IMAP_PASSWORD"',
        ),
    )
    monkeypatch.setenv("BIENTAP_DATA_DIR", str(tmp_path))
    code = cli.main(["--config", str(config), "--database-url", db_url, "reprocess", "--failed"])
    out = capsys.readouterr().out
    assert code == 0 and "Chờ duyệt" in out
    [item] = _items(d)
    assert (item.id, item.tracking_code) == (failed.id, failed.tracking_code)
    assert item.message_id == "bad@x" and item.state == State.PENDING_REVIEW
    assert item.title == NEWS_TITLE
    result = watcher.run_once()
    assert result is not None and result.filed == 1
    assert _inbox_count(dovecot, imap_user.name) == 0


def test_a_mail_one_mailbox_serves_late_and_another_at_once_is_one_item(
    dovecot: Dovecot,
    make_imap_user: Callable[[], ImapAccount],
    smtp_sink: SmtpSink,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    db_url: str,
) -> None:
    """The same mail in both mailboxes; the first cannot serve its copy at first, the
    second serves it and it becomes the item. Served later, the first copy is that
    item's copy: filed with it, never a second item."""
    a, b = make_imap_user(), make_imap_user()
    d, first, other = _two_mailboxes(dovecot, a, b, smtp_sink, tmp_path, monkeypatch, db_url)
    first.runner.clock = clock = Clock()
    for user in (a, b):
        dovecot.append(user.name, article_mail(SENDER, BOARD_BOX, message_id="<cc@x>"))
    late = _message_file(dovecot, a.name, b"<cc@x>")
    mode = late.stat().st_mode
    late.chmod(0)
    assert first.run_once() is not None and other.run_once() is not None
    [item] = _items(d)
    _message_file(dovecot, a.name, b"<cc@x>").chmod(mode)
    clock.later(retry_delay(1))
    result = first.run_once()
    assert result is not None and (result.processed, result.filed) == (0, 1)
    assert [i.id for i in _items(d)] == [item.id]
    with d.sessions() as s:
        assert s.scalar(select(func.count(RawMessage.id))) == 1
        assert s.scalar(select(func.count(RawCopy.id))) == 1
    assert dovecot.messages(a.name) == [] and len(dovecot.messages(a.name, "Đã xử lý")) == 1
