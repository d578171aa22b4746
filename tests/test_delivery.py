"""Mail the board owes (receipts, review requests) through a real SMTP server (aiosmtpd):
a server that is down or refuses our login leaves the mail owed, however long it lasts;
a mail the server defers (greylisting) waits its turn without holding up the others, and
is given up only after its attempts; a refused recipient is given up at once, on record;
a refused From address, like a refused login, leaves every mail owed; so does a local
outbox that cannot be written, and the pass goes on."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from connectors.smtp import SmtpSender
from pipeline import cli
from pipeline.claims import Crew
from pipeline.models import Event, OutgoingMail, State, utcnow
from pipeline.postman import MAX_SEND_ATTEMPTS, retry_delay
from pipeline.runner import MailboxRunner
from pipeline.samples import article_mail
from tests.fixtures_mail import MakeSmtpSink
from tests.helpers import CONFIG, DEMO_BOX, LINKS, Rig, make_rig
from tests.services import SmtpSink

SENDER = "nhung.ltt@sgddt.demo.bientap.vn"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def owed(rig: Rig) -> list[OutgoingMail]:
    with rig.sessions() as s:
        return list(s.scalars(select(OutgoingMail).order_by(OutgoingMail.id)))


def to_sender(rig: Rig) -> OutgoingMail:
    [receipt] = [m for m in owed(rig) if m.to_address == SENDER]
    return receipt


def delivered_to(sink: SmtpSink) -> list[str]:
    return sorted(r for m in sink.messages for r in m.rcpt_tos)


def smtp_rig(
    tmp_path: Path, db_url: str, sink: SmtpSink, username: str | None = None, password: str = ""
) -> Rig:
    sender = SmtpSender(sink.host, sink.port, starttls=False, username=username, password=password)
    rig = make_rig(tmp_path, db_url, sender=sender)
    rig.runner.clock = Clock()
    rig.drop(article_mail(SENDER, DEMO_BOX))
    return rig


def later(rig: Rig, delay: timedelta) -> None:
    clock = rig.runner.clock
    assert isinstance(clock, Clock)
    clock.now += delay + timedelta(seconds=1)


def all_waiting(rig: Rig, passes: int, error: str, between: timedelta) -> list[OutgoingMail]:
    """Run ``passes`` passes that send nothing; every mail is still owed, none tried
    against its attempts, and the first says why (``error``)."""
    for _pass in range(passes):
        assert rig.runner.run_once().sent == 0
        later(rig, between)
    waiting = owed(rig)
    assert waiting and all(m.sent_at is None and m.attempts == 0 for m in waiting)
    assert error in (waiting[0].last_error or "")
    return waiting


def test_mail_owed_while_the_server_is_down_goes_out_once_it_is_back(
    tmp_path: Path, db_url: str, make_smtp_sink: MakeSmtpSink
) -> None:
    sink = make_smtp_sink()
    rig = smtp_rig(tmp_path, db_url, sink)
    port = sink.port
    sink.stop()
    # an outage longer than any mail's tries
    waiting = all_waiting(rig, MAX_SEND_ATTEMPTS + 4, "SMTP", timedelta(hours=1))
    [item] = rig.items()
    assert item.state == State.PENDING_REVIEW  # the submission went on meanwhile
    assert len(waiting) >= 2  # the receipt and the first reviewer's request
    sink.start(port)
    assert rig.runner.run_once().sent == len(waiting)
    assert delivered_to(sink) == sorted(m.to_address for m in waiting)  # each once


def test_a_greylisted_mail_waits_its_turn_and_the_others_are_not_held_up(
    tmp_path: Path, db_url: str, make_smtp_sink: MakeSmtpSink
) -> None:
    sink = make_smtp_sink()
    sink.refuse[SENDER] = "451 4.7.1 Greylisted, please try again later"
    rig = smtp_rig(tmp_path, db_url, sink)
    rig.runner.run_once()
    receipt = to_sender(rig)
    assert receipt.sent_at is None and receipt.attempts == 1 and "451" in (receipt.last_error or "")
    others = sorted(m.to_address for m in owed(rig) if m.to_address != SENDER)
    assert others and delivered_to(sink) == others  # the reviewers have their requests
    del sink.refuse[SENDER]  # the greylist lets it through now
    rig.runner.run_once()
    assert sink.refused == [SENDER], "not tried again before its time"
    later(rig, retry_delay(1))
    rig.runner.run_once()
    assert delivered_to(sink) == sorted([*others, SENDER])
    assert to_sender(rig).sent_at is not None


def test_a_mail_deferred_again_and_again_is_given_up_on_record(
    tmp_path: Path, db_url: str, make_smtp_sink: MakeSmtpSink
) -> None:
    sink = make_smtp_sink()
    sink.refuse[SENDER] = "452 4.2.2 Mailbox full"
    rig = smtp_rig(tmp_path, db_url, sink)
    for attempt in range(1, MAX_SEND_ATTEMPTS + 3):
        rig.runner.run_once()
        later(rig, retry_delay(attempt))
    assert sink.refused == [SENDER] * MAX_SEND_ATTEMPTS
    receipt = to_sender(rig)
    assert receipt.sent_at is None and receipt.attempts == MAX_SEND_ATTEMPTS
    with rig.sessions() as s:
        [failed] = s.scalars(select(Event).where(Event.kind == "notice-failed")).all()
    assert "452" in failed.detail["error"]


def test_a_refused_recipient_is_given_up_at_once_and_the_rest_go_out(
    tmp_path: Path, db_url: str, make_smtp_sink: MakeSmtpSink
) -> None:
    sink = make_smtp_sink()
    sink.refuse[SENDER] = "550 5.1.1 Recipient address rejected: User unknown"
    rig = smtp_rig(tmp_path, db_url, sink)
    rig.runner.run_once()
    later(rig, timedelta(days=1))
    rig.runner.run_once()
    assert sink.refused == [SENDER]  # tried once
    receipt = to_sender(rig)
    assert receipt.attempts == MAX_SEND_ATTEMPTS and "550" in (receipt.last_error or "")
    assert delivered_to(sink) == sorted(m.to_address for m in owed(rig) if m.to_address != SENDER)
    with rig.sessions() as s:
        assert s.scalars(select(Event.kind).where(Event.kind == "notice-failed")).all() != []


def waiting_shown(db_url: str, capsys: pytest.CaptureFixture[str]) -> str | None:
    """Why the demo board's mail waits, as ``bientap status --json`` says it."""
    capsys.readouterr()
    assert (
        cli.main(
            ["--config", str(CONFIG / "demo.toml"), "--database-url", db_url, "status", "--json"]
        )
        == 0
    )
    [board] = json.loads(capsys.readouterr().out)["boards"]
    error: str | None = board["mail"]["error"]
    return error


