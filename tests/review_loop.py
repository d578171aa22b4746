"""The review loop on real servers, for tests.

A board's mailbox and every member's mailbox are Dovecot users; an SMTP server
delivers into them (plus addresses included) and stamps Authentication-Results on
each message as the board's own server would. The pipeline polls the board's mailbox
over IMAP and sends through SMTP; a test reads a reviewer's mail over IMAP and
answers through SMTP, exactly as a reviewer's mail client would.
"""

from __future__ import annotations

import smtplib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from connectors.factory import mail_sender, mail_source
from pipeline.config import Board, Member, load_board
from pipeline.db import open_database
from pipeline.files import FileStore
from pipeline.models import Event, ReviewTask, Submission, TaskState
from pipeline.review import Links
from pipeline.runner import MailboxRunner
from pipeline.tokens import Signer
from tests.helpers import CONFIG, TEST_KEY
from tests.services import Dovecot, ImapAccount, SmtpSink

AUTHSERV = "mx.bientap.test"
PASS = "dkim=pass header.d={d}; spf=pass smtp.mailfrom={d}; dmarc=pass header.from={d}"


def loop_board(board_id: str, dovecot: Dovecot, box_user: ImapAccount, sink: SmtpSink) -> Board:
    """A seed board, its first mailbox on the test Dovecot and its mail out through ``sink``."""
    data = load_board(CONFIG / f"{board_id}.toml").model_dump(exclude={"source_file"})
    first = data["mailboxes"][0]
    data["mailboxes"] = [
        {
            "name": "imap",
            "address": first["address"],
            "aliases": first["aliases"],
            "source": "imap",
            "host": dovecot.host,
            "port": dovecot.port,
            "ssl": False,
            "username": box_user.name,
            "password": "env:LOOP_IMAP_PASSWORD",
            "poll_seconds": 5,
        }
    ]
    data["mail_out"] = {
        "transport": "smtp",
        "from_address": first["address"],
        "from_name": data["mail_out"]["from_name"],
        "host": sink.host,
        "port": sink.port,
        "starttls": False,
    }
    data["review"]["reply_auth"] = {"authserv_ids": [AUTHSERV], "require": ["dmarc"]}
    return Board.model_validate(data)


