"""Reader processes: a dead worker costs nothing but speed."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from pipeline.config import load_board
from pipeline.files import FileStore
from pipeline.reading import Reading
from pipeline.samples import article_mail
from pipeline.workers import Readers
from tests.helpers import CONFIG, DEMO_BOX


def test_a_killed_reader_process_falls_back_to_reading_here(tmp_path: Path) -> None:
    board = load_board(CONFIG / "demo.toml")
    readers = Readers(board, FileStore(tmp_path), workers=2, ahead=4)
    readers.start()
    mails = [
        (i, article_mail("a@sgddt.demo.bientap.vn", DEMO_BOX, f"Tin số {i}", "Nội dung."))
        for i in range(12)
    ]
    outcomes = readers.read_all(mails)
    first = next(outcomes)
    assert readers._pool is not None
    for process in list(readers._pool._processes.values()):  # the crash: workers die
        assert process.pid is not None
        os.kill(process.pid, signal.SIGKILL)
    rest = list(outcomes)
    readings = [first[1], *(o for _, o in rest)]
    assert [i for i, _ in [first, *rest]] == list(range(12))
    assert all(isinstance(r, Reading) and r.outcome == "submission" for r in readings)
    assert [r.title for r in readings if isinstance(r, Reading)] == [
        f"Tin số {i}" for i in range(12)
    ]
    # the next pass starts fresh processes
    again = list(readers.read_all(mails[:3]))
    assert [r.title for _, r in again if isinstance(r, Reading)] == [
        "Tin số 0",
        "Tin số 1",
        "Tin số 2",
    ]
    readers.close()
