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
from pipeline import audit, backup, reminders, retention
from pipeline.claims import Crew, mailbox_lease
from pipeline.config import (
    Board,
    ConfigError,
    Deployment,
    Mailbox,
    MailOut,
    Publish,
    load_boards,
    load_deployment,
)
from pipeline.db import open_database
from pipeline.files import FileStore
from pipeline.models import utcnow
from pipeline.publishing import Publisher
from pipeline.reports.mailing import mail_due_reports
from pipeline.review import Desk, Links
from pipeline.runner import MailboxRunner, PassResult
from pipeline.tokens import Signer, TokenKeyError, load_key
from pipeline.web import SITE_PREFIX, WebServer, make_app
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
    crew: Crew = field(default_factory=Crew)  # this process, in claims and leases


def open_deployment(
    config: str | Path, database_url: str | None = None, data_dir: str | None = None
) -> Deployed:
    deployment = load_deployment(config, {"database_url": database_url, "data_dir": data_dir})
    boards = load_boards(config)
    engine, sessions = open_database(deployment.database_url)
    root = Path(deployment.data_dir)
    log.info("database %s; data folder %s", shown_database(engine), root.absolute())
    crew = Crew(lease_seconds=deployment.lease_seconds, claim_seconds=deployment.claim_seconds)
    return Deployed(deployment, boards, engine, sessions, FileStore(root / "files"), root, crew)


def shown_database(engine: Engine) -> str:
    """The database as a log may show it: without its password, a SQLite file by its
    full path (a relative one is read from the folder the daemon was started in)."""
    url = engine.url._replace(password=None)  # set() leaves a None alone
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        url = url.set(database=str(Path(url.database or "").absolute()))
    return url.render_as_string(hide_password=False)


def _watched(box: Mailbox, data_dir: Path) -> str:
    """What a mailbox's watcher reads, and how often, for the log at start."""
    every = f"a pass every {box.poll_seconds} s"
    if box.source == "maildir":
        return f"Maildir {(data_dir / (box.path or '')).absolute()}, {every}"
    idle = "IDLE and " if box.idle else ""
    return f"{box.where()} ({'TLS' if box.ssl else 'no TLS'}), {idle}{every}"


def _sent_by(out: MailOut, data_dir: Path) -> str:
    """How a board's mail goes out, for the log at start."""
    if out.transport == "outbox":
        return f"outbox Maildir {(data_dir / out.path).absolute()}"
    secured = "TLS" if out.ssl else "STARTTLS" if out.starttls else "no TLS"
    return f"SMTP {out.username or '(no login)'}@{out.host}:{out.port} ({secured})"


def _published_to(publish: Publish, data_dir: Path) -> str:
    """Where a board's approved items go, for the log at start."""
    settings = getattr(publish, publish.connector)
    if publish.connector == "static":
        return f"static site {(data_dir / settings.path).absolute()}, at {settings.base_url}"
    return f"{publish.connector} {settings.url}"


@dataclass
class Watcher:
    """Keeps one mailbox's runner going; a failing server is retried with backoff."""

    runner: MailboxRunner
    failures: int = 0
    retry_at: float = 0.0
    last: PassResult = field(default_factory=PassResult)
    held: bool = False  # the last answer of holds(): this daemon fetches and files
    # an error a daemon recorded before this one started (a password since fixed) stands
    # until a pass of this one reaches the mailbox
    error_on_record: bool = True

    @property
    def mailbox(self) -> Mailbox:
        return next(m for m in self.runner.board.mailboxes if m.name == self.runner.mailbox)

    @property
    def lease(self) -> str:
        return mailbox_lease(self.runner.board.id, self.runner.mailbox)

    def holds(self) -> bool:
        """Take or renew this mailbox's lease: only its holder fetches and files; any
        daemon processes what was fetched."""
        self.held = self.runner.crew.hold(self.runner.sessions, self.lease)
        return self.held

    def run_once(self) -> PassResult | None:
        if time.monotonic() < self.retry_at:
            return None
        try:
            self.last = self.runner.run_once(self.holds)
        except (TransientError, PermanentError) as exc:
            self.failures += 1
            delay = min(MAX_BACKOFF, 2.0**self.failures)
            self.retry_at = time.monotonic() + delay
            self._record_error(str(exc))
            self.error_on_record = True
            log.warning(
                "board=%s mailbox=%s: %s (retry in %.0fs)",
                self.runner.board.id,
                self.runner.mailbox,
                exc,
                delay,
            )
            return None
        if self.error_on_record and self.held:  # the mailbox answered this pass
            self._record_error(None)
            self.error_on_record = False
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


@dataclass
class Reported:
    mailed: int = 0  # report mails queued


@dataclass
class Reporter:
    """A board's scheduled reports: the activity report of a period that just ended."""

    board: Board
    sessions: sessionmaker[Session]

    def run_once(self, now: datetime | None = None) -> Reported:
        with self.sessions.begin() as session:
            return Reported(mail_due_reports(session, self.board, now or utcnow()))


def reporters(d: Deployed) -> list[Reporter]:
    return [Reporter(board, d.sessions) for board in d.boards]


