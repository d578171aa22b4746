"""Vietnamese text normalisation: every text becomes precomposed Unicode (NFC, TCVN 6909:2001).

Agencies still send text typed in the pre-Unicode 8-bit font encodings. In e-mail and Word
those bytes arrive as Windows-1252/Latin-1 characters:

* **TCVN3** (TCVN 5712:1993 table VN3, "ABC"; fonts ``.VnTime``, ``.VnArial``...): one byte
  per letter, e.g. "Th«ng b¸o" = "Thông báo". The lower-case fonts have only the seven
  capitals Ă Â Ê Ô Ơ Ư Đ; a capital with a tone mark is typed in the upper-case font
  (``.VnTimeH``), which draws capitals *in the lower-case slots*. In plain text the font is
  lost, so "CéNG" (.VnTimeH) and "céng" (.VnTime) carry the same byte for "ộ". The decoder
  recovers case from context: a word whose other letters are capitals is upper-case, a word
  alone with a one-letter capital initial ("X·") is upper-case only on an all-capitals line,
  and a word starting a sentence or paragraph gets a capital initial. A capital inside a
  mixed-case sentence ("của Ủy ban") cannot be recovered and comes out lower-case ("ủy").
  Callers that know the font (a .docx run) pass ``uppercase=True`` for the H fonts
  (`is_uppercase_font`). The VN1/VN2 capitals that sit in 0xA0-0xFF (Ắ Ầ Ế Ố...) are
  accepted when decoding; encoding writes pure VN3 (capitals with tones in the lower-case
  slots, as a .VnTimeH user would have typed them).
* **VNI** (fonts ``VNI-Times``...): a base letter followed by a separate mark character,
  e.g. "Thoâng baùo" = "Thông báo"; upper-case letters take upper-case marks ("AÙ" = "Á").
  Lossless in both directions.
* **Windows-1258** (`decode_bytes`): stdlib ``cp1258`` plus NFC, since it writes most tone
  marks as combining characters. NFD input is composed by `normalize`.

Detection (`detect_legacy`, `normalize`) is scored, never triggered by one character: for
each line it counts the words that become valid Vietnamese syllables after conversion and
were not before ("gains"), the words that were valid and stop being so ("losses"), and how
many words conversion changes at all. A line is converted only if most changed words gain,
and a document is legacy only if one line is decisive (see `_decisive`). Detection and
conversion work per line, so a Unicode signature under a TCVN3 body is left alone; a line
that mixes Unicode and legacy words is converted as a whole if its legacy words dominate.
"""

from __future__ import annotations

import codecs
import contextlib
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

__all__ = [
    "Legacy",
    "VIETNAMESE_LETTERS",
    "convert_legacy",
    "decode_bytes",
    "detect_legacy",
    "encode_legacy",
    "font_encoding",
    "is_uppercase_font",
    "is_vietnamese_syllable",
    "normalize",
]

Legacy = Literal["tcvn3", "vni"]
_ENCODINGS: tuple[Legacy, ...] = ("tcvn3", "vni")


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


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

# Toned letter -> (letter without tone, tone number 1..5 in the order above).
_TONE_OF: dict[str, int] = {}
_UNTONE: dict[int, str] = {}
for _base in _BASE_VOWELS:
    for _number, _mark in enumerate((_GRAVE, _HOOK, _TILDE, _ACUTE, _DOT), start=1):
        _TONE_OF[_toned(_base, _mark)] = _number
        _UNTONE[ord(_toned(_base, _mark))] = _base
_TONE_ACUTE, _TONE_DOT = 4, 5


# --- Syllable structure -----------------------------------------------------------------------
# Onset, then a vowel nucleus (with its glides), then a final consonant. Nuclei are split by
# whether they need, allow or forbid a final consonant. Spelling rules on the onset: k, gh, ngh
# only before i e ê y; c, ng, g(h-less) not before them (g + i is the onset "gi").


def _listed(words: str) -> list[str]:
    return words.split()


