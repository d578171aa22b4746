"""Reader processes: a dead worker costs its messages a try, never the daemon."""

from __future__ import annotations

import os
import signal
import zipfile
from io import BytesIO
from pathlib import Path

from pipeline.config import load_board
from pipeline.files import FileStore
from pipeline.reading import Reading
from pipeline.samples import article_mail
from pipeline.workers import READ_TOO_LONG, READER_DIED, Readers
from tests.helpers import CONFIG, DEMO_BOX

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


def test_readers_stuck_on_a_message_are_stopped_and_fresh_ones_read_on(tmp_path: Path) -> None:
    """A message that holds a reader far longer than any article (here a .docx of
    seconds, against a one-second limit) stops that pool: what it had in hand counts a
    try, READ_TOO_LONG, and the messages after it are read."""
    board = load_board(CONFIG / "demo.toml")
    readers = Readers(board, FileStore(tmp_path), workers=2, ahead=8, timeout=1.0)
    readers.start()
    docx = (
        "bai-viet.docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    )
    slow = article_mail(
        SENDER, DEMO_BOX, "Tin dài", "Xem tệp.", attachments=[(*docx, slow_docx(60_000))]
    )
    mails = [(0, slow)] + [
        (i, article_mail(SENDER, DEMO_BOX, f"Tin số {i}", "Nội dung.")) for i in range(1, 9)
    ]
    outcomes = dict(readers.read_all(mails))
    stuck = READ_TOO_LONG.format(seconds=1.0)
    assert [outcomes[i] == stuck for i in range(8)] == [True] * 8  # the pool's hand
    assert isinstance(outcomes[8], Reading) and outcomes[8].title == "Tin số 8"
    readers.close()
