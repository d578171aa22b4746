"""The pages reviewers reach by tapping a link in a review-request mail.

``GET /duyet/<task>/<token>`` checks the signed token (pipeline/tokens.py) against the
task it names and shows the item as it will be published, with its files, flags,
history, what changed since the mail, and the forms the token allows. A GET never
changes the item, its tasks or the token: link scanners and mail-client previews open
links too. It only records that the page was viewed.

``POST`` to the same address, with the CSRF value of the page (bound to the token and
to a random cookie), records the decision through ``review.act`` and spends the token
in the same transaction, also when the decision does not count.

Every refusal (expired, used, altered or misdirected link, closed task, bad CSRF) is
recorded as a ``link-refused`` event. Pages are Vietnamese, work without JavaScript and
are served with a strict Content-Security-Policy; tokens are never logged.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import secrets
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any, Final
from wsgiref.types import WSGIApplication

from flask import (
    Flask,
    Response,
    abort,
    redirect,
    render_template,
    request,
    send_file,
    send_from_directory,
    url_for,
)
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from waitress import create_server, wasyncore
from werkzeug.routing import IntegerConverter, Map
from werkzeug.security import safe_join
from werkzeug.wrappers import Response as BaseResponse

from pipeline import diffing, imagemeta, metrics, review, writelock
from pipeline.commands import MAX_REASON_CHARS, Verb
from pipeline.config import Board, Member, parse_address
from pipeline.files import FileStore
from pipeline.models import (
    STATE_LABELS,
    Event,
    Publication,
    ReviewTask,
    State,
    StoredFile,
    Submission,
    UsedLink,
    utcnow,
)
from pipeline.review import Decision, Desk, Evidence, Links, Refused
from pipeline.sanitize import resolve_cids, sanitize_html, with_destinations
from pipeline.tokens import ActionClaim, TokenError, TokenExpired, TokenMismatch, token_digest

log = logging.getLogger(__name__)

CSP: Final = (
    "default-src 'none'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# The static site's pages carry this policy in a <meta> (connectors/templates/site_base.html);
# served here it is also a header, which adds what a <meta> cannot say (frame-ancestors).
SITE_CSP: Final = (
    "default-src 'none'; img-src 'self' https: data:; media-src 'self'; "
    "style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SESSION_COOKIE: Final = "bientap_phien"
SITE_PREFIX: Final = "/cong/"  # where make_app serves a static site
MAX_REQUEST_BYTES: Final = 5 * 1024 * 1024  # an edited article, with room to spare
MAX_ID: Final = 2**63 - 1  # the database's largest id: a larger one in a path is no page
FORM_ACTIONS: Final = ("approve", "edit", "changes", "reject", "forward", "withdraw")
LIVE_ACTIONS: Final = ("withdraw", "edit")  # on a published item: withdraw or correct
CHECK_ACTIONS: Final = ("approve", "changes")  # verifying a live post: right, or update it
# Raster images are served with their type (an inline image in the body); anything else
# as bytes to download.
IMAGE_TYPES: Final = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
FILE_ROLES: Final = {"inline": "ảnh trong bài", "article": "tệp bài viết"}


# -- refusals ---------------------------------------------------------------------------
@dataclass(eq=False)
class Refusal(Exception):
    """A link that cannot be used; ``message`` is Vietnamese, for the page."""

    code: str  # expired, replayed, wrong-reviewer, bad-token, closed, csrf, wrong-action
    message: str
    status: int
    board_id: str | None = None
    item: Submission | None = None
    actor: str = "unknown"
    show_state: bool = False  # the holder is a genuine reviewer: say where the item stands


REPLAYED = (
    "Liên kết này đã được dùng để ghi nhận một quyết định và không dùng lại được. "
    "Nếu cần, vui lòng dùng liên kết trong thư thông báo mới nhất."
)
CSRF_REFUSED = (
    "Không xác nhận được phiên làm việc (trình duyệt có thể đã chặn cookie, hoặc trang "
    "đã mở quá lâu). Quyết định chưa được ghi nhận. Vui lòng mở lại liên kết trong thư "
    "và thao tác lại."
)
WRONG_ACTION = (
    "Liên kết này chỉ dùng cho thao tác đã ghi trên nút. Để xử lý khác, vui lòng dùng "
    "liên kết «Xem, sửa, trả lại hoặc từ chối» trong thư hoặc trả lời thư."
)


# -- what a valid link gives ------------------------------------------------------------
@dataclass
class Visit:
    """A link that passed every check: who holds it, for which task of which item."""

    desk: Desk
    token: str
    claim: ActionClaim
    task: ReviewTask
    item: Submission
    capacity: str

    @property
    def board(self) -> Board:
        return self.desk.board

    @property
    def where(self) -> tuple[str, Submission, str]:
        """Board, item and actor, for a refusal."""
        return self.board.id, self.item, self.claim.reviewer

    @property
    def allowed(self) -> tuple[str, ...]:
        """The form actions this token accepts: a "view" link every one, others their own."""
        if review.after_publishing(self.board, self.task):
            return LIVE_ACTIONS if self.claim.action == "view" else ()
        if review.verifying(self.board, self.task):
            return CHECK_ACTIONS if self.claim.action == "view" else (self.claim.action,)
        actions = tuple(a for a in FORM_ACTIONS if a not in ("withdraw",))
        return actions if self.claim.action == "view" else (self.claim.action,)


@dataclass
class FormInput:
    """What the reviewer typed, kept to fill the form again when it is refused."""

    action: str = ""
    reason: str = ""
    title: str | None = None
    body: str | None = None
    target: str = ""
    errors: dict[str, str] = field(default_factory=dict)


def client_detail() -> dict[str, str]:
    return {
        "ip": request.remote_addr or "",
        "user_agent": request.headers.get("User-Agent", "")[:300],
    }


class LinkPages:
    """The request handlers, with what they need from the deployment."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        boards: Mapping[str, Board],
        links: Links,
        files: FileStore,
        secure_cookies: bool,
    ) -> None:
        self.sessions, self.boards, self.links, self.files = sessions, boards, links, files
        self.secure_cookies = secure_cookies

    # -- checking a link ------------------------------------------------------------
    def admit(self, s: Session, task_id: int, token: str, now: datetime) -> Visit:
        """The visit a link allows, or Refusal."""
        try:
            claim = self.links.signer.verify(token, now=now)
        except TokenExpired as exc:
            raise self._refusal(s, task_id, "expired", exc.message, 410, exc.claim) from None
        except TokenError as exc:  # not ours: logged, kept off the record anyone could fill
            raise Refusal("bad-token", exc.message, 404) from None
        task = s.get(ReviewTask, task_id)
        board = self.boards.get(claim.board)
        if (
            task is None
            or board is None
            or (claim.item, claim.board, claim.step) != (task.id, task.board_id, task.step_index)
        ):
            raise self._refusal(s, task_id, "bad-token", TokenMismatch.message, 404, claim)
        desk = Desk(board, s, self.links, self.files, now)
        task, item = review.open_task(desk, task_id)
        who = claim.reviewer
        if s.get(UsedLink, claim.nonce) is not None:
            raise Refusal("replayed", REPLAYED, 410, board.id, item, who, show_state=True)
        try:
            capacity = review.may_act(desk, task, item, who)
        except Refused as exc:
            raise Refusal("wrong-reviewer", exc.message, 403, board.id, item, who) from None
        try:
            review.check_open(desk, task, item)
        except Refused as exc:
            raise Refusal("closed", exc.message, 409, board.id, item, who, True) from None
        return Visit(desk, token, claim, task, item, capacity)

    def _refusal(
        self,
        s: Session,
        task_id: int,
        code: str,
        message: str,
        status: int,
        claim: ActionClaim | None,
    ) -> Refusal:
        """A refusal placed on the link's board, and on its item when the token is ours."""
        task = s.get(ReviewTask, task_id)
        if task is None:
            return Refusal(code, message, status)
        item = None
        if claim is not None and (claim.item, claim.board) == (task.id, task.board_id):
            item = s.get(Submission, task.submission_id)
        actor = claim.reviewer if claim is not None else "unknown"
        return Refusal(code, message, status, task.board_id, item, actor)

    def record_refusal(self, s: Session, refusal: Refusal, task_id: int) -> None:
        log.warning(
            "link refused: code=%s task=%d ip=%s", refusal.code, task_id, request.remote_addr
        )
        if refusal.board_id is None:
            return
        s.add(
            Event(
                board_id=refusal.board_id,
                submission_id=refusal.item.id if refusal.item is not None else None,
                kind="link-refused",
                actor=refusal.actor,
                channel="link",
                detail={"code": refusal.code, "task": task_id, **client_detail()},
                created_at=utcnow(),
            )
        )
        s.commit()

    def refused_page(self, s: Session, refusal: Refusal, task_id: int) -> Response:
        self.record_refusal(s, refusal, task_id)
        context: dict[str, Any] = {"heading": "Không thể dùng liên kết", "message": refusal.message}
        board = self.boards.get(refusal.board_id or "")
        if refusal.show_state and refusal.item is not None and board is not None:
            context |= state_context(Desk(board, s, self.links, self.files), refusal.item)
        return page("notice.html", refusal.status, **context)

    # -- GET ------------------------------------------------------------------------
    def show(self, task_id: int, token: str) -> Response:
        with self.sessions() as s:
            try:
                visit = self.admit(s, task_id, token, utcnow())
            except Refusal as refusal:
                return self.refused_page(s, refusal, task_id)
            nonce = request.cookies.get(SESSION_COOKIE) or secrets.token_urlsafe(24)
            response = self.review_page(visit, nonce, FormInput(), 200)
            if request.method == "GET":  # a HEAD is no view
                review.event(
                    visit.desk,
                    visit.item,
                    "viewed",
                    actor=visit.claim.reviewer,
                    channel="link",
                    task=task_id,
                    action=visit.claim.action,
                    **client_detail(),
                )
                s.commit()
        response.set_cookie(
            SESSION_COOKIE,
            nonce,
            path="/duyet/",
            httponly=True,
            # Lax: a link tapped in web mail (another site) keeps the cookie an open tab's
            # form is bound to (Strict sent none and a new one replaced it); a form posted
            # from another site still carries none, and the CSRF check refuses it
            samesite="Lax",
            secure=self.secure_cookies,
        )
        return response

    def review_page(self, visit: Visit, nonce: str, typed: FormInput, status: int) -> Response:
        d, item = visit.desk, visit.item
        files = list(item.files)
        pictures = [f for f in files if f.sha256 and f.role != "article" and shows_as_image(f)]
        by_cid = {f.content_id: self.file_url(visit, f) for f in pictures if f.content_id}
        shown: set[str] = set()
        body = with_inline_images(item.body_html, by_cid, shown)
        old = None
        if visit.claim.version != item.content_hash:
            old = review.version_by_hash(d, item, visit.claim.version)
        seat = d.board.on_roster(visit.task.member_id)  # None: left, his seat handed over
        check = review.verifying(d.board, visit.task)
        return page(
            "review.html",
            status,
            board=d.board,
            step=review.step_of(d.board, visit.task.step_index),
            check=check,
            live=live_post(d.session, item) if check else None,
            reviewer=d.board.member(visit.claim.reviewer),
            acting_for=None if visit.capacity == "self" else seat,
            item=item,
            body=with_destinations(body),
            photos=[  # attached, not in the text: shown under it, as the portal does
                {"url": self.file_url(visit, f), "name": f.filename}
                for f in pictures
                if f.content_id not in shown
            ],
            files=[file_row(f, self.file_url(visit, f)) for f in files],
            flags=[str(f.get("message") or f.get("code") or "") for f in item.flags],
            history=history_lines(d, item),
            due=review.local_time(d.board, item.due_at) if item.due_at else None,
            changed=visit.claim.version != item.content_hash,
            old_title=old.title if old is not None and old.title != item.title else None,
            diff=diffing.text_diff_html(old.body_text, item.body_text) if old else None,
            allowed=visit.allowed,
            csrf=self.links.signer.csrf(token_digest(visit.token), nonce),
            version=item.content_hash or "",
            targets=forward_targets(d.board, visit),
            typed=typed,
            action_url=url_for("link", task_id=visit.task.id, token=visit.token),
        )

    def file_url(self, visit: Visit, f: StoredFile) -> str:
        return url_for("file", task_id=visit.task.id, token=visit.token, file_id=f.id)

    # -- POST -----------------------------------------------------------------------
    def decide(self, task_id: int, token: str) -> Response:
        with self.sessions() as s:
            lock(s, task_id)
            try:
                visit = self.admit(s, task_id, token, utcnow())
                nonce = request.cookies.get(SESSION_COOKIE, "")
                if not self.links.signer.check_csrf(
                    request.form.get("csrf", ""), token_digest(token), nonce
                ):
                    raise Refusal("csrf", CSRF_REFUSED, 403, *visit.where)
                typed = read_form(visit)
            except Refusal as refusal:
                return self.refused_page(s, refusal, task_id)
            if typed.errors:
                return self.review_page(visit, nonce, typed, 400)
            return self.record(s, visit, typed)

    def record(self, s: Session, visit: Visit, typed: FormInput) -> Response:
        """Act and spend the link, in one transaction."""
        evidence = Evidence("link", {**client_detail(), "token_digest": token_digest(visit.token)})
        seen = request.form.get("version") or visit.claim.version
        refused: Refused | None = None
        said = ""
        try:
            said = review.act(
                visit.desk, visit.task.id, visit.claim.reviewer, decision(typed), seen, evidence
            )
        except Refused as exc:
            refused = exc
            review.event(
                visit.desk,
                visit.item,
                "link-refused",
                actor=visit.claim.reviewer,
                channel="link",
                code=exc.code,
                task=visit.task.id,
                **client_detail(),
            )
        s.add(
            UsedLink(
                nonce=visit.claim.nonce,
                board_id=visit.board.id,
                task_id=visit.task.id,
                used_at=visit.desk.now,
            )
        )
        try:
            s.commit()
        except IntegrityError:  # the same link, used at the same moment elsewhere
            s.rollback()
            replay = Refusal("replayed", REPLAYED, 410, *visit.where)
            return self.refused_page(s, replay, visit.task.id)
        context = state_context(visit.desk, visit.item)
        if refused is not None:
            heading = "Quyết định chưa được ghi nhận"
            return page("notice.html", 409, heading=heading, message=refused.message, **context)
        return page("notice.html", 200, heading="Đã ghi nhận", message=said, done=True, **context)

    # -- files ----------------------------------------------------------------------
    def download(self, task_id: int, token: str, file_id: int) -> Response:
        with self.sessions() as s:
            try:
                visit = self.admit(s, task_id, token, utcnow())
            except Refusal as refusal:
                return self.refused_page(s, refusal, task_id)
            f = s.get(StoredFile, file_id)
            if f is None or f.submission_id != visit.item.id or f.sha256 is None:
                return page("notice.html", 404, heading="Không tìm thấy tệp", message=NO_FILE)
            data = self.files.get(f.sha256)
        name = PurePosixPath(f.filename.replace("\\", "/")).name or "tep-dinh-kem"
        kind = f.content_type if f.content_type in IMAGE_TYPES else "application/octet-stream"
        if (jpeg := imagemeta.jpeg_name(name, f.content_type)) is not None:
            # a HEIC photo, as the portal will get it: a JPEG any phone's browser shows
            with contextlib.suppress(imagemeta.Unreadable):  # else the file as mailed
                data, name, kind = imagemeta.as_jpeg(name, data), jpeg, "image/jpeg"
        response = send_file(
            io.BytesIO(data), mimetype=kind, as_attachment=True, download_name=name
        )
        response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
        return response


