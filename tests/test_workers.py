"""Reader processes: a dead worker costs its messages a try, never the daemon."""

from __future__ import annotations

import os
import signal
import threading
import time
import zipfile
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path

import pytest
from sqlalchemy import select

from connectors.base import Cursor
from connectors.maildir import MaildirSource, deliver
from pipeline.app import Deployed, watchers
from pipeline.batches import weighed
from pipeline.claims import Crew
from pipeline.config import Deployment, load_board
from pipeline.db import open_database
from pipeline.docx import DOCX_TYPE
from pipeline.files import FileStore
from pipeline.models import RawMessage, Submission, utcnow
from pipeline.reading import Reading
from pipeline.runner import MailboxRunner
from pipeline.samples import article_mail
from pipeline.workers import READ_TOO_LONG, READER_DIED, Readers
from tests.helpers import CONFIG, DEMO_BOX, LINKS, make_rig, orphaned, reaped

SENDER = "a@sgddt.demo.bientap.vn"


def test_a_killed_reader_process_costs_its_messages_a_try_not_the_daemon(tmp_path: Path) -> None:
    """What the dead processes had in hand comes back as READER_DIED (a try that counts:
    one of them may be what killed it, and reading it here would kill the daemon); fresh
    processes read the rest."""
    board = load_board(CONFIG / "demo.toml")
    readers = Readers(board, FileStore(tmp_path), workers=2, ahead=4)
    readers.start()
    mails = [(i, article_mail(SENDER, DEMO_BOX, f"Tin số {i}", "Nội dung.")) for i in range(20)]
    outcomes = readers.read_all(mails)
    first = next(outcomes)
    assert readers._pool is not None
    for process in list(readers._pool._processes.values()):  # the crash: workers die
        assert process.pid is not None
        os.kill(process.pid, signal.SIGKILL)
    rest = list(outcomes)
    assert [i for i, _ in [first, *rest]] == list(range(20))
    lost = [i for i, o in rest if o == READER_DIED]
    read = [o.title for _, o in [first, *rest] if isinstance(o, Reading)]
    assert lost and sorted(read + [f"Tin số {i}" for i in lost]) == sorted(
        f"Tin số {i}" for i in range(20)
    )
    assert read[-1] == "Tin số 19"  # fresh processes read on in the same pass
    readers.close()


def slow_docx(paragraphs: int) -> bytes:
    """A .docx mammoth takes seconds over (about 5 s a megabyte of its XML)."""
    w = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"
    body = "<w:p><w:r><w:t>Giáo dục</w:t></w:r></w:p>" * paragraphs
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/'
            'vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/></Types>',
        )
        archive.writestr(
            "_rels/.rels",
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="r1" Type="{rel}" Target="word/document.xml"/></Relationships>',
        )
        archive.writestr(
            "word/document.xml", f'<w:document xmlns:w="{w}"><w:body>{body}</w:body></w:document>'
        )
    return buffer.getvalue()


DOCX = ("bai-viet.docx", DOCX_TYPE)


def test_with_default_settings_a_message_that_holds_its_reader_does_not_hold_the_daemon(
    tmp_path: Path,
) -> None:
    """``workers = 1``, the default, reads in a process of its own: a message that would
    hold the reader for hours is stopped at the time limit and costs a try, and the mail
    with it is stored in the same pass. Read in the daemon's process, nothing could stop
    it (nor survive a reader's crash or its running out of memory)."""
    board = load_board(CONFIG / "demo.toml")
    engine, sessions = open_database(f"sqlite:///{tmp_path}/b.db")
    d = Deployed(Deployment(), [board], engine, sessions, FileStore(tmp_path / "f"), tmp_path)
    [watcher] = watchers(d)
    watcher.runner.readers.timeout = 1.0  # the daemon's is five minutes
    inbox = tmp_path / "demo" / "inbox"  # the demo board's Maildir, in data_dir
    slow = attachment_mail("Tin dài", slow_docx(60_000))
    deliver(inbox, slow)
    deliver(inbox, article_mail(SENDER, DEMO_BOX, "Tin ngắn", "Nội dung."))
    try:
        assert watcher.run_once() is not None
    finally:
        watcher.close()
    with sessions() as s:
        assert [i.title for i in s.scalars(select(Submission))] == ["Tin ngắn"]
        [held] = s.scalars(select(RawMessage).where(RawMessage.raw == slow))
        assert held.attempts >= 1 and held.last_error == READ_TOO_LONG.format(seconds=1.0)


