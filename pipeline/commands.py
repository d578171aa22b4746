"""Reading a board member's command from a reply to a notification mail.

Reviewers answer from phones and desktop clients, in Vietnamese or English, with or without
diacritics. :func:`fresh_text` drops what the reply quotes and signatures: ``>`` lines (an
HTML ``<blockquote>`` is one) with the "On …, X wrote:" header over them, the reviewer's text
being above or below them (Thunderbird and Roundcube put it below by default); and a reply
header (Gmail, Outlook, Apple Mail, Thunderbird, Zimbra, in both languages) over a quote not
marked with ``>`` (Outlook), with everything after it. :func:`read_command` joins the lines a
client broke at its line length, then looks for a command word at the start of one of the
first three non-empty lines::

    DUYỆT / APPROVE                         -> approve
    TỪ CHỐI: <lý do> / REJECT: <reason>     -> reject (reason required)
    SỬA: <nội dung> / CHANGES: <what>       -> back to the sender (text required)
    CHUYỂN <thành viên> / FORWARD <member>  -> forward (raw target; the caller resolves it)

Matching ignores case and *missing* diacritics ("Duyet", "tu choi"), but a word typed with
other diacritics is another word: "Chuyện" (a story) is not "Chuyển", "sữa" is not "sửa".
Pure module: no I/O, no database.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from bs4 import BeautifulSoup, NavigableString, Tag
from bs4.element import CData, PageElement

from pipeline.forwards import SEPARATOR
from pipeline.sanitize import html_to_text, parse_html, relink
from pipeline.textfold import fold


class Verb(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    CHANGES = "changes"
    FORWARD = "forward"
    WITHDRAW = "withdraw"  # a published item, off the portal


@dataclass(frozen=True)
class Command:
    verb: Verb
    text: str | None  # reason (reject), what to fix (changes), target (forward); None: approve


# What a reviewer writes with a command (a reason, what to fix), by mail or on the page:
# the record keeps it, and the sender is sent it.
MAX_REASON_CHARS: Final = 5000


@dataclass(frozen=True)
class Unreadable:
    reason: str  # Vietnamese: what was understood and what is expected


@dataclass(frozen=True)
class _Rule:
    verb: Verb
    patterns: tuple[str, ...]  # word sequences, written with their diacritics
    needs_text: bool
    label: str = ""  # what the text is, for the "missing text" answer
    syntax: str = ""  # how to write it


# The command table. Longer patterns win over shorter ones ("chuyển tiếp cho" before "chuyển"),
# and "không duyệt" cannot be read as "duyệt" because a command word must start the line.
RULES: tuple[_Rule, ...] = (
    _Rule(
        Verb.APPROVE,
        ("duyệt", "đã duyệt", "đồng ý", "nhất trí", "thống nhất", "approve", "approved"),
        False,
    ),
    _Rule(
        Verb.REJECT,
        ("từ chối", "không duyệt", "không đồng ý", "không nhất trí", "không thống nhất")
        + ("reject", "rejected"),
        True,
        "lý do",
        "{word}: <lý do>",
    ),
    _Rule(
        Verb.CHANGES,
        ("sửa", "sửa lại", "cần sửa", "yêu cầu sửa", "changes", "request changes"),
        True,
        "nội dung cần sửa",
        "{word}: <nội dung cần sửa>",
    ),
    _Rule(
        Verb.FORWARD,
        ("chuyển", "chuyển cho", "chuyển tiếp", "chuyển tiếp cho", "chuyển đến", "chuyển sang")
        + ("forward", "forward to"),
        True,
        "người nhận",
        "{word} <mã, tên hoặc e-mail thành viên>",
    ),
    _Rule(
        Verb.WITHDRAW,
        ("gỡ bài", "gỡ", "thu hồi", "withdraw"),
        True,
        "lý do",
        "{word}: <lý do>",
    ),
)

# Words that may precede a command ("OK duyệt", "Dạ, duyệt ạ"); alone they are no command.
FILLERS: tuple[str, ...] = ("ok", "okay", "oke", "dạ", "vâng", "ừ")
# Polite particles dropped from the end of a forward target ("CHUYỂN anh Nam ạ"); exact
# spelling only, so that "Nguyễn Văn A" keeps its "A".
TRAILING_PARTICLES: tuple[str, ...] = ("ạ", "nhé", "nhe", "please", "pls", "giúp", "giùm")
# What may follow an approval on its line ("Duyệt ạ, cảm ơn anh", "Đồng ý cho đăng nhé"),
# besides the reviewer's own name ("Duyệt - Lê Minh Châu"). Any other word may turn it
# around ("Duyệt không được…", "Đồng ý không đăng"): such a line is no approval, and the
# reviewer is asked again.
APPROVAL_TAIL: tuple[str, ...] = (
    *TRAILING_PARTICLES,
    *("nha", "nhá", "đi", "luôn", "rồi", "cho", "đăng", "bài", "tin", "này", "nội", "dung"),
    *("em", "anh", "chị", "bạn", "cảm", "cám", "ơn", "xin", "nhiều", "trân", "trọng"),
    *("thanks", "thank", "you", "ok", "okay"),
)
# Words that, starting a line below an approval, make it conditional ("Duyệt" then
# "nhưng sửa lại tiêu đề"): the article would go out unchanged, so the reviewer is asked
# again. A signature, a thanks or a greeting below an approval leaves it one.
APPROVAL_BUT: tuple[str, ...] = (
    *("nhưng", "tuy", "song", "trừ", "ngoại", "nếu", "sau", "khi", "miễn", "với"),
    *("cần", "phải", "đề", "yêu", "lưu", "sửa", "bỏ", "thêm", "chỉnh", "thay", "xem"),
    *("chưa", "không", "ko", "đừng", "chớ", "trước", "nhớ"),
    *("but", "except", "unless", "if", "after", "once", "provided", "please", "not"),
)
# Lines that end a multi-line reason.
CLOSINGS: tuple[str, ...] = (
    "trân trọng",
    "trân trọng cảm ơn",
    "cảm ơn",
    "xin cảm ơn",
    "thân ái",
    "thanks",
    "thank you",
    "regards",
    "best regards",
    "kind regards",
)

VERB_NAMES: dict[Verb, str] = {
    Verb.APPROVE: "DUYỆT",
    Verb.REJECT: "TỪ CHỐI",
    Verb.CHANGES: "SỬA",
    Verb.FORWARD: "CHUYỂN",
    Verb.WITHDRAW: "GỠ BÀI",
}

HELP_VI = (
    "Vui lòng trả lời bằng một trong các lệnh sau, viết ở đầu thư "
    "(có dấu hay không dấu, chữ hoa hay thường đều được):\n"
    "- DUYỆT: duyệt đăng bài\n"
    "- TỪ CHỐI: <lý do>: từ chối, lý do được gửi cho người gửi bài\n"
    "- SỬA: <nội dung cần sửa>: trả lại người gửi để sửa\n"
    "- CHUYỂN <mã, tên hoặc e-mail thành viên>: chuyển cho thành viên khác xem xét\n"
    "- GỠ BÀI: <lý do>: gỡ tin bài đã đăng khỏi cổng (trả lời thư báo đã đăng)\n"
    "Tiếng Anh: APPROVE, REJECT: <reason>, CHANGES: <what to fix>, FORWARD <member>, "
    "WITHDRAW: <reason>."
)

_MAX_COMMAND_LINES = 3
MAX_TARGET_CHARS = 500  # of the text after CHUYỂN read as whom to forward to
_EXAMPLES = "ví dụ: DUYỆT, TỪ CHỐI: <lý do>, SỬA: <nội dung cần sửa>, CHUYỂN <thành viên>"

# --- Quotes and signatures ----------------------------------------------------------------------

# Matched against the folded (lower-case, accent-less), stripped line.
_ATTRIBUTION_START = re.compile(r"^(on|vao|le|am)\b")
_ATTRIBUTION_END = re.compile(r"\b(wrote|da viet|viet|a ecrit|schrieb)\s*:$")
# "… <x@y> wrote:": an address in brackets, then the verb that ends the line. Read as two
# steps, each once over the line: as one expression, a line of many "<a@b>" took minutes.
_WROTE_AT_END = re.compile(r"\b(?:wrote|viet)\s*:$")  # "đã viết" ends in "viết" too
_BRACKETED = re.compile(r"<([^<>\s]+)>")
_HEADER_FROM = re.compile(r"^\**(from|tu)\s*:\**\s*\S")
_HEADER_SENT = re.compile(r"^\**(sent|date|gui|da gui|ngay gui|ngay)\s*:")
_HEADER_ONE_LINE = re.compile(r"^\**(from|tu)\s*:.+\b(sent|date|gui|da gui)\s*:")
_MOBILE_SIGNATURE = re.compile(
    r"^(sent from (my|mail|outlook|yahoo)\b|sent with\b|get outlook for\b"
    r"|(duoc |da )?gui tu (dien thoai|iphone|ipad|android|thiet bi|samsung|outlook|yahoo|mail)\b"
    r"|tai (ung dung )?outlook (cho|for)\b)"
)
_INVISIBLE = str.maketrans({"\u200b": None, "\u200c": None, "\u200d": None, "\ufeff": None})

# HTML containers that hold the quoted message; everything from them on is dropped.
_HTML_CUT_SELECTORS = (
    "div.gmail_quote",
    "div.gmail_quote_container",
    "#divRplyFwdMsg",
    "#appendonsend",
    "#mail-editor-reference-message-container",
    "div.yahoo_quoted",
)
_HTML_DROP_SELECTORS = ("div.gmail_signature", "div.moz-signature", "#Signature")
# A mail editor writes each line typed as one of these (Gmail, Outlook, phones: <div>; Word,
# Roundcube: <p>), an empty one for a blank line; they are lines, not paragraphs.
_TYPED_LINES = frozenset({"div", "p"})


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFC", text).translate(_INVISIBLE).replace("\xa0", " ")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _attribution(lines: list[str], i: int) -> int:
    """How many lines (folded, stripped) the "On …, X wrote:" header at line *i* spans; 0: none."""
    line = lines[i]
    wrote = _WROTE_AT_END.search(line)
    if wrote is not None and any(
        "@" in m.group(1)[1:-1] for m in _BRACKETED.finditer(line, 0, wrote.start())
    ):
        return 1
    if not _ATTRIBUTION_START.match(line):
        return 0
    joined = line
    for extra in range(3):  # clients wrap long "On ..., X <x@y> wrote:" lines
        if _ATTRIBUTION_END.search(joined):
            return extra + 1 if len(joined) < 400 else 0
        if i + extra + 1 >= len(lines) or not lines[i + extra + 1]:
            break
        joined += " " + lines[i + extra + 1]
    return 0


def _starts_quote(lines: list[str], i: int) -> bool:
    """Whether line *i* (folded, stripped) starts what is not the reviewer's own: a separator,
    a phone's signature, or a header block over a quote not marked with ">" (Outlook)."""
    line = lines[i]
    if SEPARATOR.match(line) or (_MOBILE_SIGNATURE.match(line) and len(line) < 80):
        return True
    if _HEADER_ONE_LINE.match(line):
        return True
    if _HEADER_FROM.match(line):
        return any(_HEADER_SENT.match(following) for following in lines[i + 1 : i + 5])
    return False


