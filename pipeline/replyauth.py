"""Does a reply to a notification mail count? Authentic, written by a person, and whose.

Board members approve submissions by replying to a notification. This module, with no
I/O, answers three questions about such a reply:

* `check_authentication`: did the board's own mail server stamp it as authentic
  (``Authentication-Results``, RFC 8601)? Only stamps whose authserv-id the board
  trusts count, and of those only the topmost, the last one its server added. The
  server must remove incoming headers that claim its authserv-id (RFC 8601 §5), as
  Postfix milters, Rspamd, Exim and Microsoft 365 do, and must write every required
  method into that one header.
* `is_auto_reply`: is it an out-of-office or other automatic answer?
* `reply_tokens`: which notification does it answer (Message-IDs, per-notification
  tokens in the subject or in a plus-addressed recipient)?
"""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from email.message import Message
from email.utils import getaddresses
from typing import Any, Final

import authres

from pipeline import screening
from pipeline.config import ReplyAuth
from pipeline.parsing import ParsedMail, decode_header_text
from pipeline.textfold import fold

# --------------------------------------------------------------------------- headers

_UNFOLD = re.compile(r"\r?\n(?=[ \t])")


def _raw_values(message: Message, name: str) -> list[str]:
    """All raw values of one header field, top to bottom, unfolded."""
    wanted = name.lower()
    return [
        _UNFOLD.sub("", str(value)).strip()
        for key, value in message.raw_items()
        if key.lower() == wanted
    ]


def _text_values(message: Message, name: str) -> list[str]:
    """All values of one header field, decoded (RFC 2047) as ingestion decodes them."""
    return [decode_header_text(value)[0] for value in _raw_values(message, name)]


def _ascii_domain(domain: str) -> str:
    name = domain.strip().strip(".").lower()
    try:
        return name.encode("idna").decode("ascii")
    except UnicodeError:
        return name


def _domain_of(value: str) -> str:
    """The domain of ``user@domain``, ``@domain`` or a bare ``domain``."""
    return _ascii_domain(value.rpartition("@")[2])


def _aligned(domain: str, from_domain: str) -> bool:
    """Relaxed alignment: the From domain is ``domain`` or lies under it."""
    if "." not in domain:  # a top-level domain aligns with nothing
        return False
    return from_domain == domain or from_domain.endswith("." + domain)


# --------------------------------------------------------------------------- authentication

MAX_AUTH_HEADERS: Final = 100  # looked at, from the top; the rest is ignored
MAX_AUTH_HEADER_CHARS: Final = 8192  # longer is treated as malformed

_METHOD_NAMES: Final[dict[str, str]] = {"dkim": "DKIM", "spf": "SPF", "dmarc": "DMARC"}


@dataclass(frozen=True)
class AuthVerdict:
    """Whether a reply passed the board's authentication policy, and why."""

    ok: bool
    checked: bool  # False when the board trusts no server: nothing was checked
    results: dict[str, str]  # method -> result in the trusted header, e.g. {"dmarc": "pass"}
    detail: str  # English, for the audit record
    message_vi: str  # Vietnamese, for the reviewer


@dataclass(frozen=True)
class _Result:
    method: str
    result: str
    properties: dict[str, str]  # "header.d" -> "example.vn", first of each


@dataclass(frozen=True)
class _Stamp:
    authserv_id: str
    results: tuple[_Result, ...]
    parsed: bool  # False: authres could not parse it; it can only fail


def _parse_stamp(value: str) -> _Stamp | None:
    """One Authentication-Results value; None if not even its authserv-id can be read."""
    if len(value) <= MAX_AUTH_HEADER_CHARS:
        try:
            header = authres.AuthenticationResultsHeader.parse_value(value)
        except Exception:  # hostile input can break the library in any way: unparseable
            header = None
        if header is not None:
            return _Stamp(header.authserv_id, tuple(_from_authres(header.results)), True)
    return _fallback_stamp(value[:MAX_AUTH_HEADER_CHARS])


def _from_authres(results: Iterable[Any]) -> Iterable[_Result]:
    for item in results:
        properties: dict[str, str] = {}
        for prop in item.properties:
            properties.setdefault(f"{prop.type}.{prop.name}", str(prop.value or ""))
        yield _Result(str(item.method), str(item.result), properties)


