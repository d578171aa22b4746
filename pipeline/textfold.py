"""Accent- and case-insensitive text for matching: "Trả lời tự động" -> "tra loi tu dong"."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache


def _table() -> dict[int, str | None]:
    table: dict[int, str | None] = {ord("đ"): "d", ord("Đ"): "d"}
    for code in range(0x00C0, 0x2000):  # Latin letters with marks, and combining marks
        char = chr(code)
        if unicodedata.combining(char):
            table[code] = None
            continue
        base = "".join(
            c for c in unicodedata.normalize("NFD", char) if not unicodedata.combining(c)
        )
        if base != char:
            table[code] = base.lower()
    return table


_FOLD = _table()


def fold(text: str) -> str:
    """Lower-case, without diacritics; one C-level pass (this runs on every message)."""
    return text.translate(_FOLD).lower()


@lru_cache(maxsize=512)
def loose(phrase: str) -> re.Pattern[str]:
    """``phrase`` as written or typed without its diacritics, in any case and spacing, as
    whole words: "điểm nóng" finds "ĐIỂM NÓNG" and "diem nong", not "điểm nông" nor
    "điểm nóngg". Folding both sides would also find every word that differs only in its
    marks ("hạn thu" for "hận thù", "đâm ô tô" for "dâm ô")."""
    parts = []
    for char in " ".join(phrase.split()):
        bare = fold(char)
        if char == " ":
            parts.append(r"\s+")
        elif bare != char.lower():
            parts.append(f"[{re.escape(char)}{re.escape(bare)}]")
        else:
            parts.append(re.escape(char))
    return re.compile(r"(?<!\w)" + "".join(parts) + r"(?!\w)", re.IGNORECASE)


# A word's tone mark (huyền, sắc, ngã, hỏi, nặng) in decomposed text; the other marks
# (ă â ê ô ơ ư) make letters of their own and stay.
_TONES = "\u0300\u0301\u0303\u0309\u0323"
_TONE_INSIDE = re.compile(rf"([{_TONES}])((?:[^\W_]|[\u0302\u0306\u031b])+)")


def toned(text: str) -> str:
    """Lower case, decomposed, each tone mark moved to the end of its word: both ways of
    placing it ("hóa", "hoá") read alike, while words that differ only in their marks
    ("đô thị", "Đỗ Thị") stay apart. C-level passes only."""
    return _TONE_INSIDE.sub(r"\2\1", unicodedata.normalize("NFD", text.lower()))


def toned_pattern(phrase: str) -> str:
    """A regex for ``phrase`` (already ``toned``) as written or typed without some or all
    of its marks, never with other marks: "đô thị" finds "do thi", not "Đỗ Thị"."""
    parts = []
    for char in phrase:
        if unicodedata.combining(char):
            parts.append(f"(?:{re.escape(char)})?")
        elif char == "đ":
            parts.append("[đd]")
        else:
            parts.append(re.escape(char))
    return "".join(parts)


_WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    """The words of ``text``, precomposed and case-folded: punctuation, spacing and the
    way it was typed (NFD) do not count."""
    return _WORD.findall(unicodedata.normalize("NFC", text).casefold())


def mentions(text: str, phrase: str) -> bool:
    """Whether ``text`` has ``phrase``'s words in a row ("Tin, ảnh: LÊ THỊ HỒNG NHUNG"
    mentions "Lê Thị Hồng Nhung"; "Nguyễn Văn Anh" does not mention "Nguyễn Văn An")."""
    wanted = words(phrase)
    return bool(wanted) and f" {' '.join(wanted)} " in f" {' '.join(words(text))} "


def opens_with(text: str, phrase: str) -> bool:
    """Whether ``text``'s first words are ``phrase``'s (a summary cut from the text)."""
    wanted = words(phrase)
    return bool(wanted) and words(text)[: len(wanted)] == wanted