def _marked_quote_at(raw: list[str], i: int) -> bool:
    """Whether the first non-blank line from *i* on is quoted with ">"."""
    following = next((line for line in itertools.islice(raw, i, None) if line.strip()), "")
    return following.lstrip().startswith(">")


def _strip_text(text: str) -> str:
    raw = _normalise(text).split("\n")
    folded = [fold(line.strip()) for line in raw]
    kept: list[str] = []
    quoted_until = 0
    for i, line in enumerate(raw):
        if i < quoted_until:
            continue
        header = _attribution(folded, i)
        if header and _marked_quote_at(raw, i + header):
            # "X wrote:" over a ">" quote: the reply may follow it (Thunderbird and Roundcube
            # put it below the quote by default); the quoted lines are skipped below.
            quoted_until = i + header
            continue
        if line.rstrip() == "--" or header or _starts_quote(folded, i):
            break
        if line.lstrip().startswith(">"):
            if kept and kept[-1]:
                kept.append("")  # a quote ends a paragraph (and a reason)
            continue
        kept.append(line.rstrip())
    out = "\n".join(kept).strip("\n")
    return re.sub(r"\n{3,}", "\n\n", out)


def _cut_from(element: Tag) -> None:
    """Remove *element* and everything after it in document order (each parent's list
    cut once: a node at a time, bs4 looks for each one's place among its siblings)."""
    node, keep = element, 0  # keep the node itself above the first level
    while node.parent is not None:
        parent = node.parent
        parent.contents = parent.contents[: parent.index(node) + keep]
        node, keep = parent, 1