NO_FILE = "Tệp này không thuộc tin bài của liên kết, hoặc không được lưu (quá lớn)."


def lock(s: Session, task_id: int) -> None:
    """Serialise decisions on one item (a row lock on PostgreSQL, the write lock on
    SQLite)."""
    writelock.hold(s)
    task = s.scalar(select(ReviewTask).where(ReviewTask.id == task_id).with_for_update())
    if task is not None:
        s.scalar(select(Submission).where(Submission.id == task.submission_id).with_for_update())


# C0 control characters but tab, line feed and carriage return: nothing a reviewer types,
# and PostgreSQL refuses NUL in text
_CONTROLS: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def form_text(name: str) -> str | None:
    """A text field of the posted form without control characters; None if absent."""
    value = request.form.get(name)
    return None if value is None else _CONTROLS.sub("", value)


def read_form(visit: Visit) -> FormInput:
    """The decision the form asks for; errors (Vietnamese) for the fields to fix."""
    typed = FormInput(
        action=form_text("action") or "",
        reason=(form_text("reason") or "").strip(),
        title=form_text("title"),
        body=form_text("body"),
        target=form_text("target") or "",
    )
    if typed.action not in FORM_ACTIONS:
        typed.errors["action"] = "Thao tác không hợp lệ. Vui lòng chọn một nút trên trang."
        return typed
    if typed.action not in visit.allowed:
        raise Refusal("wrong-action", WRONG_ACTION, 403, *visit.where)
    if typed.action in ("reject", "changes", "withdraw") and not typed.reason:
        typed.errors[typed.action] = {
            "reject": "Vui lòng ghi lý do từ chối.",
            "changes": "Vui lòng ghi nội dung người gửi cần sửa.",
            "withdraw": "Vui lòng ghi lý do gỡ bài.",
        }[typed.action]
    if len(typed.reason) > MAX_REASON_CHARS:
        typed.errors[typed.action] = f"Nội dung ghi quá dài (tối đa {MAX_REASON_CHARS} ký tự)."
    if typed.action == "edit" and not ((typed.title or "").strip() and (typed.body or "").strip()):
        typed.errors["edit"] = "Tiêu đề và nội dung không được để trống."
    if typed.action == "forward" and typed.target not in {
        m.id for m in forward_targets(visit.board, visit)
    }:
        typed.errors["forward"] = "Vui lòng chọn thành viên nhận chuyển."
    return typed


