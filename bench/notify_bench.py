#!/usr/bin/env python3
"""Notification latency: from a submission's arrival in the board's mailbox to the first
reviewer's review request landing in his own mailbox, with the real daemon on IMAP IDLE.

A throwaway Dovecot holds the board's mailbox and every member's; an SMTP sink delivers
what the daemon sends into them. The daemon (``run_pipeline.py``) runs as a subprocess on
a copy of ``config/demo.toml`` pointed at both. Each item is an education item from an
address of Sở Giáo dục và Đào tạo, so its first reviewer is the field owner
(``uv-giao-duc``). t0 is when the APPEND of the item completes, t1 when the sink has put
the review request into the reviewer's INBOX. Items go one after another, with a random
pause of 0-200 ms between them; one warm-up item (not counted) tells that the daemon is up.
As items wait for each other, at most one per poll interval can arrive while the daemon is
not listening; ``--max-pause`` spreads arrivals out.

The same is then measured for a few items with IDLE switched off: the baseline a polling
daemon gives (on average half the poll interval, at worst all of it). There the pause is
random over the whole interval, or every item would arrive just after a pass.
Target: p95 under 3 s with IDLE.

    .venv/bin/python bench/notify_bench.py [--items 200] [--poll-items 20]
        [--poll-seconds 10] [--max-pause 0.2] [--seed 1] [--keep DIR] [--verbose]
"""

from __future__ import annotations

import argparse
import math
import random
import secrets
import statistics
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from email import policy
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import tomli_w  # noqa: E402
from imapclient import IMAPClient  # noqa: E402

from pipeline.config import Board, Member, load_board  # noqa: E402
from pipeline.samples import NEWS_BODY, article_mail  # noqa: E402
from tests.daemons import Daemon  # noqa: E402
from tests.services import Dovecot, ReceivedMessage, SmtpSink, free_port  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "config" / "demo.toml"
FIELD = "giao-duc"  # the field whose owner is the first reviewer of every item
SENDER_LOCAL = "nhung.ltt"  # a staff address at the owner's agency (not the owner himself)
AUTHOR = "Lê Thị Hồng Nhung"
TOPICS = [  # education news without the demo board's sensitive keywords
    "Ngày hội tuyển sinh năm 2026",
    "Hội thi giáo viên dạy giỏi cấp tỉnh",
    "Trao học bổng cho học sinh vượt khó",
    "Khai giảng lớp bồi dưỡng giáo viên tiếng Anh",
    "Tập huấn chuyển đổi số trong trường học",
]
TARGET_P95 = 3.0
PASSWORD_ENV = "BENCH_IMAP_PASSWORD"
MISSED_AFTER = 10.0  # an item whose request has not landed after this + poll_seconds (s)
MAX_MISSED = 10  # a phase stops after this many missed items
POLL_EVERY = 0.002  # how often the sink's record is looked at (s)


# -- set-up -------------------------------------------------------------------------------
@dataclass(frozen=True)
class People:
    """The demo board's people as Dovecot users, and who sends and who is asked first."""

    board: Board
    reviewer: Member
    sender: str
    users: dict[str, str]  # address -> Dovecot user


def people(dovecot: Dovecot) -> People:
    board = load_board(DEMO)
    reviewer = next(m for m in board.members if FIELD in m.fields)
    agency = next(a for a in board.agencies if a.id == reviewer.agency)
    sender = agency.addresses[0] if agency.addresses else f"{SENDER_LOCAL}@{agency.domains[0]}"
    users = {m.email.lower(): dovecot.new_user("m").name for m in board.members}
    users[sender.lower()] = dovecot.new_user("gui").name
    return People(board, reviewer, sender, users)


def write_config(
    folder: Path, dovecot: Dovecot, box_user: str, sink: SmtpSink, idle: bool, poll: int
) -> Path:
    """``config/demo.toml`` with its mailbox on Dovecot and its mail out through the sink,
    plus a ``deployment.toml`` keeping the database and files inside ``folder``."""
    with DEMO.open("rb") as fh:
        data: dict[str, Any] = tomllib.load(fh)
    box = data["mailboxes"][0]
    data["mailboxes"] = [
        {
            "name": box["name"],
            "address": box["address"],
            "source": "imap",
            "host": dovecot.host,
            "port": dovecot.port,
            "ssl": False,
            "username": box_user,
            "password": f"env:{PASSWORD_ENV}",
            "idle": idle,
            "poll_seconds": poll,
        }
    ]
    data["mail_out"] = {
        "transport": "smtp",
        "from_address": data["mail_out"]["from_address"],
        "from_name": data["mail_out"]["from_name"],
        "host": sink.host,
        "port": sink.port,
        "starttls": False,
    }
    config = folder / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "demo.toml").write_text(tomli_w.dumps(data), encoding="utf-8")
    deployment = {
        "database_url": f"sqlite:///{folder}/bench.db",
        "data_dir": str(folder / "data"),
        "web_address": f"127.0.0.1:{free_port()}",  # never the default port of a real one
    }
    (config / "deployment.toml").write_text(tomli_w.dumps(deployment), encoding="utf-8")
    load_board(config / "demo.toml")  # a mistake here is clearer than in the daemon's log
    return config