def _fresh_lines(soup: BeautifulSoup, dropped: set[int]) -> None:
    """In one pass from the leaves up: elements in ``dropped`` go, each outermost
    <blockquote> becomes one line ">" (as in a plain-text reply: a reply may follow it),
    and a typed line with nothing to show becomes a blank line (Word: <p>&nbsp;</p>)."""
    order: list[Tag] = []
    stack: list[Tag] = [soup]
    while stack:
        tag = stack.pop()
        order.append(tag)
        stack.extend(
            child
            for child in tag.contents
            if isinstance(child, Tag) and child.name != "blockquote" and id(child) not in dropped
        )
    shows: dict[int, bool] = {}  # id(tag) -> it holds text or an image
    for tag in reversed(order):
        contents: list[PageElement] = []
        visible = False
        for child in tag.contents:
            if not isinstance(child, Tag):
                contents.append(child)
                visible = visible or (
                    type(child) in (NavigableString, CData) and bool(str(child).strip())
                )
            elif id(child) in dropped:
                continue
            elif child.name == "blockquote":
                mark = soup.new_tag("div")
                mark.string = ">"
                contents.append(mark)
                visible = True
            else:
                contents.append(child)
                visible = visible or shows.pop(id(child)) or child.name == "img"
        if tag.name in _TYPED_LINES and not visible:
            contents = [soup.new_tag("br")]
        tag.contents = contents
        shows[id(tag)] = visible
    relink(soup)