def test_a_refused_login_leaves_every_mail_owed_until_the_password_is_fixed(
    tmp_path: Path, db_url: str, make_smtp_sink: MakeSmtpSink, capsys: pytest.CaptureFixture[str]
) -> None:
    sink = make_smtp_sink(auth=("bientap", "dung-mat-khau"), auth_required=True)
    rig = smtp_rig(tmp_path, db_url, sink, username="bientap", password="sai-mat-khau")
    waiting = all_waiting(rig, 3, "login refused", timedelta(days=1))
    shown = waiting_shown(db_url, capsys)  # the operator asks why nothing goes out
    assert shown is not None and "login refused" in shown and "sai-mat-khau" not in shown
    rig.runner.sender = SmtpSender(
        sink.host, sink.port, starttls=False, username="bientap", password="dung-mat-khau"
    )
    assert rig.runner.run_once().sent == len(waiting)
    assert {m.login for m in sink.messages} == {"bientap"}
    assert waiting_shown(db_url, capsys) is None


def test_a_password_with_vietnamese_letters_logs_in(
    tmp_path: Path, db_url: str, make_smtp_sink: MakeSmtpSink
) -> None:
    """smtplib sends credentials as ASCII: the pass died of a UnicodeEncodeError and every
    mail stayed owed with no reason on record."""
    password = "Mật-khẩu-Đồng-Nai-42"
    sink = make_smtp_sink(auth=("bientap", password), auth_required=True)
    rig = smtp_rig(tmp_path, db_url, sink, username="bientap", password=password)
    assert rig.runner.run_once().sent == len(owed(rig)) > 0
    assert {m.login for m in sink.messages} == {"bientap"}


