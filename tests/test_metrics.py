"""``/metrics`` on the daemon's web server (waitress), read as Prometheus reads it, after
real mail went through the pipeline; on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from connectors.imap import ImapSource
from connectors.smtp import SmtpSender
from pipeline.app import Watcher
from pipeline.config import load_board
from pipeline.db import open_database
from pipeline.models import MailboxState, OutgoingMail, utcnow
from pipeline.samples import article_mail, demo_mails
from pipeline.web import WebServer, make_app
from tests.fixtures_mail import MakeSmtpSink
from tests.helpers import CONFIG, DEMO_BOX, LINKS, Rig, make_rig
from tests.portal import TOKEN, Portal
from tests.services import free_port
from tests.test_publishing import approved_item, publisher, with_publish

BOX = "hop-thu-chinh"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@dataclass
class Served:
    rig: Rig
    url: str

    def scrape(self, url: str | None = None) -> Samples:
        """Every sample of the page, parsed by Prometheus' own client parser."""
        response = requests.get(url or self.url, timeout=10)
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        out: Samples = {}
        for family in text_string_to_metric_families(response.text):
            for sample in family.samples:
                out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        return out


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def total(samples: Samples, name: str, **labels: str) -> float:
    """A metric summed over the labels not given."""
    return sum(v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= set(ls))


def serve(rig: Rig) -> Iterator[str]:
    app = make_app(rig.sessions, {rig.board.id: rig.board}, LINKS, rig.files)
    server = WebServer(app, "127.0.0.1:0")
    server.start()
    try:
        yield f"http://127.0.0.1:{server.port}/metrics"
    finally:
        server.stop()


@pytest.fixture
def served(tmp_path: Path, db_url: str) -> Iterator[Served]:
    rig = make_rig(tmp_path, db_url)
    for url in serve(rig):
        yield Served(rig, url)


def test_the_demo_mail_shows_in_the_figures(served: Served, db_url: str) -> None:
    rig = served.rig
    for _label, raw in demo_mails(DEMO_BOX):
        rig.drop(raw)
    rig.runner.run_once()
    m = served.scrape()
    assert value(m, "bientap_up") == 1
    assert value(m, "bientap_mails_fetched_total", board="demo", mailbox=BOX) == 4
    assert value(m, "bientap_mailbox_backlog", board="demo", mailbox=BOX) == 0
    items = {
        state: value(m, "bientap_submissions", board="demo", state=state)
        for state in ("pending_review", "quarantined", "set_aside", "failed", "published")
    }
    assert items == {
        "pending_review": 2,
        "quarantined": 1,
        "set_aside": 1,
        "failed": 0,
        "published": 0,
    }
    # every mail the outbox holds is counted as sent, and nothing is left owed
    assert total(m, "bientap_notifications_sent_total", board="demo") == len(rig.sent()) > 0
    assert total(m, "bientap_notifications_pending", board="demo") == 0
    assert total(m, "bientap_notifications_failed", board="demo") == 0
    with rig.sessions() as s:
        polled = s.scalars(select(MailboxState.last_poll_at)).one()
    assert polled is not None
    stamp = value(m, "bientap_mailbox_last_poll_timestamp_seconds", board="demo", mailbox=BOX)
    assert stamp == pytest.approx(polled.timestamp())
    assert value(m, "bientap_mailbox_error", board="demo", mailbox=BOX) == 0
    assert value(m, "bientap_queue_oldest_age_seconds", board="demo", queue="raw_new") == 0
    assert total(m, "bientap_publications", board="demo") == 0

    # a second daemon on the same database, with its own engine, reports the same figures
    _engine, other_sessions = open_database(db_url)
    other = Rig(rig.board, other_sessions, rig.files, rig.inbox, rig.outbox, rig.runner)
    for url in serve(other):
        assert but_ages(served.scrape(url)) == but_ages(served.scrape())


def but_ages(samples: Samples) -> Samples:
    """The figures without the queue ages, which grow between two scrapes."""
    return {k: v for k, v in samples.items() if k[0] != "bientap_queue_oldest_age_seconds"}


