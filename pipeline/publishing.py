"""Approved items reach the portal's CMS exactly once, and what is live is checked.

``enqueue`` records a publication with its idempotency key in the transaction that
approves the item, before any request. ``Publisher.run_once`` then works the queue:

1. the attempt is committed before the request (state ``sending``), and an attempt
   for a post not yet on record first asks the CMS for the key (``find``) and adopts
   the post it finds instead of creating a second one (an earlier attempt may have
   landed: a timeout, a crash, or one before a dead letter and ``bientap retry``);
2. transient failures (timeouts, 5xx) are retried with exponential backoff and
   jitter; a rejection (bad credentials, validation) or the last attempt parks the
   item as ``dead`` and mails the board's operators the CMS's own message; failures in
   a row open a circuit breaker that stops calling the CMS for a while;
3. once sent, the post is read back and compared with what was approved
   (normalised text, title, section, tags, media, document metadata), and goes on
   record with the outcome in one transaction (alone, as ``published``, when the
   read-back has to wait: a crash before that commit leaves it ``sending``, found by its
   key next time).
   Equal: verified, and the sender gets the public link. Different: updated once more,
   then handed to the board's verifier (Khánh Hòa Bước 4) with the difference.
   ``recheck`` does the same later for posts changed by hand.
"""

from __future__ import annotations

import logging
import random
import re
import secrets
import unicodedata
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from connectors.cms import Article, Cms, CmsError, CmsRejected, CmsTransient, Document, Live, Media
from connectors.media import safe_filename
from pipeline import imagemeta, logs, mailkit, review, writelock
from pipeline.claims import Crew
from pipeline.config import Board
from pipeline.files import FileStore
from pipeline.models import (
    CmsBreaker,
    Event,
    Publication,
    PubState,
    State,
    Submission,
    utcnow,
)
from pipeline.sanitize import html_to_text
from pipeline.textfold import mentions

log = logging.getLogger(__name__)

RECHECK_AFTER = timedelta(hours=24)  # verified posts are read back again this often
CLAIM = 20  # publications one daemon claims at a time
SCHEDULED = "publish-scheduled"  # the event that sets an item's time to go live
SUMMARY_LIMIT = 300  # characters of the body a summary (excerpt, description) takes
MISSING_FILE = (
    "tệp đính kèm không còn trong kho tệp nên không gửi lên cổng được "
    "(an attachment is missing from the file store): {path}"
)
UNREADABLE_PHOTO = (
    "ảnh HEIC không đọc được nên không chuyển được sang JPEG để đăng "
    "(a HEIC photo could not be decoded): {reason}"
)


# -- what goes to the CMS ------------------------------------------------------------------
_ENGLISH = re.compile(r"\b(the|and|of|to|in|is|for|with|on|province)\b", re.IGNORECASE)
_VIETNAMESE = re.compile(r"[ăâđêôơưáàảãạấầẩẫậắằẳẵặéèẻẽẹếềểễệíìỉĩịóòỏõọốồổỗộớờởỡợúùủũụứừửữựýỳỷỹỵ]")


def language(text: str) -> str:
    """ "en" for an English version (Bình Phước Đ7.2), else "vi"."""
    words = max(1, len(text.split()))
    english = len(_ENGLISH.findall(text)) / words
    vietnamese = len(_VIETNAMESE.findall(text.lower())) / words
    return "en" if english > 0.08 and vietnamese < 0.05 else "vi"


def _credit(board: Board, item: Submission) -> str | None:
    if not item.author:
        return None
    return board.publish.credit.format(
        author=item.author, unit=item.unit or "", source=item.source or ""
    ).strip(" -,")


def body_for(board: Board, item: Submission) -> str:
    """The approved body with the credit and the attribution the board requires. The
    credit is left out when the body names the author already: the byline was read from
    the sender's own closing lines ("Tin, ảnh: …"), which stay as approved."""
    parts = [item.body_html]
    credit = _credit(board, item)
    if credit and not mentions(item.body_text, item.author or ""):
        parts.append(f"<p><strong>{mailkit.esc(credit)}</strong></p>")
    if board.publish.attribution:
        parts.append(f"<p><em>{mailkit.esc(board.publish.attribution)}</em></p>")
    return "\n".join(parts)


