"""Several daemons on one PostgreSQL database, as the ops team runs them on several
machines: they split the work, nothing is done twice, and when one dies the others take
over its mailbox and its unfinished work. And on SQLite a second daemon refuses to start.

The daemons are real ``run_pipeline.py`` processes (tests/daemons.py) on a copy of the
demo board: its Maildir inbox, its outbox, one review step (Phó Trưởng ban thường trực)
and a portal with its own JSON API (tests/portal.py) that counts what it is sent.
"""

from __future__ import annotations

import json
import mailbox
import subprocess
import sys
import tomllib
from collections import Counter
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import tomli_w
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from connectors.maildir import deliver
from pipeline import audit
from pipeline.db import open_database
from pipeline.models import (
    Event,
    Lease,
    OutgoingMail,
    Publication,
    PubState,
    RawMessage,
    ReviewNotice,
    ReviewTask,
    State,
    Submission,
    utcnow,
)
from tests.daemons import REPO, Daemon, wait_for
from tests.portal import TOKEN, Portal
from tests.services import Postgres
from tests.workload import AGENCY_SENDERS, backlog

ITEMS = 2000
KILL_AT = 600  # items stored when the mailbox's holder is killed
LEASE = 10.0  # lease_seconds of the deployment under test
CLAIM = 15.0  # claim_seconds
TRIES_EVERY = 10.0  # longest a daemon goes without trying to take a lapsed lease (s)
REVIEWER = "binh.tt@demo.bientap.vn"  # Phó Trưởng ban thường trực of the demo board
LEASE_NAME = "mailbox:demo:hop-thu-chinh"


def write_config(
    folder: Path,
    database_url: str,
    portal: Portal | None,
    claim_seconds: float = CLAIM,
    portal_timeout: float | None = None,  # the client's, when not the usual 1 s
) -> Path:
    with (REPO / "config" / "demo.toml").open("rb") as fh:
        data: dict[str, Any] = tomllib.load(fh)
    data["mailboxes"][0] |= {"path": str(folder / "inbox"), "poll_seconds": 1}
    data["mail_out"]["path"] = str(folder / "outbox")
    data["review"]["steps"] = [data["review"]["steps"][-1]]  # Phó Trưởng ban thường trực
    if portal is not None:
        rest = portal.rest_settings()
        if portal_timeout is not None:
            rest["timeout_seconds"] = portal_timeout
        data["publish"] = {"connector": "rest", "rest": rest}
    config = folder / "config"
    config.mkdir(parents=True)
    (config / "demo.toml").write_text(tomli_w.dumps(data), encoding="utf-8")
    deployment = {
        "database_url": database_url,
        "data_dir": str(folder / "data"),
        "web_address": "127.0.0.1:0",
        "lease_seconds": LEASE,
        "claim_seconds": claim_seconds,
    }
    (config / "deployment.toml").write_text(tomli_w.dumps(deployment), encoding="utf-8")
    return config


def count(sessions: sessionmaker[Session], query: Any) -> int:
    with sessions() as s:
        return int(s.scalar(query) or 0)


def requests_to(outbox: Path, address: str) -> list[EmailMessage]:
    box = mailbox.Maildir(outbox, factory=None, create=True)
    found = []
    for key in box.iterkeys():
        msg = message_from_bytes(box.get_bytes(key), policy=policy.default)
        if msg["To"] and address in str(msg["To"]) and msg["Reply-To"] is not None:
            found.append(msg)
    return found


def approval(request: EmailMessage) -> bytes:
    """The reviewer's reply "DUYỆT" to a review request, as his mail client sends it."""
    msg = EmailMessage()
    msg["From"] = REVIEWER
    msg["To"] = str(request["Reply-To"])
    msg["Subject"] = "Re: " + str(request["Subject"])
    msg["Message-ID"] = make_msgid(domain="demo.bientap.vn")
    msg["In-Reply-To"] = msg["References"] = str(request["Message-ID"])
    msg.set_content("DUYỆT\n\n> (thư mời duyệt)\n")
    return bytes(msg)


