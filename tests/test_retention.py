"""Personal data: after the board's retention, senders' addresses and names are gone from
every table, while the reports' counts, published credits and the sealed record stay."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from pipeline import audit, cli, cli_backup, retention
from pipeline.commands import Verb
from pipeline.models import (
    Event,
    NoticeLog,
    OutgoingMail,
    RawMessage,
    State,
    StoredFile,
    Submission,
    utcnow,
)
from pipeline.samples import NEWS_BODY, article_mail
from pipeline.workers import Outcome, Readers
from tests.helpers import DEMO_BOX, orphaned
from tests.test_backup import (
    PNG,
    SENDER,
    STRANGER,
    World,
    bientap,
    build_world,
    decide,
    submit_batch,
    table_rows,
)

RECENT_SENDER = "hoa.nt@syt.demo.bientap.vn"
RECENT_STRANGER = "khach.la@mail.example.vn"


def purge_at(world: World, now: datetime) -> dict[str, int]:
    """The board's purge as the daily job runs it, at ``now``."""
    with world.rig.sessions.begin() as s:
        return retention.purge(s, world.rig.board, now, world.deployed.files)


class Setting:
    """A deployment with last year's mail (old) and this year's (recent)."""

    def __init__(self, world: World, old: dict[str, int], recent: dict[str, int], mid: datetime):
        self.world, self.old, self.recent, self.mid = world, old, recent, mid

    @property
    def later(self) -> datetime:
        """When the old batch is past the board's retention and the recent one is not."""
        return self.mid + timedelta(days=self.world.rig.board.retention_days)

    def purge(self, now: datetime | None = None) -> dict[str, int]:
        return purge_at(self.world, now or self.later)

    def verify(self) -> audit.Verdict:
        with self.world.rig.sessions() as s:
            return audit.verify(s, self.world.board_id)


@pytest.fixture
def setting(tmp_path: Path, db_url: str) -> Setting:
    world = build_world(tmp_path, db_url)
    old = submit_batch(world, SENDER, "2025")
    mid = utcnow()
    recent = submit_batch(world, RECENT_SENDER, "2026", RECENT_STRANGER)
    return Setting(world, old, recent, mid)


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def mentions(url: str, needle: str) -> list[str]:
    """Table and column of every stored value that holds ``needle``."""
    found: list[str] = []
    for table, rows in table_rows(url).items():
        for row in rows:
            found.extend(f"{table}: {_text(v)[:80]}" for v in row if needle in _text(v))
    return found


def report_counts(setting: Setting) -> Counter[tuple[Any, ...]]:
    """What the activity report and the royalty statement count."""
    return Counter(
        (i.agency_id, i.kind, i.state, i.sender_member_id, tuple(i.field_ids), i.created_at)
        for i in setting.world.rig.items()
    ) + Counter(("credit", i.author) for i in setting.world.rig.items() if i.state == "published")


def raw_keys(setting: Setting) -> list[Any]:
    """How a mail is recognised when fetched again."""
    with setting.world.rig.sessions() as s:
        columns = (RawMessage.id, RawMessage.size, RawMessage.fingerprint, RawMessage.message_id)
        return [tuple(r) for r in s.execute(select(*columns).order_by(RawMessage.id))]


def rows_of(setting: Setting, ids: dict[str, int]) -> list[Any]:
    """The recent batch as stored: items, their raw mail, their mail out, their events."""
    with setting.world.rig.sessions() as s:
        items = s.scalars(select(Submission).where(Submission.id.in_(ids.values()))).all()
        raws = s.scalars(
            select(RawMessage.raw).where(RawMessage.id.in_([i.raw_message_id for i in items]))
        ).all()
        out = s.scalars(
            select(OutgoingMail.raw).where(OutgoingMail.submission_id.in_(ids.values()))
        ).all()
        events = s.execute(
            select(Event.actor, Event.detail, Event.hash).where(
                Event.submission_id.in_(ids.values())
            )
        ).all()
        fields = [(i.sender_address, i.sender_name, i.author, i.reason) for i in items]
        return [fields, list(raws), list(out), [tuple(e) for e in events]]


