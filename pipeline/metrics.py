"""``/metrics``: the deployment's figures in Prometheus text format, read at scrape time.

Every figure comes from the database when Prometheus asks (a custom collector, no
counters kept in memory), so several daemons sharing one database all report the same
true figures, and a restart loses nothing. Each figure is one aggregate query that
reads an index or the rows still waiting, not the mail itself. ``bientap status``
reads the same figures through ``read``.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import Response, request
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from sqlalchemy import ColumnElement, Select, func, literal_column, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from pipeline.config import Board
from pipeline.models import (
    MailboxState,
    OutgoingMail,
    Publication,
    PubState,
    RawMessage,
    RawStatus,
    ReviewTask,
    State,
    Submission,
    TaskState,
    utcnow,
)
from pipeline.postman import MAX_SEND_ATTEMPTS

log = logging.getLogger(__name__)

PUBLICATION_FAILURES = (PubState.DEAD, PubState.MISMATCH)


# -- the figures ------------------------------------------------------------------------
# On SQLite a mail's bytes are stored in the row, and reading a column stored after them
# (raw_message.status, outgoing_mail.sent_at…) means walking through them. So each query
# reads an index, the columns before the bytes, or only the rows still waiting.


def _gave_up() -> ColumnElement[bool]:
    # a literal, not a bound parameter: PostgreSQL must see the same expression in GROUP BY
    return OutgoingMail.attempts >= literal_column(str(MAX_SEND_ATTEMPTS))


def _counts(session: Session, query: Select) -> dict[tuple[Any, ...], int]:
    return {tuple(row[:-1]): int(row[-1]) for row in session.execute(query)}


def _per_board(session: Session, query: Select) -> dict[str, int]:
    return {key[0]: n for key, n in _counts(session, query).items()}


def _oldest_new_mail(boards: list[str]) -> Select:
    first = (
        select(func.min(RawMessage.id))
        .where(RawMessage.board_id.in_(boards), RawMessage.status == RawStatus.NEW)
        .group_by(RawMessage.board_id)
    )
    return select(RawMessage.board_id, RawMessage.received_at).where(RawMessage.id.in_(first))


# The oldest entry of each queue, per board: (queue, query of (board, oldest time)).
QUEUES: tuple[tuple[str, Callable[[list[str]], Select]], ...] = (
    ("raw_new", _oldest_new_mail),  # recorded, not processed yet (the first by id)
    (
        "review_pending",  # a reviewer's seat waiting for a decision
        lambda boards: (
            select(ReviewTask.board_id, func.min(ReviewTask.created_at))
            .where(ReviewTask.board_id.in_(boards), ReviewTask.state == TaskState.PENDING)
            .group_by(ReviewTask.board_id)
        ),
    ),
    (
        "publication_queued",  # approved, not yet on the portal
        lambda boards: (
            select(Publication.board_id, func.min(Publication.created_at))
            .where(
                Publication.board_id.in_(boards),
                Publication.state.in_([PubState.QUEUED, PubState.SENDING]),
            )
            .group_by(Publication.board_id)
        ),
    ),
    (
        "mail_unsent",  # owed to someone, still being tried
        lambda boards: (
            select(OutgoingMail.board_id, func.min(OutgoingMail.created_at))
            .where(OutgoingMail.board_id.in_(boards), OutgoingMail.sent_at.is_(None), ~_gave_up())
            .group_by(OutgoingMail.board_id)
        ),
    ),
)


class Tally:
    """Messages recorded per mailbox, kept between scrapes. Counting them means reading
    every row of raw_message (the mailbox is not in an index), so a scrape counts only
    the rows added since the last one (by id) and checks the sums against the per-board
    counts an index gives; if they still disagree on a second look (a row committed late
    with a lower id, rows removed), everything is counted again once."""

    def __init__(self) -> None:
        self.after = 0  # the highest id counted
        self.counts: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def read(self, session: Session) -> dict[tuple[str, str], int]:
        with self._lock:
            for whole in (False, False, True):
                if whole:
                    self.after, self.counts = 0, {}
                self._add(session)
                totals = _per_board(
                    session,
                    select(RawMessage.board_id, func.count()).group_by(RawMessage.board_id),
                )
                sums: Counter[str] = Counter()
                for (board, _box), n in self.counts.items():
                    sums[board] += n
                if sums == totals:
                    break
            return dict(self.counts)

    def _add(self, session: Session) -> None:
        query = (
            select(RawMessage.board_id, RawMessage.mailbox, func.count(), func.max(RawMessage.id))
            .where(RawMessage.id > self.after)
            .group_by(RawMessage.board_id, RawMessage.mailbox)
        )
        for board, box, n, top in session.execute(query):
            self.counts[(board, box)] = self.counts.get((board, box), 0) + n
            self.after = max(self.after, top)


@dataclass
class Figures:
    """One reading of the database: what ``/metrics`` and ``bientap status`` show."""

    now: datetime
    fetched: dict[tuple[str, str], int]  # (board, mailbox) -> messages recorded
    backlog: dict[tuple[str, str], int]  # (board, mailbox) -> recorded, not processed yet
    items: dict[tuple[str, str], int]  # (board, state) -> submissions
    sent: dict[str, int]  # board -> mails sent
    unsent: dict[tuple[str, str, str], int]  # (board, reason, pending|failed) -> mails
    publications: dict[tuple[str, str], int]  # (board, state) -> publications
    overdue: dict[str, int]  # board -> items pending review past their due date
    oldest: dict[tuple[str, str], datetime]  # (board, queue) -> oldest entry
    mailboxes: dict[tuple[str, str], MailboxState] = field(default_factory=dict)

    def boards(self, configured: Iterable[str] = ()) -> list[str]:
        """Configured boards and any other board the database knows of."""
        seen = set(configured) | set(self.sent)
        for key in (*self.fetched, *self.items, *self.unsent, *self.publications):
            seen.add(key[0])
        return sorted(seen)

    def age(self, board: str, queue: str) -> float:
        oldest = self.oldest.get((board, queue))
        return max(0.0, (self.now - oldest).total_seconds()) if oldest else 0.0

    def mail_by_status(self, board: str) -> dict[str, int]:
        out = {"sent": self.sent.get(board, 0), "pending": 0, "failed": 0}
        for (b, _reason, status), n in self.unsent.items():
            if b == board:
                out[status] += n
        return out


def _unsent(session: Session, boards: list[str]) -> dict[tuple[str, str, str], int]:
    gave_up = _gave_up()
    query = (
        select(OutgoingMail.board_id, OutgoingMail.reason, gave_up, func.count())
        .where(OutgoingMail.board_id.in_(boards), OutgoingMail.sent_at.is_(None))
        .group_by(OutgoingMail.board_id, OutgoingMail.reason, gave_up)
    )
    return {
        (board, reason, "failed" if failed else "pending"): n
        for board, reason, failed, n in session.execute(query)
    }


def known_boards(session: Session, configured: Iterable[str] = ()) -> list[str]:
    """The configured boards and those with mail on record (from an index)."""
    on_record = session.scalars(select(RawMessage.board_id).distinct())
    return sorted(set(configured) | set(on_record))


def read(
    session: Session,
    configured: Iterable[str] = (),
    now: datetime | None = None,
    tally: Tally | None = None,
) -> Figures:
    """The figures; ``tally`` carries the mailbox counts from one scrape to the next."""
    now = now or utcnow()
    boards = known_boards(session, configured)
    oldest: dict[tuple[str, str], datetime] = {}
    for queue, query in QUEUES:
        for board, when in session.execute(query(boards)):
            if when is not None:
                oldest[(board, queue)] = when
    return Figures(
        now=now,
        fetched=(tally or Tally()).read(session),
        backlog=_counts(
            session,
            select(RawMessage.board_id, RawMessage.mailbox, func.count())
            .where(RawMessage.board_id.in_(boards), RawMessage.status == RawStatus.NEW)
            .group_by(RawMessage.board_id, RawMessage.mailbox),
        ),
        items=_counts(
            session,
            select(Submission.board_id, Submission.state, func.count()).group_by(
                Submission.board_id, Submission.state
            ),
        ),
        sent=_per_board(
            session,
            select(OutgoingMail.board_id, func.count())
            .where(OutgoingMail.sent_at.is_not(None))
            .group_by(OutgoingMail.board_id),
        ),
        unsent=_unsent(session, boards),
        publications=_counts(
            session,
            select(Publication.board_id, Publication.state, func.count()).group_by(
                Publication.board_id, Publication.state
            ),
        ),
        overdue=_per_board(
            session,
            select(Submission.board_id, func.count())
            .where(
                Submission.board_id.in_(boards),
                Submission.state == State.PENDING_REVIEW,
                Submission.due_at < now,
            )
            .group_by(Submission.board_id),
        ),
        oldest=oldest,
        mailboxes={(m.board_id, m.mailbox): m for m in session.scalars(select(MailboxState))},
    )


# -- as Prometheus metrics -----------------------------------------------------------------
def _gauge(name: str, doc: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=labels)


def _counter(name: str, doc: str, labels: list[str]) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, labels=labels)


Family = GaugeMetricFamily | CounterMetricFamily

# name -> how to make the family; the order is the order of the page.
FAMILIES: dict[str, Callable[[], Family]] = {
    "up": lambda: _gauge("bientap_up", "1 when the database could be read for this scrape", []),
    "fetched": lambda: _counter(
        "bientap_mails_fetched", "Messages recorded from a mailbox", ["board", "mailbox"]
    ),
    "backlog": lambda: _gauge(
        "bientap_mailbox_backlog", "Recorded messages not processed yet", ["board", "mailbox"]
    ),
    "last_poll": lambda: _gauge(
        "bientap_mailbox_last_poll_timestamp_seconds",
        "When the mailbox was last polled successfully (Unix time; 0: never)",
        ["board", "mailbox"],
    ),
    "poll_error": lambda: _gauge(
        "bientap_mailbox_error", "1 while the mailbox's last poll failed", ["board", "mailbox"]
    ),
    "items": lambda: _gauge("bientap_submissions", "Submissions by state", ["board", "state"]),
    "overdue": lambda: _gauge(
        "bientap_submissions_overdue", "Submissions pending review past their due date", ["board"]
    ),
    "sent": lambda: _counter(
        "bientap_notifications_sent", "Mails sent (receipts, review requests…)", ["board"]
    ),
    "pending": lambda: _gauge(
        "bientap_notifications_pending", "Mails owed, not sent yet", ["board", "reason"]
    ),
    "failed": lambda: _gauge(
        "bientap_notifications_failed", "Mails given up on after retries", ["board", "reason"]
    ),
    "publications": lambda: _gauge(
        "bientap_publications", "Publications by state", ["board", "state"]
    ),
    "publication_failures": lambda: _gauge(
        "bientap_publication_failures",
        "Publications a person must look at: dead (gave up) or mismatch (live differs)",
        ["board", "kind"],
    ),
    "queue_age": lambda: _gauge(
        "bientap_queue_oldest_age_seconds",
        "Age of the oldest entry of a queue (0: empty)",
        ["board", "queue"],
    ),
}


def families(fig: Figures, boards: Mapping[str, Board]) -> Iterator[Metric]:
    m = {key: make() for key, make in FAMILIES.items()}
    m["up"].add_metric([], 1)
    mailboxes = {(b.id, box.name) for b in boards.values() for box in b.mailboxes}
    mailboxes |= set(fig.fetched) | set(fig.mailboxes)
    for board, box in sorted(mailboxes):
        m["fetched"].add_metric([board, box], fig.fetched.get((board, box), 0))
        m["backlog"].add_metric([board, box], fig.backlog.get((board, box), 0))
        state = fig.mailboxes.get((board, box))
        polled = state.last_poll_at.timestamp() if state and state.last_poll_at else 0
        m["last_poll"].add_metric([board, box], polled)
        m["poll_error"].add_metric([board, box], 1 if state and state.last_error else 0)
    for board in fig.boards(boards):
        for s in State:
            m["items"].add_metric([board, s.value], fig.items.get((board, s.value), 0))
        m["overdue"].add_metric([board], fig.overdue.get(board, 0))
        for p in PubState:
            published = fig.publications.get((board, p.value), 0)
            m["publications"].add_metric([board, p.value], published)
            if p in PUBLICATION_FAILURES:
                m["publication_failures"].add_metric([board, p.value], published)
        for queue, _query in QUEUES:
            m["queue_age"].add_metric([board, queue], fig.age(board, queue))
        m["sent"].add_metric([board], fig.sent.get(board, 0))
    for board, reason in sorted({(b, r) for b, r, _s in fig.unsent}):
        for status in ("pending", "failed"):
            m[status].add_metric([board, reason], fig.unsent.get((board, reason, status), 0))
    yield from m.values()


class DatabaseCollector(Collector):
    """Reads the figures from the database at each scrape."""

    def __init__(self, sessions: sessionmaker[Session], boards: Mapping[str, Board]) -> None:
        self.sessions, self.boards = sessions, boards
        self.tally = Tally()

    def describe(self) -> Iterable[Metric]:
        return [make() for make in FAMILIES.values()]

    def collect(self) -> Iterable[Metric]:
        try:
            with self.sessions() as session:
                fig = read(session, self.boards, tally=self.tally)
        except SQLAlchemyError:
            log.exception("metrics: the database could not be read")
            down = FAMILIES["up"]()
            down.add_metric([], 0)
            return [down]
        return list(families(fig, self.boards))


def registry(sessions: sessionmaker[Session], boards: Mapping[str, Board]) -> CollectorRegistry:
    out = CollectorRegistry(auto_describe=False)
    out.register(DatabaseCollector(sessions, boards))
    return out


def view(
    sessions: sessionmaker[Session], boards: Mapping[str, Board], allowed: Sequence[str]
) -> Callable[[], Response]:
    """The Flask view of ``/metrics`` (pipeline/web.py make_app), for the clients at the
    addresses or networks ``allowed`` only (behind the proxy: the client it names)."""
    scraped = registry(sessions, boards)
    networks = [ipaddress.ip_network(a, strict=False) for a in allowed]

    def metrics() -> Response:
        try:
            client = ipaddress.ip_address(request.remote_addr or "")
        except ValueError:
            client = None
        if client is None or not any(client in network for network in networks):
            return Response("403 Forbidden\n", status=403, content_type="text/plain")
        # Prometheus text format; OpenMetrics when the scraper asks for it
        encode, content_type = choose_encoder(request.headers.get("Accept", ""))
        return Response(encode(scraped), content_type=content_type)

    return metrics