def _strip_comments(text: str) -> str:
    """RFC 5322 comments (nested, with quoted pairs) removed; quoted strings kept."""
    out: list[str] = []
    depth = 0
    quoted = False
    escaped = False
    for char in text:
        if escaped:
            escaped = False
            if depth == 0:
                out.append(char)
            continue
        if char == "\\":
            escaped = True
            if depth == 0:
                out.append(char)
        elif quoted:
            quoted = char != '"'
            out.append(char)
        elif char == "(":
            depth += 1
        elif char == ")" and depth:
            depth -= 1
        elif depth == 0:
            quoted = char == '"'
            out.append(char)
    return " ".join("".join(out).split())


_FALLBACK_ID = re.compile(r'\s*("[^"]*"|[^\s;"]+)')
_FALLBACK_RESULT = re.compile(r"\s*([a-z0-9_-]+)\s*(?:/\s*\d+\s*)?=\s*([a-z0-9_.-]+)", re.I)


def _fallback_stamp(value: str) -> _Stamp | None:
    """Our own reading of a header authres refused: authserv-id and results, for the record."""
    text = _strip_comments(value)
    match = _FALLBACK_ID.match(text)
    if not match:
        return None
    authserv_id = match.group(1).strip('"').lower()
    results = []
    clauses = text[match.end() :].split(";")
    clauses[0] = re.sub(r"^\s*\d+(?=\s|$)", "", clauses[0])  # the version, if any
    for clause in clauses:
        found = _FALLBACK_RESULT.match(clause)
        if found:
            results.append(_Result(found.group(1).lower(), found.group(2).lower(), {}))
    return _Stamp(authserv_id, tuple(results), False)


def _trusted_stamp(message: Message, trusted: set[str]) -> _Stamp | None:
    for value in _raw_values(message, "authentication-results")[:MAX_AUTH_HEADERS]:
        stamp = _parse_stamp(value)
        if stamp is not None and _ascii_domain(stamp.authserv_id) in trusted:
            return stamp
    return None


def _reported_results(stamp: _Stamp, from_domain: str) -> dict[str, str]:
    """First result of each method; for DKIM an aligned pass if there is one."""
    results: dict[str, str] = {}
    for item in stamp.results:
        results.setdefault(item.method, item.result)
    if any(_dkim_problem(item, from_domain) is None for item in stamp.results):
        results["dkim"] = "pass"
    return results


def _dkim_problem(item: _Result, from_domain: str) -> str | None:
    if item.method != "dkim":
        return "not dkim"
    if item.result != "pass":
        return f"dkim={item.result}"
    signer = item.properties.get("header.d") or item.properties.get("header.i", "")
    domain = _domain_of(signer)
    if not domain:
        return "dkim=pass without header.d"
    if not _aligned(domain, from_domain):
        return f"dkim=pass for d={domain}, not aligned with {from_domain}"
    return None


def _spf_problem(item: _Result, from_domain: str) -> str | None:
    if item.result != "pass":
        return f"spf={item.result}"
    mailfrom = item.properties.get("smtp.mailfrom", "")
    domain = _domain_of(mailfrom)
    if not domain:
        return "spf=pass without smtp.mailfrom"
    if not _aligned(domain, from_domain):
        return f"spf=pass for {domain}, not aligned with {from_domain}"
    return None


def _dmarc_problem(item: _Result, from_domain: str) -> str | None:
    if item.result != "pass":
        return f"dmarc={item.result}"
    header_from = item.properties.get("header.from")
    if header_from is not None and _domain_of(header_from) != from_domain:
        return f"dmarc=pass for header.from={header_from}, not {from_domain}"
    return None


_CHECKS: Final[dict[str, Callable[[_Result, str], str | None]]] = {
    "spf": _spf_problem,
    "dmarc": _dmarc_problem,
}


def _method_problem(stamp: _Stamp, method: str, from_domain: str) -> str | None:
    """Why ``method`` does not pass in the stamp, or None when it passes."""
    found = [item for item in stamp.results if item.method == method]
    if not found:
        return f"no {method} result"
    if method == "dkim":  # any aligned signature will do
        problems = [_dkim_problem(item, from_domain) for item in found]
        return None if None in problems else ", ".join(p for p in problems if p)
    return _CHECKS[method](found[0], from_domain)