def test_old_personal_data_is_anonymised_and_recent_kept(
    setting: Setting, capsys: pytest.CaptureFixture[str]
) -> None:
    world = setting.world
    assert mentions(world.db_url, SENDER) and mentions(world.db_url, STRANGER)
    counts_before = report_counts(setting)
    recent_before = rows_of(setting, setting.recent)
    sizes_before = {t: len(r) for t, r in table_rows(world.db_url).items()}
    raw_before = raw_keys(setting)

    counts = setting.purge()

    assert counts["submissions"] == len(setting.old)
    assert counts["raw_messages"] == len(setting.old) + 2  # + the correction and the reply
    assert counts["outgoing_mails"] > 0 and counts["notices"] == 1  # the returned item's
    assert counts["events"] == 2  # the sender's correction, the stranger's reply
    assert mentions(world.db_url, SENDER) == []
    assert mentions(world.db_url, STRANGER) == []
    items = {i.id: i for i in world.rig.items()}
    for key, item_id in setting.old.items():
        item = items[item_id]
        assert (item.sender_address, item.sender_name) == ("", ""), key
    assert items[setting.old["published"]].author == "Lê Thị Hồng Nhung"  # a public credit
    assert items[setting.old["rejected"]].author is None
    with world.rig.sessions() as s:
        assert raw_keys(setting) == raw_before  # the same mail fetched again is still known
        old_raw = s.scalars(
            select(RawMessage.raw).where(
                RawMessage.id == items[setting.old["rejected"]].raw_message_id
            )
        ).one()
        assert old_raw == retention.PLACEHOLDER
        notices = sorted(n.address for n in s.scalars(select(NoticeLog)))
        assert notices[0].endswith("@invalid") and notices[1:] == [RECENT_SENDER]

    # what the reports count is unchanged, and so is everything recent
    assert report_counts(setting) == counts_before
    assert rows_of(setting, setting.recent) == recent_before
    assert mentions(world.db_url, RECENT_SENDER) and mentions(world.db_url, RECENT_STRANGER)
    sizes_after = {t: len(r) for t, r in table_rows(world.db_url).items()}
    assert sizes_after == {**sizes_before, "event": sizes_before["event"] + 1}

    # the record is intact, and says what was done
    assert setting.verify().ok
    assert cli.main(["--database-url", world.db_url, "audit", "verify"]) == 0
    assert "toàn vẹn" in capsys.readouterr().out
    with world.rig.sessions() as s:
        purged = s.scalars(select(Event).where(Event.kind == audit.REDACTION)).one()
    assert purged.seq is not None and purged.detail["counts"] == counts
    assert len(purged.detail["redacted"]) == 2


def test_purge_is_idempotent(setting: Setting) -> None:
    setting.purge()
    after_first = table_rows(setting.world.db_url)
    assert setting.purge() == dict.fromkeys(retention.COUNTS, 0)
    assert table_rows(setting.world.db_url) == after_first  # not even a new event
    assert setting.verify().ok


def test_a_redacted_event_cannot_be_altered_nor_its_address_guessed(setting: Setting) -> None:
    with setting.world.rig.sessions() as s:
        correction = s.scalars(select(Event).where(Event.kind == "correction")).first()
        assert correction is not None and audit.SALT in correction.detail  # salted when sealed
        correction_id = correction.id
    setting.purge()
    with setting.world.rig.sessions() as s:
        event = s.get(Event, correction_id)
        assert event is not None
        assert event.actor == retention.ANONYMOUS and audit.SALT not in event.detail
        # the hash left in the chain does not confirm a guessed address: the salt is gone
        event.actor = SENDER
        assert audit.digest(event, event.prev_hash or "") != event.hash
        s.rollback()
    with setting.world.rig.sessions.begin() as s:
        s.execute(update(Event).where(Event.id == correction_id).values(channel="web"))
    verdict = setting.verify()
    assert not verdict.ok and "was altered" in (verdict.problem or "")


def test_a_forged_redaction_record_breaks_the_chain(setting: Setting) -> None:
    setting.purge()
    with setting.world.rig.sessions.begin() as s:
        purged = s.scalars(select(Event).where(Event.kind == audit.REDACTION)).one()
        first = s.scalars(select(Event).where(Event.seq == 1)).one()
        first.kind = "something-else"
        extra = [first.seq, first.hash, audit.digest(first, first.prev_hash or "")]
        purged.detail = {**purged.detail, "redacted": [*purged.detail["redacted"], extra]}
        seq = purged.seq
    verdict = setting.verify()
    assert not verdict.ok and verdict.problem == f"event #{seq} was altered"


