"""Content-addressed file store: a file's bytes live at files/ab/cdef… by SHA-256.

A file no row names any more is removed by the purge (``pipeline/retention.py``) through
``discard``, whenever it stopped being named (a purge killed after its commit left it);
the modification time says when its bytes were last stored, so a file a reader has just
stored again, for a mail not yet recorded, is never taken from under it.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import secrets
import tempfile
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)

TEMPORARY = ".tmp-"  # a file being written, or set aside (backups leave these out)
# A file stored (or stored again) this recently may be one a reader stored for a mail
# not yet recorded; a temporary file this recent may be one still being written.
FRESH = timedelta(days=1)


class StoreUnavailable(Exception):
    """The store cannot be written (a full disk, a file where a folder should be): the
    message whose files these are is not at fault, and is read again later."""


@contextlib.contextmanager
def atomic_file(path: Path, mode: int | None = None) -> Iterator[IO[bytes]]:
    """A file to write ``path`` with, whole or not at all: a temporary file beside it,
    fsynced, renamed over it when the block ends without error (then ``mode``, if given,
    is its permissions); removed if it raises."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=TEMPORARY)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):  # the first error is the one to tell
            os.unlink(tmp)
        raise


def write_atomic(path: Path, data: bytes, mode: int | None = None) -> None:
    """Write ``path`` whole or not at all (see ``atomic_file``)."""
    with atomic_file(path, mode) as fh:
        fh.write(data)


def _stored_since(path: Path, moment: datetime) -> bool:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC) >= moment


class FileStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:]

    def put(self, data: bytes) -> str:
        """Store ``data`` once (atomic rename, fsync'd); return its SHA-256. Bytes stored
        already are marked stored again (their modification time: see ``discard``). A
        store that cannot be written raises StoreUnavailable."""
        digest = hashlib.sha256(data).hexdigest()
        target = self.path(digest)
        with contextlib.suppress(OSError):  # not there, or not ours to touch: written anew
            os.utime(target)
            return digest
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(target, data)
        except OSError as exc:
            message = f"attachment store {self.root} cannot be written: {exc}"
            raise StoreUnavailable(message) from exc
        return digest

    def get(self, sha256: str) -> bytes:
        return self.path(sha256).read_bytes()

    def digests(self) -> set[str]:
        """The SHA-256 of every file the store holds (not the temporary ones)."""
        found = set()
        for path in self.root.glob("??/*"):
            digest = path.parent.name + path.name
            if len(digest) == 64 and all(c in "0123456789abcdef" for c in digest):
                found.add(digest)
        return found

    def discard(self, digests: Iterable[str], before: datetime) -> int:
        """Remove the files of ``digests`` (no row names them) unless stored again since
        ``before``, and the temporary files older than it (left by a writer killed
        half-way). Failures are logged: the caller has committed already, a file left is
        an orphan, not an error. Returns how many files went."""
        removed = 0
        for path in [*map(self.path, digests), *self._leftovers(before)]:
            try:
                removed += self._remove_unless_stored(path, before)
            except OSError as exc:
                log.warning("attachment store: %s not removed: %s", path, exc)
        return removed

    def _leftovers(self, before: datetime) -> list[Path]:
        found = []
        for path in self.root.glob(f"*/{TEMPORARY}*"):
            with contextlib.suppress(FileNotFoundError):  # renamed into place meanwhile
                if not _stored_since(path, before):
                    found.append(path)
        return found

    @staticmethod
    def _remove_unless_stored(path: Path, before: datetime) -> bool:
        """Set ``path`` aside first: a ``put`` from then on writes it anew, and one that
        marked it just before shows in its time, and it is put back."""
        aside = path.with_name(f"{TEMPORARY}{secrets.token_hex(8)}")
        try:
            os.rename(path, aside)
        except FileNotFoundError:
            return False
        if _stored_since(aside, before):
            os.replace(aside, path)
            return False
        aside.unlink()
        return True