def summary_of(text: str, limit: int = SUMMARY_LIMIT) -> str:
    """The opening of ``text`` in at most ``limit`` characters, cut after a whole word
    and marked "…" when cut (a portal shows it as the excerpt)."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    head = flat[: limit + 1]
    cut = head.rsplit(" ", 1)[0] if " " in head else flat[:limit]
    return cut.rstrip(" ,;:.-–") + "…"


def _section(board: Board, item: Submission, lang: str) -> str | None:
    if lang == "en" and board.publish.english_section:
        return board.publish.english_section
    for field_id in item.field_ids:
        if field_id in board.publish.sections:
            return board.publish.sections[field_id]
    return board.publish.default_section


def _media(item: Submission, files: FileStore | None) -> tuple[Media, ...]:
    out = []
    for f in item.files:
        if f.sha256 is None or f.role == "article":
            continue
        data = files.get(f.sha256) if files else None
        name, kind, data = imagemeta.as_published(f.filename, f.content_type, data)
        role: Literal["image", "file"] = "image" if kind.startswith("image/") else "file"
        out.append(Media(name, kind, data, content_id=f.content_id, role=role))
    return tuple(out)


def _document(item: Submission) -> Document | None:
    doc = item.document or {}
    if not doc:
        return None
    return Document(  # the keys of docmeta.DocumentMetadata.to_dict
        kind=doc.get("doc_type"),
        number=doc.get("number"),
        issuer=doc.get("issuer"),
        issued=doc.get("issue_date"),
        effective=doc.get("effective_date"),
        summary=doc.get("summary"),
    )


def article(board: Board, item: Submission, key: str, files: FileStore | None) -> Article:
    """What goes to the CMS. Without ``files`` the media come without their bytes: enough
    to compare with a post (verification reads their names), not to send."""
    lang = language(item.body_text)
    summary = summary_of(item.body_text)
    return Article(
        key=key,
        title=item.title,
        body_html=body_for(board, item),
        summary=summary,
        author=_credit(board, item),
        section=_section(board, item, lang),
        tags=tuple(f.name for f in board.fields if f.id in item.field_ids),
        media=_media(item, files),
        language=lang,
        document=_document(item),
    )


# -- verification ----------------------------------------------------------------------------
def _text(html: str) -> str:
    return " ".join(unicodedata.normalize("NFC", html_to_text(html)).split())


def _name(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


def _listed(names: tuple[str, ...]) -> str:
    return ", ".join(f"«{n}»" for n in names) or "không có"


def differences(expected: Article, live: Live) -> list[str]:
    """What differs between the approved article and the live post (Vietnamese).

    The section and the tags are compared when the read-back carries them
    (``live.known``); a post approved without a section is filed where the CMS puts it.
    Tags are a set, and their case does not count (Liferay before GA112 / 2024.Q1 keeps
    them in lower case)."""
    found = []
    if _name(expected.title) != _name(live.title):
        found.append(f"Tiêu đề: duyệt «{expected.title}», trên cổng «{live.title}»")
    if (
        "section" in live.known
        and expected.section
        and _name(expected.section) != _name(live.section or "")
    ):
        shown = f"«{live.section}»" if live.section else "không có"
        found.append(f"Chuyên mục: duyệt «{expected.section}», trên cổng {shown}")
    if "tags" in live.known and {_name(t).casefold() for t in expected.tags} != {
        _name(t).casefold() for t in live.tags
    }:
        found.append(f"Thẻ: duyệt {_listed(expected.tags)}, trên cổng {_listed(live.tags)}")
    if _text(expected.body_html) != _text(live.body_html):
        found.append("Nội dung bài trên cổng khác bản đã duyệt")
    # a portal stores a file under a name it can serve ("báo cáo.html" as "báo cáo.html.txt")
    wanted = sorted(m.filename for m in expected.media)
    if sorted(map(safe_filename, wanted)) != sorted(map(safe_filename, live.media)):
        found.append(f"Ảnh, tệp: duyệt {wanted}, trên cổng {sorted(live.media)}")
    if expected.document is not None:
        for name in ("number", "issuer", "issued", "effective", "summary"):
            value = getattr(expected.document, name)
            if value and live.meta.get(f"document_{name}") != value:
                found.append(f"Thông tin văn bản ({name}) khác bản đã duyệt")
    return found


# -- the queue --------------------------------------------------------------------------------
def _publication(d: review.Desk, item: Submission) -> Publication:
    return d.session.scalars(select(Publication).where(Publication.submission_id == item.id)).one()


def publication_of(session: Session, item: Submission) -> Publication | None:
    return session.scalar(select(Publication).where(Publication.submission_id == item.id))


def withdraw(d: review.Desk, item: Submission) -> None:
    """The head took a live item back: the publisher removes it from the portal."""
    pub = _publication(d, item)
    pub.state, pub.next_attempt_at, pub.attempts = PubState.WITHDRAWING, d.now, 0


def republish(d: review.Desk, item: Submission) -> None:
    """A live item was corrected: the publisher updates the portal and verifies again."""
    pub = _publication(d, item)
    pub.state, pub.version, pub.reupdated = PubState.QUEUED, item.content_hash or "", False
    pub.next_attempt_at, pub.attempts = d.now, 0


def _mail(d: review.Desk, item: Submission, to: str, reason: str, heading: str, text: str) -> None:
    """A short mail about ``item`` to a member (greeted as one) or to its sender."""
    member = next((m for m in d.board.members if m.email == to), None)
    dear = f"Kính gửi ông/bà {member.name}," if member else mailkit.dear_sender(item)
    msg = mailkit.message(d.board, to=to, subject=f"{heading} — {item.tracking_code}")
    mailkit.simple(d.board, msg, heading, f"{dear}\n\n{text}")
    review.queue(d, item, to, reason, msg)


def went_live(d: review.Desk, item: Submission, pub: Publication | None = None) -> None:
    """The post is verified: the item is published, its sender gets the link and the head
    the ways to withdraw or correct it. ``pub``: the item's publication, if loaded."""
    pub = pub or _publication(d, item)
    pub.state, pub.verified_at, pub.difference = PubState.VERIFIED, d.now, None
    first = item.state != State.PUBLISHED
    item.state = State.PUBLISHED
    review.event(d, item, "verified", url=pub.url)
    if first and item.sender_address:
        _mail(
            d,
            item,
            item.sender_address,
            "published",
            "Tin, bài đã được đăng",
            f"{d.board.name} đã đăng tin, bài «{mailkit.title_line(item.title)}» (mã theo "
            f"dõi {item.tracking_code}) trên Cổng thông tin điện tử. Xem tại:\n\n{pub.url}\n",
        )
    if first:
        review.watch(d, item, pub.url or "")


