"""Vietnamese text normalisation: every text becomes precomposed Unicode (NFC, TCVN 6909:2001).

Agencies still send text typed in the pre-Unicode 8-bit font encodings. In e-mail and Word
those bytes arrive as Windows-1252/Latin-1 characters:

* **TCVN3** (TCVN 5712:1993 table VN3, "ABC"; fonts ``.VnTime``, ``.VnArial``...): one byte
  per letter, e.g. "Th«ng b¸o" = "Thông báo". The lower-case fonts have only the seven
  capitals Ă Â Ê Ô Ơ Ư Đ; a capital with a tone mark is typed in the upper-case font
  (``.VnTimeH``), which draws capitals *in the lower-case slots*. The VN1/VN2 capitals that
  sit in VN3's gaps in 0xA0-0xFF (Ắ Ầ Ế Ố...) are read too; `encode_legacy` writes pure VN3.
* **VNI** (fonts ``VNI-Times``...): a base letter followed by a separate mark character,
  e.g. "Thoâng baùo" = "Thông báo"; capitals take upper-case marks ("AÙ" = "Á"). Lossless.
* **Windows-1258** (`charsets.decode_bytes`): stdlib ``cp1258`` plus NFC, since it writes most tone
  marks as combining characters. NFD input is composed by `normalize`.

Upper-case TCVN3. In plain text the font is lost, so "CéNG" (.VnTimeH) and "céng" (.VnTime)
carry the same byte for "ộ". `normalize` infers capitals from context: a word whose other
letters are capitals ("CéNG", "ñY"), a one-capital word ("X·", "Tæ") on a line in capitals or
next to a word in capitals, and the first word of a sentence or paragraph (after ". ", after
an empty line, a line ending in ".:!?" or a heading in capitals - not after a hard-wrapped
line) get capitals. A capital inside a mixed-case sentence ("của Ủy ban") cannot be told
and comes out lower-case ("của ủy ban"). Where the font is known (a .docx run) nothing is
guessed: `convert_legacy` draws what the font draws, ``uppercase=True`` for the H fonts.

Detection is scored, never triggered by one character. For each line and encoding, every
word that conversion changes is judged by `is_vietnamese_syllable` before and after: a gain
(valid only after), the same (valid both ways, as "cã" = "có"), a loss (valid only before).
A line is decisive when gains and same words are at least half the changed words, losses
few, and two gains hold a sign no Western word has (a TCVN3 byte that is no letter in
Windows-1252, such as "¸" or "«"; a VNI mark merged into a word) - or three gains without.
In TCVN3 a capital right after a small letter is such a sign too ("thÓ" = "thể": no word is
written so, and it is no gain unless read as misspelt). A short line is decisive when every
word of it, ASCII ones included, is a syllable once converted and a gain holds a sign ("Tin y
tÕ" = "Tin y tế"); "Dia da Mãe" has no sign, "TIN THÓ THAO" no gain: both are left alone.
A text is legacy if one of its lines is decisive, in the encoding that makes or keeps the
most words valid - on a tie the one whose gains hold such signs ("Thoâng tin cuûa" reads
as TCVN3 syllables too, "Thoõng tin cuỷa"); then each line is converted if it agrees
(so a Unicode signature under a TCVN3 body is left alone). French, German, prices with ¢/£
and «quotes» fail these tests; a line mixing Unicode and legacy words is converted as a
whole when the legacy words dominate.

Bidirectional controls (`BIDI_CONTROLS`) are removed: no Vietnamese text needs one, and in a
title, a name or a link they make what follows read as something else.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

__all__ = [
    "BIDI_CONTROLS",
    "Legacy",
    "VIETNAMESE_LETTERS",
    "convert_legacy",
    "detect_and_normalize",
    "detect_legacy",
    "encode_legacy",
    "font_encoding",
    "is_uppercase_font",
    "is_vietnamese_syllable",
    "is_unicode_in_legacy_font",
    "normalize",
    "strip_bidi",
]

Legacy = Literal["tcvn3", "vni"]
_ENCODINGS: tuple[Legacy, ...] = ("tcvn3", "vni")


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


# Embeddings, overrides and isolates (U+202A-202E, U+2066-2069) and the marks (LRM, RLM,
# ALM): "Duyệt\u202e" before a label "[nv.vog.iangnod.ac]" shows "[ca.dongnai.gov.vn]".
BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
_NO_BIDI = str.maketrans(dict.fromkeys(BIDI_CONTROLS))


def strip_bidi(text: str) -> str:
    """``text`` without bidirectional control characters."""
    return text.translate(_NO_BIDI)


# --- The alphabet -----------------------------------------------------------------------------

_GRAVE, _HOOK, _TILDE, _ACUTE, _DOT = "\u0300", "\u0309", "\u0303", "\u0301", "\u0323"
_BASE_VOWELS = "aăâeêioôơuưy"  # the twelve vowel letters a tone mark can sit on


def _toned(base: str, mark: str) -> str:
    return _nfc(base + mark)


#: The 67 lower-case letters with a mark (ă â ê ô ơ ư đ and the 60 toned vowels), then
#: their 67 capitals.
_LOWER_MARKED = "ăâêôơưđ" + "".join(
    _toned(base, mark) for base in _BASE_VOWELS for mark in (_GRAVE, _HOOK, _TILDE, _ACUTE, _DOT)
)
VIETNAMESE_LETTERS: str = _LOWER_MARKED + _LOWER_MARKED.upper()
_BEYOND_LATIN1 = frozenset(ch for ch in VIETNAMESE_LETTERS if ord(ch) > 0xFF)

# Toned letter -> its tone (1..5 in the order above); and the translate table that drops it.
_TONE_OF: dict[str, int] = {}
_UNTONE: dict[int, str] = {}
for _base in _BASE_VOWELS:
    for _number, _mark in enumerate((_GRAVE, _HOOK, _TILDE, _ACUTE, _DOT), start=1):
        _TONE_OF[_toned(_base, _mark)] = _number
        _UNTONE[ord(_toned(_base, _mark))] = _base
_TONE_ACUTE, _TONE_DOT = 4, 5


# --- Syllable structure -----------------------------------------------------------------------
# Onset, vowel nucleus (with its glides), final consonant. Spelling rules on the onset: k, gh,
# ngh only before i e ê y; c, ng, g not before them (g + i is the onset "gi"). Each nucleus
# says where its tone mark may sit, open / closed by a final consonant ("" = impossible):
# "hòa" and "hoà" are both accepted, "hoàng" but not "hòang".

_ONSET = (
    r"(?:ngh(?=[ieêy])|ng(?![ieêy])|nh|ch|gh(?=[ieêy])|gi|kh|ph|qu|th|tr"
    r"|k(?=[ieêy])|c(?![ieêy])|g(?![eê])|[bdđhlmnprstvx])"
)
_FINAL = r"(?:ch|ng|nh|[cmnpt])"
_NUCLEI: dict[str, tuple[str, str]] = {}
for _group, _places in (
    ("a e ê i o ô ơ u ư y", ("0", "0")),
    ("ă â", ("", "0")),
    ("oa oe uy", ("01", "1")),
    ("uê", ("1", "1")),
    ("iê yê uô ươ oă uâ oo", ("", "1")),
    ("uyê", ("", "2")),
    ("ai ao au ay âu ây eo êu ia iu oi ôi ơi ua ui ưa ưi ưu", ("0", "")),
    ("uơ iêu yêu oai oao oay oeo uây uôi ươi ươu uya uyu", ("1", "")),
):
    _NUCLEI.update(dict.fromkeys(_group.split(), _places))
_SYLLABLE = re.compile(
    rf"{_ONSET}?(?P<nucleus>{'|'.join(sorted(_NUCLEI, key=len, reverse=True))})"
    rf"(?P<final>{_FINAL})?"
)
_STOPS = ("c", "ch", "p", "t")


@lru_cache(maxsize=65536)
def is_vietnamese_syllable(word: str) -> bool:
    """Whether `word` (letters only, any case, NFC) is a well-formed Vietnamese syllable."""
    lower = word.lower()
    toned = [(index, _TONE_OF[ch]) for index, ch in enumerate(lower) if ch in _TONE_OF]
    if len(toned) > 1:
        return False
    match = _SYLLABLE.fullmatch(lower.translate(_UNTONE))
    if match is None:
        return False
    final = match.group("final")
    places = _NUCLEI[match.group("nucleus")][1 if final else 0]
    if not places:
        return False
    if not toned:  # a syllable closed by a stop takes the sắc or nặng tone
        return final not in _STOPS
    index, tone = toned[0]
    if str(index - match.start("nucleus")) not in places:
        return False
    return final not in _STOPS or tone in (_TONE_ACUTE, _TONE_DOT)


# --- TCVN3 (TCVN 5712:1993, table VN3) ------------------------------------------------------------
# Byte of each lower-case toned vowel, tones in the order huyền, hỏi, ngã, sắc, nặng.
_TCVN3_TONED: dict[str, tuple[int, int, int, int, int]] = {
    "a": (0xB5, 0xB6, 0xB7, 0xB8, 0xB9),
    "ă": (0xBB, 0xBC, 0xBD, 0xBE, 0xC6),
    "â": (0xC7, 0xC8, 0xC9, 0xCA, 0xCB),
    "e": (0xCC, 0xCE, 0xCF, 0xD0, 0xD1),
    "ê": (0xD2, 0xD3, 0xD4, 0xD5, 0xD6),
    "i": (0xD7, 0xD8, 0xDC, 0xDD, 0xDE),
    "o": (0xDF, 0xE1, 0xE2, 0xE3, 0xE4),
    "ô": (0xE5, 0xE6, 0xE7, 0xE8, 0xE9),
    "ơ": (0xEA, 0xEB, 0xEC, 0xED, 0xEE),
    "u": (0xEF, 0xF1, 0xF2, 0xF3, 0xF4),
    "ư": (0xF5, 0xF6, 0xF7, 0xF8, 0xF9),
    "y": (0xFA, 0xFB, 0xFC, 0xFD, 0xFE),
}
_TCVN3_CAPITALS = {"Ă": 0xA1, "Â": 0xA2, "Ê": 0xA3, "Ô": 0xA4, "Ơ": 0xA5, "Ư": 0xA6, "Đ": 0xA7}
_TCVN3_SMALL = {"ă": 0xA8, "â": 0xA9, "ê": 0xAA, "ô": 0xAB, "ơ": 0xAC, "ư": 0xAD, "đ": 0xAE}
# Capitals of tables VN1/VN2 that lie in 0xA0-0xFF, where VN3 leaves gaps: decoded, never written.
_TCVN3_VN1_CAPITALS = {
    0xAF: "Ằ", 0xBA: "Ẳ", 0xBF: "Ẵ", 0xC0: "Ắ", 0xC1: "Ầ", 0xC2: "Ẩ", 0xC3: "Ẫ", 0xC4: "Ấ",
    0xC5: "Ề", 0xCD: "Ể", 0xD9: "Ễ", 0xDA: "Ế", 0xDB: "Ồ", 0xE0: "Ổ", 0xF0: "Ỗ", 0xFF: "Ố",
}  # fmt: skip

_TCVN3_ENCODE: dict[int, str] = {}
_TCVN3_DECODE: dict[int, str] = {}
for _base, _bytes in _TCVN3_TONED.items():
    for _mark, _byte in zip((_GRAVE, _HOOK, _TILDE, _ACUTE, _DOT), _bytes, strict=True):
        _TCVN3_DECODE[_byte] = _toned(_base, _mark)
for _letter, _byte in (_TCVN3_SMALL | _TCVN3_CAPITALS).items():
    _TCVN3_DECODE[_byte] = _letter
_TCVN3_AMBIGUOUS = frozenset(chr(b) for b, letter in _TCVN3_DECODE.items() if letter.islower())
for _byte, _letter in _TCVN3_DECODE.items():
    _TCVN3_ENCODE[ord(_letter)] = chr(_byte)
    if _letter.islower() and _letter.upper() not in _TCVN3_CAPITALS:
        _TCVN3_ENCODE[ord(_letter.upper())] = chr(_byte)  # the .VnTimeH convention
_TCVN3_DECODE.update(_TCVN3_VN1_CAPITALS)

# --- VNI (VNI for Windows) ------------------------------------------------------------------------
# Each letter is its base letter followed by a mark character; ơ ư đ and the toned i and ỵ are
# single characters. Rows: no tone, sắc, huyền, hỏi, ngã, nặng. Capitals are the upper-case
# of every character ("aù" -> "AÙ").
_VNI_ROWS: dict[str, tuple[str, str, str, str, str, str]] = {
    "a": ("a", "aù", "aø", "aû", "aõ", "aï"),
    "â": ("aâ", "aá", "aà", "aå", "aã", "aä"),
    "ă": ("aê", "aé", "aè", "aú", "aü", "aë"),
    "e": ("e", "eù", "eø", "eû", "eõ", "eï"),
    "ê": ("eâ", "eá", "eà", "eå", "eã", "eä"),
    "i": ("i", "í", "ì", "æ", "ó", "ò"),
    "o": ("o", "où", "oø", "oû", "oõ", "oï"),
    "ô": ("oâ", "oá", "oà", "oå", "oã", "oä"),
    "ơ": ("ô", "ôù", "ôø", "ôû", "ôõ", "ôï"),
    "u": ("u", "uù", "uø", "uû", "uõ", "uï"),
    "ư": ("ö", "öù", "öø", "öû", "öõ", "öï"),
    "y": ("y", "yù", "yø", "yû", "yõ", "î"),
}
_VNI_D = "ñ"

_VNI_ENCODE: dict[int, str] = {}
_VNI_DECODE: dict[str, str] = {}
for _base, _row in _VNI_ROWS.items():
    for _mark, _seq in zip(("", _ACUTE, _GRAVE, _HOOK, _TILDE, _DOT), _row, strict=True):
        _letter = _toned(_base, _mark)
        if _letter == _seq:  # a plain a e i o u y
            continue
        for _case_letter, _case_seq in ((_letter, _seq), (_letter.upper(), _seq.upper())):
            _VNI_ENCODE[ord(_case_letter)] = _case_seq
            _VNI_DECODE[_case_seq] = _case_letter
        if len(_seq) == 2:  # accept a mark of the other case: the case of the base letter wins
            _VNI_DECODE[_seq[0] + _seq[1].upper()] = _letter
            _VNI_DECODE[_seq[0].upper() + _seq[1]] = _letter.upper()
for _case_letter, _case_seq in (("đ", _VNI_D), ("Đ", _VNI_D.upper())):
    _VNI_ENCODE[ord(_case_letter)] = _case_seq
    _VNI_DECODE[_case_seq] = _case_letter
_VNI_PATTERN = re.compile(
    "|".join(re.escape(seq) for seq in sorted(_VNI_DECODE, key=len, reverse=True))
)

_LEGACY_CHARS: dict[Legacy, str] = {
    "tcvn3": "".join(sorted(chr(b) for b in _TCVN3_DECODE)),
    "vni": "".join(sorted({ch for seq in _VNI_DECODE for ch in seq if ord(ch) > 0x7F})),
}
_ANY_LEGACY = re.compile(f"[{re.escape(''.join(_LEGACY_CHARS.values()))}]")
_TOKEN: dict[Legacy, re.Pattern[str]] = {
    enc: re.compile(rf"(?:[^\W\d_]|[{re.escape(chars)}])+") for enc, chars in _LEGACY_CHARS.items()
}
_HAS_LEGACY: dict[Legacy, re.Pattern[str]] = {
    enc: re.compile(f"[{re.escape(chars)}]") for enc, chars in _LEGACY_CHARS.items()
}
# TCVN3 characters no Western word holds: those that are no letter in Windows-1252, and the
# micro sign and ordinal indicators (µ = à, ª = ê, º = Ẳ), letters only to Unicode.
_TCVN3_NON_ALPHA = re.compile(
    f"[{re.escape(''.join(c for c in _LEGACY_CHARS['tcvn3'] if not c.isalpha() or c in 'µªº'))}]"
)
_MICRO_UNIT = re.compile(r"µ[A-Za-z]{1,2}")
# A capital right after a small letter, one of them beyond ASCII: no word is written so, but
# TCVN3 puts small letters in Windows-1252's capitals ("thÓ" = "thể", "MêI" = "MỜI").
_CAPITAL_AFTER_SMALL = re.compile("[ß-öø-ÿ][A-ZÀ-ÖØ-Þ]|[a-z][À-ÖØ-Þ]")
_ASCII_LETTER = re.compile(r"[A-Za-z]")
_QUOTES = "«»‹›¡¿"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_UNICODE_VIETNAMESE = re.compile(f"[{''.join(sorted(_BEYOND_LATIN1))}]")


def _vni_decode(text: str) -> str:
    return _VNI_PATTERN.sub(lambda m: _VNI_DECODE[m.group()], text)


def _plain_decode(token: str, encoding: Legacy) -> str:
    """Conversion without case recovery (enough to judge a word)."""
    return token.translate(_TCVN3_DECODE) if encoding == "tcvn3" else _vni_decode(token)


# --- Scoring --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Score:
    """What converting one line would do to its words."""

    changed: int = 0  # words that conversion changes
    gain: int = 0  # ...that become valid syllables and were not
    same: int = 0  # ...that are valid syllables before and after ("cã" = "có")
    loss: int = 0  # ...that were valid syllables and are no longer
    strong: int = 0  # gains no Western word could produce (else three gains are needed)
    marked: int = 0  # changed words no Western word could be, valid or not ("L§VP")
    unicode: bool = False  # the line holds Vietnamese letters beyond Latin-1: some is Unicode
    wordy: int = 0  # gains of three characters or more with an ASCII letter
    foreign: int = 0  # unchanged words with a non-ASCII letter that are no syllable ("KÝnh")
    words: int = 0  # all words, changed or not
    others: int = 0  # ...that read as no syllable once converted ("UBND", "the", "©")

    @property
    def decisive(self) -> bool:
        """This line alone shows the encoding."""
        if self.gain >= (2 if self.strong else 3):
            return (
                self.loss * 3 <= self.gain
                and (self.gain + self.same) * 2 >= self.changed + self.foreign
            )
        # A short line whose every word is a syllable once converted, a gain holding a sign:
        # "Tin y tÕ", or one real word alone ("b¸o" in an HTML element), not a stray symbol.
        # French "Le mouvement laïc" (VNI "lạc") has words that are none.
        if self.unicode or self.others or not self.strong:
            return False
        return self.words >= 3 or self.strong == self.gain == self.changed == self.wordy == 1

    @property
    def plausible(self) -> bool:
        """Convert this line when the document is in the encoding."""
        if not self.unicode:
            backed = max(self.gain + self.same, self.marked)
            return self.changed >= 1 and self.loss == 0 and backed * 2 >= self.changed
        return (
            self.gain >= 1
            and self.loss * 3 <= self.gain
            and (self.gain + self.same) * 2 >= self.changed
        )


def _is_marked(source: str, converted: str, encoding: Legacy) -> bool:
    if encoding == "tcvn3":  # a character no Western word holds (but "µm" is a micrometre)
        return (
            _TCVN3_NON_ALPHA.search(source) is not None and not _MICRO_UNIT.fullmatch(source)
        ) or _CAPITAL_AFTER_SMALL.search(source) is not None
    # A letter beyond Latin-1, or a mark merged into a longer word (French "où" -> "ó" is not).
    return len(converted) >= 2 and (
        len(converted) < len(source) or any(ch in _BEYOND_LATIN1 for ch in converted)
    )


# What converting one word does: (changed, gain, same, loss, marked, wordy, foreign, other),
# 0 or 1.
_Verdict = tuple[int, int, int, int, int, int, int, int]
_UNCHANGED: _Verdict = (0, 0, 0, 0, 0, 0, 0, 0)
_UNCHANGED_OTHER: _Verdict = (0, 0, 0, 0, 0, 0, 0, 1)
_FOREIGN: _Verdict = (0, 0, 0, 0, 0, 0, 1, 1)


@lru_cache(maxsize=65536)
def _judge(token: str, encoding: Legacy) -> _Verdict:
    if token.isascii():
        return _UNCHANGED if is_vietnamese_syllable(token) else _UNCHANGED_OTHER
    if _HAS_LEGACY[encoding].search(token) is None:
        return _UNCHANGED if is_vietnamese_syllable(token) else _FOREIGN
    if len(token) < 2 and _ASCII_LETTER.search(token) is None:
        return _UNCHANGED_OTHER  # "£", "©", "½": a symbol, not a word
    converted = _plain_decode(token, encoding)
    if converted == token:
        return _UNCHANGED if is_vietnamese_syllable(token) else _FOREIGN
    marked = int(_is_marked(token, converted, encoding))
    # "thÓ" is no word as written, though "thó" is: TCVN3 "thể"
    written = encoding == "vni" or _CAPITAL_AFTER_SMALL.search(token) is None
    before = written and is_vietnamese_syllable(token.strip(_QUOTES))
    after = is_vietnamese_syllable(converted)
    gain = after and not before
    wordy = gain and len(token) >= 3 and _ASCII_LETTER.search(token) is not None
    verdict = (1, int(gain), int(after and before), int(before and not after), marked, int(wordy))
    return (*verdict, 0, int(not after))


def _score(line: str, encoding: Legacy) -> _Score:
    changed = gain = same = loss = strong = marked = wordy = foreign = others = 0
    tokens = _TOKEN[encoding].findall(line)
    for token in tokens:
        verdict = _judge(token, encoding)
        foreign += verdict[6]
        others += verdict[7]
        if verdict[0]:
            changed += 1
            gain += verdict[1]
            same += verdict[2]
            loss += verdict[3]
            marked += verdict[4]
            strong += verdict[1] & verdict[4]
            wordy += verdict[5]
    return _Score(
        changed,
        gain,
        same,
        loss,
        strong,
        marked,
        unicode=_UNICODE_VIETNAMESE.search(line) is not None,
        wordy=wordy,
        foreign=foreign,
        words=len(tokens),
        others=others,
    )


def _line_scores(lines: list[str]) -> list[dict[Legacy, _Score]]:
    out: list[dict[Legacy, _Score]] = []
    for line in lines:
        if _ANY_LEGACY.search(line) is None or _CONTROL.search(line) is not None:
            out.append({})  # nothing to convert, or binary data rather than text
        else:
            out.append({enc: _score(line, enc) for enc in _ENCODINGS})
    return out


def _document_encoding(scores: list[dict[Legacy, _Score]]) -> Legacy | None:
    """The encoding with a decisive line that explains the text best (most words made or
    kept valid over all lines, then most made valid by a sign no Western word has: VNI
    "Thoâng" read as TCVN3 is "Thoõng", a syllable too, but only VNI merges a mark into its
    letter); None if there is none, or the other explains it better."""
    explained = {
        enc: (
            sum(s[enc].gain + s[enc].same for s in scores if enc in s),
            sum(s[enc].strong for s in scores if enc in s),
        )
        for enc in _ENCODINGS
    }
    candidates = [enc for enc in _ENCODINGS if any(enc in s and s[enc].decisive for s in scores)]
    if not candidates:
        return None
    best = max(candidates, key=explained.__getitem__)
    return best if all(explained[best] >= n for n in explained.values()) else None


# --- Case recovery for TCVN3 --------------------------------------------------------------------
_SURE_UPPER = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    + "".join(chr(b) for b, letter in _TCVN3_DECODE.items() if letter.isupper())
)
# List markers before the first word of a line: "- ", "1. ", "a) ", "đ) " (TCVN3 "®) ").
_LINE_START = re.compile(r"\s*(?:(?:[-–—•*+]|\(?(?:\d+|[a-z®]|[ivxlc]+)[.)])\s*)*")
_SENTENCE_END = re.compile(r"(?<!\.)[.!?][\"'”’»)\]]*\s+$")  # not an ellipsis "..."
_PARAGRAPH_END = re.compile(r"(?<!\.)[.!?:][\"'”’»)\]]*\s*$")


@dataclass(frozen=True)
class _Case:
    """The letters of a TCVN3 word whose case the bytes tell (ASCII, VN3 capitals)."""

    upper: int
    lower: int
    first_upper: int  # index of the first such capital, -1 if none
    ambiguous: bool  # holds a lower-case slot, which .VnTimeH draws as a capital

    @property
    def shouting(self) -> bool:
        """Plainly an all-capitals Vietnamese word ("CéNG", "§åNG")."""
        return self.ambiguous and self.upper >= 2 and self.lower == 0


_AMBIGUOUS_CHAR = re.compile(f"[{re.escape(''.join(sorted(_TCVN3_AMBIGUOUS)))}]")
_SURE_UPPER_CHAR = re.compile(f"[{re.escape(''.join(sorted(_SURE_UPPER)))}]")
_SURE_LOWER_CHAR = re.compile("[a-z]")
_NO_CASE = _Case(0, 0, -1, False)


@lru_cache(maxsize=65536)
def _case_of(word: str) -> _Case:
    if _AMBIGUOUS_CHAR.search(word) is None:
        return _NO_CASE  # nothing to decide
    first = _SURE_UPPER_CHAR.search(word)
    return _Case(
        upper=len(_SURE_UPPER_CHAR.findall(word)),
        lower=len(_SURE_LOWER_CHAR.findall(word)),
        first_upper=first.start() if first else -1,
        ambiguous=True,
    )


def _tcvn3_word(word: str, case: _Case, caps_context: bool, sentence_start: bool) -> str:
    converted = word.translate(_TCVN3_DECODE)
    if not case.ambiguous or (case.lower > 0 and not sentence_start):
        return converted
    if case.lower == 0 and (
        case.upper >= 2 or (case.upper == 1 and case.first_upper > 0) or caps_context
    ):
        return converted.upper()
    if sentence_start and word[0] in _TCVN3_AMBIGUOUS:
        return converted[0].upper() + converted[1:]
    return converted


def _is_caps_line(line: str, cases: list[_Case]) -> bool:
    """A line in capitals: a word plainly shouts, and hardly any letter is small."""
    if not any(case.shouting for case in cases):
        return False
    return len(_SURE_LOWER_CHAR.findall(line)) * 10 <= len(_SURE_UPPER_CHAR.findall(line))


def _tcvn3_line(line: str, paragraph_start: bool) -> str:
    """Convert one TCVN3 line, recovering the capitals .VnTimeH wrote in lower-case slots."""
    matches = list(_TOKEN["tcvn3"].finditer(line))
    cases = [_case_of(m.group()) for m in matches]
    caps_line = _is_caps_line(line, cases)
    start = _LINE_START.match(line)
    first_word = start.end() if start else 0
    out: list[str] = []
    last = 0
    for index, (match, case) in enumerate(zip(matches, cases, strict=True)):
        at = match.start()
        out.append(line[last:at])
        last = match.end()
        if not case.ambiguous:
            out.append(match.group().translate(_TCVN3_DECODE))
            continue
        sentence_start = (paragraph_start and at == first_word) or (
            _SENTENCE_END.search(line, max(0, at - 6), at) is not None
        )
        # "Tæ CHøC": a capital initial next to a shouting word shouts too ("TỔ CHỨC").
        caps_context = caps_line or (
            case.upper == 1
            and any(0 <= n < len(cases) and cases[n].shouting for n in (index - 1, index + 1))
        )
        out.append(_tcvn3_word(match.group(), case, caps_context, sentence_start))
    out.append(line[last:])
    return "".join(out)


def _ends_paragraph(line: str) -> bool:
    """The line after this one starts a paragraph: it is empty, ends a sentence or a list
    heading (":"), or is a heading in capitals."""
    stripped = line.strip()
    if not stripped or _PARAGRAPH_END.search(stripped) is not None:
        return True
    return _is_caps_line(stripped, [_case_of(word) for word in _TOKEN["tcvn3"].findall(stripped)])


# --- Public API -----------------------------------------------------------------------------------


def convert_legacy(
    text: str,
    encoding: Legacy,
    *,
    uppercase: bool = False,
    at_sentence_start: bool = False,
    recover_case: bool = False,
) -> str:
    """Convert `text` from a legacy font encoding to NFC Unicode, unconditionally.

    By default the letters are what the font draws: for a .docx run whose font is known.
    `uppercase`: the font is an upper-case TCVN3 one (.VnTimeH, `is_uppercase_font`), which
    draws every letter as a capital. `at_sentence_start`: the run begins a sentence, so a
    TCVN3 first letter in a lower-case slot is the capital a lower-case font could not show.
    `recover_case`: the font is unknown (plain text), so TCVN3 capitals are inferred from
    context as `normalize` does ("CéNG" -> "CỘNG").
    """
    if encoding == "vni":
        out = _vni_decode(text)
    elif encoding == "tcvn3" and recover_case:
        lines = text.splitlines(keepends=True)
        out = "".join(
            _tcvn3_line(line, _ends_paragraph(lines[i - 1]) if i else True)
            if _HAS_LEGACY["tcvn3"].search(line)
            else line
            for i, line in enumerate(lines)
        )
    elif encoding == "tcvn3":
        out = text.translate(_TCVN3_DECODE)  # one character for one: positions are kept
        start = _LINE_START.match(text)
        first = start.end() if start else 0
        if at_sentence_start and first < len(text) and text[first] in _TCVN3_AMBIGUOUS:
            out = out[:first] + out[first].upper() + out[first + 1 :]
    else:
        raise ValueError(f"unknown legacy encoding {encoding!r}")
    return _nfc(out.upper() if uppercase else out)


_COMBINING_TONE = re.compile("[\u0300-\u036f]")


def is_unicode_in_legacy_font(text: str, encoding: Legacy) -> bool | None:
    """Whether `text`, set in a font of `encoding`, is Unicode already: typed with a Unicode
    keyboard, or converted without its font being changed, as many offices' ".VnTime"
    documents are. True if it holds a Vietnamese letter no legacy font writes ("ộ", "Đ") or
    a combining mark, or converting it would break more words than it makes ("Thông báo"
    would become "Thụng bỏo" in TCVN3); False if converting makes more words than it breaks;
    None if the text cannot tell (VNI "Thông" = "Thơng", both words)."""
    if _COMBINING_TONE.search(text) is not None:
        return True
    score = _score(_nfc(text), encoding)
    if score.unicode or score.loss > score.gain:
        return True
    return False if score.gain > score.loss else None


def encode_legacy(text: str, encoding: Legacy) -> str:
    """Unicode -> legacy characters (as they arrive in Windows-1252 mail), for fixtures.

    TCVN3 writes a capital with a tone in the lower-case slot (what .VnTimeH users typed), so
    the round trip recovers such capitals only where `convert_legacy` can infer them.
    """
    table = {"tcvn3": _TCVN3_ENCODE, "vni": _VNI_ENCODE}.get(encoding)
    if table is None:
        raise ValueError(f"unknown legacy encoding {encoding!r}")
    return _nfc(text).translate(table)


def detect_legacy(text: str) -> Legacy | None:
    """The legacy encoding `text` (or some line of it) is written in, or None."""
    text = _nfc(text)
    if _ANY_LEGACY.search(text) is None:
        return None
    return _document_encoding(_line_scores(text.splitlines()))


def normalize(text: str, *, legacy: Legacy | None = None) -> str:
    """NFC Unicode without bidi controls, with the lines that are TCVN3 or VNI converted.
    Idempotent. Titles, names and plain-text bodies from mail pass here.

    `legacy`: what the whole document was found to be (`detect_legacy` of the full body),
    for a fragment of it (an HTML text node) too short to show its encoding by itself. It
    is trusted over the fragment: TCVN3 "Tæng hîp" ("Tổng hợp") alone reads as VNI "Tỉng hỵp".
    """
    text = strip_bidi(_nfc(text))
    if _ANY_LEGACY.search(text) is None:
        return text
    lines = text.splitlines(keepends=True)
    scores = _line_scores(lines)
    encoding = legacy or _document_encoding(scores)
    if encoding is None:
        return text
    return _convert_lines(lines, scores, encoding)


def detect_and_normalize(text: str) -> tuple[Legacy | None, str]:
    """`detect_legacy(text)` and `normalize(text)`, each line scored once (a big body)."""
    nfc = _nfc(text)
    if _ANY_LEGACY.search(nfc) is None or strip_bidi(nfc) != nfc:
        return detect_legacy(text), normalize(text)
    lines = nfc.splitlines(keepends=True)
    bare = _line_scores(nfc.splitlines())
    # A line scores as without its break, unless the break is a control character ("\f"):
    # `_line_scores` takes the line for binary data then.
    scores = [{} if _CONTROL.match(line[-1]) else s for line, s in zip(lines, bare, strict=True)]
    encoding = _document_encoding(scores)
    converted = nfc if encoding is None else _convert_lines(lines, scores, encoding)
    return _document_encoding(bare), converted


def _convert_lines(lines: list[str], scores: list[dict[Legacy, _Score]], encoding: Legacy) -> str:
    out: list[str] = []
    for index, (line, score) in enumerate(zip(lines, scores, strict=True)):
        if encoding not in score or not score[encoding].plausible:
            out.append(line)
        elif encoding == "vni":
            out.append(_vni_decode(line))
        else:
            out.append(_tcvn3_line(line, _ends_paragraph(lines[index - 1]) if index else True))
    return _nfc("".join(out))


_TCVN3_FONT = re.compile(r"\.vn[a-z]|vn(?:time|arial)", re.IGNORECASE)  # dot may be lost
_VNI_FONT = re.compile(r"vni[-_ ][a-z]", re.IGNORECASE)
_FONT_STYLES = frozenset({"bold", "italic", "regular", "oblique", "normal"})
_FONT_NAME_GAP = re.compile(r"([ ,-]+)")


def font_encoding(font_name: str | None) -> Legacy | None:
    """The legacy encoding a font stands for: ".VnTime", ".VnTimeH", ".VnArial"... (TCVN3
    "ABC" fonts all start with ".Vn") -> "tcvn3"; "VNI-Times", "VNI-Helve"... -> "vni";
    any other font, or None -> None."""
    name = (font_name or "").strip().strip("\"'")
    if _TCVN3_FONT.match(name):
        return "tcvn3"
    if _VNI_FONT.match(name):
        return "vni"
    return None


def is_uppercase_font(font_name: str | None) -> bool:
    """Whether a TCVN3 font is an upper-case one (".VnTimeH", ".VnArial NarrowH"...)."""
    if font_encoding(font_name) != "tcvn3":
        return False
    return _without_styles((font_name or "").strip().strip("\"'")).endswith("H")


def _without_styles(font_name: str) -> str:
    """The font's name without the styles that end it (".VnTimeH Bold" -> ".VnTimeH"). Word
    by word from the end: a pattern anchored at the end tried each separator of a long run
    of them (a Word file can name any font: 10,000 characters took 12 s a run)."""
    parts = _FONT_NAME_GAP.split(font_name)  # words and the gaps between, alternately
    while len(parts) >= 3 and parts[-1].lower() in _FONT_STYLES:
        del parts[-2:]
    return "".join(parts)