def test_two_daemons_share_the_work_and_one_dying_loses_nothing(
    postgres: Postgres, tmp_path: Path
) -> None:
    portal = Portal()
    portal.start()
    database_url = postgres.create_database("several_daemons")
    config = write_config(tmp_path, database_url, portal)
    _engine, sessions = open_database(database_url)
    env = {"TEST_PORTAL_TOKEN": TOKEN}
    inbox = tmp_path / "inbox"
    first, second = (
        backlog(ITEMS // 2, senders=AGENCY_SENDERS),
        backlog(ITEMS // 2, senders=AGENCY_SENDERS, first=ITEMS // 2),
    )
    for raw in first:
        deliver(inbox, raw)
    stored = select(func.count(Submission.id))
    a = Daemon(config, tmp_path / "a.log", env)
    b = Daemon(config, tmp_path / "b.log", env)
    c = Daemon(config, tmp_path / "c.log", env)  # started after one of them dies
    with a, b:
        wait_for("a mailbox holder", lambda: holder(sessions) is not None, [a, b], 60)
        wait_for("first items", lambda: count(sessions, stored) >= KILL_AT, [a, b], 300)
        for raw in second:  # more mail while the holder dies
            deliver(inbox, raw)
        watcher = holder(sessions)
        assert watcher is not None
        dying, survivor = (a, b) if watcher.split("/")[1] == str(a.pid) else (b, a)
        dying.kill()
        died_at = utcnow()
        wait_for("every item stored", lambda: count(sessions, stored) == ITEMS, [survivor], 600)
        with sessions() as s:
            lease = s.get(Lease, LEASE_NAME)
            assert lease is not None and lease.holder.split("/")[1] == str(survivor.pid)
            # taken over once the lease lapsed: the survivor tries at each pass and each
            # batch of work it claims (a few seconds on a loaded machine)
            assert lease.acquired_at - died_at < timedelta(seconds=LEASE + TRIES_EVERY)
        shown = subprocess.run(  # the ops team sees who watches the mailbox now
            [sys.executable, "-m", "pipeline.cli", "--config", str(config), "status", "--json"],
            cwd=REPO,
            env=survivor.env,
            capture_output=True,
            text=True,
            check=True,
        )
        [box] = json.loads(shown.stdout)["mailboxes"]
        assert box["watched_by"].split("/")[1] == str(survivor.pid)
        unsent = select(func.count(OutgoingMail.id)).where(OutgoingMail.sent_at.is_(None))
        wait_for("review requests sent", lambda: count(sessions, unsent) == 0, [survivor], 120)
        with c:  # the ops team starts a new daemon; the approvals come in
            requests = requests_to(tmp_path / "outbox", REVIEWER)
            assert len(requests) == ITEMS
            for request in requests:
                deliver(inbox, approval(request))
            verified = select(func.count(Publication.id)).where(
                Publication.state == PubState.VERIFIED
            )
            wait_for(
                "every item published",
                lambda: count(sessions, verified) == ITEMS,
                [survivor, c],
                900,
            )
            wait_for("every mail sent", lambda: count(sessions, unsent) == 0, [survivor, c], 120)
    portal.stop()

    with sessions() as s:
        # each submission processed once: one item, one review seat, one request
        assert s.scalar(select(func.count(RawMessage.id))) == 2 * ITEMS  # items + replies
        items = s.scalars(select(Submission)).all()
        assert len(items) == ITEMS
        assert {i.state for i in items} == {State.PUBLISHED}
        # one seat per item and step (its review, and the head's after publishing), each
        # asked once
        seats = Counter(s.execute(select(ReviewTask.submission_id, ReviewTask.step_id)).all())
        assert len(seats) == 2 * ITEMS and set(seats.values()) == {1}
        asked = Counter(s.scalars(select(ReviewNotice.task_id)))
        assert len(asked) == 2 * ITEMS and set(asked.values()) == {1}
        published = Counter(s.scalars(select(Event.submission_id).where(Event.kind == "published")))
        assert len(published) == ITEMS and set(published.values()) == {1}
        # the work was shared: every daemon processed some of it
        workers = Counter(
            h.split("/")[1] for h in s.scalars(select(RawMessage.claimed_by)) if h is not None
        )
        assert {str(a.pid), str(b.pid), str(c.pid)} <= set(workers), workers
        assert audit.verify(s, "demo").ok
        owed = set(s.scalars(select(OutgoingMail.message_id)))
    # each approved item published once on the portal
    assert portal.creates == ITEMS
    keys = Counter(post["key"] for post in portal.posts.values())
    assert len(keys) == ITEMS and set(keys.values()) == {1}
    # every mail owed was sent; only the one in flight when a daemon died may be twice
    box = mailbox.Maildir(tmp_path / "outbox", factory=None, create=False)
    sent = Counter(
        str(message_from_bytes(box.get_bytes(k), policy=policy.default)["Message-ID"])
        .strip()
        .strip("<>")
        for k in box.iterkeys()
    )
    assert set(sent) == owed
    assert sum(n - 1 for n in sent.values()) <= 1


def test_a_post_slower_than_the_claim_is_made_once(postgres: Postgres, tmp_path: Path) -> None:
    """The portal takes several times claim_seconds to make one post (a CMS that answers
    slowly). The daemon sending it keeps its claim for as long as the request runs, so the
    other daemon, looking meanwhile, neither finds the post by its key (it is not made
    yet) nor sends the item a second time."""
    claim = 5.0  # the shortest a deployment may set
    portal = Portal()
    portal.faults.slow_create = 4 * claim
    portal.start()
    database_url = postgres.create_database("slow_portal")
    config = write_config(tmp_path, database_url, portal, claim, portal_timeout=120)
    _engine, sessions = open_database(database_url)
    deliver(tmp_path / "inbox", backlog(1, senders=AGENCY_SENDERS)[0])
    verified = select(func.count(Publication.id)).where(Publication.state == PubState.VERIFIED)
    env = {"TEST_PORTAL_TOKEN": TOKEN}
    try:
        with (
            Daemon(config, tmp_path / "a.log", env) as a,
            Daemon(config, tmp_path / "b.log", env) as b,
        ):
            outbox = tmp_path / "outbox"
            wait_for("the review request", lambda: bool(requests_to(outbox, REVIEWER)), [a, b], 120)
            [request] = requests_to(outbox, REVIEWER)
            deliver(tmp_path / "inbox", approval(request))
            wait_for("the item published", lambda: count(sessions, verified) == 1, [a, b], 300)
            assert portal.creates == 1  # counted as each request came in
            published = select(func.count(Event.id)).where(Event.kind == "published")
            assert count(sessions, published) == 1
    finally:
        portal.stop()
    assert len(portal.posts) == 1


def holder(sessions: sessionmaker[Session]) -> str | None:
    with sessions() as s:
        lease = s.get(Lease, LEASE_NAME)
        if lease is None or lease.expires_at < datetime.now(lease.expires_at.tzinfo):
            return None
        return lease.holder


def test_a_second_daemon_on_one_sqlite_file_refuses_to_start(tmp_path: Path) -> None:
    """Also when it names the file by another path: a symbolic link to it, or to its folder."""
    config = write_config(tmp_path, f"sqlite:///{tmp_path}/bientap.db", None)
    (tmp_path / "link.db").symlink_to(tmp_path / "bientap.db")
    (tmp_path / "folder").symlink_to(tmp_path)
    with Daemon(config, tmp_path / "first.log") as first:
        wait_for(
            "the first daemon",
            lambda: "watching" in first.log.read_text(encoding="utf-8"),
            [first],
            60,
        )
        for path in ("bientap.db", "link.db", "folder/bientap.db"):
            second = subprocess.run(
                [sys.executable, "run_pipeline.py", "--config", str(config), "--once"],
                cwd=REPO,
                env=first.env | {"BIENTAP_DATABASE_URL": f"sqlite:///{tmp_path}/{path}"},
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert second.returncode == 2, path
            assert "Một daemon bientap khác" in second.stderr
            assert f"pid {first.pid}" in second.stderr
            assert "PostgreSQL" in second.stderr
        status, _took = first.stop(30)
        assert status == 0


def test_a_job_running_longer_than_its_lease_is_not_started_by_another_daemon(
    tmp_path: Path, db_url: str
) -> None:
    """A job only one daemon may run (a backup, the reminder sweep) keeps its lease while
    it runs, however long that takes: another daemon looking meanwhile does not start it
    a second time (two backups of one deployment at once, two rounds of reminders)."""
    import threading
    import time
    from types import SimpleNamespace

    import run_pipeline
    from pipeline.app import Deployed
    from pipeline.claims import Crew
    from pipeline.config import Deployment
    from pipeline.files import FileStore

    engine, sessions = open_database(db_url)
    d = Deployed(Deployment(), [], engine, sessions, FileStore(tmp_path / "f"), tmp_path)
    d.crew = Crew(lease_seconds=1.0)
    running, done = threading.Event(), threading.Event()

    def slow() -> object:
        running.set()
        done.wait(30)
        return SimpleNamespace(archive=None)

    job = run_pipeline.Job("backup", "*", 0.5, slow, singleton=True)
    worker = threading.Thread(target=run_pipeline._run, args=[job, d])
    worker.start()
    try:
        assert running.wait(30)
        time.sleep(3 * (job.seconds + d.crew.lease_seconds))  # past the lease first taken
        other = Crew(lease_seconds=1.0)
        assert not other.hold(sessions, "job:backup:*", job.seconds + other.lease_seconds)
    finally:
        done.set()
        worker.join()