def new_key(board: Board, item: Submission) -> str:
    return f"bientap-{board.id}-{item.id}-{secrets.token_hex(6)}"


def scheduled_at(session: Session, item: Submission) -> datetime | None:
    """When the board asked the item to go live (``bientap schedule``), if it did."""
    last = session.scalars(
        select(Event)
        .where(Event.submission_id == item.id, Event.kind == SCHEDULED)
        .order_by(Event.id.desc())
        .limit(1)
    ).first()
    return datetime.fromisoformat(last.detail["at"]) if last else None


def schedule(
    d: review.Desk, item: Submission, at: datetime, actor: str, channel: str, reason: str
) -> None:
    """Publish the item at ``at`` rather than as soon as it is approved (hẹn giờ đăng):
    a queued publication waits until then; one approved later is queued for then."""
    review.event(d, item, SCHEDULED, actor, channel, at=at.isoformat(), reason=reason)
    pub = publication_of(d.session, item)
    if pub is not None and pub.state == PubState.QUEUED:
        pub.next_attempt_at = at


def enqueue(d: review.Desk, item: Submission) -> Publication:
    """Record the publication (and its idempotency key) of an approved item; it is sent
    at once, or at the time the board set for it."""
    pub = Publication(
        board_id=d.board.id,
        submission_id=item.id,
        connector=d.board.publish.connector,
        key=new_key(d.board, item),
        version=item.content_hash or "",
        state=PubState.QUEUED,
        next_attempt_at=max(d.now, scheduled_at(d.session, item) or d.now),
        created_at=d.now,
    )
    d.session.add(pub)
    review.event(d, item, "publish-queued", connector=pub.connector, key=pub.key)
    return pub