_ONSET = (
    r"(?:ngh(?=[ieêy])|ng(?![ieêy])|nh|ch|gh(?=[ieêy])|gi|kh|ph|qu|th|tr"
    r"|k(?=[ieêy])|c(?![ieêy])|g(?![eê])|[bdđhlmnprstvx])"
)
_OPEN_ONLY = _listed(
    "iêu yêu oai oao oay oeo uây uôi ươi ươu uya uyu "
    "ai ao au ay âu ây eo êu ia iu oi ôi ơi ua ui ưa ưi ưu uơ"
)
_NEEDS_FINAL = _listed("uyê iê yê uô ươ oă uâ oo ă â")
_ANY_FINAL = _listed("oa oe uê uy a e ê i o ô ơ u ư y")
_SYLLABLE = re.compile(
    rf"{_ONSET}?(?:(?:{'|'.join(_OPEN_ONLY)})"
    rf"|(?:{'|'.join(_NEEDS_FINAL)})(?:ch|ng|nh|[cmnpt])"
    rf"|(?:{'|'.join(_ANY_FINAL)})(?:ch|ng|nh|[cmnpt])?)"
)
_STOP_FINAL = re.compile(r"(?:c|ch|p|t)$")


@lru_cache(maxsize=65536)
def is_vietnamese_syllable(word: str) -> bool:
    """Whether `word` (letters only, any case, NFC) is a well-formed Vietnamese syllable."""
    lower = word.lower()
    tones = [_TONE_OF[ch] for ch in lower if ch in _TONE_OF]
    if len(tones) > 1:
        return False
    bare = lower.translate(_UNTONE)
    if _SYLLABLE.fullmatch(bare) is None:
        return False
    # A syllable closed by a stop (c ch p t) takes only the sắc or nặng tone.
    return not (
        _STOP_FINAL.search(bare) and (not tones or tones[0] not in (_TONE_ACUTE, _TONE_DOT))
    )


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
for _byte, _letter in _TCVN3_VN1_CAPITALS.items():
    _TCVN3_DECODE[_byte] = _letter
_TCVN3_TABLE = {b: letter for b, letter in _TCVN3_DECODE.items()}  # str.translate table

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
    "tcvn3": "".join(sorted(chr(b) for b in _TCVN3_TABLE)),
    "vni": "".join(sorted({ch for seq in _VNI_DECODE for ch in seq if ord(ch) > 0x7F})),
}
_ANY_LEGACY = re.compile(f"[{re.escape(''.join(_LEGACY_CHARS.values()))}]")
_TOKEN: dict[Legacy, re.Pattern[str]] = {
    enc: re.compile(rf"(?:[^\W\d_]|[{re.escape(chars)}])+") for enc, chars in _LEGACY_CHARS.items()
}
_HAS_LEGACY: dict[Legacy, re.Pattern[str]] = {
    enc: re.compile(f"[{re.escape(chars)}]") for enc, chars in _LEGACY_CHARS.items()
}
# TCVN3 characters that are not letters at all: a word holding one is no Western word.
_TCVN3_NON_ALPHA = re.compile(
    f"[{re.escape(''.join(ch for ch in _LEGACY_CHARS['tcvn3'] if not ch.isalpha()))}]"
)
_ASCII_LETTER = re.compile(r"[A-Za-z]")
_QUOTES = "«»‹›¡¿"
_UNICODE_VIETNAMESE = re.compile(f"[{''.join(sorted(_BEYOND_LATIN1))}]")


def _vni_decode(text: str) -> str:
    return _VNI_PATTERN.sub(lambda m: _VNI_DECODE[m.group()], text)


def _plain_decode(token: str, encoding: Legacy) -> str:
    """Conversion without case recovery (enough to judge a word)."""
    return token.translate(_TCVN3_TABLE) if encoding == "tcvn3" else _vni_decode(token)


# --- Scoring --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Score:
    """What converting one line would do to its words."""

    changed: int = 0  # words that conversion changes
    gain: int = 0  # ...that become valid syllables and were not
    same: int = 0  # ...that are valid syllables before and after ("cã" = "có")
    loss: int = 0  # ...that were valid syllables and are no longer
    strong: int = 0  # gains no Western word could produce
    marked: int = 0  # changed words no Western word could be, valid or not ("L§VP")
    unicode: bool = False  # the line holds Vietnamese letters beyond Latin-1: some is Unicode

    @property
    def decisive(self) -> bool:
        """This line alone shows the encoding."""
        if self.strong == 0:
            return False
        if self.gain >= 2:
            return self.loss * 3 <= self.gain and (self.gain + self.same) * 2 >= self.changed
        return self.gain == self.changed == 1 and not self.unicode

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
    if encoding == "tcvn3":  # a character that is no letter in Windows-1252
        return _TCVN3_NON_ALPHA.search(source) is not None
    # A letter beyond Latin-1, or a mark merged into a longer word (French "où" -> "ó" is not).
    return len(converted) >= 2 and (
        len(converted) < len(source) or any(ch in _BEYOND_LATIN1 for ch in converted)
    )