@dataclass
class Purged:
    rows: int = 0  # rows anonymised


@dataclass
class Retainer:
    """A board's personal-data retention: senders' data older than retention_days goes."""

    board: Board
    sessions: sessionmaker[Session]
    files: FileStore

    def run_once(self, now: datetime | None = None) -> Purged:
        with self.sessions.begin() as session:
            counts = retention.purge(session, self.board, now or utcnow(), self.files)
            return Purged(sum(counts.values()))


def retainers(d: Deployed) -> list[Retainer]:
    return [Retainer(board, d.sessions, d.files) for board in d.boards]


@dataclass
class BackedUp:
    archive: str | None = None  # the archive made, when one was due


def scheduled_backup(d: Deployed) -> BackedUp:
    """The deployment's backup when one is due (every backup_interval_days), rotated."""
    made = backup.run_scheduled(d, utcnow())
    return BackedUp(str(made) if made else None)


def sweepers(d: Deployed) -> list[Sweeper]:
    signing = links(d)
    return [Sweeper(board, d.sessions, signing, d.files) for board in d.boards]


def publishers(d: Deployed) -> list[Publisher]:
    """One publisher per board, on the CMS its ``[publish]`` names."""
    signing = links(d)
    out = []
    for board in d.boards:
        settings = publish_settings(board, d.deployment.public_url)
        try:
            target = cms(settings, d.data_dir)
        except ConfigError as exc:
            raise ConfigError(f"{board.source_file}: publish: {exc}") from None
        log.info("board=%s: publishing to %s", board.id, _published_to(settings, d.data_dir))
        out.append(Publisher(board, d.sessions, target, d.files, signing, crew=d.crew))
    return out


def web_server(d: Deployed) -> WebServer:
    """The reviewers' link pages, on the deployment's web address (not started)."""
    app = make_app(
        d.sessions,
        {b.id: b for b in d.boards},
        links(d),
        d.files,
        secure_cookies=d.deployment.public_url.startswith("https://"),
        site_dir=served_site(d.deployment, d.boards),
        metrics_from=d.deployment.metrics_from,
    )
    address = d.deployment.web_address
    try:
        return WebServer(app, address, trusted_proxy=d.deployment.trusted_proxy)
    except OSError as exc:  # the port is taken (another daemon?) or not ours to open
        raise OSError(
            exc.errno,
            f"web_address {address}: {exc.strerror} (một daemon khác đang dùng địa chỉ này? "
            "chọn địa chỉ khác bằng BIENTAP_WEB_ADDRESS / another daemon on this address?)",
        ) from None


def publish_settings(board: Board, public_url: str) -> Publish:
    """The board's ``[publish]``; a static site's ``base_url`` given as a path ("/cong/")
    is on the daemon's own public address."""
    static = board.publish.static
    if board.publish.connector != "static" or not static.base_url.startswith("/"):
        return board.publish
    static = static.model_copy(update={"base_url": public_url.rstrip("/") + static.base_url})
    return board.publish.model_copy(update={"static": static})


def served_site(deployment: Deployment, boards: list[Board]) -> Path | None:
    """The static site the daemon serves at /cong/ itself: the folder of the boards whose
    site is addressed there (``base_url = "/cong/"``), so nothing else needs installing."""
    from connectors.static_site import StaticSiteCms

    here = deployment.public_url.rstrip("/") + SITE_PREFIX
    folders: dict[Path, list[str]] = {}
    for board in boards:
        publish = publish_settings(board, deployment.public_url)
        if publish.connector == "static" and publish.static.base_url.rstrip("/") + "/" == here:
            root = StaticSiteCms(publish.static, Path(deployment.data_dir)).root
            folders.setdefault(root, []).append(str(board.source_file))
    if len(folders) > 1:
        names = "; ".join(f"{', '.join(files)}: {root}" for root, files in sorted(folders.items()))
        raise ConfigError(
            f"publish.static.base_url: only one site folder can be served at {here}, "
            f"and these boards publish to different ones: {names}"
        )
    return next(iter(folders), None)


def link_key() -> bytes:
    """The key reviewers' links are signed with (BIENTAP_LINK_KEY); a bad one is refused."""
    try:
        return load_key()
    except TokenKeyError as exc:
        raise ConfigError(str(exc)) from None


def links(d: Deployed) -> Links:
    """How reviewers' links are signed and addressed."""
    return Links(Signer([link_key()]), d.deployment.public_url)


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
        log.info("board=%s: mail out by %s", board.id, _sent_by(board.mail_out, d.data_dir))
        for i, box in enumerate(board.mailboxes):
            try:
                source = mail_source(box, d.data_dir)
            except ConfigError as exc:
                raise ConfigError(f"{board.source_file}: mailboxes[{i}].password: {exc}") from None
            log.info("board=%s mailbox=%s: %s", board.id, box.name, _watched(box, d.data_dir))
            runner = MailboxRunner(
                board,
                box.name,
                d.sessions,
                d.files,
                source,
                sender,
                signing,
                readers,
                crew=d.crew,
            )
            out.append(Watcher(runner))
    return out
