"""Board configuration: one TOML file per board, validated at start.

Every error names the file, the key and what is wrong. Secrets are never stored in
a file: a secret value is written ``env:NAME`` and read from the environment when
it is used, so a configuration can be checked on a machine that lacks the secrets.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
import tomllib
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

DEPLOYMENT_FILE = "deployment.toml"


class ConfigError(Exception):
    """A configuration problem, phrased as ``file: key: problem``."""


class Role(StrEnum):
    """Roles the regulations give board members."""

    TRUONG_BAN = "truong_ban"
    PHO_TRUONG_BAN_THUONG_TRUC = "pho_truong_ban_thuong_truc"
    PHO_TRUONG_BAN = "pho_truong_ban"
    THU_KY = "thu_ky"
    THANH_VIEN = "thanh_vien"
    TO_CHUYEN_VIEN = "to_chuyen_vien"
    LANH_DAO_TRUNG_TAM = "lanh_dao_trung_tam"
    PHONG_VIEN = "phong_vien"


ROLE_LABELS: dict[Role, str] = {
    Role.TRUONG_BAN: "Trưởng ban",
    Role.PHO_TRUONG_BAN_THUONG_TRUC: "Phó Trưởng ban thường trực",
    Role.PHO_TRUONG_BAN: "Phó Trưởng ban",
    Role.THU_KY: "Thư ký",
    Role.THANH_VIEN: "Thành viên",
    Role.TO_CHUYEN_VIEN: "Tổ chuyên viên",
    Role.LANH_DAO_TRUNG_TAM: "Lãnh đạo Trung tâm",
    Role.PHONG_VIEN: "Phóng viên, cộng tác viên",
}


class Secret:
    """A reference to an environment variable holding a secret; never printed."""

    def __init__(self, env_name: str) -> None:
        self.env_name = env_name

    def reveal(self) -> str:
        """The secret; an empty variable is as good as none (``config check`` says so
        too): a service's password is never empty, and sending one fails later."""
        value = os.environ.get(self.env_name)
        if value is None:
            raise ConfigError(f"environment variable {self.env_name} is not set")
        if not value:
            raise ConfigError(f"environment variable {self.env_name} is empty")
        return value

    def __repr__(self) -> str:
        return f"Secret(env:{self.env_name})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other.env_name == self.env_name

    def __hash__(self) -> int:
        return hash(self.env_name)


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _parse_secret(value: Any) -> Secret:
    if isinstance(value, Secret):
        return value
    if isinstance(value, str) and value.startswith("env:"):
        if _ENV_NAME.fullmatch(value[4:]):
            return Secret(value[4:])
        # not a variable's name: perhaps the secret itself, so it is not repeated here
        raise ValueError("env: must name an environment variable (letters, digits, _)")
    raise ValueError("secrets are never written in the file: use env:VARIABLE_NAME")


SecretRef = Annotated[Secret, BeforeValidator(_parse_secret)]


def _no_password_in_url(value: Any) -> Any:
    """A CMS address with a password in it (``https://bbt:…@cong.example``): refused
    without repeating it, as any secret written in the file is."""
    if isinstance(value, str) and urlsplit(value).password:
        raise ValueError(
            "secrets are never written in the file: take the password out of the address "
            'and give it as password = "env:VARIABLE_NAME"'
        )
    return value


CmsUrl = Annotated[str, BeforeValidator(_no_password_in_url)]


# local@domain alone: no display name ("Tên <a@b>"), no list ("a@b, c@d"), no space, which
# a member's or a mailbox's address would never match
_ADDRESS = re.compile(r"[^@\s<>()\[\],;:\"\\]+@[^@\s<>()\[\],;:\"\\]+")


