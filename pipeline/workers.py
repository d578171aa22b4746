"""Reading messages in worker processes while the main process records earlier ones.

Reading (``pipeline/reading.py``) is pure CPU work on a message's bytes; with
``workers = N`` in ``deployment.toml`` it runs in N processes. With 1 (the
default) it runs in the calling process. A reading that raises comes back as its
error text, so one bad message never takes the others down with it.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from pipeline.config import Board
from pipeline.files import FileStore
from pipeline.reading import Reading, read

log = logging.getLogger(__name__)

Outcome = Reading | str  # a Reading, or the error that reading raised

_board: Board | None = None  # set in each worker by _start
_files: FileStore | None = None


def safe_read(board: Board, files: FileStore, raw: bytes) -> Outcome:
    try:
        return read(board, files, raw)
    except Exception as exc:  # noqa: BLE001 - reported per message by the caller
        log.exception("board=%s: reading a message failed", board.id)
        return f"{type(exc).__name__}: {exc}"


def _start(board: Board, files_root: str) -> None:
    global _board, _files
    _board, _files = board, FileStore(Path(files_root))


def _read_in_worker(raw: bytes) -> Outcome:
    assert _board is not None and _files is not None
    return safe_read(_board, _files, raw)


class Readers:
    def __init__(self, board: Board, files: FileStore, workers: int = 1) -> None:
        self.board, self.files, self.workers = board, files, workers
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # spawn, not fork: the daemon has threads (scheduler, IDLE watchers)
            self._pool = ProcessPoolExecutor(
                self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start,
                initargs=(self.board, str(self.files.root)),
            )
        return self._pool

    def read_all(self, raws: Sequence[tuple[int, bytes]]) -> Iterator[tuple[int, Outcome]]:
        """Readings in the order given; workers read ahead while the caller records."""
        if self.workers <= 1:
            for raw_id, raw in raws:
                yield raw_id, safe_read(self.board, self.files, raw)
            return
        futures: list[Future[Outcome]] = [
            self._executor().submit(_read_in_worker, raw) for _, raw in raws
        ]
        for (raw_id, raw), future in zip(raws, futures, strict=True):
            try:
                yield raw_id, future.result()
            except BrokenProcessPool:  # a worker died (a crash in a C library?)
                log.error("board=%s: a reader process died; reading here", self.board.id)
                self.close()
                yield raw_id, safe_read(self.board, self.files, raw)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