# What converting one word does: (changed, gain, same, loss, marked), each 0 or 1.
_Verdict = tuple[int, int, int, int, int]
_UNCHANGED: _Verdict = (0, 0, 0, 0, 0)


@lru_cache(maxsize=65536)
def _judge(token: str, encoding: Legacy) -> _Verdict:
    if _HAS_LEGACY[encoding].search(token) is None:
        return _UNCHANGED
    if len(token) < 2 and _ASCII_LETTER.search(token) is None:
        return _UNCHANGED  # "£", "©", "½": a symbol, not a word
    converted = _plain_decode(token, encoding)
    if converted == token:
        return _UNCHANGED
    marked = int(_is_marked(token, converted, encoding))
    before = is_vietnamese_syllable(token.strip(_QUOTES))
    after = is_vietnamese_syllable(converted)
    return (1, int(after and not before), int(after and before), int(before and not after), marked)


def _score(line: str, encoding: Legacy) -> _Score:
    changed = gain = same = loss = strong = marked = 0
    for token in _TOKEN[encoding].findall(line):
        verdict = _judge(token, encoding)
        if verdict[0]:
            changed += 1
            gain += verdict[1]
            same += verdict[2]
            loss += verdict[3]
            marked += verdict[4]
            strong += verdict[1] & verdict[4]
    unicode = _UNICODE_VIETNAMESE.search(line) is not None
    return _Score(changed, gain, same, loss, strong, marked, unicode)


def _line_scores(lines: list[str]) -> list[dict[Legacy, _Score]]:
    out: list[dict[Legacy, _Score]] = []
    for line in lines:
        if _ANY_LEGACY.search(line) is None:
            out.append({})
        else:
            out.append({enc: _score(line, enc) for enc in _ENCODINGS})
    return out


def _document_encoding(scores: list[dict[Legacy, _Score]]) -> Legacy | None:
    best: Legacy | None = None
    best_gain = 0
    for enc in _ENCODINGS:
        decisive = [s[enc] for s in scores if enc in s and s[enc].decisive]
        total = sum(s.gain for s in decisive)
        if decisive and total > best_gain:
            best, best_gain = enc, total
    return best


# --- Case recovery for TCVN3 --------------------------------------------------------------------
_SURE_UPPER = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    + "".join(chr(b) for b, letter in _TCVN3_TABLE.items() if letter.isupper())
)
_SURE_LOWER = frozenset("abcdefghijklmnopqrstuvwxyz")
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


@lru_cache(maxsize=65536)
def _case_of(word: str) -> _Case:
    upper = lower = 0
    first_upper = -1
    ambiguous = False
    for index, ch in enumerate(word):
        if ch in _TCVN3_AMBIGUOUS:
            ambiguous = True
        elif ch in _SURE_UPPER:
            upper += 1
            first_upper = index if first_upper < 0 else first_upper
        elif ch in _SURE_LOWER:
            lower += 1
    return _Case(upper, lower, first_upper, ambiguous)


def _tcvn3_word(word: str, case: _Case, caps_context: bool, sentence_start: bool) -> str:
    converted = word.translate(_TCVN3_TABLE)
    if not case.ambiguous or case.lower > 0 and not sentence_start:
        return converted
    if case.lower == 0 and (
        case.upper >= 2 or (case.upper == 1 and case.first_upper > 0) or caps_context
    ):
        return converted.upper()
    if sentence_start and word[0] in _TCVN3_AMBIGUOUS:
        return converted[0].upper() + converted[1:]
    return converted


