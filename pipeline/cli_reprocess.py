"""``bientap reprocess``: a message kept as failed, or held, is processed again, here and now.

A message that could not be read, or kept crashing the pipeline, is kept raw as a
failed item with the reason; one from a sender the board does not know is held. Once
the cause is fixed (a bug, a setting; the sender's address added to the board's
configuration), the operator puts it back: the raw message is NEW again with no
attempts counted, and its mailbox's runner (the daemon's own code,
``MailboxRunner.process``) processes it in this process. The failed or held item
becomes the proper item, keeping its id, tracking code and
history (``ingest._new_item``): one message, one item, however often it is reprocessed. A
daemon running meanwhile may take some of them first; the row lock and the NEW state
let only one of the two store each. Each message put back is recorded as a
``reprocess-requested`` event with channel "cli" and the operator. One whose files
cannot be stored (a full disk) is not failed again: it waits, unread, and is reported
as waiting; the daemon reads it once the store can be written. A message its mailbox
could not serve (recorded without its bytes) is asked for again from the mailbox: served,
it is processed so; refused again, it waits for the daemon's next tries; gone from there
(moved, deleted, the folder renumbered), it stays failed, and the reason says so.
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Final

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import Select, select
from sqlalchemy.orm import Session, sessionmaker

from connectors.base import PermanentError, TransientError
from pipeline import audit, logs, retention
from pipeline.app import Deployed, watchers
from pipeline.cli_argparse import command
from pipeline.cli_common import BOARD, console, deployed, known_board, named, operator, text
from pipeline.models import STATE_LABELS, Event, RawMessage, RawStatus, State, Submission
from pipeline.runner import MAX_ATTEMPTS, MailboxRunner, never_served

CHUNK = 50  # messages put back and processed at a time (the progress bar's step)

Target = tuple[int, str, str]  # raw message id, board, mailbox


# What an operator may put back: what could not be read, and what waits for his decision.
AGAIN: Final = (State.FAILED, State.HELD)


def _stuck(states: Sequence[State]) -> Select[int, str, str]:
    return (
        select(RawMessage.id, RawMessage.board_id, RawMessage.mailbox)
        .join(Submission, Submission.raw_message_id == RawMessage.id)
        .where(
            Submission.state.in_(states),
            RawMessage.status == RawStatus.DONE,
            RawMessage.raw != retention.PLACEHOLDER,  # purged: nothing left to read
        )
        .order_by(RawMessage.id)
    )


def targets(
    session: Session, keys: Sequence[str], board: str | None, states: Sequence[State] = AGAIN
) -> tuple[list[Target], list[str]]:
    """The failed or held messages named (raw message ids, or items' tracking codes), or
    every one in ``states`` (of one board); and the keys that name none of them."""
    query = _stuck(states)
    if board:
        query = query.where(RawMessage.board_id == board)
    if not keys:
        return [(row[0], row[1], row[2]) for row in session.execute(query)], []
    found: list[Target] = []
    refused: list[str] = []
    for key in keys:
        row = session.execute(query.where(named(key, RawMessage.id))).first()
        if row is None:
            refused.append(key.strip())
        else:
            found.append((row[0], row[1], row[2]))
    return found, refused


def put_back(sessions: sessionmaker[Session], ids: Sequence[int], who: str) -> list[int]:
    """Make the failed or held messages NEW again (or, never served by their mailbox, to be
    asked for again), with the state and reason each had on record; the ids actually put
    back (one that changed meanwhile is left alone)."""
    with sessions.begin() as session:
        rows = session.execute(
            select(RawMessage, Submission)
            .join(Submission, Submission.raw_message_id == RawMessage.id)
            .where(
                RawMessage.id.in_(ids),
                RawMessage.status == RawStatus.DONE,
                Submission.state.in_(AGAIN),
            )
            .order_by(RawMessage.id)
            .with_for_update()
        ).all()
        for raw, item in rows:
            session.add(
                Event(
                    board_id=raw.board_id,
                    submission_id=item.id,
                    raw_message_id=raw.id,
                    kind="reprocess-requested",
                    actor=who,
                    channel="cli",
                    detail={"state": item.state, "reason": item.reason, "attempts": raw.attempts},
                )
            )
            raw.status = RawStatus.UNSERVED if never_served(raw) else RawStatus.NEW
            raw.attempts, raw.last_error = 0, None
            raw.claimed_by, raw.claimed_until = None, None
        return [raw.id for raw, _item in rows]


def _unread(sessions: sessionmaker[Session], ids: Sequence[int]) -> set[tuple[int, int]]:
    """Which of ``ids`` are still NEW, with the attempts each has counted."""
    with sessions() as session:
        rows = session.execute(
            select(RawMessage.id, RawMessage.attempts).where(
                RawMessage.id.in_(ids), RawMessage.status == RawStatus.NEW
            )
        )
        return {(raw_id, attempts) for raw_id, attempts in rows}


def process(runner: MailboxRunner, ids: Sequence[int]) -> None:
    """Process until none of ``ids`` is NEW: a message whose reading fails again counts
    an attempt per pass and is kept as failed after MAX_ATTEMPTS, as in the daemon. A
    pass that changes none of them ends it: what is left waits for the store, or another
    daemon has it in hand; reading it again here would change nothing."""
    before = _unread(runner.sessions, ids)
    for _ in range(MAX_ATTEMPTS + 1):
        runner.process()
        after = _unread(runner.sessions, ids)
        if not after or after == before:
            return
        before = after


def ask_again(runner: MailboxRunner, ids: Sequence[int]) -> None:
    """Ask the mailbox for those of ``ids`` it could not serve. A mailbox that cannot be
    reached now is said so; the daemon asks it again on its next pass."""
    try:
        runner.fetch_again(ids)
    except (TransientError, PermanentError) as exc:
        console(stderr=True).print(
            text(f"Chưa hỏi lại được hộp thư, daemon sẽ hỏi lại (cannot ask the mailbox): {exc}")
        )


def _chunks(items: Sequence[Target]) -> Iterator[Sequence[Target]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def run(d: Deployed, found: list[Target], who: str) -> tuple[Counter[str], list[str], list[str]]:
    """Put back and process ``found``, with a progress bar; how many ended in each state,
    why each one still unread waits, and why each one failed or is held again."""
    involved = {board for _raw, board, _box in found}
    only = replace(d, boards=[b for b in d.boards if b.id in involved])  # their secrets only
    runners = {(w.runner.board.id, w.runner.mailbox): w for w in watchers(only)}
    progress = Progress(
        TextColumn("Xử lý lại (reprocessing)"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console(stderr=True),
    )
    try:
        with progress:
            task = progress.add_task("reprocess", total=len(found))
            for chunk in _chunks(found):
                ids = put_back(d.sessions, [raw_id for raw_id, _b, _m in chunk], who)
                for key in sorted({(b, m) for raw_id, b, m in chunk if raw_id in ids}):
                    mine = [i for i, b, m in chunk if (b, m) == key]
                    ask_again(runners[key].runner, mine)
                    process(runners[key].runner, mine)
                for board in sorted({b for _i, b, _m in chunk}):
                    with d.sessions.begin() as session:
                        audit.seal(session, board)
                progress.advance(task, len(chunk))
    finally:
        for watcher in runners.values():
            watcher.close()
    with d.sessions() as session:
        rows = session.execute(
            select(
                Submission.state,
                Submission.tracking_code,
                Submission.reason,
                RawMessage.status,
                RawMessage.last_error,
            )
            .join(RawMessage, Submission.raw_message_id == RawMessage.id)
            .where(RawMessage.id.in_([t[0] for t in found]))
            .order_by(RawMessage.id)
        )
        states: Counter[str] = Counter()
        waiting: list[str] = []  # why each still unread one waits (not stored, not served)
        again: list[str] = []  # "still failed CODE: why", "still held CODE: why"
        for state, code, reason, status, error in rows:
            if status in (RawStatus.NEW, RawStatus.UNSERVED):  # the daemon tries it again
                waiting.append(error or "")
                continue
            states[state] += 1
            if state in AGAIN:
                again.append(f"{_STILL[State(state)]} {code}: {reason}")
        return states, waiting, again


_STILL: Final = {State.FAILED: "Vẫn lỗi (still failed)", State.HELD: "Vẫn tạm giữ (still held)"}
_EVERY: Final = {"failed": (State.FAILED,), "held": (State.HELD,)}  # --failed, --held


def reprocess(args: argparse.Namespace) -> int:
    every = tuple(s for flag, states in _EVERY.items() if getattr(args, flag) for s in states)
    if bool(args.raw) == bool(every):
        console(stderr=True).print(
            "reprocess: cho RAW_ID… hoặc --failed, --held (give RAW_ID… or --failed, --held)"
        )
        return 2
    d = deployed(args)
    try:
        with d.sessions() as session:
            known_board(args, [b.id for b in d.boards], session)
            found, refused = targets(session, args.raw, args.board, every or AGAIN)
        configured = {(b.id, box.name) for b in d.boards for box in b.mailboxes}
        orphans = [f"{raw_id}" for raw_id, b, m in found if (b, m) not in configured]
        for key in refused:
            console(stderr=True).print(
                f"{key}: không phải thư bị lỗi hay tạm giữ (not a failed or held message)"
            )
        for key in orphans:
            console(stderr=True).print(
                f"{key}: hộp thư của thư này không còn trong cấu hình (mailbox not configured)"
            )
        if refused or orphans:
            return 1
        if not found:
            console().print(
                "Không có thư lỗi hay tạm giữ nào để xử lý lại (no failed or held message)."
            )
            return 0
        with logs.to_stderr():
            states, waiting, again = run(d, found, operator())
    finally:
        d.engine.dispose()
    table = Table(title=f"Đã xử lý lại {len(found)} thư (reprocessed)", title_justify="left")
    table.add_column("Trạng thái")
    table.add_column("Số mục", justify="right")
    for state, n in sorted(states.items()):
        table.add_row(text(STATE_LABELS.get(State(state), state)), str(n))
    if waiting:
        table.add_row(text("Chờ đọc lại"), str(len(waiting)))
    console().print(table)
    for line in again:
        console().print(text(line))
    if waiting:  # no reason on record: another daemon has it in hand
        why = next((w for w in waiting if w), "một daemon khác đang đọc (another daemon has it)")
        console().print(text(f"Chờ đọc lại (waiting): {why}. Daemon sẽ đọc lại ở lượt sau."))
    return 1 if again or waiting else 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    again = command(
        sub,
        "reprocess",
        "xử lý lại ngay thư không đọc được hoặc thư tạm giữ "
        "(process failed or held messages again, now)",
    )
    again.add_argument(
        "raw",
        nargs="*",
        metavar="THƯ",
        help="số thư gốc, hoặc mã theo dõi của tin bài (raw message id or tracking code)",
    )
    again.add_argument(
        "--failed", action="store_true", help="mọi thư không đọc được (every failed message)"
    )
    again.add_argument(
        "--held",
        action="store_true",
        help="mọi thư tạm giữ, như khi vừa thêm người gửi vào cấu hình (every held message)",
    )
    again.add_argument(
        "--board", metavar=BOARD, help="với --failed hoặc --held: chỉ một ban (one board only)"
    )
    again.set_defaults(handler=reprocess)
