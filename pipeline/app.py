"""A deployment put together: its boards, database, file store and mailbox runners."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from connectors.base import PermanentError, TransientError
from connectors.factory import mail_sender, mail_source
from pipeline.config import (
    Board,
    ConfigError,
    Deployment,
    Mailbox,
    load_boards,
    load_deployment,
)
from pipeline.db import open_database
from pipeline.files import FileStore
from pipeline.runner import MailboxRunner, PassResult
from pipeline.workers import Readers

log = logging.getLogger(__name__)

MAX_BACKOFF = 300.0


@dataclass
class Deployed:
    deployment: Deployment
    boards: list[Board]
    engine: Engine
    sessions: sessionmaker[Session]
    files: FileStore
    data_dir: Path


def open_deployment(
    config: str | Path, database_url: str | None = None, data_dir: str | None = None
) -> Deployed:
    deployment = load_deployment(config, {"database_url": database_url, "data_dir": data_dir})
    boards = load_boards(config)
    engine, sessions = open_database(deployment.database_url)
    root = Path(deployment.data_dir)
    return Deployed(deployment, boards, engine, sessions, FileStore(root / "files"), root)


@dataclass
class Watcher:
    """Keeps one mailbox's runner going; a failing server is retried with backoff."""

    runner: MailboxRunner
    failures: int = 0
    retry_at: float = 0.0
    last: PassResult = field(default_factory=PassResult)

    @property
    def mailbox(self) -> Mailbox:
        return next(m for m in self.runner.board.mailboxes if m.name == self.runner.mailbox)

    def run_once(self) -> PassResult | None:
        if time.monotonic() < self.retry_at:
            return None
        try:
            self.last = self.runner.run_once()
        except (TransientError, PermanentError) as exc:
            self.failures += 1
            delay = min(MAX_BACKOFF, 2.0**self.failures)
            self.retry_at = time.monotonic() + delay
            self._record_error(str(exc))
            log.warning(
                "board=%s mailbox=%s: %s (retry in %.0fs)",
                self.runner.board.id,
                self.runner.mailbox,
                exc,
                delay,
            )
            return None
        if self.failures:
            self._record_error(None)
        self.failures = 0
        return self.last

    def close(self) -> None:
        self.runner.readers.close()
        self.runner.source.close()
        self.runner.sender.close()

    def _record_error(self, error: str | None) -> None:
        with self.runner.sessions.begin() as session:
            state = self.runner.mailbox_state(session)
            state.last_error = error


def watchers(d: Deployed) -> list[Watcher]:
    """One watcher per mailbox of every board; secrets are read from the environment here."""
    out = []
    for board in d.boards:
        readers = Readers(board, d.files, d.deployment.workers)  # shared by its mailboxes
        try:
            sender = mail_sender(board.mail_out, d.data_dir)
        except ConfigError as exc:
            raise ConfigError(f"{board.source_file}: mail_out.password: {exc}") from None
        for i, box in enumerate(board.mailboxes):
            try:
                source = mail_source(box, d.data_dir)
            except ConfigError as exc:
                raise ConfigError(f"{board.source_file}: mailboxes[{i}].password: {exc}") from None
            runner = MailboxRunner(board, box.name, d.sessions, d.files, source, sender, readers)
            out.append(Watcher(runner))
    return out
