"""Test helpers: a ready board, runner and outbox on the embedded defaults."""

from __future__ import annotations

import mailbox
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from types import FrameType

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from connectors.base import MailSender, MailSource
from connectors.maildir import MaildirSource, OutboxSender, deliver, delivery_order
from pipeline.config import Board, load_board
from pipeline.db import open_database
from pipeline.files import FileStore
from pipeline.models import Submission, utcnow
from pipeline.review import Links
from pipeline.runner import MailboxRunner
from pipeline.tokens import Signer

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "config"
CORPUS = REPO.parent / "shared" / "corpus"
DEMO_BOX = "bbt@demo.bientap.vn"
TEST_KEY = bytes(range(32))
LINKS = Links(Signer([TEST_KEY]), "http://127.0.0.1:8470")


class Clock:
    """A runner's clock that a test moves on past a retry's delay, instead of waiting."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def later(self, delay: timedelta) -> None:
        self.now += delay + timedelta(seconds=1)


@dataclass
class Rig:
    board: Board
    sessions: sessionmaker[Session]
    files: FileStore
    inbox: Path
    outbox: Path
    runner: MailboxRunner

    def drop(self, raw: bytes) -> None:
        deliver(self.inbox, raw)

    def items(self) -> list[Submission]:
        with self.sessions() as s:
            return list(
                s.scalars(
                    select(Submission)
                    .options(selectinload(Submission.files))
                    .order_by(Submission.id)
                )
            )

    def sent(self) -> list[EmailMessage]:
        """Mail delivered to the outbox, in the order it was sent."""
        box = mailbox.Maildir(self.outbox, factory=None, create=True)
        return [
            message_from_bytes(box.get_bytes(k), policy=policy.default)
            for k in sorted(box.keys(), key=delivery_order)
        ]


def make_rig(
    tmp: Path,
    db_url: str,
    board: Board | None = None,
    source: MailSource | None = None,
    sender: MailSender | None = None,
) -> Rig:
    board = board or load_board(CONFIG / "demo.toml")
    _engine, sessions = open_database(db_url)
    files = FileStore(tmp / "files")
    inbox, outbox = tmp / "inbox", tmp / "outbox"
    source = source or MaildirSource(board.mailboxes[0].name, inbox)
    sender = sender or OutboxSender(outbox)
    runner = MailboxRunner(board, board.mailboxes[0].name, sessions, files, source, sender, LINKS)
    return Rig(board, sessions, files, inbox, outbox, runner)


def orphaned(script: str) -> list[str]:
    """Run ``script`` in a child Python, read the first line it prints, then SIGKILL it:
    no atexit runs, whatever it started is orphaned. The words of that line."""
    child = subprocess.Popen(
        [sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        return child.stdout.readline().split()
    finally:
        child.kill()
        child.wait()


def reaped(pid: int) -> bool:
    """The process has exited (a zombie until pid 1 reaps it counts)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return True
    return state == "Z"


class StillWorking(BaseException):
    """What ``within`` stops slow work with: no Exception, so that the fallbacks of the code
    under test (``except Exception``, where a library may fail) do not take it for a
    failure of theirs and carry on, the test passing on what a fallback made."""


@contextmanager
def within(seconds: int = 20) -> Iterator[None]:
    """Stop the work inside with StillWorking after ``seconds``: for work that hostile
    input once held for minutes, and now takes well under a second or two."""

    def stop(_signum: int, _frame: FrameType | None) -> None:
        raise StillWorking(f"still working after {seconds} s")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