def _verdict(ok: bool, results: dict[str, str], detail: str, message_vi: str) -> AuthVerdict:
    return AuthVerdict(ok=ok, checked=True, results=results, detail=detail, message_vi=message_vi)


def check_authentication(message: Message, policy: ReplyAuth, from_domain: str) -> AuthVerdict:
    """Judge a reply by the topmost Authentication-Results its board's own server added."""
    trusted = {_ascii_domain(name) for name in policy.authserv_ids}
    if not trusted:
        return AuthVerdict(
            ok=True,
            checked=False,
            results={},
            detail="not checked: no trusted authserv-id configured",
            message_vi="Thư trả lời không được kiểm tra xác thực "
            "vì chưa cấu hình máy chủ thư tin cậy.",
        )
    stamp = _trusted_stamp(message, trusted)
    if stamp is None:
        return _verdict(
            False,
            {},
            "no Authentication-Results from a trusted server",
            "Thư trả lời không có kết quả kiểm tra xác thực của máy chủ thư, "
            "nên không xác nhận được người gửi.",
        )
    domain = _ascii_domain(from_domain)
    results = _reported_results(stamp, domain)
    server = stamp.authserv_id
    if not stamp.parsed:
        return _verdict(
            False,
            results,
            f"malformed Authentication-Results by {server}",
            "Kết quả kiểm tra xác thực của máy chủ thư đối với thư trả lời bị lỗi, không đọc được.",
        )
    if not domain:
        return _verdict(
            False,
            results,
            "the reply has no From domain",
            "Thư trả lời không ghi rõ địa chỉ người gửi nên không xác thực được.",
        )
    required = list(dict.fromkeys(policy.require))
    problems = {method: _method_problem(stamp, method, domain) for method in required}
    failed = [method for method, problem in problems.items() if problem]
    detail = "; ".join(
        f"{problems[method] or method + '=pass'} by {server}" for method in required
    ) or (f"trusted Authentication-Results by {server}, no method required")
    if failed:
        names = _METHOD_NAMES[failed[-1]]
        if len(failed) > 1:
            names = ", ".join(_METHOD_NAMES[method] for method in failed[:-1]) + " và " + names
        return _verdict(
            False,
            results,
            detail,
            f"Thư trả lời không qua được kiểm tra xác thực {names} của máy chủ thư.",
        )
    return _verdict(True, results, detail, "Thư trả lời đã qua kiểm tra xác thực của máy chủ thư.")


# --------------------------------------------------------------------------- auto-replies

# Microsoft Exchange stamps mail that an inbox rule generated (auto-reply, forward,
# redirect) with the address of the mailbox whose rule acted: no person wrote it.
_EXCHANGE_RULES_LOOP = "x-ms-exchange-inbox-rules-loop"
_SUPPRESS_AUTO = {"all", "oof", "autoreply"}

# Out-of-office subjects the screening rules do not know, folded (no accents, lower case).
_EXTRA_AUTO_SUBJECT = re.compile(
    r"^\s*(\[[^\]#]*\]\s*)*("  # gateway tags such as "[EXTERNAL]" may come first
    r"auto(matic)?[ -]?(reply|response)|autoreply|auto:|autosvar|out of (the )?office|"
    r"tu dong tra loi|tra loi tu dong|tu dong phan hoi|phan hoi tu dong|vang mat|"
    r"dang nghi phep)",
)


def _screening_view(message: Message) -> ParsedMail:
    """The headers of ``message`` as a body-less ParsedMail, for the screening rules."""
    headers: dict[str, list[str]] = {}
    for key, value in message.raw_items():
        headers.setdefault(key.strip().lower(), []).append(decode_header_text(value)[0])
    senders = getaddresses(_raw_values(message, "from"))
    return ParsedMail(
        message_id=None,
        subject=headers.get("subject", [""])[0],
        from_name="",
        from_address=senders[0][1].strip().lower() if senders else "",
        reply_to=None,
        to=(),
        cc=(),
        date=None,
        in_reply_to=None,
        references=(),
        headers={key: tuple(values) for key, values in headers.items()},
        content_type=message.get_content_type(),
        text_body="",
        html_body=None,
        attachments=(),
        defects=(),
    )