def decision(typed: FormInput) -> Decision:
    if typed.action == "edit":
        edit = ((typed.title or "").strip(), typed.body or "")
        return Decision(Verb.APPROVE, text=typed.reason or None, edit=edit)
    if typed.action in ("changes", "reject", "withdraw"):
        return Decision(Verb(typed.action), typed.reason)
    if typed.action == "forward":
        return Decision(Verb.FORWARD, typed.target)
    return Decision(Verb.APPROVE)


def forward_targets(board: Board, visit: Visit) -> list[Member]:
    """Members an item may be forwarded to: not the reviewer, not the seat's own member,
    nobody already seated at the step, not the item's sender."""
    seated = review.seated(visit.desk, visit.item, visit.task.step_index)
    barred = {visit.claim.reviewer, visit.task.member_id, visit.item.sender_member_id, *seated}
    return [m for m in board.members if m.id not in barred]


# -- what the pages show -----------------------------------------------------------------
def shows_as_image(f: StoredFile) -> bool:
    """A file a browser shows as a picture (a HEIC photo is served as a JPEG)."""
    return (
        f.content_type in IMAGE_TYPES or imagemeta.jpeg_name(f.filename, f.content_type) is not None
    )


def with_inline_images(html: str, by_cid: Mapping[str, str], shown: set[str]) -> str:
    """``body_html`` (already sanitised) with its ``cid:`` images pointing at the file
    route; the content ids it shows are added to ``shown``."""

    def url(cid: str) -> str | None:
        found = by_cid.get(cid)
        if found is not None:
            shown.add(cid)
        return found

    return resolve_cids(html, url)


