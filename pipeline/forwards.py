"""A submission forwarded to the board is the article, not the forwarding.

Agency staff often forward an author's mail rather than write one. The mail client then
puts its own lines above the article: a reply/forward prefix in the subject ("Fwd:",
"TL:") and a header block in the body ("---------- Forwarded message ---------", From:,
Date:, Subject:, To:). Neither belongs in a portal post, and the block carries the
addresses of people outside the board. This module finds them in the shapes Gmail,
Outlook (desktop, web), Thunderbird, Apple Mail and Zimbra write, in English and in
Vietnamese, and takes them out; the article and any cover note are kept as written.
"""

from __future__ import annotations

import re
from typing import Final

from bs4 import BeautifulSoup, NavigableString, PageElement, Tag

from pipeline.sanitize import parse_html, relink
from pipeline.textfold import fold

# Lines a client writes above a quoted or forwarded message, folded (lower-case, no
# diacritics) and stripped. Replies are cut there too (pipeline/commands.py).
SEPARATOR: Final = re.compile(
    r"^-{2,}\s*(original message|thu goc|tin nhan goc|forwarded message|thu da chuyen tiep"
    r"|thu chuyen tiep|tin nhan da chuyen tiep)\s*-{2,}$"
    r"|^_{10,}$"
    r"|^(begin forwarded message|bat dau thu chuyen tiep)\s*:$"
)
_QUOTED_FORWARD: Final = re.compile(r"^(begin forwarded message|bat dau thu chuyen tiep)\s*:$")
# One field of a forwarded message's header block, folded; the first group is its label.
_FIELD: Final = re.compile(
    r"^\**(from|tu|sender|date|ngay|ngay gui|sent|da gui|gui|gui luc|to|den|toi"
    r"|gui den|cc|bcc|subject|chu de|tieu de|reply-to|tra loi den|tra loi toi)\**\s*:"
)
_FROM: Final = frozenset({"from", "tu", "sender"})
_DATE: Final = frozenset({"date", "ngay", "ngay gui", "sent", "da gui", "gui", "gui luc"})
_SUBJECT: Final = frozenset({"subject", "chu de", "tieu de"})
_NAMED: Final = re.compile(r"[a-z@]")  # a sender's name or address, not a form's dots
_MAX_BLOCK_LINES: Final = 12  # From, Date, Subject, To, Cc and long address lists wrapped

# What mail clients put before a subject they reply to or forward: "RE:", "Fwd:", "TL:" and
# "CT:" (Outlook in Vietnamese), "AW:"/"WG:" (German); an optional "[2]" counts repeats.
REPLY_PREFIX: Final = r"(?:re|fw|fwd|tl|tr|ct|aw|wg|trả lời|chuyển tiếp)\s*(?:\[\d+\])?\s*:"
# A subject's leading prefixes, repeated, after any tags.
_PREFIX: Final = re.compile(
    rf"^((?:\s*\[[^\[\]]{{1,40}}\])*)(?:\s*{REPLY_PREFIX})+\s*", re.IGNORECASE
)
# Whether a mail may hold a header block at all (most do not: no parse for them); the
# text's as it is (NFC), the HTML's lower-cased.
_TEXT_HINT: Final = re.compile(
    r"^[ \t*]*(?:from|từ|tu|sender)\**\s*:", re.MULTILINE | re.IGNORECASE
)
_HTML_HINT: Final = re.compile(
    r"gmail_attr|divrplyfwdmsg|moz-email-headers|forwarded message|original message"
    r"|>\s*(?:from|từ|t&#7915;)\s*:"  # every block has its sender's line
)
_BLOCKS: Final = ("div", "p", "table", "blockquote")


def clean_subject(subject: str) -> str:
    """``subject`` without the reply and forward prefixes a mail client added; a subject
    tag before them stays ("[Tin] Fwd: Hội nghị" -> "[Tin] Hội nghị")."""
    match = _PREFIX.match(subject)
    if match is None:
        return subject
    tags = match.group(1).strip()
    rest = subject[match.end() :]
    return f"{tags} {rest}" if tags and rest else tags or rest


def _label(line: str) -> str:
    """The label of a header field ``line`` (folded), "" if it is none. A sender's line
    must name someone: a form's "Từ: ........" does not."""
    field = _FIELD.match(line)
    if field is None or (field.group(1) in _FROM and not _NAMED.search(line, field.end())):
        return ""
    return field.group(1)


def _names_a_sender(labels: set[str]) -> bool:
    return bool(labels & _FROM) and len(labels) >= 2


def _block_end(folded: list[str], start: int) -> int:
    """Where the forward header block starting at line ``start`` ends (exclusive), or 0.

    A block is a separator line, then field lines up to a blank line. Without a
    separator (Outlook in plain text, some phones) it must start with the sender and
    name a date, a subject and an address, so that an article's own "Từ: …" (a
    schedule, an invitation) is never taken for one."""
    at = start
    separated = SEPARATOR.match(folded[at]) is not None
    if separated:
        at += 1
        while at < len(folded) and not folded[at]:
            at += 1  # Apple Mail leaves a blank line under "Begin forwarded message:"
    labels: list[str] = []
    first = at
    while at < len(folded) and folded[at] and at - first < _MAX_BLOCK_LINES:
        label = _label(folded[at])
        if label:
            labels.append(label)
        elif not labels or "@" not in folded[at]:  # only an address list wraps
            break
        at += 1
    if not _names_a_sender(set(labels)):
        return 0
    if at < len(folded) and folded[at] and at - first < _MAX_BLOCK_LINES:
        return 0  # the block runs into text: an article line after all
    if separated:
        return at
    addressed = any("@" in line for line in folded[first:at])
    dated = _DATE.intersection(labels) and _SUBJECT.intersection(labels)
    return at if labels[0] in _FROM and dated and addressed else 0