# -- watching the reviewer's mailbox ------------------------------------------------------
def _subject(data: bytes) -> str:
    return str(BytesHeaderParser(policy=policy.default).parsebytes(data).get("Subject", ""))


class Landing:
    """Messages the sink has put into one address's mailbox, each looked at once."""

    def __init__(self, sink: SmtpSink, address: str) -> None:
        self.sink, self.address = sink, address.lower()
        self.seen = len(sink.messages)

    def _for_me(self, msg: ReceivedMessage) -> bool:
        return any(r.lower().strip("<>") == self.address for r in msg.rcpt_tos)

    def _about(self, msg: ReceivedMessage, marker: str) -> bool:
        # Not the body: a digest of pending items lists the item too.
        return marker in _subject(msg.data)

    def wait(self, marker: str, timeout: float, alive: Callable[[], None]) -> float:
        """The moment (perf_counter) a message about ``marker`` was seen in the mailbox."""
        deadline = time.perf_counter() + timeout
        first = self.seen
        while True:
            messages = self.sink.messages
            now = time.perf_counter()
            for msg in messages[self.seen :]:
                self.seen += 1
                if self._for_me(msg) and self._about(msg, marker):
                    return now
            if self.sink.errors:
                raise RuntimeError(f"the sink could not deliver: {self.sink.errors}")
            if now > deadline:
                sent = [(m.rcpt_tos, _subject(m.data)) for m in messages[first:]]
                raise TimeoutError(
                    f"no review request about {marker!r} for {self.address} in {timeout:.0f} s;"
                    f" mail sent meanwhile: {sent}"
                )
            alive()
            time.sleep(POLL_EVERY)