def attachment_mail(title: str, docx: bytes) -> bytes:
    return article_mail(SENDER, DEMO_BOX, title, "Xem tệp.", attachments=[(*DOCX, docx)])


def test_readers_stuck_on_a_message_are_stopped_and_fresh_ones_read_on(tmp_path: Path) -> None:
    """A message that holds a reader far longer than any article (here a .docx of
    seconds, against a one-second limit) stops that pool: what it had in hand counts a
    try, READ_TOO_LONG, and the messages after it are read."""
    board = load_board(CONFIG / "demo.toml")
    readers = Readers(board, FileStore(tmp_path), workers=2, ahead=8, timeout=1.0)
    readers.start()
    slow = attachment_mail("Tin dài", slow_docx(60_000))
    mails = [(0, slow)] + [
        (i, article_mail(SENDER, DEMO_BOX, f"Tin số {i}", "Nội dung.")) for i in range(1, 9)
    ]
    outcomes = dict(readers.read_all(mails))
    stuck = READ_TOO_LONG.format(seconds=1.0)
    assert [outcomes[i] == stuck for i in range(8)] == [True] * 8  # the pool's hand
    assert isinstance(outcomes[8], Reading) and outcomes[8].title == "Tin số 8"
    readers.close()


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "systemd"])
def test_a_stop_signalled_to_the_group_costs_the_message_in_a_readers_hand_nothing(
    tmp_path: Path, stop: signal.Signals
) -> None:
    """Ctrl-C, and systemd's stop, signal the whole process group: the daemon finishes
    what it holds and closes its readers; the reader reading meanwhile hands its reading
    back (dead of it, it cost that message a try, or handed the interrupt on)."""
    board = load_board(CONFIG / "demo.toml")
    readers = Readers(board, FileStore(tmp_path), workers=1)
    readers.start()
    assert readers._pool is not None
    [pid] = [p.pid for p in readers._pool._processes.values()]
    assert pid is not None
    done = threading.Event()

    def signal_again_and_again() -> None:
        while not done.wait(0.05):
            os.kill(pid, stop)

    pressing = threading.Thread(target=signal_again_and_again)
    pressing.start()
    try:
        [(_, outcome)] = readers.read_all([(1, attachment_mail("Tin dài", slow_docx(2_000)))])
    except KeyboardInterrupt:  # the reader died of it, and the pool handed it on
        pytest.fail("Ctrl-C stopped the reader in the middle of a message")
    finally:
        done.set()
        pressing.join()
        readers.close()
    assert isinstance(outcome, Reading) and outcome.title == "Tin dài"


def test_reader_processes_end_with_a_daemon_killed_outright(tmp_path: Path) -> None:
    """SIGKILL, or the out-of-memory killer, leaves the daemon no time to close its pool:
    its readers end on their own instead of waiting for ever."""
    script = (
        "import time; from pathlib import Path; from pipeline.config import load_board; "
        "from pipeline.files import FileStore; from pipeline.workers import Readers; "
        f"store = FileStore(Path({str(tmp_path)!r})); "
        "r = Readers(load_board(Path('config/demo.toml')), store, 2); r.start(); "
        "print(*[p.pid for p in r._pool._processes.values()], flush=True); "
        "time.sleep(600)"
    )
    pids = [int(pid) for pid in orphaned(script)]
    assert len(pids) == 2
    assert all_gone(pids)


def all_gone(pids: list[int]) -> bool:
    """Have these processes all ended? Waits a generous while: they go within a second."""
    for _ in range(300):
        if all(reaped(pid) for pid in pids):
            return True
        time.sleep(0.1)
    return False