def _tcvn3_line(line: str, paragraph_start: bool) -> str:
    """Convert one TCVN3 line, recovering the capitals .VnTimeH wrote in lower-case slots."""
    matches = list(_TOKEN["tcvn3"].finditer(line))
    cases = [_case_of(m.group()) for m in matches]
    upper = sum(c.upper for c in cases)
    lower = sum(c.lower for c in cases)
    caps_line = any(c.shouting for c in cases) and lower * 10 <= upper
    start = _LINE_START.match(line)
    first_word = start.end() if start else 0
    out: list[str] = []
    last = 0
    for index, (match, case) in enumerate(zip(matches, cases, strict=True)):
        at = match.start()
        sentence_start = (paragraph_start and at == first_word) or (
            _SENTENCE_END.search(line, max(0, at - 6), at) is not None
        )
        # "Tæ CHøC": a capital initial next to a shouting word shouts too ("TỔ CHỨC").
        caps_context = caps_line or (
            case.upper == 1
            and any(0 <= n < len(cases) and cases[n].shouting for n in (index - 1, index + 1))
        )
        out.append(line[last:at])
        out.append(_tcvn3_word(match.group(), case, caps_context, sentence_start))
        last = match.end()
    out.append(line[last:])
    return "".join(out)


def _is_caps_line(line: str) -> bool:
    cases = [_case_of(word) for word in _TOKEN["tcvn3"].findall(line)]
    upper = sum(c.upper for c in cases)
    lower = sum(c.lower for c in cases)
    return any(c.shouting for c in cases) and lower * 10 <= upper


def _ends_paragraph(line: str) -> bool:
    stripped = line.strip()
    return not stripped or _PARAGRAPH_END.search(stripped) is not None or _is_caps_line(stripped)


# --- Public API -----------------------------------------------------------------------------------


def convert_legacy(
    text: str, encoding: Legacy, *, uppercase: bool = False, at_sentence_start: bool = True
) -> str:
    """Convert `text` from a legacy font encoding to NFC Unicode, unconditionally.

    `uppercase`: the text was typed in an upper-case TCVN3 font (.VnTimeH), so every letter
    is a capital. `at_sentence_start`: the text begins a sentence (False for a .docx run that
    continues one), which lets a TCVN3 word at its start take a capital initial.
    """
    if encoding == "vni":
        out = _vni_decode(text)
    elif encoding == "tcvn3":
        parts: list[str] = []
        paragraph_start = at_sentence_start
        for line in text.splitlines(keepends=True):
            parts.append(
                _tcvn3_line(line, paragraph_start) if _HAS_LEGACY["tcvn3"].search(line) else line
            )
            paragraph_start = _ends_paragraph(line)
        out = "".join(parts)
    else:
        raise ValueError(f"unknown legacy encoding {encoding!r}")
    return _nfc(out.upper() if uppercase else out)


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


def normalize(text: str) -> str:
    """NFC Unicode, with the lines that are TCVN3 or VNI converted. Idempotent."""
    text = _nfc(text)
    if _ANY_LEGACY.search(text) is None:
        return text
    lines = text.splitlines(keepends=True)
    scores = _line_scores(lines)
    encoding = _document_encoding(scores)
    if encoding is None:
        return text
    out: list[str] = []
    paragraph_start = True
    for line, score in zip(lines, scores, strict=True):
        if encoding in score and score[encoding].plausible:
            if encoding == "vni":
                out.append(_vni_decode(line))
            else:
                out.append(_tcvn3_line(line, paragraph_start))
        else:
            out.append(line)
        paragraph_start = _ends_paragraph(line)
    return _nfc("".join(out))


_TCVN3_FONT = re.compile(r"\.?vn(?!i\b|i[-_ ])[a-z]", re.IGNORECASE)
_VNI_FONT = re.compile(r"vni[-_ ]?[a-z]", re.IGNORECASE)
_FONT_STYLE = re.compile(r"(?:[ ,-]+(?:bold|italic|regular|oblique|normal))+$", re.IGNORECASE)


def font_encoding(font_name: str | None) -> Legacy | None:
    """The legacy encoding of a font: ".VnTime", ".VnTimeH", ".VnArial"... -> "tcvn3";
    "VNI-Times", "VNI-Helve"... -> "vni"; any other font (or None) -> None."""
    if not font_name:
        return None
    name = font_name.strip().strip("\"'")
    if name.startswith(".") and _TCVN3_FONT.match(name):
        return "tcvn3"
    if _VNI_FONT.match(name):
        return "vni"
    if _TCVN3_FONT.match(name) and name[:2].lower() == "vn" and name[2:6].lower() in (
        "time", "aria", "avan", "helv", "cour", "book", "cent", "univ", "pres", "comm",
    ):  # fmt: skip
        return "tcvn3"  # ".VnTime" with its dot lost
    return None


