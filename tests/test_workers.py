"""Reader processes: a dead worker costs its messages a try, never the daemon."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from pipeline.config import load_board
from pipeline.files import FileStore
from pipeline.reading import Reading
from pipeline.samples import article_mail
from pipeline.workers import READER_DIED, Readers
from tests.helpers import CONFIG, DEMO_BOX


def test_a_killed_reader_process_costs_its_messages_a_try_not_the_daemon(tmp_path: Path) -> None:
    """What the dead processes had in hand comes back as READER_DIED (a try that counts:
    one of them may be what killed it, and reading it here would kill the daemon); fresh
    processes read the rest."""
    board = load_board(CONFIG / "demo.toml")
    readers = Readers(board, FileStore(tmp_path), workers=2, ahead=4)
    readers.start()
    mails = [
        (i, article_mail("a@sgddt.demo.bientap.vn", DEMO_BOX, f"Tin số {i}", "Nội dung."))
        for i in range(20)
    ]
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
