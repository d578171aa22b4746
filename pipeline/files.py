"""Content-addressed file store: a file's bytes live at files/ab/cdef… by SHA-256."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path


class StoreUnavailable(Exception):
    """The store cannot be written (a full disk, a file where a folder should be): the
    message whose files these are is not at fault, and is read again later."""


def write_atomic(path: Path, data: bytes, mode: int | None = None) -> None:
    """Write ``path`` whole or not at all: a temporary file beside it, fsynced, renamed
    over it (then ``mode``, if given, is its permissions)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):  # the first error is the one to tell
            os.unlink(tmp)
        raise


class FileStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:]

    def put(self, data: bytes) -> str:
        """Store ``data`` once (atomic rename, fsync'd); return its SHA-256. A store that
        cannot be written raises StoreUnavailable."""
        digest = hashlib.sha256(data).hexdigest()
        target = self.path(digest)
        if target.exists():
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