def test_purge_from_the_command_line(
    setting: Setting,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = setting.world
    config = str(world.config)
    monkeypatch.setattr(cli_backup, "utcnow", lambda: setting.later)  # a year on
    before = table_rows(world.db_url)
    caplog.set_level(logging.INFO, logger=retention.__name__)
    assert bientap("--config", config, "purge", "--dry-run") == 0
    out = capsys.readouterr().out
    assert "sẽ ẩn danh (would anonymise)" in out and f"{len(setting.old):>6}  bài gửi" in out
    assert table_rows(world.db_url) == before
    assert "personal data purged" not in caplog.text  # a dry run purged nothing
    assert bientap("--config", config, "purge", "--board", "demo") == 0
    assert "đã ẩn danh (anonymised)" in capsys.readouterr().out
    assert "board=demo: personal data purged before" in caplog.text
    assert mentions(world.db_url, SENDER) == []
    assert bientap("--config", config, "purge", "--board", "khong-co") == 2  # as elsewhere
    assert "--board: không có ban biên tập 'khong-co'" in capsys.readouterr().err
    assert cli.main(["--database-url", world.db_url, "audit", "verify"]) == 0
    assert State.PUBLISHED in {i.state for i in world.rig.items()}


def test_attachments_of_items_never_published_leave_the_store(tmp_path: Path, db_url: str) -> None:
    """A rejected item's scan of an identity card goes, name and bytes; the same photo as
    a published item's stays (the store keeps one copy by content), and so does the
    published item's file. A purge rolled back removes nothing."""
    world = build_world(tmp_path, db_url)
    old = submit_batch(world, SENDER, "2025")
    rig, store = world.rig, world.deployed.files
    card = PNG + b"CCCD-079123456789"
    rig.drop(
        article_mail(
            "rieng.tu@syt.demo.bientap.vn",
            DEMO_BOX,
            "Đơn xin đăng tin cá nhân",
            attachments=[
                ("cccd-tran-thi-rieng.png", "image/png", card),
                ("anh.png", "image/png", PNG),
            ],
        )
    )
    rig.runner.run_once()
    private = rig.items()[-1].id
    decide(world, private, Verb.REJECT, "Không phù hợp")
    rig.runner.deliver()
    setting = Setting(world, {**old, "private": private}, {}, utcnow())
    card_path, photo_path = (store.path(hashlib.sha256(b).hexdigest()) for b in (card, PNG))
    assert card_path.is_file() and photo_path.is_file()

    with rig.sessions() as s:
        assert retention.purge(s, rig.board, setting.later, store)["files"] == 2
        s.rollback()
    assert card_path.is_file()

    assert setting.purge()["files"] == 2
    assert not card_path.exists() and photo_path.is_file()
    with rig.sessions() as s:
        rows = s.scalars(select(StoredFile).order_by(StoredFile.id)).all()
    kept = [(f.filename, f.sha256 is not None) for f in rows if f.submission_id == old["published"]]
    assert kept == [("anh-khai-giang.png", True)]
    gone = [(f.filename, f.sha256) for f in rows if f.submission_id == private]
    assert gone == [(retention.ANONYMOUS, None)] * 2
    assert mentions(world.db_url, "cccd-tran-thi-rieng") == []
    assert setting.verify().ok
    assert cli.main(["--database-url", world.db_url, "audit", "verify"]) == 0
    with rig.sessions() as s:
        purged = s.scalars(select(Event).where(Event.kind == audit.REDACTION)).one()
    assert purged.detail["counts"]["files"] == 2
    assert setting.purge()["files"] == 0


def test_a_published_item_without_a_byline_keeps_its_credit(setting: Setting) -> None:
    """The royalty statement credits an item without a byline to its sender's name: the
    purge writes that name into the author, so an approved statement's payee stays."""
    published = setting.old["published"]
    with setting.world.rig.sessions.begin() as s:
        item = s.get(Submission, published)
        assert item is not None and item.sender_name
        name = item.sender_name
        item.author = None
    setting.purge()
    item = next(i for i in setting.world.rig.items() if i.id == published)
    assert (item.author, item.sender_name, item.sender_address) == (name, "", "")
    assert setting.verify().ok


def _stored_long_ago(path: Path) -> None:
    """The file as a store holds it after two years: written then, untouched since."""
    then = (utcnow() - timedelta(days=730)).timestamp()
    os.utime(path, (then, then))


def test_a_purge_while_the_same_file_comes_in_again_keeps_it(tmp_path: Path, db_url: str) -> None:
    """Two years ago a rejected item had a scan; today the same scan comes in again, and
    the daily purge runs (in another daemon) after the reader has stored it but before
    the new item is recorded. The new item's file stays whole."""
    world = build_world(tmp_path, db_url)
    rig, store = world.rig, world.deployed.files
    scan = PNG + b"giay-moi-hop-bao"
    attachment = ("giay-moi.png", "image/png", scan)
    rig.drop(article_mail(SENDER, DEMO_BOX, "Mời họp báo", attachments=[attachment]))
    rig.runner.run_once()
    [old] = rig.items()
    decide(world, old.id, Verb.REJECT, "Không phù hợp")
    with rig.sessions.begin() as s:
        s.execute(
            update(Submission)
            .where(Submission.id == old.id)
            .values(created_at=utcnow() - timedelta(days=730))
        )
    path = store.path(hashlib.sha256(scan).hexdigest())
    _stored_long_ago(path)

    class PurgedMidway(Readers):
        def read_all(self, raws: Iterable[tuple[int, bytes]]) -> Iterator[tuple[int, Outcome]]:
            readings = list(super().read_all(raws))
            assert purge_at(world, utcnow())["files"] == 1
            yield from readings

    rig.runner.readers = PurgedMidway(rig.board, rig.files)
    rig.drop(article_mail(RECENT_SENDER, DEMO_BOX, "Mời họp báo quý II", attachments=[attachment]))
    rig.runner.run_once()

    old_row, new_row = (f for i in rig.items() for f in i.files)
    assert (old_row.filename, old_row.sha256) == (retention.ANONYMOUS, None)
    assert new_row.filename == "giay-moi.png" and new_row.sha256 is not None
    assert store.get(new_row.sha256) == scan


def test_what_a_killed_reader_half_wrote_goes_with_the_next_days_purge(
    tmp_path: Path, db_url: str
) -> None:
    """A reader killed while it writes an attachment (SIGKILL, the out-of-memory killer)
    leaves its temporary file: the mail is read again and its file stored whole, and the
    daily purge removes the leftover once it is a day old (one younger may be a file
    another daemon is still writing). It holds a sender's bytes; nothing else would."""
    world = build_world(tmp_path, db_url)
    rig, store = world.rig, world.deployed.files
    scan = PNG + b"to-trinh-so-12"
    killed_in = "; ".join(
        [
            "import os, time",
            "from pathlib import Path",
            "from pipeline.files import FileStore",
            "os.fsync = lambda fd: (print('writing', flush=True), time.sleep(60))",
            f"FileStore(Path({str(store.root)!r})).put({scan!r})",
        ]
    )
    assert orphaned(killed_in) == ["writing"]
    [leftover] = store.root.glob("*/.tmp-*")

    rig.drop(
        article_mail(
            SENDER, DEMO_BOX, "Tờ trình", attachments=[("to-trinh.png", "image/png", scan)]
        )
    )
    rig.runner.run_once()
    [item] = rig.items()
    [stored] = item.files
    assert stored.sha256 is not None and store.get(stored.sha256) == scan
    purge_at(world, utcnow())
    assert leftover.exists()
    purge_at(world, utcnow() + timedelta(days=2))
    assert list(store.root.glob("*/.tmp-*")) == []
    assert store.get(stored.sha256) == scan


def test_a_purge_killed_after_its_commit_removes_the_files_the_next_day(
    tmp_path: Path, db_url: str
) -> None:
    """The daemon is killed (SIGKILL, a power cut) after the purge committed and before it
    removed the files it freed: the rows no longer name the scan, and the next purge
    removes it all the same. Files rows still name, and one stored a moment ago for a
    mail not yet recorded, stay."""
    world = build_world(tmp_path, db_url)
    submit_batch(world, SENDER, "2024")  # a published item's photo among them
    rig, store = world.rig, world.deployed.files
    scan = PNG + b"CCCD-001190012345"
    attachment = ("cccd-nguyen-van-binh.png", "image/png", scan)
    rig.drop(article_mail(SENDER, DEMO_BOX, "Đơn đề nghị đăng tin", attachments=[attachment]))
    rig.runner.run_once()
    private = rig.items()[-1].id
    decide(world, private, Verb.REJECT, "Không phù hợp")
    with rig.sessions.begin() as s:  # two years on
        s.execute(update(Submission).values(created_at=utcnow() - timedelta(days=730)))
    for path in store.root.glob("??/*"):
        _stored_long_ago(path)
    scan_path = store.path(hashlib.sha256(scan).hexdigest())
    killed = "; ".join(
        [
            "import time",
            "from pathlib import Path",
            "from pipeline import retention",
            "from pipeline.app import open_deployment",
            "from pipeline.files import FileStore",
            "from pipeline.models import utcnow",
            "FileStore.discard = lambda *a: (print('committed', flush=True), time.sleep(60))",
            f"d = open_deployment(Path({str(world.config)!r}))",
            "s = d.sessions.begin().__enter__()",
            "retention.purge(s, d.boards[0], utcnow(), d.files)",
            "s.commit()",
        ]
    )
    assert orphaned(killed) == ["committed"]
    with rig.sessions() as s:
        named = s.scalars(select(StoredFile.sha256).where(StoredFile.submission_id == private))
        assert named.all() == [None]
    assert scan_path.is_file()
    kept = [store.path(f.sha256) for i in rig.items() for f in i.files if f.sha256]
    incoming = store.path(store.put(PNG + b"giay-moi-chua-ghi-nhan"))  # a reader's, just now

    next_morning = utcnow() + timedelta(hours=20)
    assert purge_at(world, next_morning) == dict.fromkeys(retention.COUNTS, 0)
    assert not scan_path.exists()
    assert kept and all(path.is_file() for path in [*kept, incoming])


def test_mail_held_past_the_retention_is_set_aside_anonymised_and_the_secretary_told(
    tmp_path: Path, db_url: str
) -> None:
    """A stranger's mail held two years ago, never admitted nor dismissed, would keep his
    address for ever: the purge sets it aside, anonymises it, and the Thư ký is told once
    which mail went. This year's held mail waits for her as before."""
    world = build_world(tmp_path, db_url)
    rig = world.rig
    rig.drop(article_mail(STRANGER, DEMO_BOX, "Hội thi văn nghệ xã Tân Phú", body=NEWS_BODY))
    rig.runner.run_once()
    [old] = rig.items()
    then = utcnow() - timedelta(days=730)
    with rig.sessions.begin() as s:
        s.execute(update(Submission).where(Submission.id == old.id).values(created_at=then))
        s.execute(update(RawMessage).values(received_at=then))
    rig.drop(article_mail(RECENT_STRANGER, DEMO_BOX, "Lễ hội đình làng", body=NEWS_BODY))
    rig.runner.run_once()
    recent = rig.items()[-1]
    assert (old.state, recent.state) == ("held", "held")

    assert purge_at(world, utcnow())["held"] == 1
    assert purge_at(world, utcnow())["held"] == 0
    rig.runner.deliver()
    gone, waiting = rig.items()
    assert (gone.state, gone.sender_address, gone.sender_name) == ("set_aside", "", "")
    assert (waiting.state, waiting.sender_address) == ("held", RECENT_STRANGER)
    assert mentions(world.db_url, STRANGER) == []
    [notice] = [m for m in rig.sent() if "quá thời hạn lưu giữ" in str(m["Subject"])]
    assert rig.board.member("thu-ky").email in str(notice["To"])
    text = notice.get_body(("plain",))
    assert text is not None
    body = " ".join(text.get_content().split())
    assert old.tracking_code in body and "Hội thi văn nghệ xã Tân Phú" in body
    assert recent.tracking_code not in body and STRANGER not in body
    with rig.sessions() as s:
        assert audit.verify(s, world.board_id).ok
