"""Charsets of mail parts: Windows-1258 (tone marks as combining characters), mislabelled
ISO-8859-1 that is really UTF-8 or Windows-1258, and undeclared 8-bit text. Every result is
NFC; legacy-font text inside is the business of ``vietnamese.normalize``.
"""

from __future__ import annotations

import codecs
import itertools
import re
import unicodedata

from pipeline.vietnamese import (
    VIETNAMESE_LETTERS,
    detect_and_normalize,
    is_vietnamese_syllable,
)


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


_ESCAPED = re.compile("[\udc80-\udcff]")
_SINGLE_BYTE = frozenset({"ascii", "iso8859-1", "cp1252", "cp1258"})
_NOT_TEXT = frozenset(
    {"unicode-escape", "raw-unicode-escape", "idna", "punycode", "undefined", "mbcs", "oem"}
)
_WORD = re.compile(r"[^\W\d_]+")
_VIETNAMESE_LETTER = re.compile(f"[{VIETNAMESE_LETTERS}]")
_COMBINING = re.compile(r"[\u0300-\u036f]")
# Letters Windows-1258 has and Windows-1252 reads as others: ă ơ ư đ are ã õ ý ð there.
_CP1258_OWN = re.compile("[ăĂơƠưƯđĐ]")


def _single_byte(data: bytes, codec: str) -> str:
    """`data` in a Windows code page, total: a byte the page leaves undefined stays Latin-1."""
    text = data.decode(codec, errors="surrogateescape")
    return _ESCAPED.sub(lambda m: chr(ord(m.group()) - 0xDC00), text)


def _codec_name(declared: str | None) -> str | None:
    label = (declared or "").split(";")[0].strip().strip("\"'").strip().lower()
    if not label:
        return None
    try:
        info = codecs.lookup(label)
    except (LookupError, ValueError):
        return None
    name = info.name.replace("_", "-")
    if name in _NOT_TEXT or not getattr(info, "_is_text_encoding", True):
        return None
    return name


def _written(word: str) -> bool:
    """No capital follows a small letter: "tÕ", "tƠ" are TCVN3 "tế" read as 1252 or 1258."""
    if word.islower() or word.isupper() or word.istitle():
        return True  # at once, for nearly every word
    return not any(a.islower() and b.isupper() for a, b in itertools.pairwise(word))


def _with_vietnamese_letters(text: str) -> list[str]:
    """The words of `text` that hold a Vietnamese letter. Words first, then the letter: a
    pattern looking for the letter inside a word tried each letter of a long word without
    one against the rest of it (100,000 letters took minutes)."""
    return [word for word in _WORD.findall(text) if _VIETNAMESE_LETTER.search(word)]


def _vietnamese_words(text: str) -> int:
    """Words with a Vietnamese letter that are well-formed syllables, written as words."""
    return sum(
        is_vietnamese_syllable(word) and _written(word) for word in _with_vietnamese_letters(text)
    )


def _own_letters(text: str) -> bool:
    """Whether a Vietnamese word of `text` holds a letter Windows-1252 lacks ("văn", "năm")."""
    return any(
        is_vietnamese_syllable(word) and _CP1258_OWN.search(word) is not None
        for word in _with_vietnamese_letters(text)
    )


def _utf8(data: bytes) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _mostly_utf8(data: bytes) -> str | None:
    """UTF-8 with damaged bytes replaced, if most multi-byte sequences are valid ones.

    Text in an 8-bit charset hardly ever holds a valid UTF-8 sequence at all."""
    text = data.decode("utf-8", errors="replace")
    bad = text.count("\ufffd") - data.count("\ufffd".encode())
    good = len(text) - len(text.encode("ascii", errors="ignore")) - text.count("\ufffd")
    return text if good >= bad and good > 0 else None


def _eight_bit(data: bytes, declared_1258: bool = False) -> str:
    """8-bit bytes: Windows-1258 if that yields Vietnamese (or was declared), else Windows-1252.

    Text typed in a legacy font (TCVN3, VNI) is kept in its Windows-1252 form, for
    `normalize`, unless Windows-1258 reads as more Vietnamese than the converted text."""
    western = _single_byte(data, "cp1252")
    vietnamese = _nfc(_single_byte(data, "cp1258"))
    score_1258 = _vietnamese_words(vietnamese) - len(_COMBINING.findall(vietnamese))
    legacy, converted = detect_and_normalize(western)
    if legacy is not None and _vietnamese_words(converted) > score_1258:
        return western
    score_1252 = _vietnamese_words(western)
    if declared_1258 or (score_1258 > 0 and score_1258 > score_1252):
        return vietnamese
    if score_1258 > 0 and score_1258 == score_1252 and _own_letters(vietnamese):
        return vietnamese  # "Tin văn hóa", not "Tin vãn hóa": both read as syllables
    return western


def _decode(data: bytes, declared: str | None) -> str:
    if data.startswith(codecs.BOM_UTF8):
        return data[3:].decode("utf-8", errors="replace")
    name = _codec_name(declared)
    if data.isascii() and name in (None, "utf-8", *_SINGLE_BYTE):
        return data.decode("ascii")
    if name is None:
        return _utf8(data) or _eight_bit(data)
    if name == "utf-8":
        return _utf8(data) or _mostly_utf8(data) or _eight_bit(data)
    if name in _SINGLE_BYTE:
        # 8-bit labels are often wrong: UTF-8 bytes under ISO-8859-1, Windows-1258 under
        # ISO-8859-1, TCVN3 under Windows-1258. A label is honoured where it fits.
        return _utf8(data) or _eight_bit(data, declared_1258=name == "cp1258")
    try:
        return data.decode(name)
    except (UnicodeDecodeError, LookupError, ValueError, TypeError):
        return _utf8(data) or _eight_bit(data)


def decode_bytes(data: bytes, declared: str | None) -> str:
    """Text of a mail part: the declared charset where it fits the bytes, else detected.

    A part labelled ISO-8859-1, US-ASCII, Windows-1252/1258 or nothing whose bytes are valid
    UTF-8 is UTF-8; other 8-bit bytes are Windows-1258 if that reads as Vietnamese, else
    Windows-1252; unknown labels are treated as none. Never raises; the result is NFC.
    Legacy-font text stays as Windows-1252 characters: `normalize` converts it.
    """
    try:
        text = _decode(bytes(data), declared)
    except Exception:  # noqa: BLE001 - a mail part must never stop the pipeline
        text = bytes(data).decode("latin-1")
    return _nfc(text)


_CP1258_TONES = frozenset("\u0300\u0301\u0303\u0309\u0323")


def encode_cp1258(text: str) -> bytes:
    """Windows-1258 the way Word writes it: precomposed where the code page has the letter,
    else the letter without its tone followed by a combining tone mark (for fixtures)."""
    out = bytearray()
    for char in unicodedata.normalize("NFC", text):
        try:
            out += char.encode("cp1258")
            continue
        except UnicodeEncodeError:
            pass
        parts = unicodedata.normalize("NFD", char)
        base = unicodedata.normalize("NFC", "".join(c for c in parts if c not in _CP1258_TONES))
        tones = "".join(c for c in parts if c in _CP1258_TONES)
        out += (base + tones).encode("cp1258", errors="replace")
    return bytes(out)