@dataclass
class Loop:
    board: Board
    runner: MailboxRunner
    dovecot: Dovecot
    sink: SmtpSink
    box_user: ImapAccount
    users: dict[str, str]  # address -> Dovecot user
    auth: dict[str, str] = field(default_factory=dict)  # sender -> results to stamp instead

    # -- the pipeline's side ----------------------------------------------------------
    def submit(self, raw: bytes) -> None:
        self.dovecot.append(self.box_user.name, raw)

    def run(self) -> None:
        self.runner.run_once()

    def item(self) -> Submission:
        with self.runner.sessions() as s:
            return s.scalars(select(Submission).order_by(Submission.id.desc())).one()

    def pending(self, item_id: int) -> list[ReviewTask]:
        with self.runner.sessions() as s:
            return list(
                s.scalars(
                    select(ReviewTask)
                    .where(
                        ReviewTask.submission_id == item_id,
                        ReviewTask.state == TaskState.PENDING,
                    )
                    .order_by(ReviewTask.id)
                )
            )

    def events(self, item_id: int) -> list[Event]:
        with self.runner.sessions() as s:
            return list(
                s.scalars(select(Event).where(Event.submission_id == item_id).order_by(Event.id))
            )

    def routed_steps(self, item_id: int) -> list[str]:
        return [e.detail["step"] for e in self.events(item_id) if e.kind == "routed"]

    # -- the people's side --------------------------------------------------------------
    def inbox(self, address: str) -> list[EmailMessage]:
        raws = self.dovecot.messages(self.users[address.lower()])
        return [message_from_bytes(r, policy=policy.default) for r in raws]

    def requests(self, member: Member, tracking_code: str) -> list[EmailMessage]:
        """Review requests for an item in the member's mailbox, oldest first."""
        return [
            m
            for m in self.inbox(member.email)
            if tracking_code in str(m["Subject"]) and m["Reply-To"] is not None
        ]

    def reply(
        self,
        request: EmailMessage,
        text: str,
        *,
        sender: str,
        extra: dict[str, str] | None = None,
    ) -> None:
        """Answer ``request`` from ``sender`` as a mail client does: quoting it below."""
        body = request.get_body(("plain",))
        quoted = "\n".join(
            "> " + line for line in (body.get_content() if body else "").splitlines()
        )
        msg = EmailMessage()
        msg["From"] = formataddr(("", sender))
        msg["To"] = str(request["Reply-To"])
        msg["Subject"] = "Re: " + str(request["Subject"])
        msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2])
        msg["In-Reply-To"] = str(request["Message-ID"])
        msg["References"] = str(request["Message-ID"])
        for name, value in (extra or {}).items():
            msg[name] = value
        msg.set_content(f"{text}\n\nVào ngày ..., Ban Biên tập đã viết:\n{quoted}\n")
        self.send(msg, sender)

    def send(self, msg: EmailMessage, sender: str) -> None:
        with smtplib.SMTP(self.sink.host, self.sink.port, timeout=30) as smtp:
            smtp.send_message(msg, from_addr=sender, to_addrs=[str(msg["To"])])

    def send_bytes(self, raw: bytes, sender: str, to: str) -> None:
        """Send a mail exactly as a client wrote it (its MIME bytes untouched)."""
        with smtplib.SMTP(self.sink.host, self.sink.port, timeout=30) as smtp:
            smtp.sendmail(sender, [to], raw)

    def stamp(self, raw: bytes) -> str | None:
        """Authentication-Results as the board's server would write them."""
        headers = message_from_bytes(raw.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n")
        sender = str(headers.get("From", "")).rpartition("<")[2].strip(">").strip().lower()
        domain = sender.rpartition("@")[2]
        return f"{AUTHSERV}; {self.auth.get(sender, PASS.format(d=domain))}"


MakeLoop = Callable[..., Loop]


@pytest.fixture
def make_loop(
    tmp_path: Path,
    dovecot: Dovecot,
    make_imap_user: Callable[[str], ImapAccount],
    make_smtp_sink: Callable[..., SmtpSink],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[MakeLoop]:
    made: list[Loop] = []

    def make(
        board_id: str,
        db_url: str | None = None,
        extra_addresses: tuple[str, ...] = (),
        adjust: Callable[[dict[str, Any]], None] | None = None,
        public_url: str = "http://127.0.0.1:8470",
    ) -> Loop:
        box_user = make_imap_user("bbt")
        monkeypatch.setenv("LOOP_IMAP_PASSWORD", box_user.password)
        holder: list[Loop] = []
        sink = make_smtp_sink(
            deliver_to=dovecot, stamp=lambda raw: holder[0].stamp(raw) if holder else None
        )
        board = loop_board(board_id, dovecot, box_user, sink)
        if adjust is not None:
            data = board.model_dump(exclude={"source_file"})
            adjust(data)
            board = Board.model_validate(data)
        users = {board.mailboxes[0].address: box_user.name}
        for address in [m.email for m in board.members] + list(extra_addresses):
            users[address] = make_imap_user("m").name
        sink.address_map.update(users)
        _engine, sessions = open_database(db_url or f"sqlite:///{tmp_path}/loop{len(made)}.db")
        data_dir = tmp_path / f"data{len(made)}"
        runner = MailboxRunner(
            board,
            "imap",
            sessions,
            FileStore(data_dir / "files"),
            mail_source(board.mailboxes[0], data_dir),
            mail_sender(board.mail_out, data_dir),
            Links(Signer([TEST_KEY]), public_url),
        )
        loop = Loop(board, runner, dovecot, sink, box_user, users)
        holder.append(loop)
        made.append(loop)
        return loop

    yield make
    for loop in made:
        loop.runner.source.close()
        loop.runner.sender.close()
