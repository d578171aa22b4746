"""Signed reviewer links: bound to every field, expiring, rotating keys, never leaking keys."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import FrozenInstanceError, replace
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest

from pipeline.tokens import (
    ACTIONS,
    MAX_TOKEN_LENGTH,
    ActionClaim,
    Signer,
    TokenBadSignature,
    TokenError,
    TokenExpired,
    TokenKeyError,
    TokenMalformed,
    TokenMismatch,
    key_id,
    load_key,
    token_digest,
)

KEY_A = bytes(range(32))
KEY_B = hashlib.sha256(b"second key for rotation tests").digest() + b"\x01\x02"
KEY_C = b"c" * 40
NOW = datetime(2025, 3, 14, 8, 30, tzinfo=UTC)
VERSION = hashlib.sha256(b"noi dung ban 1").hexdigest()
B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _issue(signer: Signer, **changes: object) -> str:
    fields: dict[str, object] = {
        "reviewer": "tv-nguyen-van-a",
        "board": "btt-khanhhoa",
        "item": 4321,
        "step": 2,
        "action": "approve",
        "version": VERSION,
        "now": NOW,
    }
    fields.update(changes)
    return signer.issue(**fields)  # type: ignore[arg-type]


@pytest.fixture
def signer() -> Signer:
    return Signer([KEY_A])


# --- round trip -------------------------------------------------------------------------


@pytest.mark.parametrize("action", ACTIONS)
def test_round_trip(signer: Signer, action: str) -> None:
    token = _issue(signer, action=action)
    claim = signer.verify(token, now=NOW)
    assert claim.reviewer == "tv-nguyen-van-a"
    assert claim.board == "btt-khanhhoa"
    assert claim.item == 4321
    assert claim.step == 2
    assert claim.action == action
    assert claim.version == VERSION
    assert claim.expires_at == int(NOW.timestamp()) + 7 * 24 * 3600  # default ttl
    assert len(_unb64(claim.nonce)) == 16
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", claim.nonce)


@pytest.mark.parametrize(
    "version",
    ["v3", "ABCDEF0123", "phiên bản 2 — đã sửa", "abc", hashlib.sha512(b"x").hexdigest()],
)
def test_round_trip_keeps_any_version_text_exactly(signer: Signer, version: str) -> None:
    assert signer.verify(_issue(signer, version=version), now=NOW).version == version


def test_claim_is_frozen(signer: Signer) -> None:
    claim = signer.verify(_issue(signer), now=NOW)
    with pytest.raises(FrozenInstanceError):
        claim.item = 1  # type: ignore[misc]


def test_each_token_has_a_fresh_nonce(signer: Signer) -> None:
    first, second = _issue(signer), _issue(signer)
    assert first != second
    assert signer.verify(first, now=NOW).nonce != signer.verify(second, now=NOW).nonce


@pytest.mark.parametrize(
    "changes",
    [
        {"action": "publish"},
        {"reviewer": ""},
        {"reviewer": "x" * 65},
        {"board": "bad\nboard"},
        {"item": -1},
        {"item": True},
        {"step": "2"},
        {"version": ""},
        {"ttl": timedelta(0)},
        {"ttl": timedelta(seconds=-5)},
        {"now": datetime(2025, 3, 14, 8, 30)},  # naive: ambiguous
    ],
)
def test_issue_refuses_bad_fields(signer: Signer, changes: dict[str, object]) -> None:
    with pytest.raises((ValueError, TypeError)):
        _issue(signer, **changes)


# --- tokens look right ------------------------------------------------------------------


def test_tokens_are_url_safe_and_short(signer: Signer) -> None:
    token = _issue(
        signer,
        reviewer="thanh-vien-" + "x" * 29,  # 40 characters
        board="ban-bien-tap-" + "y" * 27,  # 40 characters
        item=2**63 - 1,
        step=2**32 - 1,
        action="changes",
        version=hashlib.sha256(b"v").hexdigest(),
    )
    assert re.fullmatch(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+", token)
    assert "=" not in token
    assert quote(token, safe="") == token
    assert len(token) < 300


def test_issue_refuses_a_token_over_the_length_limit(signer: Signer) -> None:
    with pytest.raises(ValueError, match="characters"):
        _issue(signer, reviewer="r" * 64, board="b" * 64, version="v" * 128)


# --- every field is bound ---------------------------------------------------------------


def _with_payload(token: str, payload: bytes) -> str:
    return _b64(payload) + "." + token.split(".")[1]


def _with_mac(token: str, mac: bytes) -> str:
    return token.split(".")[0] + "." + _b64(mac)


def test_changing_any_payload_byte_breaks_the_signature(signer: Signer) -> None:
    token = _issue(signer)
    payload = _unb64(token.split(".")[0])
    for index in range(len(payload)):
        for flip in (0x01, 0x80):
            changed = bytearray(payload)
            changed[index] ^= flip
            with pytest.raises(TokenBadSignature):
                signer.verify(_with_payload(token, bytes(changed)), now=NOW)


def test_changing_any_mac_byte_breaks_the_signature(signer: Signer) -> None:
    token = _issue(signer)
    mac = _unb64(token.split(".")[1])
    assert len(mac) == 32
    for index in range(len(mac)):
        changed = bytearray(mac)
        changed[index] ^= 0x01
        with pytest.raises(TokenBadSignature):
            signer.verify(_with_mac(token, bytes(changed)), now=NOW)


def test_extending_or_truncating_the_payload_breaks_the_signature(signer: Signer) -> None:
    token = _issue(signer)
    payload = _unb64(token.split(".")[0])
    for changed in (payload + b"\x00", payload[:-1], payload[:10]):
        with pytest.raises(TokenBadSignature):
            signer.verify(_with_payload(token, changed), now=NOW)


def test_changing_any_character_is_refused(signer: Signer) -> None:
    token = _issue(signer)
    for index, char in enumerate(token):
        if char == ".":
            continue
        other = B64URL[(B64URL.index(char) + 1) % 64]
        with pytest.raises(TokenError):
            signer.verify(token[:index] + other + token[index + 1 :], now=NOW)


def test_a_second_spelling_of_the_same_bytes_is_refused(signer: Signer) -> None:
    # 32 MAC bytes take 43 characters; the last one carries 2 unused bits. A lenient
    # decoder reads both spellings as the same MAC, which would give one token two
    # digests and let it be used twice.
    token = _issue(signer)
    last = token[-1]
    other = B64URL[B64URL.index(last) ^ 0x01]
    respelled = token[:-1] + other
    assert _unb64(respelled.split(".")[1]) == _unb64(token.split(".")[1])
    with pytest.raises(TokenMalformed):
        signer.verify(respelled, now=NOW)


def test_swapping_payloads_between_tokens_fails(signer: Signer) -> None:
    mine = _issue(signer, reviewer="tv-a", item=1, action="view")
    theirs = _issue(signer, reviewer="tv-b", item=2, action="approve")
    with pytest.raises(TokenBadSignature):
        signer.verify(theirs.split(".")[0] + "." + mine.split(".")[1], now=NOW)
    with pytest.raises(TokenBadSignature):
        signer.verify(mine.split(".")[0] + "." + theirs.split(".")[1], now=NOW)


def test_token_from_another_key_fails(signer: Signer) -> None:
    with pytest.raises(TokenBadSignature):
        signer.verify(_issue(Signer([KEY_B])), now=NOW)


# --- expiry -----------------------------------------------------------------------------


def test_expiry_boundary(signer: Signer) -> None:
    token = _issue(signer, ttl=timedelta(hours=1))
    expires = NOW + timedelta(hours=1)
    assert signer.verify(token, now=expires - timedelta(seconds=1)).item == 4321
    with pytest.raises(TokenExpired) as caught:
        signer.verify(token, now=expires)
    assert caught.value.claim.item == 4321
    with pytest.raises(TokenExpired):
        signer.verify(token, now=expires + timedelta(days=30))


def test_default_ttl_is_seven_days(signer: Signer) -> None:
    token = _issue(signer)
    signer.verify(token, now=NOW + timedelta(days=7) - timedelta(seconds=1))
    with pytest.raises(TokenExpired):
        signer.verify(token, now=NOW + timedelta(days=7))


def test_verify_without_now_uses_the_clock(signer: Signer) -> None:
    fresh = _issue(signer, now=None)
    assert signer.verify(fresh).item == 4321
    with pytest.raises(TokenExpired):
        signer.verify(_issue(signer, now=datetime(2001, 1, 1, tzinfo=UTC)))


def test_verify_refuses_a_naive_now(signer: Signer) -> None:
    with pytest.raises(ValueError):
        signer.verify(_issue(signer), now=datetime(2025, 3, 14, 9, 0))


# --- key rotation -----------------------------------------------------------------------


def test_key_rotation() -> None:
    old, rotated, new_only = Signer([KEY_A]), Signer([KEY_B, KEY_A]), Signer([KEY_B])
    old_token = _issue(old)
    assert rotated.verify(old_token, now=NOW).item == 4321  # old key still verifies

    new_token = _issue(rotated)  # new key signs
    assert new_only.verify(new_token, now=NOW).item == 4321
    with pytest.raises(TokenBadSignature):
        old.verify(new_token, now=NOW)

    with pytest.raises(TokenBadSignature):  # old key removed
        new_only.verify(old_token, now=NOW)


def test_token_carries_the_signing_key_id() -> None:
    rotated = Signer([KEY_B, KEY_A])
    assert rotated.key_ids == (key_id(KEY_B), key_id(KEY_A))
    assert key_id(KEY_B) == hashlib.sha256(KEY_B).hexdigest()[:8]
    payload = _unb64(_issue(rotated).split(".")[0])
    assert payload[1:5].hex() == key_id(KEY_B)


@pytest.mark.parametrize("keys", [[], [b"short"], [KEY_A, KEY_A], ["a" * 40], KEY_A], ids=repr)
def test_signer_refuses_bad_keys(keys: object) -> None:
    with pytest.raises((ValueError, TypeError)):
        Signer(keys)  # type: ignore[arg-type]


# --- binding to the form ----------------------------------------------------------------


def test_verify_for_accepts_the_bound_action(signer: Signer) -> None:
    claim = signer.verify_for(
        _issue(signer), reviewer="tv-nguyen-van-a", item=4321, step=2, action="approve", now=NOW
    )
    assert claim.version == VERSION


@pytest.mark.parametrize(
    "changes",
    [
        {"reviewer": "tv-tran-thi-b"},
        {"item": 4322},
        {"step": 3},
        {"action": "reject"},
    ],
)
def test_verify_for_refuses_another_binding(signer: Signer, changes: dict[str, object]) -> None:
    expected: dict[str, object] = {
        "reviewer": "tv-nguyen-van-a",
        "item": 4321,
        "step": 2,
        "action": "approve",
    }
    expected.update(changes)
    with pytest.raises(TokenMismatch) as caught:
        signer.verify_for(_issue(signer), now=NOW, **expected)  # type: ignore[arg-type]
    assert next(iter(changes)) in str(caught.value)


def test_verify_for_still_checks_expiry_and_signature(signer: Signer) -> None:
    binding = {"reviewer": "tv-nguyen-van-a", "item": 4321, "step": 2, "action": "approve"}
    with pytest.raises(TokenExpired):
        signer.verify_for(_issue(signer), now=NOW + timedelta(days=8), **binding)  # type: ignore[arg-type]
    with pytest.raises(TokenBadSignature):
        signer.verify_for(_issue(Signer([KEY_C])), now=NOW, **binding)  # type: ignore[arg-type]


# --- malformed input --------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        "",
        ".",
        "abc.",
        ".abc",
        "nodot",
        "a.b.c",
        "!!!!.####",
        "abcd.ef gh",
        "abcd.efgh=",
        "abcde.abcd",  # 5 characters cannot be base64
        "AAAA.AAAA",  # payload too short to hold a key id
        "tôken.mac",
        None,
        b"abcd.efgh",
    ],
    ids=repr,
)
def test_malformed_tokens(signer: Signer, token: object) -> None:
    with pytest.raises(TokenMalformed):
        signer.verify(token, now=NOW)  # type: ignore[arg-type]


def test_mac_of_the_wrong_length_is_malformed(signer: Signer) -> None:
    token = _issue(signer)
    with pytest.raises(TokenMalformed):
        signer.verify(_with_mac(token, _unb64(token.split(".")[1])[:16]), now=NOW)


@pytest.mark.parametrize("size", [MAX_TOKEN_LENGTH + 1, 2049, 5_000_000])
def test_huge_input_is_refused_before_decoding(signer: Signer, size: int) -> None:
    token = _issue(signer)
    huge = token + "A" * (size - len(token))
    assert len(huge) == size
    with pytest.raises(TokenMalformed, match="too long"):
        signer.verify(huge, now=NOW)


def test_errors_have_vietnamese_page_text_and_english_log_text(signer: Signer) -> None:
    token = _issue(signer)
    cases: list[tuple[type[TokenError], str]] = [
        (TokenMalformed, "không hợp lệ"),
        (TokenBadSignature, "bị thay đổi"),
        (TokenExpired, "hết hạn"),
        (TokenMismatch, "không dùng được"),
    ]
    raised: dict[type[TokenError], TokenError] = {}
    attempts = [
        lambda: signer.verify("nodot", now=NOW),
        lambda: Signer([KEY_B]).verify(token, now=NOW),
        lambda: signer.verify(token, now=NOW + timedelta(days=8)),
        lambda: signer.verify_for(
            token, reviewer="x", item=4321, step=2, action="approve", now=NOW
        ),
    ]
    for attempt in attempts:
        with pytest.raises(TokenError) as caught:
            attempt()
        raised[type(caught.value)] = caught.value
    for kind, phrase in cases:
        error = raised[kind]
        assert phrase in error.message
        assert str(error).isascii()
        assert token not in str(error) and token.split(".")[1] not in str(error)


# --- digest -----------------------------------------------------------------------------


def test_digest_is_stable_and_per_token(signer: Signer) -> None:
    first, second = _issue(signer), _issue(signer)
    assert token_digest(first) == token_digest(first)
    assert token_digest(first) == hashlib.sha256(first.encode()).hexdigest()
    assert re.fullmatch(r"[0-9a-f]{64}", token_digest(first))
    assert token_digest(first) != token_digest(second)
    assert first not in token_digest(first)


# --- load_key ---------------------------------------------------------------------------


RAW_KEY = secrets.token_bytes(32)


@pytest.mark.parametrize(
    "value",
    [
        RAW_KEY.hex(),
        RAW_KEY.hex().upper(),
        base64.b64encode(RAW_KEY).decode(),
        _b64(RAW_KEY),
        "hex:" + RAW_KEY.hex(),
        "base64:" + base64.b64encode(RAW_KEY).decode(),
        "  " + RAW_KEY.hex() + "\n",
    ],
)
def test_load_key_decodes_hex_and_base64(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("BIENTAP_LINK_KEY", value)
    assert load_key() == RAW_KEY


def test_load_key_takes_raw_text(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "cụm mật khẩu dài cho liên kết của Ban Biên tập!"
    monkeypatch.setenv("BIENTAP_LINK_KEY", text)
    assert load_key() == text.encode("utf-8")
    monkeypatch.setenv("BIENTAP_LINK_KEY", "raw:" + RAW_KEY.hex())
    assert load_key() == RAW_KEY.hex().encode("ascii")


def test_load_key_reads_the_named_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BIENTAP_LINK_KEY", raising=False)
    monkeypatch.setenv("OTHER_LINK_KEY", RAW_KEY.hex())
    assert load_key("OTHER_LINK_KEY") == RAW_KEY
    signer = Signer([load_key("OTHER_LINK_KEY")])
    assert signer.verify(_issue(signer), now=NOW).item == 4321


@pytest.mark.parametrize("value", [None, "", "   "])
def test_load_key_missing_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    if value is None:
        monkeypatch.delenv("BIENTAP_LINK_KEY", raising=False)
    else:
        monkeypatch.setenv("BIENTAP_LINK_KEY", value)
    with pytest.raises(TokenKeyError, match="chưa đặt biến môi trường BIENTAP_LINK_KEY"):
        load_key()  # the operator is told in Vietnamese first, as every start-up error


@pytest.mark.parametrize(
    "value",
    [
        "s3cr3t-Sh0rt-Value!",
        "deadbeefcafebabe" * 3,  # hex: 24 bytes
        "hex:not-really-hex-but-long-enough-0123456789",
        "raw:tiny-secret-xyz",
    ],
)
def test_load_key_too_short_or_bad_hides_the_value(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("BIENTAP_LINK_KEY", value)
    with pytest.raises(TokenKeyError) as caught:
        load_key()
    message = str(caught.value)
    assert message.startswith("BIENTAP_LINK_KEY chưa đủ dài") or message.startswith(
        "BIENTAP_LINK_KEY không đúng với tiền tố"
    )  # the operator is told in Vietnamese first, as every start-up error
    secret_part = value.partition(":")[2] or value
    assert secret_part not in message and value not in message


# --- no leaks ---------------------------------------------------------------------------


def test_repr_hides_keys() -> None:
    signer = Signer([KEY_B, KEY_A])
    for shown in (repr(signer), str(signer), f"{signer!r}"):
        for key in (KEY_A, KEY_B):
            for spelling in (repr(key), key.hex(), _b64(key), base64.b64encode(key).decode()):
                assert spelling not in shown
        assert key_id(KEY_A) in shown and key_id(KEY_B) in shown
    assert not hasattr(signer, "__dict__")


def test_signer_cannot_be_pickled() -> None:
    import pickle

    with pytest.raises(TypeError):
        pickle.dumps(Signer([KEY_A]))


# --- CSRF -------------------------------------------------------------------------------


def test_csrf_passes_for_the_right_pair_only(signer: Signer) -> None:
    digest = token_digest(_issue(signer))
    other_digest = token_digest(_issue(signer))
    value = signer.csrf(digest, "session-1")
    assert re.fullmatch(r"[A-Za-z0-9_-]+", value)
    assert signer.check_csrf(value, digest, "session-1")
    assert not signer.check_csrf(value, other_digest, "session-1")
    assert not signer.check_csrf(value, digest, "session-2")
    assert not signer.check_csrf(signer.csrf(other_digest, "session-1"), digest, "session-1")
    assert not Signer([KEY_B]).check_csrf(value, digest, "session-1")


def test_csrf_fields_cannot_be_shifted(signer: Signer) -> None:
    value = signer.csrf("ab", "cd")
    assert not signer.check_csrf(value, "a", "bcd")
    assert not signer.check_csrf(value, "abc", "d")


def test_csrf_refuses_tampered_or_odd_values(signer: Signer) -> None:
    digest = token_digest(_issue(signer))
    value = signer.csrf(digest, "session-1")
    for index in range(len(value)):
        other = B64URL[(B64URL.index(value[index]) + 1) % 64]
        assert not signer.check_csrf(
            value[:index] + other + value[index + 1 :], digest, "session-1"
        )
    for odd in ["", "é" * 43, value + "A", value[:-1], "x" * 10_000, None]:
        assert not signer.check_csrf(odd, digest, "session-1")  # type: ignore[arg-type]
    assert not signer.check_csrf(value, "", "session-1")
    assert not signer.check_csrf(value, digest, "")


def test_csrf_survives_key_rotation(signer: Signer) -> None:
    digest = token_digest(_issue(signer))
    value = signer.csrf(digest, "session-1")
    assert Signer([KEY_B, KEY_A]).check_csrf(value, digest, "session-1")
    assert Signer([KEY_B, KEY_A]).csrf(digest, "session-1") != value


def test_csrf_needs_both_inputs(signer: Signer) -> None:
    with pytest.raises(ValueError):
        signer.csrf("", "session-1")
    with pytest.raises(ValueError):
        signer.csrf(token_digest("t"), "")


def test_claim_validates_itself() -> None:
    claim = ActionClaim(
        reviewer="tv-a",
        board="b",
        item=1,
        step=1,
        action="view",
        version="v",
        nonce=_b64(b"\x00" * 16),
        expires_at=1,
    )
    with pytest.raises(ValueError):
        replace(claim, nonce=_b64(b"\x00" * 15))
    with pytest.raises(ValueError):
        replace(claim, action="delete")