def strip_text(text: str) -> str:
    """Plain ``text`` without the header blocks of the messages it forwards."""
    if _TEXT_HINT.search(text) is None:
        return text  # no sender's line: no block (most mail)
    lines = text.split("\n")
    folded = [fold(line.strip().replace("\xa0", " ")) for line in lines]
    kept: list[str] = []
    at = 0
    while at < len(lines):
        end = _block_end(folded, at) if folded[at] else 0
        if end:
            at = end
            while at < len(lines) and not folded[at] and (not kept or not kept[-1].strip()):
                at += 1  # the blank lines around the block: one is enough
            continue
        kept.append(lines[at])
        at += 1
    return "\n".join(kept) if len(kept) < len(lines) else text


def _lines_of(element: Tag) -> list[str]:
    """The lines of text ``element`` shows, folded: a <br> or a block ends a line."""
    parts: list[str] = []
    for node in element.descendants:
        if isinstance(node, Tag):
            if node.name == "br" or node.name in _BLOCKS:
                parts.append("\n")
        elif type(node) is NavigableString:  # not a comment or a declaration
            parts.append(node)
    return [fold(line.strip()) for line in "".join(parts).replace("\xa0", " ").split("\n")]


_RULE: Final = "_" * 10  # a separator line, for a block drawn under a border instead


def _is_block(element: Tag) -> bool:
    """Whether ``element`` holds a header block and nothing else. Outlook desktop draws its
    separator as the top border of the block's <div>."""
    folded = [line for line in _lines_of(element) if line]
    holder = element if element.name == "div" else element.parent
    style = str(holder.get("style", "")) if isinstance(holder, Tag) else ""
    if "border-top:solid" in style.replace(" ", "").lower():
        folded.insert(0, _RULE)
    return bool(folded) and len(folded) <= _MAX_BLOCK_LINES + 2 and _block_end(folded, 0) > 0


def _drop_separator_and_fields(text: NavigableString) -> bool:
    """A separator written as a line of text (Thunderbird, Apple Mail), and the field lines
    right after it, each an element of its own: both go if the fields name a sender."""
    line: Tag | NavigableString = text
    parent = text.parent
    if parent is not None and parent.name in _BLOCKS and parent.get_text().strip() == text.strip():
        line = parent  # the separator is the whole element
    block: list[PageElement] = [line]
    labels: set[str] = set()
    for sibling in line.next_siblings:
        if isinstance(sibling, Tag) and sibling.name == "br":
            block.append(sibling)
            continue
        words = _lines_of(sibling) if isinstance(sibling, Tag) else [fold(str(sibling).strip())]
        if not any(words):
            block.append(sibling)
            continue
        fields = [label for word in words if (label := _label(word))]
        if not fields:
            break
        labels.update(fields)
        block.append(sibling)
    if not _names_a_sender(labels):
        return False
    quoted = _QUOTED_FORWARD.match(fold(text.strip())) is not None
    quote = line.find_parent("blockquote") if quoted else None
    for node in block:
        node.extract()
    if quote is not None:
        quote.unwrap()  # Apple Mail quotes what it forwards: the article is no quotation
    return True


def _line_above(element: Tag) -> PageElement | None:
    """The separator right above a header block: Outlook's <hr>, Thunderbird's text."""
    for node in element.previous_siblings:
        if isinstance(node, Tag) and node.name == "hr":
            return node
        text = node.get_text() if isinstance(node, Tag) else str(node)
        if text.strip():
            return node if SEPARATOR.match(fold(text.strip())) else None
    return None


def strip_html(html: str) -> str:
    """``html`` without the header blocks of the messages it forwards."""
    if _HTML_HINT.search(html.lower()) is None:
        return html
    soup = parse_html(html)
    found = False
    for element in soup.select("#divRplyFwdMsg, table.moz-email-headers-table, div.gmail_attr"):
        gmail = element.name == "div" and "gmail_attr" in (element.get("class") or [])
        if gmail and not _is_block(element):
            continue  # Gmail's "On …, X wrote:" of a quoted reply is not a forward
        above = _line_above(element)
        if above is not None:
            above.extract()
        element.decompose()
        found = True
    for text in list(soup.find_all(string=True)):
        if text.parent is not None and SEPARATOR.match(fold(text.strip())):
            found = _drop_separator_and_fields(text) or found
    # Outlook desktop's <div style="border-top…"><p><b>From:</b>…: a block holding no
    # other block, and only a header block
    blocks = [element for element in _innermost_blocks(soup) if _is_block(element)]
    if blocks:
        gone = {id(element) for element in blocks}
        for parent in {id(e.parent): e.parent for e in blocks if e.parent is not None}.values():
            parent.contents = [child for child in parent.contents if id(child) not in gone]
        relink(soup)
        found = True
    return str(soup) if found else html


def _innermost_blocks(soup: BeautifulSoup) -> list[Tag]:
    """The blocks (div, p…) that hold no other block, in document order, found in one walk
    from the leaves up (asked of each block, bs4 walks down to its end: quadratic when they
    nest)."""
    order: list[Tag] = []
    stack: list[Tag] = [soup]
    while stack:
        tag = stack.pop()
        order.append(tag)
        stack.extend(child for child in reversed(tag.contents) if isinstance(child, Tag))
    holds_block: set[int] = set()
    for tag in reversed(order):
        if tag.name in _BLOCKS or id(tag) in holds_block:
            holds_block.add(id(tag.parent))
    return [tag for tag in order if tag.name in _BLOCKS and id(tag) not in holds_block]
