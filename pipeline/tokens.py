"""Signed one-tap links for reviewers.

A link in a notification mail carries a token bound to one reviewer, one item, one
workflow step, one action and the exact content version the reviewer was shown. The
token is ``base64url(payload) + "." + base64url(HMAC-SHA256(key, payload))`` with no
padding. It expires (seven days by default) and is single use: the caller records its
``nonce`` (and ``token_digest(token)``) when it is used and refuses it afterwards. This
module does no I/O: verifying needs only the token and the keys.

Payload, format 1 (all integers big-endian)::

    format (1) | key id (4) | nonce (16) | expires_at (8) | item (8) | step (4)
    | action (1) | len + reviewer (UTF-8) | len + board (UTF-8)
    | version kind (1: 0 text, 1 lowercase hex stored as bytes) | len + version

Every format starts with the format byte and the key id, so the key can be chosen
before the MAC is checked; the MAC covers the whole payload, format byte included.
Base64 is decoded strictly and must be canonical, so one token has exactly one
spelling (and one digest).

Keys rotate: ``Signer([new, old])`` signs with ``new`` and accepts tokens of both; a
token whose key is no longer listed fails as a bad signature. Tokens and keys are
never logged, put in exception messages or shown by ``repr``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import secrets
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Literal

Action = Literal["view", "approve", "reject", "changes", "forward", "withdraw"]

# Wire codes of the actions: append only, never renumber.
_ACTION_CODES: Final[dict[str, int]] = {
    "view": 1,
    "approve": 2,
    "reject": 3,
    "changes": 4,
    "forward": 5,
    "withdraw": 6,
}
_ACTION_BY_CODE: Final[dict[int, str]] = {code: name for name, code in _ACTION_CODES.items()}
ACTIONS: Final[tuple[str, ...]] = tuple(_ACTION_CODES)

DEFAULT_TTL: Final = timedelta(days=7)
DEFAULT_KEY_ENV: Final = "BIENTAP_LINK_KEY"
MIN_KEY_BYTES: Final = 32
MAX_TOKEN_LENGTH: Final = 299  # characters; longer input is rejected before decoding
MAX_REVIEWER_BYTES: Final = 64
MAX_BOARD_BYTES: Final = 64
MAX_VERSION_BYTES: Final = 128  # text; lowercase hex is stored as half as many bytes
NONCE_BYTES: Final = 16
KEY_ID_BYTES: Final = 4

_FORMAT: Final = 1
_MAC_BYTES: Final = 32
_FIXED = struct.Struct(">B4s16sQQIB")  # format, key id, nonce, expires_at, item, step, action
_VERSION_TEXT: Final = 0
_VERSION_HEX: Final = 1
_LINK_DOMAIN: Final = b"bientap/link/v1\x00"
_CSRF_DOMAIN: Final = b"bientap/csrf/v1\x00"
_MAX_CSRF_LENGTH: Final = 64
_TOKEN_RE: Final = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_B64URL_RE: Final = re.compile(r"[A-Za-z0-9_-]+")
_B64_STD_RE: Final = re.compile(r"[A-Za-z0-9+/]+")
_LOWER_HEX_RE: Final = re.compile(r"(?:[0-9a-f]{2})+")
_HEX_KEY_RE: Final = re.compile(r"(?:[0-9a-fA-F]{2})+")
_CONTROL_RE: Final = re.compile(r"[\x00-\x1f\x7f]")


# --- errors -----------------------------------------------------------------------------


class TokenKeyError(RuntimeError):
    """The signing key is missing or unusable. The message names the variable, never
    the value."""


class TokenError(Exception):
    """A link token was refused. ``str()`` is English for the log; ``message`` is the
    Vietnamese text for the page."""

    message: str = "Liên kết không hợp lệ."

    def __init__(self, detail: str) -> None:
        super().__init__(detail)


class TokenMalformed(TokenError):
    message = (
        "Liên kết không hợp lệ hoặc không đầy đủ. "
        "Vui lòng mở lại liên kết trong thư thông báo (không sửa, không cắt bớt)."
    )


class TokenBadSignature(TokenError):
    message = (
        "Liên kết không hợp lệ hoặc đã bị thay đổi. "
        "Vui lòng dùng liên kết trong thư thông báo mới nhất."
    )


class TokenExpired(TokenError):
    message = (
        "Liên kết đã hết hạn. Vui lòng liên hệ Thư ký Ban Biên tập để được gửi lại thư thông báo."
    )

    def __init__(self, detail: str, claim: ActionClaim) -> None:
        super().__init__(detail)
        self.claim = claim  # the signature was valid: safe to say which item it was for


class TokenMismatch(TokenError):
    message = "Liên kết này không dùng được cho thao tác hoặc người nhận này."


# --- the claim --------------------------------------------------------------------------


@dataclass(frozen=True)
class ActionClaim:
    """What a valid token says: ``reviewer`` may do ``action`` on ``item`` at ``step`` of
    ``board``, on the content whose hash is ``version``, until ``expires_at`` (unix
    seconds). ``nonce`` (16 random bytes, base64url) marks the token as used."""

    reviewer: str
    board: str
    item: int
    step: int
    action: str
    version: str
    nonce: str
    expires_at: int

    def __post_init__(self) -> None:
        _check_text("reviewer", self.reviewer, MAX_REVIEWER_BYTES)
        _check_text("board", self.board, MAX_BOARD_BYTES)
        _check_int("item", self.item, 64)
        _check_int("step", self.step, 32)
        _check_int("expires_at", self.expires_at, 64)
        if self.action not in _ACTION_CODES:
            raise ValueError(f"action must be one of {', '.join(ACTIONS)}")
        _check_text("version", self.version, MAX_VERSION_BYTES)
        if len(_nonce_bytes(self.nonce)) != NONCE_BYTES:
            raise ValueError(f"nonce must be {NONCE_BYTES} bytes, base64url without padding")


def _check_text(name: str, value: object, max_bytes: int) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str")
    if not value:
        raise ValueError(f"{name} must not be empty")
    if _CONTROL_RE.search(value):
        raise ValueError(f"{name} must not contain control characters")
    if len(value.encode("utf-8")) > max_bytes:
        raise ValueError(f"{name} is longer than {max_bytes} bytes")


def _check_int(name: str, value: object, bits: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int")
    if not 0 <= value < 1 << bits:
        raise ValueError(f"{name} must be between 0 and 2**{bits} - 1")


def _nonce_bytes(nonce: object) -> bytes:
    if not isinstance(nonce, str):
        raise TypeError("nonce must be a str")
    try:
        return _b64decode(nonce)
    except ValueError:
        raise ValueError("nonce must be base64url without padding") from None


# --- encoding ---------------------------------------------------------------------------


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    """Strict, canonical base64url without padding; ValueError otherwise."""
    if not _B64URL_RE.fullmatch(text) or len(text) % 4 == 1:
        raise ValueError("not base64url")
    padded = text + "=" * (-len(text) % 4)
    try:
        data = base64.b64decode(padded, altchars=b"-_", validate=True)
    except binascii.Error:
        raise ValueError("not base64url") from None
    if _b64encode(data) != text:  # unused low bits set: a second spelling of the same bytes
        raise ValueError("not canonical base64url")
    return data


def _pack(claim: ActionClaim, key_id: bytes) -> bytes:
    if _LOWER_HEX_RE.fullmatch(claim.version):
        kind, version = _VERSION_HEX, bytes.fromhex(claim.version)
    else:
        kind, version = _VERSION_TEXT, claim.version.encode("utf-8")
    reviewer = claim.reviewer.encode("utf-8")
    board = claim.board.encode("utf-8")
    return b"".join(
        [
            _FIXED.pack(
                _FORMAT,
                key_id,
                _nonce_bytes(claim.nonce),
                claim.expires_at,
                claim.item,
                claim.step,
                _ACTION_CODES[claim.action],
            ),
            bytes([len(reviewer)]),
            reviewer,
            bytes([len(board)]),
            board,
            bytes([kind, len(version)]),
            version,
        ]
    )


class _Reader:
    def __init__(self, data: bytes, offset: int) -> None:
        self.data = data
        self.offset = offset

    def take(self, n: int) -> bytes:
        end = self.offset + n
        if end > len(self.data):
            raise ValueError("payload truncated")
        chunk = self.data[self.offset : end]
        self.offset = end
        return chunk

    def take_prefixed(self) -> bytes:
        return self.take(self.take(1)[0])


def _unpack(payload: bytes) -> ActionClaim:
    """Parse a payload whose MAC has been checked; ValueError if it is not format 1."""
    if len(payload) < _FIXED.size:
        raise ValueError("payload truncated")
    fmt, _kid, nonce, expires_at, item, step, code = _FIXED.unpack_from(payload)
    if fmt != _FORMAT:
        raise ValueError(f"unknown payload format {fmt}")
    if code not in _ACTION_BY_CODE:
        raise ValueError(f"unknown action code {code}")
    reader = _Reader(payload, _FIXED.size)
    reviewer = reader.take_prefixed().decode("utf-8")
    board = reader.take_prefixed().decode("utf-8")
    kind = reader.take(1)[0]
    raw_version = reader.take_prefixed()
    if reader.offset != len(payload):
        raise ValueError("trailing bytes in payload")
    if kind == _VERSION_HEX and raw_version:
        version = raw_version.hex()
    elif kind == _VERSION_TEXT:
        version = raw_version.decode("utf-8")
        if _LOWER_HEX_RE.fullmatch(version):
            raise ValueError("hex version stored as text")  # only one encoding per claim
    else:
        raise ValueError(f"bad version kind {kind}")
    return ActionClaim(
        reviewer=reviewer,
        board=board,
        item=item,
        step=step,
        action=_ACTION_BY_CODE[code],
        version=version,
        nonce=_b64encode(nonce),
        expires_at=expires_at,
    )


# --- keys -------------------------------------------------------------------------------


def key_id(key: bytes) -> str:
    """The short public id of a key: the first 4 bytes of its SHA-256, in hex."""
    return hashlib.sha256(key).digest()[:KEY_ID_BYTES].hex()


def load_key(env_name: str = DEFAULT_KEY_ENV) -> bytes:
    """Read a link key from the environment.

    The value may be ``hex:…``, ``base64:…`` or ``raw:…``; without a prefix it is read
    as hex if it is hex, else as base64 (standard or URL-safe, padding optional) if it
    decodes, else as UTF-8 text. Surrounding whitespace is ignored. The key must be at
    least 32 bytes once decoded. Generate one with
    ``python -c "import secrets; print(secrets.token_hex(32))"``.
    """
    value = os.environ.get(env_name, "").strip()
    if not value:
        raise TokenKeyError(
            f"chưa đặt biến môi trường {env_name}: cần khoá này để ký và kiểm tra đường dẫn "
            f"duyệt bài ({env_name} is not set: the link key is needed to sign and check "
            "reviewer links)"
        )
    key = _decode_key(value)
    if key is None:
        raise TokenKeyError(
            f"{env_name} không đúng với tiền tố hex:, base64: hay raw: của nó "
            f"({env_name} is not valid for its prefix)"
        )
    if len(key) < MIN_KEY_BYTES:
        raise TokenKeyError(
            f"{env_name} chưa đủ dài: khoá ký đường dẫn duyệt bài cần ít nhất {MIN_KEY_BYTES} byte "
            f"sau khi giải mã ({env_name} is too short: at least {MIN_KEY_BYTES} bytes once "
            'decoded); tạo khoá (make one): python -c "import secrets; '
            'print(secrets.token_hex(32))"'
        )
    return key


def _decode_key(value: str) -> bytes | None:
    prefix, sep, rest = value.partition(":")
    if sep and prefix in {"hex", "base64", "raw"}:
        rest = rest.strip()
        if prefix == "raw":
            return rest.encode("utf-8")
        if prefix == "hex":
            return bytes.fromhex(rest) if _HEX_KEY_RE.fullmatch(rest) else None
        return _decode_base64_key(rest)
    if _HEX_KEY_RE.fullmatch(value):
        return bytes.fromhex(value)
    decoded = _decode_base64_key(value)
    return decoded if decoded is not None else value.encode("utf-8")


def _decode_base64_key(value: str) -> bytes | None:
    stripped = value.rstrip("=")
    if len(value) - len(stripped) > 2 or len(stripped) % 4 == 1:
        return None
    padded = stripped + "=" * (-len(stripped) % 4)
    for alphabet, altchars in ((_B64_STD_RE, b"+/"), (_B64URL_RE, b"-_")):
        if alphabet.fullmatch(stripped):
            try:
                return base64.b64decode(padded, altchars=altchars, validate=True)
            except binascii.Error:
                return None
    return None


# --- the signer -------------------------------------------------------------------------


def _timestamp(now: datetime | None) -> float:
    if now is None:
        return datetime.now(UTC).timestamp()
    if not isinstance(now, datetime):
        raise TypeError("now must be a datetime")
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    return now.timestamp()


def token_digest(token: str) -> str:
    """SHA-256 hex of the token: what the caller stores to mark it used (never the token)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Signer:
    """Issues and checks link tokens. Signs with the first key, accepts any listed key."""

    __slots__ = ("__keys", "__primary_id")

    def __init__(self, keys: Sequence[bytes]) -> None:
        if isinstance(keys, bytes | bytearray | str):
            raise TypeError("keys must be a sequence of bytes keys, not a single key")
        by_id: dict[bytes, bytes] = {}
        for index, key in enumerate(keys):
            if not isinstance(key, bytes | bytearray):
                raise TypeError(f"keys[{index}] must be bytes")
            if len(key) < MIN_KEY_BYTES:
                raise ValueError(f"keys[{index}] is shorter than {MIN_KEY_BYTES} bytes")
            kid = hashlib.sha256(key).digest()[:KEY_ID_BYTES]
            if kid in by_id:
                raise ValueError(f"keys[{index}] repeats key id {kid.hex()}")
            by_id[kid] = bytes(key)
        if not by_id:
            raise ValueError("at least one key is needed")
        self.__keys = by_id
        self.__primary_id = next(iter(by_id))

    def __repr__(self) -> str:
        return f"Signer(key_ids={list(self.key_ids)!r})"

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("Signer holds secret keys and cannot be pickled")

    @property
    def key_ids(self) -> tuple[str, ...]:
        """The public ids of the keys, the signing key first."""
        return tuple(kid.hex() for kid in self.__keys)

    def _mac(self, key: bytes, payload: bytes) -> bytes:
        return hmac.new(key, _LINK_DOMAIN + payload, hashlib.sha256).digest()

    def issue(
        self,
        reviewer: str,
        board: str,
        item: int,
        step: int,
        action: str,
        version: str,
        ttl: timedelta = DEFAULT_TTL,
        now: datetime | None = None,
    ) -> str:
        """A token for a link; ValueError/TypeError on bad fields or a token too long."""
        if not isinstance(ttl, timedelta):
            raise TypeError("ttl must be a timedelta")
        if ttl <= timedelta(0):
            raise ValueError("ttl must be positive")
        expires_at = int(_timestamp(now) + ttl.total_seconds())
        claim = ActionClaim(
            reviewer=reviewer,
            board=board,
            item=item,
            step=step,
            action=action,
            version=version,
            nonce=_b64encode(secrets.token_bytes(NONCE_BYTES)),
            expires_at=expires_at,
        )
        payload = _pack(claim, self.__primary_id)
        mac = self._mac(self.__keys[self.__primary_id], payload)
        token = f"{_b64encode(payload)}.{_b64encode(mac)}"
        if len(token) > MAX_TOKEN_LENGTH:
            raise ValueError(
                f"token would be {len(token)} characters, over {MAX_TOKEN_LENGTH}: "
                "shorten the reviewer, board or version"
            )
        return token

    def verify(self, token: str, now: datetime | None = None) -> ActionClaim:
        """The claim of a genuine, unexpired token; a TokenError subclass otherwise.

        Single use is the caller's part: refuse a claim whose nonce is already recorded.
        """
        if not isinstance(token, str):
            raise TokenMalformed("token is not text")
        if len(token) > MAX_TOKEN_LENGTH:
            raise TokenMalformed(f"token too long ({len(token)} characters)")
        if not _TOKEN_RE.fullmatch(token):
            raise TokenMalformed("token is not two base64url parts joined by a dot")
        payload_text, mac_text = token.split(".")
        try:
            payload = _b64decode(payload_text)
            mac = _b64decode(mac_text)
        except ValueError as exc:
            raise TokenMalformed(f"token part is {exc}") from None
        if len(payload) < 1 + KEY_ID_BYTES:
            raise TokenMalformed("payload too short")
        if len(mac) != _MAC_BYTES:
            raise TokenMalformed("MAC has the wrong length")
        key = self.__keys.get(payload[1 : 1 + KEY_ID_BYTES])
        if key is None:
            raise TokenBadSignature("token signed with an unknown key")
        if not hmac.compare_digest(mac, self._mac(key, payload)):
            raise TokenBadSignature("token MAC does not match")
        try:
            claim = _unpack(payload)
        except (ValueError, TypeError) as exc:  # signed by us, so a format from elsewhere
            raise TokenMalformed(f"signed payload unreadable: {exc}") from None
        if _timestamp(now) >= claim.expires_at:
            raise TokenExpired(f"token expired at {claim.expires_at}", claim)
        return claim

    def verify_for(
        self,
        token: str,
        *,
        reviewer: str,
        item: int,
        step: int,
        action: str,
        now: datetime | None = None,
    ) -> ActionClaim:
        """``verify`` and check the token is for this reviewer, item, step and action."""
        claim = self.verify(token, now=now)
        differing = [
            name
            for name, expected in (
                ("reviewer", reviewer),
                ("item", item),
                ("step", step),
                ("action", action),
            )
            if getattr(claim, name) != expected
        ]
        if differing:
            raise TokenMismatch(f"token is not for this {', '.join(differing)}")
        return claim

    def _csrf_mac(self, key: bytes, digest: str, session_nonce: str) -> bytes:
        message = bytearray(_CSRF_DOMAIN)
        for part in (digest, session_nonce):
            encoded = part.encode("utf-8")
            message += struct.pack(">I", len(encoded)) + encoded
        return hmac.new(key, bytes(message), hashlib.sha256).digest()

    def csrf(self, token_digest: str, session_nonce: str) -> str:
        """A form value tying a POST to the link (by its digest) and to the session."""
        if not isinstance(token_digest, str) or not token_digest:
            raise ValueError("token_digest must be a non-empty str")
        if not isinstance(session_nonce, str) or not session_nonce:
            raise ValueError("session_nonce must be a non-empty str")
        key = self.__keys[self.__primary_id]
        return _b64encode(self._csrf_mac(key, token_digest, session_nonce))

    def check_csrf(self, value: str, token_digest: str, session_nonce: str) -> bool:
        """Whether ``value`` is ``csrf(token_digest, session_nonce)`` under any listed key."""
        if not all(isinstance(v, str) and v for v in (value, token_digest, session_nonce)):
            return False
        if len(value) > _MAX_CSRF_LENGTH:
            return False
        try:
            given = _b64decode(value)
        except ValueError:
            return False
        matched = False
        for key in self.__keys.values():  # no early exit: same work whichever key matches
            expected = self._csrf_mac(key, token_digest, session_nonce)
            matched |= hmac.compare_digest(given, expected)
        return matched


__all__ = [
    "ACTIONS",
    "DEFAULT_KEY_ENV",
    "DEFAULT_TTL",
    "MAX_TOKEN_LENGTH",
    "Action",
    "ActionClaim",
    "Signer",
    "TokenBadSignature",
    "TokenError",
    "TokenExpired",
    "TokenKeyError",
    "TokenMalformed",
    "TokenMismatch",
    "key_id",
    "load_key",
    "token_digest",
]