def is_uppercase_font(font_name: str | None) -> bool:
    """Whether a TCVN3 font is an upper-case one (".VnTimeH", ".VnArialH"...)."""
    if font_encoding(font_name) != "tcvn3":
        return False
    assert font_name is not None
    name = _FONT_STYLE.sub("", font_name.strip().strip("\"'"))
    return name.endswith("H")


# --- Charsets -------------------------------------------------------------------------------------


def _single_byte_table(codec: str) -> dict[int, str]:
    """Latin-1 code point -> the codec's character (bytes it leaves undefined stay Latin-1)."""
    table: dict[int, str] = {}
    for byte in range(0x80, 0x100):
        with contextlib.suppress(UnicodeDecodeError):
            table[byte] = bytes([byte]).decode(codec)
    return table


_CP1252 = _single_byte_table("cp1252")
_CP1258 = _single_byte_table("cp1258")
_SINGLE_BYTE = frozenset({"ascii", "latin-1", "iso8859-1", "cp1252", "cp1258", "iso8859-15"})
_NOT_TEXT = frozenset(
    {"unicode-escape", "raw-unicode-escape", "idna", "punycode", "undefined", "mbcs", "oem"}
)
_WORD = re.compile(r"[^\W\d_]+")
_COMBINING = re.compile(r"[\u0300-\u036f]")


def _codec_name(declared: str | None) -> str | None:
    if not declared:
        return None
    label = declared.strip().strip("\"'").strip().lower()
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


def _vietnamese_words(text: str) -> int:
    return sum(
        1
        for word in _WORD.findall(text)
        if any(ch in VIETNAMESE_LETTERS for ch in word) and is_vietnamese_syllable(word)
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
    bad = text.count("\ufffd") - data.decode("latin-1").count("\ufffd")
    good = sum(1 for ch in text if ord(ch) > 0x7F and ch != "\ufffd")
    return text if good >= bad and good > 0 else None


def _eight_bit(data: bytes) -> str:
    """Undeclared 8-bit bytes: Windows-1258 if that yields Vietnamese, else Windows-1252.

    Legacy-font text (TCVN3, VNI) is kept in its Windows-1252 form for `normalize`."""
    latin = data.decode("latin-1")
    western = latin.translate(_CP1252)
    if detect_legacy(western) is not None:
        return western
    vietnamese = _nfc(latin.translate(_CP1258))
    score_1258 = _vietnamese_words(vietnamese) - len(_COMBINING.findall(vietnamese))
    if score_1258 > 0 and score_1258 > _vietnamese_words(western):
        return vietnamese
    return western


def _sniff(data: bytes) -> str:
    if data.isascii():
        return data.decode("ascii")
    return _utf8(data) or _eight_bit(data)


def _decode(data: bytes, declared: str | None) -> str:
    if data.startswith(codecs.BOM_UTF8):
        return data[3:].decode("utf-8", errors="replace")
    name = _codec_name(declared)
    if name is None:
        return _sniff(data)
    if name == "utf-8":
        return _utf8(data) or _mostly_utf8(data) or _eight_bit(data)
    if name in _SINGLE_BYTE:
        # A label on 8-bit mail is often wrong: UTF-8 bytes, Windows-1258 under a Latin-1
        # label, TCVN3 under a Windows-1258 label. Only a label that fits is honoured.
        if data.isascii():
            return data.decode("ascii")
        text = _utf8(data)
        if text is not None:
            return text
        if name == "cp1258":
            latin = data.decode("latin-1")
            western = latin.translate(_CP1252)
            if detect_legacy(western) is not None:
                return western
            return latin.translate(_CP1258)
        return _eight_bit(data)
    try:
        return data.decode(name)
    except (UnicodeDecodeError, LookupError, ValueError, TypeError):
        return _sniff(data)


def decode_bytes(data: bytes, declared: str | None) -> str:
    """Text of a mail part: the declared charset where it fits the bytes, else detected.

    Never raises; the result is NFC. Legacy-font text stays as Windows-1252 characters:
    `normalize` converts it.
    """
    try:
        text = _decode(bytes(data), declared)
    except Exception:  # noqa: BLE001 - a mail part must never stop the pipeline
        text = bytes(data).decode("latin-1")
    return _nfc(text)