def test_backlog_and_the_age_of_the_oldest_waiting_mail(served: Served) -> None:
    rig = served.rig
    before = served.scrape()
    assert value(before, "bientap_mails_fetched_total", board="demo", mailbox=BOX) == 0
    hours_ago = utcnow() - timedelta(hours=5)
    rig.runner.clock = lambda: hours_ago  # recorded five hours ago, never processed
    rig.drop(article_mail("nhung.ltt@sgddt.demo.bientap.vn", DEMO_BOX))
    rig.runner.record()
    m = served.scrape()  # counted since the scrape before
    assert value(m, "bientap_mails_fetched_total", board="demo", mailbox=BOX) == 1
    assert value(m, "bientap_mailbox_backlog", board="demo", mailbox=BOX) == 1
    age = value(m, "bientap_queue_oldest_age_seconds", board="demo", queue="raw_new")
    assert age >= 5 * 3600


def test_a_mailbox_that_cannot_be_reached_is_flagged(tmp_path: Path, db_url: str) -> None:
    closed = ImapSource(BOX, "127.0.0.1", free_port(), "u", "p", use_ssl=False, timeout=5)
    rig = make_rig(tmp_path, db_url, source=closed)
    watcher = Watcher(rig.runner)
    assert watcher.run_once() is None  # the connection is refused
    for url in serve(rig):
        m = Served(rig, url).scrape()
    assert value(m, "bientap_mailbox_error", board="demo", mailbox=BOX) == 1
    assert value(m, "bientap_mailbox_last_poll_timestamp_seconds", board="demo", mailbox=BOX) == 0


def test_mail_given_up_on_and_a_dead_publication(
    tmp_path: Path, db_url: str, make_smtp_sink: MakeSmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink = make_smtp_sink(auth=("bientap", "right-password"), auth_required=True)
    portal = Portal()
    portal.start()
    try:
        monkeypatch.setenv("TEST_PORTAL_TOKEN", TOKEN)
        board = with_publish(
            load_board(CONFIG / "demo.toml"), connector="rest", rest=portal.rest_settings()
        )
        sink.refuse["*"] = "550 5.7.1 Relaying denied"
        sender = SmtpSender(
            sink.host, sink.port, username="bientap", password="right-password", starttls=False
        )
        rig = make_rig(tmp_path, db_url, board, sender=sender)
        approved_item(rig)
        portal.faults.refuse = True  # the portal refuses the board's credentials
        assert publisher(rig, tmp_path).run_once().dead == 1
        rig.runner.deliver()
        with rig.sessions() as s:
            owed = s.scalar(select(func.count()).select_from(OutgoingMail)) or 0
        for url in serve(rig):
            m = Served(rig, url).scrape()
    finally:
        portal.stop()
    assert value(m, "bientap_publications", board="demo", state="dead") == 1
    assert value(m, "bientap_publication_failures", board="demo", kind="dead") == 1
    assert value(m, "bientap_publication_failures", board="demo", kind="mismatch") == 0
    # the SMTP server refuses every recipient: every mail is given up on, none sent
    assert total(m, "bientap_notifications_failed", board="demo") == owed > 0
    assert total(m, "bientap_notifications_sent_total", board="demo") == 0
    assert sink.messages == []


def test_the_figures_are_for_the_scraper_not_for_a_visitor_through_the_proxy(
    tmp_path: Path,
) -> None:
    """They name boards, mailboxes and their errors: behind the portal's proxy, a client
    it forwards from elsewhere is refused; the scraper on the machine itself is served."""
    rig = make_rig(tmp_path, f"sqlite:///{tmp_path}/bientap.db")
    app = make_app(rig.sessions, {rig.board.id: rig.board}, LINKS, rig.files)
    server = WebServer(app, "127.0.0.1:0", trusted_proxy="127.0.0.1")
    server.start()
    try:
        url = f"http://127.0.0.1:{server.port}/metrics"
        outside = requests.get(url, headers={"X-Forwarded-For": "203.0.113.9"}, timeout=10)
        assert outside.status_code == 403 and "bientap_" not in outside.text
        inside = requests.get(url, timeout=10)
        assert inside.status_code == 200 and "bientap_up" in inside.text
    finally:
        server.stop()