def _html_fresh(html: str) -> str:
    soup = parse_html(html)
    for selector in _HTML_CUT_SELECTORS:
        found = soup.select_one(selector)
        if found is not None:
            _cut_from(found)
            relink(soup)
    dropped = {id(found) for selector in _HTML_DROP_SELECTORS for found in soup.select(selector)}
    _fresh_lines(soup, dropped)
    return html_to_text(str(soup), line_tags=_TYPED_LINES)


def fresh_text(text: str | None, html: str | None = None) -> str:
    """The reply without quoted text and signatures; the HTML part is used if *text* is blank."""
    if text and text.strip():
        return _strip_text(text)
    if html and html.strip():
        return _strip_text(_html_fresh(html))
    return ""


# Clients break long lines of plain text at 72 (Thunderbird, Roundcube), 76 (Outlook) or 78
# (Gmail) characters, before the word that does not fit: a line that long ending in a word
# goes on on the next one. "… nên không | duyệt ạ." is one line, not an approval.
_WRAPPED_LENGTH = 60


def _as_typed(lines: list[str]) -> list[str]:
    """*lines* with those a mail client broke joined again."""
    out: list[list[str]] = []  # each line's parts, joined once at the end
    length, last_char = 0, ""  # of the last line of ``out``
    for line in lines:
        stripped = line.strip()
        if stripped and length >= _WRAPPED_LENGTH and last_char.isalnum():
            out[-1] += [" ", stripped]
            length, last_char = length + 1 + len(stripped), stripped[-1]
        else:
            out.append([line])
            length, last_char = len(line), line[-1:]
    return ["".join(parts) for parts in out]


# --- Command words -------------------------------------------------------------------------------

_WORD = re.compile(r"\w+")
_LEAD = re.compile(r"^[\W_]*$")  # only punctuation before the command: "*DUYỆT*", "- Duyệt"
_TEXT_START = re.compile(r"^[\s:：\-–—.,;!]+")
_MAILTO = re.compile(r"\s*<mailto:[^>]*>|^mailto:", re.IGNORECASE)


def _marks(char: str) -> frozenset[str]:
    char = char.lower()
    if char == "đ":
        return frozenset({"\u0335"})
    return frozenset(c for c in unicodedata.normalize("NFD", char) if unicodedata.combining(c))


