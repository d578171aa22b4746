"""Sending the mail a board owes: receipts, review requests, notices.

Mail is composed and stored (``outgoing_mail``) in the transaction that makes it owed,
then sent here, a claimed handful at a time. Each mail is marked sent in its own commit
right after the server took it, so a crash sends at most that one again. A server that
defers a mail (4xx) gets it again later, backing off; one that refuses it (5xx) ends it,
on record; one that is unreachable, or refuses our login, stops the pass: every mail
waits, untouched, for the next.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from connectors.base import MailDeferred, MailRefused, MailSender, PermanentError, TransientError
from pipeline.claims import Crew
from pipeline.config import Board
from pipeline.models import Event, OutgoingMail, utcnow

log = logging.getLogger(__name__)

MAX_SEND_ATTEMPTS = 8  # a mail the server defers is tried this often, then given up
CLAIM = 50  # mails one daemon claims at a time


def retry_delay(attempts: int) -> timedelta:
    """How long a deferred mail waits after its ``attempts``-th try: 5 min, doubling, at
    most 4 h (about nine hours in all before it is given up); greylisting asks minutes."""
    return min(timedelta(minutes=5 * 2 ** (attempts - 1)), timedelta(hours=4))


@dataclass
class Postman:
    """One board's owed mail, sent through ``sender`` (SMTP, or the outbox Maildir)."""

    board: Board
    sessions: sessionmaker[Session]
    sender: MailSender
    crew: Crew
    clock: Callable[[], datetime] = utcnow

    def deliver(self) -> int:
        """Send the mail owed, a claimed handful at a time, the claims kept until the
        handful is out (a slow relay); stop at a failing server."""
        sent, after = 0, 0
        while not self.crew.leaving.is_set() and (ids := self._claim(after)):
            after = ids[-1]
            with self.crew.kept(self.sessions, OutgoingMail, ids, self.clock):
                done, healthy = self._send(ids)
            sent += done
            if not healthy:
                break
        return sent

    def _claim(self, after: int) -> list[int]:
        with self.sessions.begin() as session:
            return self.crew.claim(
                session,
                OutgoingMail,
                [
                    OutgoingMail.board_id == self.board.id,
                    OutgoingMail.sent_at.is_(None),
                    OutgoingMail.attempts < MAX_SEND_ATTEMPTS,
                    OutgoingMail.id > after,
                ],
                [OutgoingMail.id],
                CLAIM,
                self.clock(),
            )

    def _send(self, ids: list[int]) -> tuple[int, bool]:
        """Send the claimed mails; False when the server is unwell (unreachable, or our
        login refused): the mails stay owed, untouched, for the next pass."""
        sent = 0
        # a commit per mail sent; the rest stay loaded (expiring them would reload each one)
        with self.sessions(expire_on_commit=False) as session:
            pending = session.scalars(
                select(OutgoingMail)
                .where(OutgoingMail.id.in_(ids), OutgoingMail.sent_at.is_(None))
                .order_by(OutgoingMail.id)
            ).all()
            for i, mail in enumerate(pending):
                if self.crew.leaving.is_set():  # the daemon stops: the rest waits for it
                    self._release_all(session, pending[i:])
                    return sent, True
                try:
                    self.sender.send(self.board.mail_out.from_address, [mail.to_address], mail.raw)
                except MailDeferred as exc:
                    self._defer(session, mail, str(exc))
                except MailRefused as exc:
                    self._give_up(session, mail, str(exc))
                except (TransientError, PermanentError) as exc:
                    mail.last_error = str(exc)  # why it waits, not counted against it
                    self._release_all(session, pending[i:])
                    level = logging.ERROR if isinstance(exc, PermanentError) else logging.WARNING
                    log.log(level, "board=%s: cannot send: %s; mail waits", self.board.id, exc)
                    return sent, False
                else:
                    mail.sent_at = utcnow()
                    mail.attempts += 1
                    sent += 1
                session.commit()
        return sent, True

    @staticmethod
    def _release_all(session: Session, unsent: Sequence[OutgoingMail]) -> None:
        """Mail left unsent this pass: any daemon tries it again next pass."""
        for mail in unsent:
            Crew.release(session, mail)
        session.commit()

    def _defer(self, session: Session, mail: OutgoingMail, error: str) -> None:
        """The server will not take this mail now: try it again later, backing off, and
        give up after MAX_SEND_ATTEMPTS tries (about nine hours)."""
        mail.attempts += 1
        if mail.attempts >= MAX_SEND_ATTEMPTS:
            self._give_up(session, mail, error)
            return
        mail.last_error = error
        Crew.defer(mail, self.clock() + retry_delay(mail.attempts))
        log.warning("board=%s outgoing=%d: deferred: %s", self.board.id, mail.id, error)

    def _give_up(self, session: Session, mail: OutgoingMail, error: str) -> None:
        mail.attempts = MAX_SEND_ATTEMPTS
        mail.last_error = error
        session.add(
            Event(
                board_id=self.board.id,
                submission_id=mail.submission_id,
                kind="notice-failed",
                detail={"error": error},
            )
        )
        log.error("board=%s outgoing=%d: gave up: %s", self.board.id, mail.id, error)