def _own_rules(message: Message) -> str | None:
    if _raw_values(message, screening.LOOP_HEADER):
        return "our own notification came back (loop header)"
    if _raw_values(message, _EXCHANGE_RULES_LOOP):
        return f"generated by an Exchange inbox rule ({_EXCHANGE_RULES_LOOP})"
    for raw in _raw_values(message, "x-auto-response-suppress"):
        values = {part.strip().lower() for part in raw.split(",")}
        if values & _SUPPRESS_AUTO:
            return f"X-Auto-Response-Suppress: {raw}"
    subjects = _text_values(message, "subject")
    if subjects and _EXTRA_AUTO_SUBJECT.match(fold(subjects[0])):
        return f"automatic reply subject: {subjects[0][:80]!r}"
    return None


def is_auto_reply(message: Message) -> str | None:
    """Why ``message`` is an automatic answer that never counts as a decision, or None."""
    view = _screening_view(message)
    for rule in (
        screening.auto_submitted,
        screening.precedence,
        screening.delivery_report,
        screening.auto_subject,
    ):
        reason = rule(view, ())
        if reason:
            return reason
    return _own_rules(message)


# --------------------------------------------------------------------------- reply tokens

TOKEN_PREFIX: Final = "r"
TOKEN_RE: Final = re.compile(r"r[a-z0-9]{10,32}")  # the whole token (use fullmatch)
MAX_MESSAGE_IDS: Final = 50

_SUBJECT_TAG = re.compile(r"\[#(r[a-z0-9]{10,32})\]", re.IGNORECASE)
_TAG_SAFE = re.compile(r"[a-z0-9]+")
_MSG_ID = re.compile(r"<([^<>]+)>")
_RECIPIENT_HEADERS: Final = ("to", "cc", "delivered-to", "x-original-to")


@dataclass(frozen=True)
class ReplyRefs:
    """What a reply says it answers: Message-IDs (nearest first) and reply tokens."""

    message_ids: tuple[str, ...]
    tokens: tuple[str, ...]


def new_reply_token() -> str:
    """A fresh token: ``r`` and 16 lowercase base32 characters (80 random bits)."""
    return TOKEN_PREFIX + base64.b32encode(secrets.token_bytes(10)).decode("ascii").lower()


def _checked_token(token: str) -> str:
    if not _TAG_SAFE.fullmatch(token):
        raise ValueError("a reply token is lowercase letters and digits only")
    return token


def plus_address(address: str, token: str) -> str:
    """``bbt@x.vn`` with token ``rabc`` -> ``bbt+rabc@x.vn``."""
    local, at, domain = address.strip().rpartition("@")
    if not at or not local or not domain:
        raise ValueError(f"not an e-mail address: {address!r}")
    return f"{local}+{_checked_token(token)}@{domain}"


def subject_tag(token: str) -> str:
    """The tag a notification's subject carries: ``[#rabc…]``."""
    return f"[#{_checked_token(token)}]"


def _ids(value: str) -> list[str]:
    found = [item.strip() for item in _MSG_ID.findall(value)]
    if not found:  # some mailers drop the brackets
        found = [item for item in re.split(r"[\s,]+", value) if "@" in item]
    return [item for item in found if item]


def _message_ids(message: Message) -> tuple[str, ...]:
    ids: list[str] = []
    for value in _raw_values(message, "in-reply-to"):
        ids.extend(_ids(value))
    for value in _raw_values(message, "references"):
        ids.extend(reversed(_ids(value)))
    return tuple(dict.fromkeys(ids))[:MAX_MESSAGE_IDS]


def _plus_tokens(message: Message, board: set[str]) -> list[str]:
    tokens: list[str] = []
    for name in _RECIPIENT_HEADERS:
        for _display, address in getaddresses(_raw_values(message, name)):
            local, _at, domain = address.strip().lower().rpartition("@")
            base, plus, tag = local.rpartition("+")
            if plus and f"{base}@{domain}" in board and TOKEN_RE.fullmatch(tag):
                tokens.append(tag)
    return tokens


def reply_tokens(message: Message, board_addresses: Collection[str]) -> ReplyRefs:
    """The Message-IDs and reply tokens a reply carries, most telling first."""
    board = {address.strip().lower() for address in board_addresses}
    tokens = _plus_tokens(message, board)
    for subject in _text_values(message, "subject")[:1]:
        tokens.extend(tag.lower() for tag in _SUBJECT_TAG.findall(subject))
    return ReplyRefs(message_ids=_message_ids(message), tokens=tuple(dict.fromkeys(tokens)))