def _same_word(typed: str, expected: str) -> bool:
    """Case-insensitive; diacritics may be left out, but not replaced by others."""
    return len(typed) == len(expected) and all(
        fold(t) == fold(e) and _marks(t) <= _marks(e) for t, e in zip(typed, expected, strict=True)
    )


@dataclass(frozen=True)
class _Match:
    rule: _Rule
    pattern: str
    rest: str  # what follows the command words on the line


_PATTERNS: tuple[tuple[_Rule, str, tuple[str, ...]], ...] = tuple(
    sorted(
        ((rule, p, tuple(p.split())) for rule in RULES for p in rule.patterns),
        key=lambda item: -len(item[2]),
    )
)


def _by_first_word() -> dict[str, list[tuple[str, tuple[str, ...]]]]:
    """The command patterns (and their words) by their first word folded, in _PATTERNS's
    order: only a word that folds to one of these can begin a command."""
    table: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
    for _rule, pattern, words in _PATTERNS:
        table.setdefault(fold(words[0]), []).append((pattern, words))
    return table


_BY_FIRST_WORD = _by_first_word()


def _words_at(line: str, start: int, words: tuple[str, ...]) -> int | None:
    """End offset if *words* follow *start* in *line* (separated by blanks only), else None."""
    pos = start
    for n, expected in enumerate(words):
        found = _WORD.search(line, pos)
        gap = line[pos : found.start()] if found else ""
        if found is None or (n and gap.strip()) or not _same_word(found.group(), expected):
            return None
        pos = found.end()
    return pos


def _match_line(line: str) -> _Match | None:
    first = _WORD.search(line)
    if first is None or not _LEAD.match(line[: first.start()]):
        return None
    start = first.start()
    while True:  # skip "OK", "Dạ," ... before the command word
        word = _WORD.match(line, start)
        if word is None or not any(_same_word(word.group(), f) for f in FILLERS):
            break
        following = _WORD.search(line, word.end())
        if following is None or line[word.end() : following.start()].strip(" ,.!"):
            break
        start = following.start()
    for rule, pattern, words in _PATTERNS:
        end = _words_at(line, start, words)
        if end is not None:
            return _Match(rule, pattern, line[end:])
    return None


def _is_closing(line: str) -> bool:
    words = " ".join(_WORD.findall(line))
    return any(_same_word(words, closing) for closing in CLOSINGS)


def _text_after(rest: str) -> str:
    """What follows a command word, without separators and without a lone "ạ"."""
    text = _TEXT_START.sub("", rest).strip()
    words = _WORD.findall(text)
    return "" if words and all(w.lower() in TRAILING_PARTICLES for w in words) else text


def _gather_text(lines: list[str], index: int, rest: str) -> str:
    """The text on the command line and on the lines below it, up to a blank line or closing."""
    parts = [_text_after(rest)]
    for line in lines[index + 1 :]:
        if not line.strip() or _is_closing(line):
            break
        repeated = _match_line(line)
        if repeated is not None and not any(parts):  # "Từ chối\nTừ chối: trùng bài"
            parts.append(_text_after(repeated.rest))
        else:
            parts.append(line.strip())
    return "\n".join(p for p in parts if p).strip()


def _beyond_approval(rest: str, signer: str) -> str:
    """What follows an approval word that is neither a courtesy nor the signer's name ("" if
    nothing)."""
    words = _WORD.findall(rest)
    allowed = (*APPROVAL_TAIL, *_WORD.findall(signer))
    if all(any(_same_word(w, tail) for tail in allowed) for w in words):
        return ""
    return rest.strip(" ,.;:!-–—").strip()


def _forward_target(rest: str) -> str:
    # a member's id, name or address: longer is no target, and each round below is a pass
    target = _MAILTO.sub("", _text_after(rest)[:MAX_TARGET_CHARS]).strip()
    changed = True
    while changed and target:
        changed = False
        target = target.rstrip(" .,;!").strip()
        if target.startswith("<") and target.endswith(">"):
            target, changed = target[1:-1].strip(), True
        last = target.rsplit(None, 1)
        if len(last) == 2 and last[1].lower() in TRAILING_PARTICLES:
            target, changed = last[0], True
    return target


