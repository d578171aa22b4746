#!/usr/bin/env python3
"""Ingestion benchmark against a real Dovecot started here.

1. Drain: a backlog of N messages (default 5,000) goes through the whole pipeline
   (record, parse, normalise, sanitise, classify, check, store, receipt, file), next
   to the raw rate of fetching the same messages over IMAP and parsing them, measured
   in the same run. Target: the pipeline keeps at least a third of the raw rate.
2. Idle poll: the cost of a poll that finds nothing, on a mailbox of 50,000 messages
   next to one of 50. Target: at most 1.5x.

    .venv/bin/python bench/ingest_bench.py [--messages 5000] [--big 50000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from imapclient import IMAPClient  # noqa: E402

from connectors.imap import ImapSource  # noqa: E402
from connectors.maildir import OutboxSender  # noqa: E402
from pipeline.config import Board, load_board  # noqa: E402
from pipeline.db import open_database  # noqa: E402
from pipeline.files import FileStore  # noqa: E402
from pipeline.models import MailboxState  # noqa: E402
from pipeline.parsing import parse_message  # noqa: E402
from pipeline.runner import MailboxRunner  # noqa: E402
from pipeline.samples import article_mail  # noqa: E402
from pipeline.workers import Readers  # noqa: E402
from tests.helpers import LINKS  # noqa: E402
from tests.services import Dovecot  # noqa: E402
from tests.workload import BOX, SENDERS, backlog  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def board_for(dovecot: Dovecot, user: str) -> Board:
    data = load_board(REPO / "config" / "demo.toml").model_dump(exclude={"source_file"})
    data["mailboxes"] = [
        {
            "name": "imap",
            "address": BOX,
            "source": "imap",
            "host": dovecot.host,
            "port": dovecot.port,
            "ssl": False,
            "username": user,
            "password": "env:UNUSED",
        }
    ]
    return Board.model_validate(data)


def runner_for(dovecot: Dovecot, user: str, tmp: Path, workers: int = 1) -> MailboxRunner:
    board = board_for(dovecot, user)
    _engine, sessions = open_database(f"sqlite:///{tmp}/bench-{user}.db")
    source = ImapSource(
        "imap", dovecot.host, dovecot.port, user, dovecot.password(user), use_ssl=False
    )
    files = FileStore(tmp / "files")
    outbox = OutboxSender(tmp / f"outbox-{user}")
    readers = Readers(board, files, workers)
    return MailboxRunner(board, "imap", sessions, files, source, outbox, LINKS, readers)


def raw_fetch_and_parse(dovecot: Dovecot, user: str) -> int:
    imap = IMAPClient(dovecot.host, port=dovecot.port, ssl=False)
    imap.login(user, dovecot.password(user))
    imap.select_folder("INBOX", readonly=True)
    uids = imap.search(["ALL"])
    for start in range(0, len(uids), 200):
        data = imap.fetch(uids[start : start + 200], ["BODY.PEEK[]"])
        for item in data.values():
            parse_message(item[b"BODY[]"])
    imap.logout()
    return len(uids)


def drain(dovecot: Dovecot, tmp: Path, n: int, workers: int) -> tuple[float, float]:
    mails = backlog(n)
    raw_user = dovecot.new_user("raw").name
    pipe_user = dovecot.new_user("pipe").name
    dovecot.bulk_append(raw_user, mails)
    dovecot.bulk_append(pipe_user, mails)
    t0 = time.perf_counter()
    assert raw_fetch_and_parse(dovecot, raw_user) == n
    raw_rate = n / (time.perf_counter() - t0)
    runner = runner_for(dovecot, pipe_user, tmp, workers)
    runner.readers.start()  # a running daemon has its reader processes up already
    phases: dict[str, float] = {}
    for name, step in (
        ("record", runner.record),
        ("process", runner.process),
        ("send", runner.deliver),
        ("file", runner.file),
    ):
        t0 = time.perf_counter()
        count = step()
        phases[name] = time.perf_counter() - t0
        if name == "process":
            assert count == n, count
    pipe_rate = n / sum(phases.values())
    print(
        "  phases (ms per message): "
        + ", ".join(f"{k} {v / n * 1000:.2f}" for k, v in phases.items())
    )
    return raw_rate, pipe_rate


def idle_runner(dovecot: Dovecot, tmp: Path, size: int) -> MailboxRunner:
    """A runner on a mailbox of ``size`` messages, with every message already read."""
    user = dovecot.new_user(f"idle{size}").name
    small = article_mail(SENDERS[0], BOX, "x", "y")
    dovecot.bulk_append(
        user,
        (small.replace(b"Message-ID: <", f"Message-ID: <{i}.".encode(), 1) for i in range(size)),
    )
    runner = runner_for(dovecot, user, tmp)
    with dovecot.client(user) as imap:
        info = imap.select_folder("INBOX", readonly=True)
    with runner.sessions.begin() as s:
        s.add(
            MailboxState(
                board_id=runner.board.id,
                mailbox="imap",
                uidvalidity=int(info[b"UIDVALIDITY"]),
                last_uid=int(info[b"UIDNEXT"]) - 1,
            )
        )
    assert runner.record() == 0  # connects
    return runner


def idle_polls(runners: list[MailboxRunner], polls: int) -> list[float]:
    """Median time of an idle poll per runner; polls alternate so drift hits all alike."""
    times: list[list[float]] = [[] for _ in runners]
    for _ in range(polls):
        for i, runner in enumerate(runners):
            t0 = time.perf_counter()
            assert runner.record() == 0
            times[i].append(time.perf_counter() - t0)
    return [statistics.median(t) for t in times]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--big", type=int, default=50000)
    parser.add_argument("--small", type=int, default=50)
    parser.add_argument("--polls", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2, help="reader processes (cores)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmpdir, Dovecot() as dovecot:
        tmp = Path(tmpdir)
        raw_rate, pipe_rate = drain(dovecot, tmp, args.messages, args.workers)
        print(f"drain of {args.messages} messages from Dovecot, {args.workers} reader process(es):")
        print(f"  raw IMAP fetch + parse : {raw_rate:8.1f} msg/s  (baseline)")
        print(
            f"  bientap pipeline       : {pipe_rate:8.1f} msg/s  "
            f"= {pipe_rate / raw_rate:.2f} of raw (target >= 0.33)"
        )
        runners = [idle_runner(dovecot, tmp, n) for n in (args.small, args.big)]
        small, big = idle_polls(runners, args.polls)
        print(f"idle poll, median of {args.polls}:")
        print(f"  mailbox of {args.small:>6} : {small * 1000:7.3f} ms  (baseline)")
        print(
            f"  mailbox of {args.big:>6} : {big * 1000:7.3f} ms  "
            f"= {big / small:.2f}x (target <= 1.5x)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