def file_size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    value, unit = (size / 1024, "KB") if size < 1024 * 1024 else (size / 1024 / 1024, "MB")
    return f"{value:.1f} {unit}".replace(".", ",")


def file_row(f: StoredFile, url: str) -> dict[str, str | None]:
    return {
        "name": f.filename,
        "size": file_size(f.size),
        "role": FILE_ROLES.get(f.role, ""),
        "url": url if f.sha256 else None,
    }


def history_lines(d: Desk, item: Submission) -> list[str]:
    """When the item arrived, then every decision taken on it."""
    sender = item.sender_name or item.sender_address or "người gửi"
    received = item.raw_message.received_at if item.raw_message else item.created_at
    first = f"{review.local_time(d.board, received)}: nhận tin bài từ {sender}"
    return [first, *review.history(d, item)]


def live_post(s: Session, item: Submission) -> dict[str, Any] | None:
    """The post as read back from the portal, sanitised again (it may have been edited by
    hand there), for the verifier to compare with the approved version."""
    pub = s.scalar(select(Publication).where(Publication.submission_id == item.id))
    if pub is None:
        return None
    return {
        "title": pub.live_title or "",
        "body": sanitize_html(pub.live_html or "").html,
        "url": pub.url,
        "differences": (pub.difference or "").splitlines(),
    }