def test_a_refused_board_address_leaves_every_mail_owed(
    tmp_path: Path, db_url: str, make_smtp_sink: MakeSmtpSink
) -> None:
    """The relay refuses the board's own From address (a configuration to fix): no mail
    is given up for it, they all wait."""
    sink = make_smtp_sink()
    rig = smtp_rig(tmp_path, db_url, sink)
    board_address = rig.board.mail_out.from_address
    sink.refuse[board_address] = "553 5.7.1 Sender address rejected: not owned by user"
    waiting = all_waiting(rig, 3, "553", timedelta(days=1))
    del sink.refuse[board_address]
    assert rig.runner.run_once().sent == len(waiting)


def test_a_relay_that_dropped_the_kept_connection_gets_the_next_mail_at_once(
    tmp_path: Path, db_url: str, make_smtp_sink: MakeSmtpSink
) -> None:
    """The connection is kept between mails (no NOOP before each); a relay restarted in
    between has closed it: the sender connects again and nothing waits or is counted."""
    sink = make_smtp_sink()
    rig = smtp_rig(tmp_path, db_url, sink)
    first = rig.runner.run_once().sent
    assert first >= 2 and len(sink.messages) == first
    port = sink.port
    sink.stop()
    sink.start(port)  # our connection is gone with the old server
    rig.drop(article_mail(SENDER, DEMO_BOX, "Tin thứ hai"))
    assert rig.runner.run_once().sent == first  # a receipt and a review request again
    assert len(sink.messages) == 2 * first  # each once
    assert all(
        m.sent_at is not None and m.attempts == 1 and m.last_error is None for m in owed(rig)
    )


def test_an_outbox_that_cannot_be_written_leaves_every_mail_owed_and_the_pass_goes_on(
    tmp_path: Path, db_url: str
) -> None:
    """A file stands where the outbox folder should be (a slip in the configuration): the
    submission is still stored and filed, every mail waits with the reason, and all go
    out, once each, at the first pass after the folder can be made."""
    rig = make_rig(tmp_path, db_url)
    rig.outbox.write_text("không phải thư mục")
    rig.drop(article_mail(SENDER, DEMO_BOX))
    result = rig.runner.run_once()
    assert (result.processed, result.sent, result.filed) == (1, 0, 1)
    waiting = owed(rig)
    assert len(waiting) >= 2 and all(m.sent_at is None and m.attempts == 0 for m in waiting)
    assert f"outbox {rig.outbox} cannot be written" in (waiting[0].last_error or "")
    rig.outbox.unlink()
    assert rig.runner.run_once().sent == len(waiting)  # not held until their claims lapse
    assert sorted(m["To"].addresses[0].addr_spec for m in rig.sent()) == sorted(
        m.to_address for m in waiting
    )


def test_a_relay_slower_than_the_claims_gets_each_mail_once_from_two_senders(
    tmp_path: Path, db_url: str, make_smtp_sink: MakeSmtpSink
) -> None:
    """Two senders of the board's mail (two mailboxes' watchers, or two daemons) and a
    relay that takes longer over one mail than a claim lasts: the sender working through
    a batch keeps its claims until the batch is out, so the other, looking meanwhile,
    sends none of it again."""
    sink = make_smtp_sink()
    rig = smtp_rig(tmp_path, db_url, sink)
    rig.runner.record()
    rig.runner.process()
    waiting = owed(rig)
    assert len(waiting) >= 2 and all(m.sent_at is None for m in waiting)
    claim = 1.5
    sink.slow = 3 * claim
    first, second = rig.runner, relay_runner(rig, sink)
    for runner in (first, second):
        runner.clock, runner.crew = utcnow, Crew(claim_seconds=claim)
    sending = threading.Thread(target=first.deliver)
    sending.start()
    try:
        time.sleep(2 * claim)  # past the batch's claim; its first mail is with the relay
        second.deliver()
    finally:
        sending.join()
    assert delivered_to(sink) == sorted(m.to_address for m in waiting)  # each once
    assert all(m.sent_at is not None for m in owed(rig))


def relay_runner(rig: Rig, sink: SmtpSink) -> MailboxRunner:
    """Another sender of ``rig``'s board, with a connection of its own to the relay."""
    sender = SmtpSender(sink.host, sink.port, starttls=False)
    return MailboxRunner(
        rig.board, rig.runner.mailbox, rig.sessions, rig.files, rig.runner.source, sender, LINKS
    )