def test_messages_read_longer_than_a_claim_lasts_are_not_counted_abandoned(
    tmp_path: Path, db_url: str
) -> None:
    """Two daemons processing a board's recorded mail, and a message its reader takes
    longer over than a claim lasts: the daemon reading keeps its claims until the batch
    is stored, so the other, looking meanwhile, counts no try against the messages in
    its hand (three such tries and a good article would be kept as failed)."""
    rig = make_rig(tmp_path, db_url)
    rig.drop(attachment_mail("Tin dài", slow_docx(6_000)))  # seconds of mammoth's time
    rig.drop(article_mail(SENDER, DEMO_BOX, "Tin ngắn", "Nội dung."))
    assert rig.runner.record() == 2
    first = rig.runner
    first.readers = Readers(rig.board, rig.files, workers=1)
    second = MailboxRunner(
        rig.board, first.mailbox, rig.sessions, rig.files, first.source, first.sender, LINKS
    )
    claim = 1.5
    for runner in (first, second):
        runner.clock, runner.crew = utcnow, Crew(claim_seconds=claim)
    reading = threading.Thread(target=first.process)
    reading.start()
    try:
        time.sleep(2 * claim)  # past the batch's first claim; the long one is in hand
        second.process()
    finally:
        reading.join()
        first.readers.close()
    with rig.sessions() as s:
        assert [raw.attempts for raw in s.scalars(select(RawMessage))] == [0, 0]
    assert sorted(i.title for i in rig.items()) == ["Tin dài", "Tin ngắn"]


# -- a backlog of large mail ------------------------------------------------------------
MB = 1024 * 1024


def large_mail(i: int, mb: int) -> bytes:
    scan = os.urandom(mb * MB)  # a scanned document: base64 makes it a third larger
    return article_mail(
        SENDER, DEMO_BOX, f"Tin số {i}", "Xem tệp.", attachments=[("scan.pdf", PDF, scan)]
    )


PDF = "application/pdf"


def test_weighed_batches_close_by_count_and_before_their_weight_would_pass_the_budget() -> None:
    assert list(weighed(range(7), 3, lambda _: 1, 100)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(weighed([5, 5, 5, 20, 1], 10, lambda n: n, 12)) == [[5, 5], [5], [20], [1]]


def test_readers_hold_a_backlog_of_large_mail_a_few_at_a_time(tmp_path: Path) -> None:
    """64 mails of 12 MB in hand were over a gigabyte in the daemon, and as much again in
    the readers: now about AHEAD_BYTES of mail is handed over at a time."""
    board = load_board(CONFIG / "demo.toml")
    readers = Readers(board, FileStore(tmp_path), workers=1, ahead=64)
    mail = large_mail(0, 12)
    handed: list[int] = []

    def backlog() -> Iterator[tuple[int, bytes]]:
        for i in range(12):
            handed.append(i)
            yield i, mail

    try:
        outcomes = readers.read_all(backlog())
        first = next(outcomes)
        # two (32 MB) in the readers' hands, the next handed as the first came back, and
        # the one looked at to close a chunk: not all twelve
        assert len(handed) <= 4, len(handed)
        rest = list(outcomes)
    finally:
        readers.close()
    assert all(isinstance(o, Reading) for _, o in [first, *rest])
    assert [i for i, _ in [first, *rest]] == list(range(12))


def test_a_maildir_backlog_of_large_mail_is_recorded_a_few_at_a_time(tmp_path: Path) -> None:
    """A Maildir was read 200 messages at a time, whatever their size: a backlog of
    scanned documents was all in memory at once before a row was written."""
    source = MaildirSource("demo", tmp_path / "inbox")
    mail = large_mail(0, 12)
    for _ in range(6):
        deliver(tmp_path / "inbox", mail)
    batches = [len(batch) for batch in source.poll(Cursor())]
    assert batches == [1, 1, 1, 1, 1, 1]  # 17 MB each, in reads of up to 32 MB
