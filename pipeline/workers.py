"""Reading messages in worker processes while the main process records earlier ones.

Reading (``pipeline/reading.py``) is pure CPU work on a message's bytes; with
``workers = N`` in ``deployment.toml`` it runs in N processes (1 by default), so a
message that crashes, exhausts or holds its reader never takes the daemon with it.
With 0 it runs in the calling process (tools and tests that need no guard). A reading
that raises comes back as its error text, so one bad message never takes the others
down with it.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from concurrent.futures import ProcessPoolExecutor as Pool
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from pipeline import logs
from pipeline.batches import weighed
from pipeline.config import Board
from pipeline.files import FileStore, StoreUnavailable
from pipeline.reading import Reading, read

log = logging.getLogger(__name__)

READER_NICENESS = 10
CHUNK = 8  # messages handed to a reader process at once: one round trip, not eight
# A chunk of large mail closes sooner, and the readers hold at most about AHEAD_BYTES of
# mail (the daemon keeps a copy of each): a backlog of 25 MB mails is not 64 of them
# in hand, well over a gigabyte, with what reading them makes of each.
CHUNK_BYTES = 4 * 1024 * 1024
AHEAD_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class Unavailable:
    """Reading could not store the message's files: no fault of the message's."""

    reason: str


# A Reading, or why there is none: the error reading raised (the message's attempt counts)
# or the store's (it does not).
Outcome = Reading | Unavailable | str
READ_TIMEOUT = 300.0  # seconds the readers may go without handing back what they read
READ_TOO_LONG = (
    "đọc thư quá {seconds:g} giây, tiến trình đọc bị dừng "
    "(reading took over {seconds:g} s; the reader was stopped)"
)
READER_DIED = (
    "tiến trình đọc thư dừng đột ngột khi đang đọc thư này "
    "(the reader process died while it was in hand: a crash, out of memory)"
)


def _mail_bytes(chunk: list[tuple[int, bytes]]) -> int:
    return sum(len(raw) for _, raw in chunk)


_board: Board | None = None  # set in each worker by _start
_files: FileStore | None = None


def safe_read(board: Board, files: FileStore, raw: bytes) -> Outcome:
    try:
        return read(board, files, raw)
    except StoreUnavailable as exc:
        return Unavailable(str(exc))
    except Exception as exc:  # noqa: BLE001 - reported per message by the caller
        log.exception("board=%s: reading a message failed", board.id)
        return f"{type(exc).__name__}: {exc}"


def _start(board: Board, files_root: str) -> None:
    global _board, _files
    _board, _files = board, FileStore(Path(files_root))
    # a reader logs as the daemon does: its format, and no secret in any line
    logs.setup(logging.INFO, logs.default_format() == "json")
    logs.hide_secrets([board])
    # Readers run ahead of the one process that records (the pipeline's narrow part): when
    # the cores are all busy, it goes first and the readers take what is left.
    os.nice(READER_NICENESS)
    # A stop is the daemon's to make: Ctrl-C and systemd's SIGTERM reach the whole process
    # group, and a reader that died of one would cost the message in its hand a try. The
    # daemon finishes what is in hand and closes the pool; a failed pool is killed.
    for stop in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop, signal.SIG_IGN)
    threading.Thread(target=_exit_with_daemon, name="exit-with-daemon", daemon=True).start()


def _exit_with_daemon() -> None:
    """A reader never outlives its daemon: a daemon killed outright (SIGKILL, the
    out-of-memory killer) cannot close its pool, and its readers would wait for ever."""
    daemon = multiprocessing.parent_process()
    if daemon is not None:
        daemon.join()
        os._exit(0)


def _ready() -> bool:
    return _board is not None


def _read_in_worker(raws: list[bytes]) -> list[Outcome]:
    assert _board is not None and _files is not None
    return [safe_read(_board, _files, raw) for raw in raws]


class Readers:
    def __init__(
        self,
        board: Board,
        files: FileStore,
        workers: int = 0,
        ahead: int = 64,
        timeout: float = READ_TIMEOUT,
    ) -> None:
        self.board, self.files, self.workers, self.ahead = board, files, workers, ahead
        self.timeout = timeout
        self._pool: Pool | None = None

    def _executor(self) -> Pool:
        """The pool, its processes up: a time limit on reading never counts their start."""
        if self._pool is None:
            # spawn, not fork: the daemon has threads (scheduler, IDLE watchers)
            self._pool = Pool(
                self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start,
                initargs=(self.board, str(self.files.root)),
            )
            for future in [self._pool.submit(_ready) for _ in range(self.workers)]:
                future.result()
        return self._pool

    def start(self) -> None:
        """Start the reader processes now (a daemon does it once; the first read would)."""
        if self.workers:
            self._executor()

    def read_all(self, raws: Iterable[tuple[int, bytes]]) -> Iterator[tuple[int, Outcome]]:
        """Readings in the order given. Workers keep up to ``ahead`` messages in hand (in
        chunks of CHUNK), so they read on while the caller records what they returned;
        large mail, fewer: chunks of about CHUNK_BYTES, about AHEAD_BYTES in hand.

        A reader process that dies (a crash in a C library, the kernel's out-of-memory
        killer) takes the messages the pool had in hand with it: each comes back as
        READER_DIED, a try that counts, and fresh processes read on. None of them is read
        again in this process: the one that killed a reader would kill the daemon. Readers
        that hand nothing back for ``timeout`` seconds are stopped the same way (a message
        that would hold them for hours), their messages READ_TOO_LONG."""
        if not self.workers:
            for raw_id, raw in raws:
                yield raw_id, safe_read(self.board, self.files, raw)
            return
        pending = deque[tuple[list[tuple[int, bytes]], Future[list[Outcome]], Pool]]()
        chunks = weighed(raws, CHUNK, lambda message: len(message[1]), CHUNK_BYTES)
        in_flight = max(1, self.ahead // CHUNK)

        def hand_over() -> None:  # up to the readers' share, by count and by size
            while len(pending) < in_flight and (
                not pending or sum(_mail_bytes(c) for c, _, _ in pending) < AHEAD_BYTES
            ):
                following = next(chunks, None)
                if following is None:
                    return
                pending.append((following, *self._submit(following)))

        hand_over()
        while pending:
            chunk, future, pool = pending.popleft()
            try:
                outcomes = future.result(timeout=self.timeout)
            except BrokenProcessPool:
                self._discard(pool, "a reader process died")
                outcomes = [READER_DIED] * len(chunk)
            except TimeoutError:
                self._discard(pool, f"nothing read came back in {self.timeout:g} s")
                outcomes = [READ_TOO_LONG.format(seconds=self.timeout)] * len(chunk)
            hand_over()
            yield from zip((raw_id for raw_id, _ in chunk), outcomes, strict=True)

    def _submit(self, chunk: list[tuple[int, bytes]]) -> tuple[Future[list[Outcome]], Pool]:
        raws = [raw for _, raw in chunk]
        pool = self._executor()
        try:
            return pool.submit(_read_in_worker, raws), pool
        except BrokenProcessPool:  # it died since the last result: fresh processes take it
            self._discard(pool, "a reader process died")
            pool = self._executor()
            return pool.submit(_read_in_worker, raws), pool

    def _discard(self, pool: Pool, why: str) -> None:
        """Drop a pool that failed (once, however many of its futures say so), killing the
        readers it has left: stuck ones, and the others of one that died (they ignore the
        SIGTERM the pool would stop them with)."""
        if pool is not self._pool:
            return
        log.error("board=%s: %s; what the readers had in hand counts a try", self.board.id, why)
        for process in list(pool._processes.values()):
            process.kill()
        pool.shutdown(wait=False, cancel_futures=True)
        self._pool = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