def state_label(board: Board, item: Submission) -> str:
    label = STATE_LABELS.get(State(item.state), item.state)
    if item.state == State.PENDING_REVIEW and item.review_step is not None:
        label += f" — bước «{board.review.steps[item.review_step].name}»"
    return label


def state_context(d: Desk, item: Submission) -> dict[str, Any]:
    return {
        "item": item,
        "state": state_label(d.board, item),
        "history": history_lines(d, item),
        "board": d.board,
    }


def page(template: str, status: int, **context: Any) -> Response:
    return Response(render_template(template, **context), status=status, mimetype="text/html")


def secure_headers(response: Response) -> Response:
    headers = response.headers
    public = request.endpoint == "site"  # the published site: revalidated, indexable
    headers.setdefault("Content-Security-Policy", SITE_CSP if public else CSP)
    headers["Referrer-Policy"] = "no-referrer"
    headers["Cache-Control"] = "no-cache" if public else "no-store"
    if not public:
        headers["X-Robots-Tag"] = "noindex, nofollow"
    headers["X-Content-Type-Options"] = "nosniff"
    headers["X-Frame-Options"] = "DENY"
    return response


# -- the application ------------------------------------------------------------------------
_TOKEN_IN_PATH = re.compile(r"^(/duyet/\d+/)[^/]+")


