"""A deployment put together: its boards, database, file store and mailbox runners."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from connectors.base import PermanentError, TransientError
from connectors.factory import cms, mail_sender, mail_source
from pipeline import audit, reminders
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
from pipeline.models import utcnow
from pipeline.publishing import Publisher
from pipeline.review import Desk, Links
from pipeline.runner import MailboxRunner, PassResult
from pipeline.tokens import Signer, TokenKeyError, load_key
from pipeline.web import WebServer, make_app
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


@dataclass
class Sweeper:
    """A board's clock-driven work: reminders, escalations, digests (pipeline/reminders.py)."""

    board: Board
    sessions: sessionmaker[Session]
    links: Links
    files: FileStore

    def run_once(self, now: datetime | None = None) -> reminders.SweepResult:
        with self.sessions.begin() as session:
            desk = Desk(self.board, session, self.links, self.files, now or utcnow())
            result = reminders.sweep(desk)
            audit.seal(session, self.board.id)
        return result


def sweepers(d: Deployed) -> list[Sweeper]:
    signing = links(d)
    return [Sweeper(board, d.sessions, signing, d.files) for board in d.boards]


def publishers(d: Deployed) -> list[Publisher]:
    """One publisher per board, on the CMS its ``[publish]`` names."""
    signing = links(d)
    out = []
    for board in d.boards:
        try:
            target = cms(board.publish, d.data_dir)
        except ConfigError as exc:
            raise ConfigError(f"{board.source_file}: publish: {exc}") from None
        out.append(Publisher(board, d.sessions, target, d.files, signing))
    return out


def web_server(d: Deployed) -> WebServer:
    """The reviewers' link pages, on the deployment's web address (not started)."""
    app = make_app(
        d.sessions,
        {b.id: b for b in d.boards},
        links(d),
        d.files,
        secure_cookies=d.deployment.public_url.startswith("https://"),
    )
    return WebServer(app, d.deployment.web_address)


def links(d: Deployed) -> Links:
    """How reviewers' links are signed (key from BIENTAP_LINK_KEY) and addressed."""
    try:
        key = load_key()
    except TokenKeyError as exc:
        raise ConfigError(str(exc)) from None
    return Links(Signer([key]), d.deployment.public_url)


def watchers(d: Deployed) -> list[Watcher]:
    """One watcher per mailbox of every board; secrets are read from the environment here."""
    out = []
    signing = links(d)
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
            runner = MailboxRunner(
                board, box.name, d.sessions, d.files, source, sender, signing, readers
            )
            out.append(Watcher(runner))
    return out
