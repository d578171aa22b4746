"""The operators' command line: ``bientap list``, ``show``, ``act`` and ``audit verify``."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline import audit, review
from pipeline.app import links, open_deployment
from pipeline.commands import Verb
from pipeline.config import ConfigError, load_deployment
from pipeline.db import open_database
from pipeline.models import (
    STATE_LABELS,
    AuditHead,
    Event,
    Publication,
    PubState,
    ReviewTask,
    State,
    Submission,
    utcnow,
)


def item_dict(item: Submission, full: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": item.id,
        "board": item.board_id,
        "tracking_code": item.tracking_code,
        "state": item.state,
        "state_label": STATE_LABELS.get(State(item.state), item.state),
        "reason": item.reason,
        "kind": item.kind,
        "agency": item.agency_id,
        "sender": item.sender_address,
        "sender_name": item.sender_name,
        "sender_member": item.sender_member_id,
        "fields": item.field_ids,
        "members": item.member_ids,
        "title": item.title,
        "flags": item.flags,
        "message_id": item.message_id,
        "created_at": item.created_at.isoformat(),
    }
    if full:
        out.update(
            {
                "body_text": item.body_text,
                "body_html": item.body_html,
                "author": item.author,
                "unit": item.unit,
                "source": item.source,
                "document": item.document,
                "legacy_encoding": item.legacy_encoding,
                "remote_images": item.remote_images,
                "duplicate_of": item.duplicate_of,
                "due_at": item.due_at.isoformat() if item.due_at else None,
                "version": item.version,
                "review_step": item.review_step,
                "files": [
                    {
                        "filename": f.filename,
                        "content_type": f.content_type,
                        "size": f.size,
                        "sha256": f.sha256,
                        "role": f.role,
                        "content_id": f.content_id,
                    }
                    for f in item.files
                ],
            }
        )
    return out


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bientap", description="bientap: stored submissions")
    parser.add_argument("--config", default="config", help="a board file or a folder of them")
    parser.add_argument("--database-url", help="overrides deployment.toml and BIENTAP_DATABASE_URL")
    sub = parser.add_subparsers(dest="command", required=True)
    lister = sub.add_parser("list", help="list stored items, newest first")
    lister.add_argument("--json", action="store_true")
    lister.add_argument("--board")
    lister.add_argument("--state", choices=[s.value for s in State])
    lister.add_argument("--limit", type=int, default=200)
    shower = sub.add_parser("show", help="show one item whole")
    shower.add_argument("id", help="item id or tracking code")
    shower.add_argument("--json", action="store_true")
    actor = sub.add_parser("act", help="record a reviewer's decision on his behalf")
    actor.add_argument("id", help="item id or tracking code")
    actor.add_argument("verb", choices=[v.value for v in Verb])
    actor.add_argument("--as", dest="member", required=True, help="the member who decided")
    actor.add_argument("--reason", required=True, help="why it is recorded from here")
    actor.add_argument("--text", help="reason to reject, what to fix, or whom to forward to")
    retry = sub.add_parser("retry", help="publish a dead-lettered item again")
    retry.add_argument("id", help="item id or tracking code")
    pubs = sub.add_parser("publications", help="publications by state (dead letters…)")
    pubs.add_argument("--state", choices=[s.value for s in PubState])
    pubs.add_argument("--json", action="store_true")
    auditor = sub.add_parser("audit", help="the tamper-evident record")
    auditor.add_argument("action", choices=["verify"])
    auditor.add_argument("--board", help="one board (default: every board on record)")
    return parser


def _audit_verify(session: Session, board: str | None) -> int:
    boards = [board] if board else sorted(session.scalars(select(AuditHead.board_id)))
    broken = 0
    for board_id in boards:
        verdict = audit.verify(session, board_id)
        if verdict.ok:
            print(f"{board_id}: {verdict.checked} sự kiện, chuỗi nhật ký toàn vẹn (intact)")
        else:
            broken += 1
            print(
                f"{board_id}: CHUỖI NHẬT KÝ BỊ PHÁ VỠ (broken) sau {verdict.checked} sự kiện: "
                f"{verdict.problem}"
            )
    return 1 if broken else 0


def _find(session: Session, key: str) -> Submission | None:
    return session.scalar(
        select(Submission).where(
            Submission.id == int(key) if key.isdigit() else Submission.tracking_code == key
        )
    )


def _act(args: argparse.Namespace) -> int:
    """A decision a member gave outside the mail and the links (by phone, on paper),
    recorded by an operator: channel "cli", with the operator and his reason."""
    d = open_deployment(args.config, args.database_url)
    signing = links(d)
    with d.sessions.begin() as session:
        item = _find(session, args.id)
        if item is None:
            print(f"no item {args.id}", file=sys.stderr)
            return 1
        board = next(b for b in d.boards if b.id == item.board_id)
        desk = review.Desk(board, session, signing, d.files)
        seats = [t for t in review.tasks(desk, item) if t.state == "pending"]
        seat = next(
            (t for t in seats if _may(desk, t, item, args.member)),
            None,
        )
        if seat is None:
            print(f"{args.member} has no open review seat on this item", file=sys.stderr)
            return 1
        evidence = review.Evidence("cli", {"operator": getpass.getuser(), "reason": args.reason})
        decision = review.Decision(Verb(args.verb), args.text)
        try:
            done = review.act(
                desk, seat.id, args.member, decision, item.content_hash or "", evidence
            )
        except review.Refused as exc:
            print(exc.message, file=sys.stderr)
            return 1
        audit.seal(session, board.id)
    print(done)
    return 0


def _may(desk: review.Desk, task: ReviewTask, item: Submission, member: str) -> bool:
    try:
        review.may_act(desk, task, item, member)
    except review.Refused:
        return False
    return True


def publication_dict(p: Publication) -> dict[str, Any]:
    return {
        "item": p.submission_id,
        "board": p.board_id,
        "connector": p.connector,
        "state": p.state,
        "key": p.key,
        "remote_id": p.remote_id,
        "url": p.url,
        "attempts": p.attempts,
        "next_attempt_at": p.next_attempt_at.isoformat(),
        "last_error": p.last_error,
        "difference": p.difference,
    }


def _publications(session: Session, state: str | None, as_json: bool) -> int:
    query = select(Publication).order_by(Publication.id)
    if state:
        query = query.where(Publication.state == state)
    rows = [publication_dict(p) for p in session.scalars(query)]
    if as_json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    for r in [] if as_json else rows:
        print(
            f"{r['item']:>6}  {r['state']:<10} {r['attempts']:>2}  {r['url'] or '-'}  "
            f"{(r['last_error'] or '')[:80]}"
        )
    return 0


def _retry(session: Session, key: str) -> int:
    item = _find(session, key)
    pub = (
        session.scalar(select(Publication).where(Publication.submission_id == item.id))
        if item
        else None
    )
    if item is None or pub is None:
        print(f"no publication for {key}", file=sys.stderr)
        return 1
    if pub.state not in (PubState.DEAD, PubState.MISMATCH):
        print(f"publication of {key} is {pub.state}, not dead or mismatched", file=sys.stderr)
        return 1
    pub.state, pub.attempts, pub.next_attempt_at = PubState.QUEUED, 0, utcnow()
    pub.reupdated = False
    session.add(
        Event(
            board_id=item.board_id,
            submission_id=item.id,
            kind="publish-retry-requested",
            actor=getpass.getuser(),
            channel="cli",
        )
    )
    session.commit()
    print(f"{item.tracking_code}: queued for publishing again")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "act":
        try:
            return _act(args)
        except ConfigError as exc:
            print(f"configuration error:\n{exc}", file=sys.stderr)
            return 2
    try:
        deployment = load_deployment(args.config, {"database_url": args.database_url})
    except ConfigError as exc:
        print(f"configuration error:\n{exc}", file=sys.stderr)
        return 2
    _engine, sessions = open_database(deployment.database_url)
    with sessions() as session:
        if args.command == "audit":
            return _audit_verify(session, args.board)
        if args.command == "retry":
            return _retry(session, args.id)
        if args.command == "publications":
            return _publications(session, args.state, args.json)
        if args.command == "list":
            query = select(Submission).order_by(Submission.id.desc()).limit(args.limit)
            if args.board:
                query = query.where(Submission.board_id == args.board)
            if args.state:
                query = query.where(Submission.state == args.state)
            items = [item_dict(i) for i in session.scalars(query)]
            if args.json:
                print(json.dumps(items, ensure_ascii=False, indent=2))
            else:
                for i in items:
                    print(
                        f"{i['id']:>6}  {i['tracking_code']:<17} {i['state_label']:<30} "
                        f"{i['kind'] or '-':<7} {i['sender']:<32} {i['title'][:60]}"
                    )
            return 0
        item = _find(session, args.id)
        if item is None:
            print(f"no item {args.id}", file=sys.stderr)
            return 1
        data = item_dict(item, full=True)
        data["history"] = [
            {
                "seq": e.seq,
                "kind": e.kind,
                "actor": e.actor,
                "channel": e.channel,
                "at": e.created_at.isoformat(),
                "detail": e.detail,
            }
            for e in session.scalars(
                select(Event).where(Event.submission_id == item.id).order_by(Event.id)
            )
        ]
        pub = session.scalar(select(Publication).where(Publication.submission_id == item.id))
        data["publication"] = publication_dict(pub) if pub else None
        data["review"] = [
            {
                "round": t.round,
                "step": t.step_id,
                "member": t.member_id,
                "state": t.state,
                "actor": t.actor_id,
                "channel": t.channel,
                "text": t.text,
                "escalated_to": t.escalated_to,
                "decided_at": t.decided_at.isoformat() if t.decided_at else None,
            }
            for t in session.scalars(
                select(ReviewTask)
                .where(ReviewTask.submission_id == item.id)
                .order_by(ReviewTask.id)
            )
        ]
        if args.json:
            print(json.dumps(data, ensure_ascii=False, indent=2))
        else:
            for k, v in data.items():
                if k not in ("body_html",):
                    print(f"{k}: {v}")
        return 0


if __name__ == "__main__":
    sys.exit(main())