class LinkApp(Flask):
    """Flask, logging errors without the token that is in the path."""

    def log_exception(self, exc_info: Any) -> None:
        path = _TOKEN_IN_PATH.sub(r"\1…", request.path)
        self.logger.error("Exception on %s [%s]", path, request.method, exc_info=exc_info)


class IdConverter(IntegerConverter):
    """A row id in a path: 0 to ``MAX_ID`` (SQLite cannot even look a larger one up)."""

    def __init__(self, url_map: Map) -> None:
        super().__init__(url_map, max=MAX_ID)


def make_app(
    sessions: sessionmaker[Session],
    boards: Mapping[str, Board],
    links: Links,
    files: FileStore,
    *,
    secure_cookies: bool = False,
    site_dir: Path | None = None,
    metrics_from: Sequence[str] = ("127.0.0.1", "::1"),
) -> Flask:
    """The link pages as a WSGI application. ``boards`` by id; ``secure_cookies`` when the
    public address is https; ``site_dir``, a static site's folder, is served read-only at
    ``/cong/`` (the embedded default needs no other web server); ``/metrics`` only to the
    addresses or networks ``metrics_from``."""
    app = LinkApp(__name__)
    app.url_map.converters["id"] = IdConverter
    app.jinja_env.autoescape = True
    app.config.update(
        MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
        MAX_FORM_MEMORY_SIZE=MAX_REQUEST_BYTES,
    )
    pages = LinkPages(sessions, boards, links, files, secure_cookies)

    # one rule for both methods: an id out of range is then no page (404) for a POST too
    @app.route("/duyet/<id:task_id>/<token>", methods=["GET", "POST"], endpoint="link")
    def link(task_id: int, token: str) -> Response:
        if request.method == "POST":
            return pages.decide(task_id, token)
        return pages.show(task_id, token)

    @app.get("/duyet/<id:task_id>/<token>/tep/<id:file_id>", endpoint="file")
    def download(task_id: int, token: str, file_id: int) -> Response:
        return pages.download(task_id, token, file_id)

    @app.get("/healthz")
    def healthz() -> Response:
        return Response("ok", mimetype="text/plain")

    app.add_url_rule("/metrics", "metrics", metrics.view(sessions, boards, metrics_from))

    if site_dir is not None:
        root = site_dir

        @app.get(SITE_PREFIX, endpoint="site", defaults={"path": ""})
        @app.get(f"{SITE_PREFIX}<path:path>", endpoint="site")
        def site(path: str) -> BaseResponse:
            return site_file(root, path)

    for status, message in ERRORS.items():
        app.register_error_handler(status, _error_page(status, message))
    app.after_request(secure_headers)
    return app


ERRORS: Final = {
    404: "Không tìm thấy trang. Vui lòng mở lại liên kết trong thư thông báo.",
    405: "Thao tác không được hỗ trợ trên trang này.",
    413: "Nội dung gửi lên quá lớn.",
    500: "Đã có lỗi khi xử lý. Quyết định chưa được ghi nhận; vui lòng thử lại sau.",
}