@dataclass
class PublishResult:
    published: int = 0
    verified: int = 0
    retried: int = 0
    dead: int = 0
    mismatched: int = 0
    withdrawn: int = 0
    checking: int = 0  # handed to a person to verify
    skipped: int = 0  # the circuit breaker is open


@dataclass(frozen=True)
class Sent:
    """A post just created or updated and not yet on record: it is recorded in the
    transaction that records its verification (one commit instead of two; a crash in
    between leaves the attempt ``sending``, and the next one finds the post by its key)."""

    expected: Article
    live: Live
    at: datetime
    reupdated: bool


class Publisher:
    """Works one board's publication queue against its CMS."""

    def __init__(
        self,
        board: Board,
        sessions: sessionmaker[Session],
        cms: Cms,
        files: FileStore,
        links: review.Links,
        clock: Callable[[], datetime] = utcnow,
        jitter: Callable[[], float] = random.random,
        crew: Crew | None = None,
    ) -> None:
        self.board, self.sessions, self.cms, self.files = board, sessions, cms, files
        self.links, self.clock, self.jitter = links, clock, jitter
        self.crew = crew or Crew()
        self._open_until: datetime | None = None  # the breaker, as last read or set
        self._released: set[int] = set()  # claims ended in the work's own transaction

    def desk(self, session: Session) -> review.Desk:
        return review.Desk(self.board, session, self.links, self.files, self.clock())

    # -- one pass ------------------------------------------------------------------------
    def run_once(self) -> PublishResult:
        """Work what is due, a claimed handful at a time (other daemons sharing the
        database take the rest): verify what went live, send, retry, withdraw."""
        result = PublishResult()
        seen: list[int] = []
        while not self.crew.leaving.is_set():  # a stopping daemon ends with the item in hand
            claimed = self._claim(seen)
            self._released.clear()
            for pub_id, state in claimed:
                if self.crew.leaving.is_set():  # the rest is released for the next start
                    break
                seen.append(pub_id)
                try:
                    with self._kept(pub_id):
                        self._work(pub_id, state, result)
                except Exception:  # a fault of this item's (its read-back…): the rest go on
                    log.exception("board=%s publication=%d: failed", self.board.id, pub_id)
            self._release([pub_id for pub_id, _ in claimed if pub_id not in self._released])
            if len(claimed) < CLAIM:  # all that was due when claimed; later work: next pass
                break
        return result

    def _work(self, pub_id: int, state: str, result: PublishResult) -> None:
        if state == PubState.PUBLISHED:
            self._verify(pub_id, result)
        elif self._breaker_open():
            result.skipped += 1
        elif state == PubState.WITHDRAWING:
            self._withdraw(pub_id, result)
        else:
            self._attempt(pub_id, result)

    def _kept(self, pub_id: int) -> AbstractContextManager[None]:
        """The claim on ``pub_id`` is kept while this daemon works on it, one long request
        included (a large video on a slow link): another daemon would send it again."""
        return self.crew.kept(self.sessions, Publication, [pub_id], self.clock)

    def _claim(self, seen: list[int]) -> list[tuple[int, str]]:
        """Claim due publications; the breaker is read in the same transaction."""
        now = self.clock()
        with self.sessions.begin() as s:
            ids = self.crew.claim(
                s,
                Publication,
                [
                    Publication.board_id == self.board.id,
                    Publication.id.not_in(seen),
                    or_(
                        Publication.state == PubState.PUBLISHED,  # to verify
                        Publication.state.in_(
                            [PubState.QUEUED, PubState.SENDING, PubState.WITHDRAWING]
                        )
                        & (Publication.next_attempt_at <= now),
                    ),
                ],
                [Publication.next_attempt_at, Publication.id],
                CLAIM,
                now,
            )
            if not ids:
                return []
            self._open_until = s.scalar(
                select(CmsBreaker.open_until).where(CmsBreaker.board_id == self.board.id)
            )
            rows = s.execute(
                select(Publication.id, Publication.state)
                .where(Publication.id.in_(ids))
                .order_by(Publication.next_attempt_at, Publication.id)
            ).all()
        return [(row.id, row.state) for row in rows]

    def _release(self, pub_ids: list[int]) -> None:
        """End the claims on work that did not end them itself (skipped, postponed)."""
        if not pub_ids:
            return
        with self.sessions.begin() as s:
            s.execute(
                update(Publication)
                .where(Publication.id.in_(pub_ids), Publication.claimed_by == self.crew.holder)
                .values(claimed_by=None, claimed_until=None)
            )

    def _done(self, s: Session, pub: Publication) -> None:
        """The work on ``pub`` is over for now: its claim ends with this transaction."""
        if pub.claimed_by == self.crew.holder:
            Crew.release(s, pub)
        self._released.add(pub.id)

    def recheck(self) -> PublishResult:
        """Read verified posts back again (a post changed by hand shows here). Each is
        claimed while still verified, so a withdrawal or a correction made meanwhile
        is not overwritten (``_verify`` changes only a post still being verified)."""
        result = PublishResult()
        cutoff = self.clock() - RECHECK_AFTER
        with self.sessions() as s:
            ids = s.scalars(
                select(Publication.id).where(
                    Publication.board_id == self.board.id,
                    Publication.state == PubState.VERIFIED,
                    Publication.verified_at <= cutoff,
                )
            ).all()
        for pub_id in ids:
            if self.crew.leaving.is_set():  # the daemon stops: the rest waits for the next run
                break
            with self.sessions.begin() as s:
                writelock.hold(s)
                still = [Publication.id == pub_id, Publication.state == PubState.VERIFIED]
                if not self.crew.claim(s, Publication, still, [Publication.id], 1, self.clock()):
                    continue  # withdrawn, corrected or claimed meanwhile
                s.execute(
                    update(Publication)
                    .where(Publication.id == pub_id)
                    .values(state=PubState.PUBLISHED, reupdated=False)
                )
            with self._kept(pub_id):
                self._verify(pub_id, result)
            self._release([pub_id])  # when postponed (the verification ended it otherwise)
        return result

    # -- breaker -------------------------------------------------------------------------
    def _breaker(self, s: Session) -> CmsBreaker:
        found = s.get(CmsBreaker, self.board.id)
        if found is None:
            found = CmsBreaker(board_id=self.board.id, failures=0)
            s.add(found)
        return found

    def _breaker_open(self) -> bool:
        return self._open_until is not None and self._open_until > self.clock()

    def _breaker_reset(self, s: Session) -> None:
        """A request went through: the failures in a row are over (one statement, which
        changes nothing when there were none)."""
        s.execute(
            update(CmsBreaker)
            .where(
                CmsBreaker.board_id == self.board.id,
                or_(CmsBreaker.failures != 0, CmsBreaker.open_until.is_not(None)),
            )
            .values(failures=0, open_until=None)
        )
        self._open_until = None

    # -- one publication -----------------------------------------------------------------
    def _load(self, s: Session, pub_id: int, lock: bool = False) -> tuple[Publication, Submission]:
        pub = s.get(Publication, pub_id, with_for_update=lock, populate_existing=lock)
        assert pub is not None
        item = s.get(Submission, pub.submission_id)
        assert item is not None
        return pub, item

    def _locked(self, s: Session, pub_id: int) -> tuple[Publication, Submission]:
        """The publication under its row lock (SQLite: the write lock) to the commit."""
        writelock.hold(s)
        return self._load(s, pub_id, lock=True)

    def _moved(self, s: Session, pub: Publication, was: PubState, sent: Sent | None) -> bool:
        """True when ``pub`` (locked) left the state this pass began with: the head
        withdrew or corrected the item, or another daemon finished the work. The pass
        then changes nothing and ends its claim."""
        if pub.state == was:
            return False
        log.info(
            "board=%s publication=%d: now %s (was %s), left as it is",
            self.board.id,
            pub.id,
            pub.state,
            was,
        )
        if sent is not None and sent.live.remote_id != pub.remote_id:
            log.warning(
                "board=%s publication=%d: post %s sent meanwhile is not on record",
                self.board.id,
                pub.id,
                sent.live.remote_id,
            )
        self._done(s, pub)
        return True

    def _withdraw(self, pub_id: int, result: PublishResult) -> None:
        with self.sessions.begin() as s:
            pub, _item = self._load(s, pub_id)
            pub.attempts += 1
            remote_id = pub.remote_id
        try:
            if remote_id is not None:
                self.cms.withdraw(remote_id)
        except Exception as exc:  # an unforeseen answer fails this item only
            self._failed(pub_id, exc, result, then=PubState.WITHDRAWING)
            return
        with self.sessions.begin() as s:
            pub, item = self._load(s, pub_id)
            pub.state, pub.last_error = PubState.WITHDRAWN, None
            review.event(
                self.desk(s), item, "withdrawn", connector=self.cms.name, remote_id=remote_id
            )
            self._done(s, pub)
        result.withdrawn += 1

    def _attempt(self, pub_id: int, result: PublishResult) -> None:
        try:
            begun = self._begin(pub_id)
        except FileNotFoundError as exc:  # no try will find it: a dead letter, told
            self._failed(pub_id, CmsError(MISSING_FILE.format(path=exc.filename)), result)
            return
        except imagemeta.Unreadable as exc:  # nor read it: the same
            self._failed(pub_id, CmsError(UNREADABLE_PHOTO.format(reason=exc)), result)
            return
        if begun is None:
            return
        expected, remote_id, reupdated = begun
        try:
            live = self._send(expected, remote_id)
        except Exception as exc:  # an unforeseen answer fails this item only
            self._failed(pub_id, exc, result)
            return
        result.published += 1
        self._verify(pub_id, result, Sent(expected, live, self.clock(), reupdated))

    def _begin(self, pub_id: int) -> tuple[Article, str | None, bool] | None:
        """Put the attempt on record before the request; what to send, where, and whether
        it is sent again after a change. None when it is not this attempt's to send."""
        with self.sessions.begin() as s:
            pub, item = self._locked(s, pub_id)
            if pub.state not in (PubState.QUEUED, PubState.SENDING):
                return None  # done meanwhile by a daemon whose claim had lapsed
            # the claim is renewed for this item (it was taken for a batch); one taken
            # over by another daemon after it lapsed is that daemon's to send
            if not self.crew.renew(pub, self.clock()):
                log.warning(
                    "board=%s publication=%d: claim lost to %s, not sent",
                    self.board.id,
                    pub_id,
                    pub.claimed_by,
                )
                return None
            pub.state = PubState.SENDING
            pub.attempts += 1
            expected = article(self.board, item, pub.key, self.files)
            return expected, pub.remote_id, pub.reupdated

    def _send(self, expected: Article, remote_id: str | None) -> Live:
        if remote_id is None:
            # an earlier attempt may have landed (a timeout, a crash, one before a dead
            # letter and `bientap retry`, which starts the count again): ask every time
            found = self.cms.find(expected.key)
            if found is not None:
                log.info(
                    "board=%s key=%s: found the post of an earlier attempt",
                    self.board.id,
                    expected.key,
                )
                return self.cms.update(found.remote_id, expected)
        if remote_id is not None:
            return self.cms.update(remote_id, expected)
        return self.cms.publish(expected)

    def _published(self, d: review.Desk, pub: Publication, item: Submission, sent: Sent) -> None:
        """Put the post just sent on record (in the desk's transaction; the caller resets
        the breaker last: on SQLite that write takes the database lock)."""
        pub.remote_id, pub.url = sent.live.remote_id, sent.live.url
        pub.state, pub.published_at, pub.last_error = PubState.PUBLISHED, sent.at, None
        review.event(
            d,
            item,
            "published",
            connector=self.cms.name,
            remote_id=sent.live.remote_id,
            url=sent.live.url,
            attempts=pub.attempts,
        )

    def _record(self, pub_id: int, sent: Sent) -> None:
        """The post just sent, on record alone (its verification comes later)."""
        with self.sessions.begin() as s:
            pub, item = self._locked(s, pub_id)
            if self._moved(s, pub, PubState.SENDING, sent):
                return
            self._published(self.desk(s), pub, item, sent)
            self._breaker_reset(s)

    def _failed(
        self,
        pub_id: int,
        exc: Exception,
        result: PublishResult,
        then: PubState = PubState.QUEUED,
    ) -> None:
        """An attempt failed. Anything but a ``CmsError`` (a connector meeting an answer
        it did not foresee) is logged with its traceback and retried like a transient
        failure, up to ``max_attempts``, without counting towards the breaker. The error
        is kept and mailed scrubbed as the logs are (a key in the portal's address,
        ``?api_key=…``, a secret an unforeseen error quotes)."""
        now = self.clock()
        settings = self.board.publish
        unexpected = not isinstance(exc, CmsError)
        if unexpected:
            log.error(
                "board=%s publication=%d: unexpected failure", self.board.id, pub_id, exc_info=exc
            )
            exc = CmsError(f"Lỗi ngoài dự kiến (unexpected error): {type(exc).__name__}: {exc}")
        error = logs.scrub(str(exc))
        with self.sessions.begin() as s:
            pub, item = self._load(s, pub_id)
            d = self.desk(s)
            pub.last_error = error[:2000]
            self._done(s, pub)
            transient = isinstance(exc, CmsTransient)
            if transient:
                breaker = self._breaker(s)
                breaker.failures += 1
                if breaker.failures >= settings.breaker_failures:
                    breaker.open_until = now + timedelta(seconds=settings.breaker_seconds)
                    review.event(d, item, "breaker-open", until=breaker.open_until.isoformat())
                self._open_until = breaker.open_until  # opened here or by another daemon
            if (transient or unexpected) and pub.attempts < settings.max_attempts:
                wait = settings.retry_seconds * 2 ** (pub.attempts - 1) * (0.5 + self.jitter())
                pub.state, pub.next_attempt_at = then, now + timedelta(seconds=wait)
                review.event(d, item, "publish-retry", attempt=pub.attempts, error=error[:500])
                result.retried += 1
                return
            pub.state = PubState.DEAD
            status = exc.status if isinstance(exc, CmsRejected) else None
            review.event(
                d, item, "publish-dead", attempts=pub.attempts, error=error[:500], status=status
            )
            self._tell_operators(d, item, pub, error, then == PubState.WITHDRAWING)
            result.dead += 1

    # -- verification ---------------------------------------------------------------------
    def _verify(self, pub_id: int, result: PublishResult, sent: Sent | None = None) -> None:
        """Read the post back and compare. ``sent``: the post was just created or updated,
        and goes on record with the outcome. Each write checks, under the row lock, that
        the publication is still in the state the pass began with."""
        was = PubState.PUBLISHED if sent is None else PubState.SENDING
        if sent is None:
            with self.sessions() as s:
                pub, item = self._load(s, pub_id)
                expected = article(self.board, item, pub.key, None)
                remote_id, reupdated = pub.remote_id, pub.reupdated
        else:
            expected, remote_id, reupdated = sent.expected, sent.live.remote_id, sent.reupdated
        assert remote_id is not None
        by_hand = self.board.publish.verify == "human"
        try:
            live = self.cms.read(remote_id)
            found = differences(expected, live) if live else ["Bài không còn trên cổng"]
            again = found and not reupdated and not by_hand  # put right once, if we can
            whole = self._whole(pub_id, sent, found) if again else None
            if whole is not None:
                if not self._note(pub_id, "reupdated", found, sent, was):
                    return
                sent, was = None, PubState.PUBLISHED  # on record now
                self.cms.update(remote_id, whole)
                reupdated = True
                live = self.cms.read(remote_id)
                found = differences(expected, live) if live else ["Bài không còn trên cổng"]
        except CmsTransient as exc:
            log.warning(
                "board=%s publication=%d: verification postponed: %s", self.board.id, pub_id, exc
            )
            if sent is not None:
                self._record(pub_id, sent)
            return
        except CmsError as exc:
            found = [f"Không đọc lại được bài trên cổng: {logs.scrub(str(exc))}"]
        with self.sessions.begin() as s:
            pub, item = self._locked(s, pub_id)
            if self._moved(s, pub, was, sent):
                return
            d = self.desk(s)
            if sent is not None:
                self._published(d, pub, item, sent)
            pub.reupdated = reupdated
            self._done(s, pub)
            if by_hand and item.state != State.PUBLISHED:  # a person compares the two
                pub.state, pub.difference = PubState.CHECKING, "\n".join(found) or None
                pub.live_title = live.title if live else None
                pub.live_html = live.body_html if live else None
                review.event(d, item, "check-requested", differences=found, url=pub.url)
                review.ask_verifiers(d, item, found)
                result.checking += 1
            elif not found:
                went_live(d, item, pub)
                result.verified += 1
            else:
                pub.state, pub.difference = PubState.MISMATCH, "\n".join(found)
                review.event(d, item, "verify-mismatch", differences=found, url=pub.url)
                self._tell_verifiers(d, item, pub, found)
                result.mismatched += 1
            if sent is not None:
                self._breaker_reset(s)

    def _whole(self, pub_id: int, sent: Sent | None, found: list[str]) -> Article | None:
        """The approved article with its files' bytes, to put a post right with; None, and
        why in ``found``, when a file has gone from the store: a person puts it right."""
        if sent is not None:
            return sent.expected
        try:
            with self.sessions() as s:
                pub, item = self._load(s, pub_id)
                return article(self.board, item, pub.key, self.files)
        except FileNotFoundError as exc:
            found.append("Không cập nhật lại được: " + MISSING_FILE.format(path=exc.filename))
            return None
        except imagemeta.Unreadable as exc:
            found.append("Không cập nhật lại được: " + UNREADABLE_PHOTO.format(reason=exc))
            return None

    def _note(
        self, pub_id: int, kind: str, found: list[str], sent: Sent | None, was: PubState
    ) -> bool:
        """Put ``kind`` on record; False (and nothing done) if the state moved."""
        with self.sessions.begin() as s:
            pub, item = self._locked(s, pub_id)
            if self._moved(s, pub, was, sent):
                return False
            self.crew.renew(pub, self.clock())  # for the update and read-back that follow
            d = self.desk(s)
            if sent is not None:
                self._published(d, pub, item, sent)
                self._breaker_reset(s)
            review.event(d, item, kind, differences=found)
        return True

    # -- mails ---------------------------------------------------------------------------
    def _operators(self) -> list[str]:
        settings = self.board.publish
        return [m.email for m in self.board.members_with_role(settings.verifier_role)] or [
            m.email for m in self.board.members if m.role.value == "truong_ban"
        ]

    def _tell_operators(
        self, d: review.Desk, item: Submission, pub: Publication, error: str, withdrawal: bool
    ) -> None:
        if withdrawal:
            heading = "Không gỡ được tin, bài khỏi cổng"
            what = "đã bị gỡ nhưng chưa gỡ được khỏi cổng"
        else:
            heading = "Không đăng được tin, bài lên cổng"
            what = "đã được duyệt nhưng không đăng được lên cổng"
        name = mailkit.title_line(item.title)
        tries = f" sau {pub.attempts} lần thử" if pub.attempts else ""  # none: parked at once
        for to in self._operators():
            _mail(
                d,
                item,
                to,
                "publish-dead",
                heading,
                f"Tin, bài «{name}» ({item.tracking_code}) {what}{tries} ({self.cms.name}).\n\n"
                f"Nguyên nhân:\n  {error}\n\n"
                "Sau khi khắc phục, chạy: bientap retry " + item.tracking_code + "\n",
            )

    def _tell_verifiers(
        self, d: review.Desk, item: Submission, pub: Publication, found: list[str]
    ) -> None:
        lines = "\n".join(f"  - {f}" for f in found)
        name = mailkit.title_line(item.title)
        for to in self._operators():
            _mail(
                d,
                item,
                to,
                "verify-mismatch",
                "Bài trên cổng khác bản đã duyệt",
                f"Tin, bài «{name}» ({item.tracking_code}) trên cổng ({pub.url}) khác "
                f"bản đã được duyệt, kể cả sau khi cập nhật lại:\n\n{lines}\n\n"
                "Đề nghị kiểm tra và cập nhật lại trên cổng, "
                "hoặc trình Trưởng ban duyệt bổ sung.\n",
            )