def _lower_email(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip().lower()
        if not _ADDRESS.fullmatch(value):
            raise ValueError(
                f"not an e-mail address: {value!r} (the address alone, e.g. bbt@example.gov.vn)"
            )
    return value


Email = Annotated[str, BeforeValidator(_lower_email)]
Ident = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


def _imap_folder(name: str) -> str:
    """An IMAP folder's name as servers compare it: INBOX in any case is the inbox."""
    return "INBOX" if name.upper() == "INBOX" else name


class Mailbox(_Strict):
    """A submission mailbox the daemon watches."""

    name: Ident
    address: Email
    aliases: list[Email] = []
    source: Literal["imap", "maildir"]
    # IMAP
    host: str | None = None
    port: int = 993
    ssl: bool = True
    username: str | None = None
    password: SecretRef | None = None
    folder: str = "INBOX"
    processed_folder: str = "Đã xử lý"
    set_aside_folder: str = "Không phải bài gửi"
    idle: bool = True
    # Maildir (the embedded default)
    path: str | None = None
    poll_seconds: int = Field(default=60, ge=1)

    @model_validator(mode="after")
    def _source_settings(self) -> Mailbox:
        if self.source == "imap":
            missing = [k for k in ("host", "username", "password") if getattr(self, k) is None]
            if missing:
                raise ValueError(f"an IMAP mailbox needs {', '.join(missing)}")
            self._files_elsewhere()
        elif self.path is None:
            raise ValueError("a Maildir mailbox needs path")
        return self

    def _files_elsewhere(self) -> None:
        """Mail filed into the folder read (INBOX in any case) is new mail to the next pass:
        moved into itself, read again, filed again, a record more each pass, for ever."""
        read = _imap_folder(self.folder)
        for key in ("processed_folder", "set_aside_folder"):
            if _imap_folder(getattr(self, key)) == read:
                raise ValueError(
                    f"{key} {getattr(self, key)!r} is the folder the mailbox reads: its mail "
                    "would be read again on every pass (name another folder)"
                )

    def where(self) -> str:
        """The mailbox as its source knows it: two of these alike read the same mail."""
        if self.source == "maildir":
            return f"Maildir {os.path.normpath(self.path or '')}"
        user, host = (self.username or "").lower(), (self.host or "").lower()
        return f"IMAP {user}@{host}:{self.port}/{self.folder}"


class MailOut(_Strict):
    """How the board sends mail: SMTP, or a local outbox Maildir (embedded default)."""

    transport: Literal["smtp", "outbox"] = "outbox"
    from_address: Email
    from_name: str = "Ban Biên tập"
    host: str | None = None
    port: int = 587
    starttls: bool = True
    ssl: bool = False
    username: str | None = None
    password: SecretRef | None = None
    path: str = "outbox"

    @model_validator(mode="after")
    def _transport_settings(self) -> MailOut:
        if self.transport == "smtp" and self.host is None:
            raise ValueError("SMTP sending needs host")
        return self


class Topic(_Strict):
    """A field (lĩnh vực) or portal section (chuyên mục) an item can belong to."""

    id: Ident
    name: str
    keywords: list[str] = []
    tags: list[str] = []  # subject tags, e.g. "[GD]" is written "GD"


class Member(_Strict):
    id: Ident
    name: str
    email: Email
    aliases: list[Email] = []
    role: Role
    title: str = ""  # position in his own agency, e.g. "Phó Giám đốc Sở Tư pháp"
    agency: Ident | None = None
    fields: list[Ident] = []
    example: bool = False  # the address is an invented example, not from the regulation


class Agency(_Strict):
    id: Ident
    name: str
    addresses: list[Email] = []
    domains: list[str] = []
    example: bool = False  # the addresses are invented examples

    @field_validator("domains")
    @classmethod
    def _lower_domains(cls, value: list[str]) -> list[str]:
        return [d.strip().lower().lstrip("@") for d in value]


class Limits(_Strict):
    max_message_mb: float = Field(default=25.0, gt=0)
    max_attachment_mb: float = Field(default=20.0, gt=0)


class Checks(_Strict):
    """Which checks raise flags on a submission; see pipeline/checks.py."""

    security_markings: list[str] = ["TUYỆT MẬT", "TỐI MẬT", "MẬT"]
    require_author: bool = True
    require_unit: bool = True
    require_source_for_collected: bool = False
    sensitive_keywords: list[str] = []
    duplicate_threshold: float = Field(default=0.8, gt=0, le=1)
    unknown_sender: Literal["hold", "accept"] = "hold"
    notice_interval_hours: float = Field(default=24, ge=0)


class Deadline(_Strict):
    """How long an item of one kind may wait for publication (e.g. Lục Nam Đ12.3–4)."""

    kind: Literal["tin", "bai", "anh", "video", "van_ban"]
    amount: int = Field(ge=0)
    unit: Literal["days", "working_days"]
    remind_before_hours: float = Field(default=4, ge=0)
    escalate_after_hours: float = Field(default=0, ge=0)


class Actor(_Strict):
    """Who may act at a review step: exactly one of a role, the owners of the item's
    field(s) or section(s), or a named member."""

    role: Role | None = None
    field_owners: bool = False
    member: Ident | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Actor:
        given = (self.role is not None) + self.field_owners + (self.member is not None)
        if given != 1:
            raise ValueError("an actor is exactly one of role, field_owners = true or member")
        return self


class Condition(StrEnum):
    """When a conditional step joins an item's review path."""

    ALWAYS = "always"
    SENSITIVE = "sensitive"  # a check escalated it (sensitive keywords; Đồng Nai Đ9.1)
    IN_MEMBER_FIELD = "in_member_field"  # its field is owned by a member (Khánh Hòa Bước 1)
    FROM_REPORTER = "from_reporter"  # sent by a reporter (phong_vien; Lục Nam TB II.4)
    # sent from outside the board: by no member, or by a reporter (Khánh Hòa Bước 1)
    FROM_OUTSIDE = "from_outside"


class Quorum(StrEnum):
    ANY = "any"  # the first reviewer's decision is the step's
    ALL = "all"  # every reviewer approves; one refusal decides
    MAJORITY = "majority"  # more than half; a tie goes the head's way (Tuyên Quang Đ2.1)


class ReviewStep(_Strict):
    id: Ident
    name: str  # Vietnamese, shown to reviewers: "Phó Trưởng ban thường trực duyệt"
    actors: list[Actor] = Field(min_length=1)
    quorum: Quorum = Quorum.ANY
    when: Condition = Condition.ALWAYS


class Delegation(_Strict):
    """``to`` may act for ``member`` on items of ``fields`` (Khánh Hòa Đ5.2)."""

    member: Ident
    to: Ident
    fields: list[Ident] = Field(min_length=1)


class Absence(_Strict):
    """``acting`` stands in for ``member`` from ``start`` to ``end`` (days, inclusive)."""

    member: Ident
    acting: Ident
    start: date
    end: date

    @model_validator(mode="after")
    def _ordered(self) -> Absence:
        if self.end < self.start:
            raise ValueError("end is before start")
        return self


class ReplyAuth(_Strict):
    """What a reply must carry to count, where the board's server stamps
    Authentication-Results (RFC 8601). Empty ``authserv_ids``: no check."""

    authserv_ids: list[str] = []  # the board's own servers, the only stamps trusted
    require: list[Literal["dkim", "spf", "dmarc"]] = ["dmarc"]


class Review(_Strict):
    steps: list[ReviewStep] = Field(min_length=1)
    delegations: list[Delegation] = []
    absences: list[Absence] = []
    reply_auth: ReplyAuth = ReplyAuth()
    link_ttl_days: float = Field(default=7, gt=0)
    digest_hour: int = Field(default=8, ge=0, le=23)  # local hour of the daily digest
    # Who is asked to act in an overdue seat: the first role after the seat's own (or the
    # first, for a role not listed) that has a member. Empty: an overdue seat is only noted.
    escalation: list[Role] = [
        Role.PHO_TRUONG_BAN,
        Role.PHO_TRUONG_BAN_THUONG_TRUC,
        Role.TRUONG_BAN,
    ]


class StaticSite(_Strict):
    """The embedded default: pages written to a folder any web server can serve."""

    path: str = "site"  # inside data_dir when relative
    base_url: str = "http://127.0.0.1:8480/"  # where that folder is served


class WordPress(_Strict):
    url: CmsUrl  # the site's address; the REST API is reached under it
    username: str
    password: SecretRef  # an Application Password
    status: Literal["publish", "draft"] = "publish"
    timeout_seconds: float = Field(default=20, gt=0)


class RestApi(_Strict):
    """A portal's own JSON API: the request is a template, answers are read by path."""

    url: CmsUrl  # collection URL: POST creates here
    item_url: CmsUrl  # one post: "{url}/{id}"; GET reads, PUT updates, DELETE withdraws
    find_url: CmsUrl | None = None  # by idempotency key: "{url}?externalKey={key}"
    method: Literal["POST", "PUT"] = "POST"
    auth_header: str = "Authorization"
    auth_value: SecretRef | None = None  # e.g. env:PORTAL_TOKEN holding "Bearer …"
    body: dict[str, Any]  # JSON template; strings may hold {title}, {body_html}, {key}…
    id_path: str = "id"  # dotted path in the answer: "data.id"
    url_path: str = "url"
    read_paths: dict[str, str] = {}  # Live field -> dotted path, for read-back
    timeout_seconds: float = Field(default=20, gt=0)


class Liferay(_Strict):
    """Liferay 7 headless delivery: structured content in a site's content structure."""

    url: CmsUrl  # e.g. https://portal.example.gov.vn
    site_id: int
    structure_id: int
    folder_id: int | None = None
    username: str
    password: SecretRef
    fields: dict[str, str] = {"body": "content", "summary": "summary", "author": "author"}
    timeout_seconds: float = Field(default=20, gt=0)


class Publish(_Strict):
    """Where approved items go and how (issue: publishing)."""

    connector: Literal["static", "wordpress", "rest", "liferay"] = "static"
    static: StaticSite = StaticSite()
    wordpress: WordPress | None = None
    rest: RestApi | None = None
    liferay: Liferay | None = None
    sections: dict[str, str] = {}  # field id -> the CMS's category / section
    default_section: str | None = None
    english_section: str | None = None  # items in English go here (Bình Phước Đ7.2)
    attribution: str | None = None  # a line added to every post (Bình Phước Đ8.3)
    credit: str = "{author}"  # author credit; {author}, {unit}, {source}
    verify: Literal["auto", "human"] = "auto"
    verifier_role: Role = Role.THU_KY
    max_attempts: int = Field(default=6, ge=1)
    retry_seconds: float = Field(default=30, gt=0)  # first wait; doubles, with jitter
    breaker_failures: int = Field(default=5, ge=1)  # failures in a row open the circuit
    breaker_seconds: float = Field(default=300, gt=0)  # how long it stays open

    @model_validator(mode="after")
    def _connector_settings(self) -> Publish:
        if self.connector != "static" and getattr(self, self.connector) is None:
            raise ValueError(f"connector {self.connector!r} needs its [publish.{self.connector}]")
        return self


ItemKind = Literal["tin", "bai", "anh", "video", "van_ban"]
PeriodKind = Literal["month", "quarter", "half_year", "year"]


class Quota(_Strict):
    """Items an agency is planned to send (Đồng Nai Đ9.5: kế hoạch phân bổ số lượng tin,
    bài), scaled to a report's period by its length (24 a year is 12 a half-year)."""

    agency: Ident
    items: int = Field(ge=0)
    per: PeriodKind = "year"


class Royalties(_Strict):
    """Nhuận bút of a published item: its kind's coefficient (hệ số) × the unit value (giá
    trị một đơn vị hệ số), in đồng. The regulations leave both figures to the board."""

    unit_vnd: int = Field(default=0, ge=0)
    coefficients: dict[ItemKind, Annotated[float, Field(ge=0)]] = {}  # a kind not listed: 0
    approver: Role = Role.TRUONG_BAN  # approves the statement (Khánh Hòa Đ5.8)


class Reports(_Strict):
    """Royalty statements and activity reports (pipeline/reports/)."""

    royalties: Royalties = Royalties()
    quotas: list[Quota] = []
    mail: list[PeriodKind] = []  # activity reports mailed when such a period ends
    recipient_roles: list[Role] = [Role.TRUONG_BAN, Role.THU_KY]
    recipient_members: list[Ident] = []


DEFAULT_REVIEW = Review(
    steps=[
        ReviewStep(id="truong-ban", name="Trưởng ban duyệt", actors=[Actor(role=Role.TRUONG_BAN)])
    ]
)


class Board(_Strict):
    id: Ident
    name: str
    regulation: str = ""
    timezone: str = "Asia/Ho_Chi_Minh"
    mailboxes: list[Mailbox] = Field(min_length=1)
    mail_out: MailOut
    fields: list[Topic] = []
    members: list[Member] = Field(min_length=1)
    agencies: list[Agency] = []
    limits: Limits = Limits()
    checks: Checks = Checks()
    deadlines: list[Deadline] = []
    extra_days_off: list[date] = []  # days off decided beyond the public holidays
    extra_working_days: list[date] = []  # make-up Saturdays
    review: Review = DEFAULT_REVIEW
    publish: Publish = Publish()
    reports: Reports = Reports()
    # Senders' addresses and names are kept this long after an item arrives, then
    # anonymised by `bientap purge` (pipeline/retention.py): one year covers the annual
    # report and any question from the sender; the reports' counts need no address.
    retention_days: int = Field(default=365, ge=1)
    source_file: str = Field(default="", exclude=True)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (Vietnam: Asia/Ho_Chi_Minh)") from None
        return value

    @model_validator(mode="after")
    def _references(self) -> Board:
        _unique("mailboxes", [m.name for m in self.mailboxes])
        _unique("mailboxes", [m.where() for m in self.mailboxes], "mailbox")
        _unique("members", [m.email for m in self.members], "e-mail")
        _unique("fields", [f.id for f in self.fields])
        _unique("members", [m.id for m in self.members])
        _unique("agencies", [a.id for a in self.agencies])
        _unique("deadlines", [d.kind for d in self.deadlines])
        field_ids = {f.id for f in self.fields}
        agency_ids = {a.id for a in self.agencies}
        for i, member in enumerate(self.members):
            for ref in member.fields:
                if ref not in field_ids:
                    raise ValueError(f"members[{i}].fields: unknown field {ref!r}")
            if member.agency is not None and member.agency not in agency_ids:
                raise ValueError(f"members[{i}].agency: unknown agency {member.agency!r}")
        if not any(m.role is Role.TRUONG_BAN for m in self.members):
            raise ValueError("members: the board needs a member with role truong_ban")
        self._check_review(field_ids)
        for ref in self.publish.sections:
            if ref not in field_ids:
                raise ValueError(f"publish.sections: unknown field {ref!r}")
        self._check_reports(agency_ids)
        return self

    def _check_reports(self, agency_ids: set[str]) -> None:
        reports = self.reports
        _unique("reports.quotas", [q.agency for q in reports.quotas])
        for i, quota in enumerate(reports.quotas):
            if quota.agency not in agency_ids:
                raise ValueError(f"reports.quotas[{i}].agency: unknown agency {quota.agency!r}")
        member_ids = {m.id for m in self.members}
        for i, ref in enumerate(reports.recipient_members):
            if ref not in member_ids:
                raise ValueError(f"reports.recipient_members[{i}]: unknown member {ref!r}")
        roles = set(reports.recipient_roles)
        if (
            reports.mail
            and not reports.recipient_members
            and not roles & {m.role for m in self.members}
        ):
            raise ValueError("reports.mail: no member has a recipient role, and none is named")
        approver = reports.royalties.approver
        if not self.members_with_role(approver):
            raise ValueError(f"reports.royalties.approver: no member has role {approver.value!r}")

    def _check_review(self, field_ids: set[str]) -> None:
        member_ids = {m.id for m in self.members}
        roles = {m.role for m in self.members}
        _unique("review.steps", [s.id for s in self.review.steps])
        _unique("review.escalation", [r.value for r in self.review.escalation], "role")
        if self.review.escalation and not roles & set(self.review.escalation):
            raise ValueError("review.escalation: no member has any of these roles")
        for i, step in enumerate(self.review.steps):
            for j, actor in enumerate(step.actors):
                where = f"review.steps[{i}].actors[{j}]"
                if actor.member is not None and actor.member not in member_ids:
                    raise ValueError(f"{where}.member: unknown member {actor.member!r}")
                if actor.role is not None and actor.role not in roles:
                    raise ValueError(f"{where}.role: no member has role {actor.role.value!r}")
            if step.quorum is Quorum.MAJORITY and not any(
                a.role is Role.TRUONG_BAN for a in step.actors
            ):
                raise ValueError(
                    f"review.steps[{i}].quorum: a majority step needs the truong_ban role "
                    "among its actors, to break a tie"
                )
        for key, entries in (
            ("delegations", self.review.delegations),
            ("absences", self.review.absences),
        ):
            for i, entry in enumerate(entries):
                for name in ("member", "to", "acting"):
                    ref = getattr(entry, name, None)
                    if ref is not None and ref not in member_ids:
                        raise ValueError(f"review.{key}[{i}].{name}: unknown member {ref!r}")
                for ref in getattr(entry, "fields", []):
                    if ref not in field_ids:
                        raise ValueError(f"review.{key}[{i}].fields: unknown field {ref!r}")

    # Look-ups used across the pipeline
    def member(self, member_id: str) -> Member:
        return next(m for m in self.members if m.id == member_id)

    def on_roster(self, member_id: str) -> Member | None:
        """The member of that id, or None: the record may name one the board has replaced
        since (a seat waiting for him, a decision he took)."""
        return next((m for m in self.members if m.id == member_id), None)

    def name_of(self, member_id: str) -> str:
        """A member's name, or the id the record keeps of one no longer on the roster."""
        found = self.on_roster(member_id)
        return found.name if found is not None else member_id

    def agency(self, agency_id: str) -> Agency:
        return next(a for a in self.agencies if a.id == agency_id)

    def members_with_role(self, role: Role) -> list[Member]:
        return [m for m in self.members if m.role is role]

    def owners_of(self, field_id: str) -> list[Member]:
        return [m for m in self.members if field_id in m.fields]

    def member_by_address(self, address: str) -> Member | None:
        address = address.strip().lower()
        return next((m for m in self.members if address in (m.email, *m.aliases)), None)

    def addresses(self) -> set[str]:
        """Every address the board itself sends or receives from (loop protection)."""
        own = {self.mail_out.from_address}
        for box in self.mailboxes:
            own.add(box.address)
            own.update(box.aliases)
        return own


def _unique(key: str, ids: list[str], what: str = "id") -> None:
    seen: set[str] = set()
    for value in ids:
        if value in seen:
            raise ValueError(f"{key}: duplicate {what} {value!r}")
        seen.add(value)


def parse_address(address: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:8470`` for IPv6) as (host, port); ValueError otherwise."""
    host, sep, port = address.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"web address must be host:port, got {address!r}")
    if re.fullmatch(r"[0-9.]+|.*:.*", host):  # written as an IP address: it must be one
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise ValueError(f"{host!r} is not an IP address") from None
    return host, int(port)


_DATABASES = frozenset({"sqlite", "sqlite+pysqlite", "postgresql", "postgresql+psycopg2"})


class Deployment(_Strict):
    """Settings shared by every board of one deployment (``deployment.toml``)."""

    database_url: str = "sqlite:///var/bientap.db"
    data_dir: str = "var"
    # reader processes per board (pipeline/workers.py); 0 reads in the daemon's own process
    workers: int = Field(default=1, ge=0)
    web_address: str = "127.0.0.1:8470"  # where the daemon serves reviewers' link pages
    public_url: str = "http://127.0.0.1:8470"  # how reviewers' links start
    # The reverse proxy in front of the link pages (its address, e.g. "127.0.0.1"): only
    # its X-Forwarded-For and -Proto are believed, so the reviewer's address is recorded
    trusted_proxy: str = ""
    # Who may read /metrics (addresses or networks): the figures name boards, mailboxes and
    # their errors, so a reviewer's browser, or anyone on the Internet, may not
    metrics_from: list[str] = Field(default_factory=lambda: ["127.0.0.1", "::1"])
    # Several daemons on one PostgreSQL database (pipeline/claims.py):
    lease_seconds: float = Field(default=30, ge=2)  # a dead daemon's mailbox is taken over
    claim_seconds: float = Field(default=120, ge=5)  # a dead daemon's claimed work, likewise
    # Backups (pipeline/backup.py): weekly by default (Bình Phước Đ11.3), 8 kept
    backup_dir: str = ""  # "" means <data_dir>/backups; relative paths are inside data_dir
    backup_interval_days: float = Field(default=7, gt=0)
    backup_keep: int = Field(default=8, ge=1)

    def __repr_args__(self) -> Any:
        """As pydantic shows it (``repr``, ``str``, a traceback), without the database's
        password, which the environment or the command line may give."""
        for name, value in super().__repr_args__():
            if name == "database_url":
                value = make_url(value).render_as_string(hide_password=True)
            yield name, value

    @field_validator("database_url")
    @classmethod
    def _database(cls, value: str) -> str:
        """A URL of a database bientap runs on; the URL itself is never repeated (it may
        hold a password)."""
        try:
            url = make_url(value)
            url.port  # noqa: B018 - a port that is not a number raises here
        except (ArgumentError, ValueError):
            raise ValueError(
                "not a database URL (e.g. sqlite:///var/bientap.db, "
                "postgresql+psycopg2://bientap@db.example/bientap)"
            ) from None
        if url.drivername not in _DATABASES:
            raise ValueError(f"{url.drivername!r} is not supported: sqlite or postgresql+psycopg2")
        if "@" in (url.host or ""):  # "user:p@ss@host": the host would be "ss@host", and the
            # driver's "could not translate host name" would show the password's end
            raise ValueError(
                "mật khẩu có ký tự @ chưa mã hóa: hãy viết @ là %40 (the password holds an "
                "'@': write it as %40)"
            )
        return value

    @field_validator("metrics_from")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise ValueError(f"{network!r} is not an address or network") from None
        return value

    @field_validator("web_address")
    @classmethod
    def _listen_address(cls, value: str) -> str:
        parse_address(value)
        return value

    @field_validator("public_url")
    @classmethod
    def _link_start(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"must be an http(s) URL, e.g. https://bbt.example.gov.vn, got {value!r}"
            )
        return value


def _location(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _table_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The model of the table at ``loc`` in ``model`` (``("mailboxes", 0)``: a Mailbox)."""
    current: type[BaseModel] | None = model
    for part in loc:
        if isinstance(part, int):  # an entry of a list: the list's own model
            continue
        field = current.model_fields.get(part) if current is not None else None
        if field is None:
            return None
        found = [t for t in (field.annotation, *get_args(field.annotation)) if _is_model(t)]
        current = found[0] if found else None
    return current


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _unknown_key(model: type[BaseModel], loc: tuple[int | str, ...]) -> str:
    """A key the table does not take, most often a typo: the key it may have meant."""
    table = _table_at(model, loc[:-1])
    known = [k for k in (table.model_fields if table else {}) if k != "source_file"]
    close = difflib.get_close_matches(str(loc[-1]), known, n=1)
    if close:
        return f"unknown key: did you mean {close[0]!r}?"
    return f"unknown key: this table takes {', '.join(known)}" if known else "unknown key"


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"{path}: không đọc được (cannot read): {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: không phải TOML hợp lệ (not valid TOML): {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: không phải văn bản UTF-8, byte {exc.start} (not UTF-8 text): hãy lưu lại "
            "bằng mã UTF-8 (save it as UTF-8)"
        ) from exc


