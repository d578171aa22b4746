"""The record is tamper-evident: `bientap audit verify` finds a changed or removed event."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, update

from pipeline import cli
from pipeline.models import AuditHead, Event
from pipeline.samples import article_mail
from tests.helpers import DEMO_BOX, Rig, make_rig

SENDER = "nhung.ltt@sgddt.demo.bientap.vn"


@pytest.fixture
def rig(tmp_path: Path, db_url: str) -> Rig:
    rig = make_rig(tmp_path, db_url)
    for i in range(3):
        rig.drop(article_mail(SENDER, DEMO_BOX, f"Tin số {i}", message_id=f"<{i}@x>"))
    rig.runner.run_once()
    rig.drop(article_mail(SENDER, DEMO_BOX, "Tin số 3", message_id="<3@x>"))
    rig.runner.run_once()  # a second pass extends the same chain
    return rig


def _verify(db_url: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = cli.main(["--database-url", db_url, "audit", "verify"])
    return code, capsys.readouterr().out


def test_every_event_is_sealed_into_one_chain(
    rig: Rig, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with rig.sessions() as s:
        seqs = list(s.scalars(select(Event.seq).order_by(Event.id)))
    assert len(seqs) > 4  # received, routed, notified… for each of the 4 items
    assert seqs == list(range(1, len(seqs) + 1))
    code, out = _verify(db_url, capsys)
    assert code == 0
    assert f"demo: {len(seqs)} sự kiện, chuỗi nhật ký toàn vẹn" in out
    with rig.sessions() as s:
        last = s.scalar(select(Event.hash).where(Event.seq == len(seqs)))
    assert f"#{len(seqs)} {last}" in out  # the anchor an operator copies elsewhere


def test_an_altered_event_breaks_the_chain(
    rig: Rig, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with rig.sessions.begin() as s:
        s.execute(update(Event).where(Event.seq == 2).values(actor="someone-else"))
    code, out = _verify(db_url, capsys)
    assert code == 1
    assert "event #2 was altered" in out


def test_a_removed_event_breaks_the_chain(
    rig: Rig, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with rig.sessions.begin() as s:
        s.execute(delete(Event).where(Event.seq == 3))
    code, out = _verify(db_url, capsys)
    assert code == 1 and "event #3 is missing" in out


def test_removing_the_newest_events_shows_too(
    rig: Rig, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with rig.sessions.begin() as s:
        last = s.scalar(select(func.max(Event.seq)))
        assert last is not None and last > 3
        s.execute(delete(Event).where(Event.seq == last))
    code, out = _verify(db_url, capsys)
    assert code == 1 and f"events after #{last - 1} were removed" in out


@pytest.mark.parametrize(
    ("removed", "said"),
    [
        ((Event, AuditHead), "items on record but no event at all"),
        ((AuditHead,), "head record was removed"),
    ],
)
def test_removing_the_head_record_or_the_whole_chain_shows(
    rig: Rig,
    db_url: str,
    capsys: pytest.CaptureFixture[str],
    removed: tuple[type[Event] | type[AuditHead], ...],
    said: str,
) -> None:
    with rig.sessions.begin() as s:
        for table in removed:
            s.execute(delete(table))
    code, out = _verify(db_url, capsys)
    assert code == 1 and said in out


def test_an_empty_database_says_so_for_every_configured_board(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    make_rig(tmp_path, db_url)  # the schema, and nothing in it
    code, out = _verify(db_url, capsys)
    assert code == 0
    assert "demo: chưa có sự kiện nào được ghi" in out and "lucnam: chưa có" in out