# -- measuring ----------------------------------------------------------------------------
def submission(p: People, i: int, tag: str, rng: random.Random) -> tuple[str, bytes]:
    """A distinct education item: its unique marker and raw message."""
    marker = f"Tin số {i} ({tag})"
    words = NEWS_BODY.split("\n\nTin, ảnh:")[0].split()
    body = " ".join(rng.sample(words, len(words) // 2))
    body = f"{body}\n\nVề công tác tuyển sinh, số {i}.\n\nTin, ảnh: {AUTHOR}\n"
    subject = f"[GD] {marker}: {rng.choice(TOPICS)}"
    box = p.board.mailboxes[0].address
    return marker, article_mail(p.sender, box, subject, body, sender_name=AUTHOR)


def one_item(
    imap: IMAPClient, raw: bytes, marker: str, landing: Landing, daemon: Daemon, poll: int
) -> float:
    """Seconds from the item's arrival to its request's landing; inf if it never lands."""
    imap.append("INBOX", raw)
    t0 = time.perf_counter()  # the APPEND has completed: the item has arrived
    try:
        return landing.wait(marker, MISSED_AFTER + poll, daemon.check) - t0
    except TimeoutError as exc:
        print(f"missed: {exc}", file=sys.stderr)
        return math.inf


@dataclass
class Phase:
    label: str
    idle: bool
    poll_seconds: int
    latencies: list[float]
    ready_seconds: float  # from starting the daemon to the warm-up's request landing
    stop_seconds: float  # from SIGTERM to exit


def run_phase(
    dovecot: Dovecot,
    sink: SmtpSink,
    p: People,
    folder: Path,
    *,
    label: str,
    idle: bool,
    poll: int,
    items: int,
    rng: random.Random,
    max_pause: float,
    verbose: bool,
) -> Phase:
    box = dovecot.new_user("bbt")
    sink.address_map[p.board.mailboxes[0].address.lower()] = box.name
    folder.mkdir(parents=True, exist_ok=True)
    config = write_config(folder, dovecot, box.name, sink, idle, poll)
    tag = secrets.token_hex(3)
    landing = Landing(sink, p.reviewer.email)
    # Without IDLE, an item sent just after the last one's request lands would wait for
    # nearly the whole interval: spread arrivals over the interval to measure the average.
    pause = max_pause if idle else float(poll)
    latencies: list[float] = []
    started = time.perf_counter()
    env = {PASSWORD_ENV: box.password}
    with Daemon(config, folder / "daemon.log", env, verbose) as daemon:
        try:
            with dovecot.client(box.name) as imap:
                marker, raw = submission(p, 0, tag, rng)  # warm-up: not counted
                imap.append("INBOX", raw)
                landing.wait(marker, 120.0 + poll, daemon.check)
                ready = time.perf_counter() - started
                for i in range(1, items + 1):
                    time.sleep(rng.uniform(0.0, pause))
                    marker, raw = submission(p, i, tag, rng)
                    latencies.append(one_item(imap, raw, marker, landing, daemon, poll))
                    if verbose:
                        print(f"  {label} {i:4d}: {latencies[-1] * 1000:8.1f} ms", flush=True)
                    if latencies.count(math.inf) > MAX_MISSED:
                        raise RuntimeError(f"more than {MAX_MISSED} requests missed: stopping")
        except Exception:
            print(f"--- daemon log ({label}) ---\n{daemon.tail()}", file=sys.stderr)
            raise
        status, stopped = daemon.stop(timeout=poll + 60.0)
    if status != 0:
        raise RuntimeError(f"the daemon ({label}) exited with {status}:\n{daemon.tail()}")
    return Phase(label, idle, poll, latencies, ready, stopped)


# -- reporting ----------------------------------------------------------------------------
def p95(values: list[float]) -> float:
    """Nearest rank: a missed item (inf) counts as slower than any other."""
    return sorted(values)[math.ceil(0.95 * len(values)) - 1]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.0f} ms" if seconds < math.inf else "  missed"


def figures(phase: Phase) -> str:
    v = phase.latencies
    missed = v.count(math.inf)
    return (
        f"{len(v):4d} items: median {ms(statistics.median(v))}, p95 {ms(p95(v))}, "
        f"max {ms(max(v))}"
        + (
            f" ({missed} missed: no request within {MISSED_AFTER:.0f} s + the poll interval)"
            if missed
            else ""
        )
    )


def report(with_idle: Phase, polled: Phase, reviewer: Member) -> None:
    poll = with_idle.poll_seconds
    print(
        f"submission appended to Dovecot -> review request in {reviewer.id}'s mailbox "
        f"(real daemon, SMTP into Dovecot)"
    )
    print(
        f"  poll interval {poll} s: a daemon without IDLE waits {poll / 2:.1f} s on average, "
        f"{poll:.1f} s at worst"
    )
    met = "met" if p95(with_idle.latencies) < TARGET_P95 else "not met"
    print(f"  IDLE on : {figures(with_idle)}   target p95 < {TARGET_P95:.0f} s: {met}")
    print(f"  IDLE off: {figures(polled)}   (baseline, measured)")
    for phase in (with_idle, polled):
        print(
            f"  daemon ({phase.label}): first request after {phase.ready_seconds:.1f} s, "
            f"exit 0 {phase.stop_seconds:.1f} s after SIGTERM"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--items", type=int, default=200, help="items measured with IDLE on")
    parser.add_argument("--poll-items", type=int, default=20, help="items with IDLE off")
    parser.add_argument("--poll-seconds", type=int, help="default: as in config/demo.toml")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--max-pause", type=float, default=0.2, help="longest random pause between items (s)"
    )
    parser.add_argument("--keep", type=Path, help="work here (databases, daemon logs), kept")
    parser.add_argument("-v", "--verbose", action="store_true", help="daemon -v, every item")
    args = parser.parse_args()
    if args.items < 2 or args.poll_items < 2:
        parser.error("--items and --poll-items need at least 2 (for a p95)")
    if args.keep is not None and args.keep.exists() and any(args.keep.iterdir()):
        parser.error(f"--keep {args.keep}: the folder is not empty")
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmpdir, Dovecot() as dovecot:
        p = people(dovecot)
        poll = args.poll_seconds or p.board.mailboxes[0].poll_seconds
        work = args.keep or Path(tmpdir)
        with SmtpSink(deliver_to=dovecot, address_map=p.users) as sink:
            phases = [
                run_phase(
                    dovecot,
                    sink,
                    p,
                    work / label,
                    label=label,
                    idle=idle,
                    poll=poll,
                    items=items,
                    rng=rng,
                    max_pause=args.max_pause,
                    verbose=args.verbose,
                )
                for label, idle, items in (
                    ("idle", True, args.items),
                    ("poll", False, args.poll_items),
                )
            ]
    report(phases[0], phases[1], p.reviewer)
    return 0


if __name__ == "__main__":
    sys.exit(main())