def _validate(
    model: type[_Strict], data: dict[str, Any], path: Path, sources: dict[str, str] | None = None
) -> Any:
    """``data`` as ``model``; the problems name the file (or, per key in ``sources``,
    where else the value came from), the key and what is wrong."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = _unknown_key(model, err["loc"])
            where = f"{_location(err['loc'])}: " if err["loc"] else ""
            origin = (sources or {}).get(str(err["loc"][0]) if err["loc"] else "", str(path))
            problems.append(f"{origin}: {where}{msg}")
        raise ConfigError("\n".join(problems)) from None


def load_board(path: str | Path) -> Board:
    path = Path(path)
    data = _read_toml(path)
    board: Board = _validate(Board, data, path)
    return board.model_copy(update={"source_file": str(path)})


def board_files(config: str | Path) -> list[Path]:
    """Board files named by ``--config``: one file, or every ``*.toml`` of a folder."""
    config = Path(config)
    if config.is_dir():
        files = sorted(p for p in config.glob("*.toml") if p.name != DEPLOYMENT_FILE)
        if not files:
            raise ConfigError(
                f"{config}: thư mục không có tệp cấu hình ban nào, *.toml "
                "(no board files in this folder)"
            )
        return files
    if not config.exists():
        raise ConfigError(f"{config}: không có tệp hay thư mục này (no such file or folder)")
    return [config]


def board_conflicts(boards: list[Board]) -> list[str]:
    """What boards of one deployment may not share: an id, a mailbox (the first board to
    read it would take every message; the other would get none)."""
    problems: list[str] = []
    ids: dict[str, str] = {}
    read_by: dict[str, str] = {}
    for board in boards:
        if board.id in ids:
            problems.append(
                f"{board.source_file}: id: board id {board.id!r} is also used by {ids[board.id]}"
            )
        ids.setdefault(board.id, board.source_file)
        for i, box in enumerate(board.mailboxes):
            where = box.where()
            if where in read_by:
                problems.append(
                    f"{board.source_file}: mailboxes[{i}]: {where} is also read by {read_by[where]}"
                )
            read_by.setdefault(where, f"{board.source_file}")
    return problems


def load_boards(config: str | Path) -> list[Board]:
    boards = [load_board(p) for p in board_files(config)]
    if problems := board_conflicts(boards):
        raise ConfigError("\n".join(problems))
    return boards


ENVIRONMENT = (
    ("database_url", "BIENTAP_DATABASE_URL"),
    ("data_dir", "BIENTAP_DATA_DIR"),
    ("workers", "BIENTAP_WORKERS"),
    ("web_address", "BIENTAP_WEB_ADDRESS"),
    ("public_url", "BIENTAP_PUBLIC_URL"),
    ("trusted_proxy", "BIENTAP_TRUSTED_PROXY"),
)


def load_deployment(config: str | Path, overrides: dict[str, Any] | None = None) -> Deployment:
    """Defaults < ``deployment.toml`` beside the boards < environment < command line."""
    config = Path(config)
    folder = config if config.is_dir() else config.parent
    path = folder / DEPLOYMENT_FILE
    data: dict[str, Any] = _read_toml(path) if path.exists() else {}
    _no_password(data.get("database_url"), path)
    sources: dict[str, str] = {}
    for key, env in ENVIRONMENT:
        if os.environ.get(env):
            data[key], sources[key] = os.environ[env], f"environment {env}"
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    data.update(given)
    sources.update({k: f"--{k.replace('_', '-')}" for k in given})
    deployment: Deployment = _validate(Deployment, data, path, sources)
    return deployment


def _no_password(url: object, path: Path) -> None:
    """The README's promise: a database password is never in the file."""
    try:
        password = make_url(url).password if isinstance(url, str) else None
    except (ArgumentError, ValueError):
        return  # said by the validation, in its own words
    if password:
        raise ConfigError(
            f"{path}: database_url: a password is never written in the file: "
            "use PGPASSWORD or ~/.pgpass"
        )


def secret_refs(model: BaseModel, where: str = "") -> list[tuple[str, Secret]]:
    """Every ``env:NAME`` secret in a board (or part of one) with its key, e.g.
    ``("mailboxes[0].password", Secret(env:X))``: for ``config check`` and the log filter."""
    found: list[tuple[str, Secret]] = []
    for name in type(model).model_fields:
        found += _secrets_in(getattr(model, name), f"{where}.{name}" if where else name)
    return found


def _secrets_in(value: Any, key: str) -> list[tuple[str, Secret]]:
    if isinstance(value, Secret):
        return [(key, value)]
    if isinstance(value, BaseModel):
        return secret_refs(value, key)
    if isinstance(value, list | tuple):
        return [ref for i, v in enumerate(value) for ref in _secrets_in(v, f"{key}[{i}]")]
    if isinstance(value, dict):
        return [ref for k, v in value.items() for ref in _secrets_in(v, f"{key}.{k}")]
    return []