NO_POSTS: Final = "Chưa có tin bài nào được đăng. Tin bài được duyệt sẽ xuất hiện ở đây."


def site_file(root: Path, path: str) -> BaseResponse:
    """A file of the static site under ``root``; a folder gives its ``index.html``.
    safe_join refuses ``..`` and absolute paths; the site's dot-files (its lock, pages
    being written, a post being withdrawn) are not served."""
    if not path and not (root / "index.html").is_file():
        return page("notice.html", 200, heading="Tin bài đã đăng", message=NO_POSTS, done=True)
    full = safe_join(str(root), path) if path else str(root)
    if full is None or any(part.startswith(".") for part in path.split("/")):
        abort(404)
    if os.path.isdir(full):
        if path and not path.endswith("/"):  # the pages' links are relative to the folder
            return redirect(url_for("site", path=f"{path}/"), 308)
        path += "index.html"
    return send_from_directory(root, path)


# A reader of the published site who follows a link to a post taken off it (or mistyped)
# is no reviewer with a notice to open again.
SITE_NOT_FOUND: Final = (
    "Không tìm thấy tin, bài này trên cổng: tin, bài có thể đã được gỡ, hoặc địa chỉ chưa đúng."
)


def _error_page(status: int, message: str) -> Any:
    def handler(_exc: Exception) -> Response:
        if status == 404 and request.endpoint == "site":
            return page(
                "notice.html",
                status,
                heading="Không tìm thấy tin, bài",
                message=SITE_NOT_FOUND,
                home=url_for("site", path=""),
            )
        return page("notice.html", status, heading="Không thực hiện được", message=message)

    return handler


# -- serving ---------------------------------------------------------------------------------
# Waitress's defaults let 100 slow clients hold every connection for 120 s, and store a
# body of up to 1 GiB before the app sees its size.
LIMITS: Final = {
    "connection_limit": 500,  # poll (not select) in the loop: no 1,024-descriptor ceiling
    "channel_timeout": 30,  # a connection that sends nothing for that long is closed…
    "cleanup_interval": 10,  # …within this after
    "max_request_body_size": MAX_REQUEST_BYTES,  # past it: 413 before the body is read
}


class WebServer:
    """Waitress serving ``app`` on ``address`` ("host:port"; port 0 picks a free one), in a
    daemon thread, within ``LIMITS``. The socket is bound on construction, so ``port`` is
    known at once. Behind a reverse proxy at ``trusted_proxy``, the client's address and
    scheme are read from the proxy's X-Forwarded-For and -Proto; from anyone else those
    headers are dropped."""

    def __init__(
        self, app: WSGIApplication, address: str, *, threads: int = 4, trusted_proxy: str = ""
    ) -> None:
        host, port = parse_address(address)
        self._map: dict[int, Any] = {}
        proxy: dict[str, Any] = {}
        if trusted_proxy:
            proxy = {
                "trusted_proxy": trusted_proxy,
                "trusted_proxy_count": 1,
                "trusted_proxy_headers": {"x-forwarded-for", "x-forwarded-proto"},
            }
        self._server: Any = create_server(
            app,
            map=self._map,
            host=host,
            port=port,
            threads=threads,
            ident="bientap",
            **LIMITS,
            **proxy,
        )
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return str(self._server.effective_host)

    @property
    def port(self) -> int:
        return int(self._server.effective_port)

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the web server is already started")
        self._thread = threading.Thread(target=self._serve, name="bientap-web", daemon=True)
        self._thread.start()
        log.info("link pages served on %s:%d", self.host, self.port)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop accepting, close every connection and the worker threads."""
        self._stopping.set()
        if self._thread is None:
            self._close()
            return
        self._server.pull_trigger()  # wake the loop
        self._thread.join(timeout)

    def _serve(self) -> None:
        try:
            while not self._stopping.is_set() and self._map:
                wasyncore.loop(timeout=0.5, map=self._map, use_poll=True, count=1)
        finally:
            self._close()

    def _close(self) -> None:
        self._server.task_dispatcher.shutdown()  # lets running requests finish first
        self._server.close()
        wasyncore.close_all(self._map, ignore_all=True)

    def __enter__(self) -> WebServer:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()
