"""New rows' ids (pipeline/ids.py): given at once on SQLite, by a flush elsewhere; either
way in the order the rows were made, with the defaults an INSERT sets, foreign keys still
enforced, and no two writers ever given the same id."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from pipeline import ids
from pipeline.db import open_database
from pipeline.models import Event, RawMessage, StoredFile, Submission, SubmissionVersion


def _raw(n: int) -> RawMessage:
    return RawMessage(
        board_id="b", mailbox="m", source_key=str(n), fingerprint=f"fp{n}", raw=b"x", size=1
    )


def test_a_new_row_has_its_id_and_defaults_at_once_and_ids_follow_the_order_made(
    db_url: str,
) -> None:
    _engine, sessions = open_database(db_url)
    with sessions.begin() as s:
        s.add(Event(board_id="b", kind="seed"))  # an existing row: the ids go on after it
    with sessions.begin() as s:
        first = Event(board_id="b", kind="first")
        s.add(first)
        ids.need(s, first)
        raw = _raw(1)
        s.add(raw)
        ids.need(s, raw)
        item = Submission(board_id="b", raw_message_id=raw.id, tracking_code="T1", state="new")
        item.files = [
            StoredFile(filename="a.pdf", content_type="application/pdf", size=1, role="attachment")
        ]
        s.add(item)
        ids.need(s, item)
        assert item.id is not None
        assert (item.version, item.review_round, item.field_ids) == (1, 0, [])
        s.add_all(Event(board_id="b", kind=f"e{i}", submission_id=item.id) for i in range(5))
    with sessions() as s:
        events = s.scalars(select(Event).order_by(Event.id)).all()
        # the audit chain seals events in id order: it is the order they happened
        assert [e.kind for e in events] == ["seed", "first", "e0", "e1", "e2", "e3", "e4"]
        assert {e.submission_id for e in events[2:]} == {item.id}
        assert s.scalars(select(Submission.tracking_code)).all() == ["T1"]
        assert s.scalars(select(StoredFile.submission_id)).all() == [item.id]


def test_a_row_naming_a_missing_row_is_refused_and_its_transaction_leaves_nothing(
    db_url: str,
) -> None:
    _engine, sessions = open_database(db_url)
    with pytest.raises(IntegrityError), sessions.begin() as s:
        s.add(Event(board_id="b", kind="with the orphan"))
        orphan = SubmissionVersion(
            submission_id=999,
            number=1,
            content_hash="h",
            title="t",
            body_html="",
            body_text="",
            made_by="sender",
        )
        s.add(orphan)
        ids.need(s, orphan)
    with sessions.begin() as s:  # the next transaction is unharmed
        s.add(Event(board_id="b", kind="after"))
    with sessions() as s:
        assert s.scalars(select(Event.kind)).all() == ["after"]
        assert s.scalars(select(SubmissionVersion)).all() == []


def test_writers_sharing_the_database_never_get_the_same_id(db_url: str) -> None:
    _engine, sessions = open_database(db_url)
    failures: list[BaseException] = []

    def write(writer: int) -> None:
        try:
            for batch in range(15):
                with sessions.begin() as s:
                    for n in range(8):
                        raw = _raw(writer * 1000 + batch * 10 + n)
                        s.add(raw)
                        ids.need(s, raw)
                        s.add(Event(board_id="b", kind=f"{writer}", raw_message_id=raw.id))
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            failures.append(exc)

    threads = [threading.Thread(target=write, args=[w]) for w in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    with sessions() as s:
        assert len(s.scalars(select(RawMessage.id)).all()) == 3 * 15 * 8
        events = s.scalars(select(Event)).all()
        assert len(events) == 3 * 15 * 8
        raws = {r.id: r.source_key for r in s.scalars(select(RawMessage))}
        # each event names the raw message its own writer made with it
        assert all(int(raws[e.raw_message_id or 0]) // 1000 == int(e.kind) for e in events)