def _display(pattern: str) -> str:
    return pattern[:1].upper() + pattern[1:]


def _unreadable_without_command(lines: list[str], question: bool) -> Unreadable:
    if question:
        return Unreadable(f"Câu hỏi chưa phải là lệnh; để duyệt, trả lời DUYỆT ({_EXAMPLES}).")
    for line in lines:  # each word asked of the patterns it may begin only: of all, a
        for word in _WORD.finditer(line):  # reply's megabyte of words took 14 s
            for pattern, words in _BY_FIRST_WORD.get(fold(word.group()), ()):
                if _words_at(line, word.start(), words) is not None:
                    return Unreadable(
                        f"Chưa rõ lệnh: có chữ “{pattern}” nhưng không ở đầu dòng. "
                        f"Lệnh phải viết ở đầu dòng, {_EXAMPLES}."
                    )
    return Unreadable(f"Không tìm thấy lệnh ở đầu thư trả lời; {_EXAMPLES}.")


def _condition_below(lines: list[str]) -> str:
    """The first of ``lines`` (below an approval) that makes it conditional, or ""."""
    for line in lines:
        words = _WORD.findall(line)
        if words and any(_same_word(words[0], but) for but in APPROVAL_BUT):
            return line.strip()
    return ""


def read_command(
    text: str | None, html: str | None = None, *, signer: str = ""
) -> Command | Unreadable:
    """The reviewer's command, or why it could not be read (in Vietnamese). *signer*: the
    name of the member the reply comes from, who may sign an approval on its line."""
    lines = _as_typed(fresh_text(text, html).split("\n"))
    candidates = [i for i, line in enumerate(lines) if line.strip()][:_MAX_COMMAND_LINES]
    if not candidates:
        return Unreadable(
            "Thư trả lời không có nội dung mới (phần trích dẫn và chữ ký được bỏ qua); "
            f"{_EXAMPLES}."
        )
    found: list[tuple[int, _Match]] = []
    question = False
    for i in candidates:
        match = _match_line(lines[i])
        if match is None:
            continue
        if match.rule.verb is Verb.APPROVE and "?" in match.rest:
            question = True  # "Duyệt?" is a question, not an approval
            continue
        if match.rule.verb is Verb.APPROVE:
            after = [lines[j] for j in candidates if j > i]
            extra = _beyond_approval(match.rest, signer) or _condition_below(after)
            if extra:
                return Unreadable(
                    f"Sau chữ “{match.pattern}” còn có “{extra}”, nên chưa rõ là đồng ý. "
                    "Để duyệt, trả lời chỉ một chữ DUYỆT; để không duyệt, TỪ CHỐI: <lý do>."
                )
        found.append((i, match))
    if not found:
        return _unreadable_without_command([lines[i] for i in candidates], question)
    verbs = list(dict.fromkeys(match.rule.verb for _, match in found))
    if len(verbs) > 1:
        names = " và ".join(VERB_NAMES[v] for v in verbs)
        return Unreadable(
            f"Thư có các lệnh mâu thuẫn nhau ({names}), chưa rõ ý kiến cuối cùng. "
            "Vui lòng trả lời lại chỉ với một lệnh."
        )
    rule = found[0][1].rule
    if not rule.needs_text:
        return Command(rule.verb, None)
    for i, match in found:
        if rule.verb is Verb.FORWARD:
            value = _forward_target(match.rest)
        else:
            value = _gather_text(lines, i, match.rest)
        if value and len(value) > MAX_REASON_CHARS:
            most = f"{MAX_REASON_CHARS:,}".replace(",", ".")
            return Unreadable(
                f"Nội dung ghi sau chữ “{_display(match.pattern)}” quá dài (tối đa {most} ký "
                "tự, như trên trang duyệt); vui lòng trả lời lại ngắn gọn hơn."
            )
        if value:
            return Command(rule.verb, value)
    pattern = found[0][1].pattern
    syntax = rule.syntax.format(word=pattern.upper())
    return Unreadable(f"{_display(pattern)} cần có {rule.label}: {syntax}")
