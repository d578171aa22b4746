"""An article written in Word carries its headline on its first line; the mail's subject is
often only a cover ("Gửi bài đăng Cổng", "V/v gửi tin hoạt động tháng 11"). Agencies set
that line apart as a heading, in bold or in capitals: taken as the item's title, it leaves
the body, where it would stand a second time under the portal's own title.

Only the first block is looked at, and only a line that reads as a headline: short, not
ending a sentence, not a label ("Tin:"), not the issuing body's name above a document
("ỦY BAN NHÂN DÂN TỈNH…", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from bs4 import Tag

from pipeline.sanitize import html_to_text, parse_html, sanitize_html
from pipeline.textfold import fold

HEADINGS: Final = frozenset({"h1", "h2", "h3"})
BOLD: Final = frozenset({"strong", "b"})
SHOWN: Final = ("img", "table", "hr")  # an empty block with one of these is no spacing
MAX_CHARS: Final = 250
MIN_WORDS: Final = 3
# How the issuing body's lines above a document start, folded: not a headline.
HEADER_STARTS: Final = (
    "uy ban nhan dan",
    "ubnd",
    "cong hoa xa hoi",
    "doc lap - tu do",
    "dang cong san",
    "dang bo",
    "tinh uy",
    "huyen uy",
    "thanh uy",
    "hoi dong nhan dan",
    "so:",
    "kinh gui",
)
_SENTENCE_END = re.compile(r"[.:;,]$")


@dataclass(frozen=True)
class Split:
    headline: str
    html: str  # the body without it
    text: str


def _first_block(root: Tag) -> Tag | None:
    """The first block that shows something (Word users space with empty paragraphs)."""
    for node in root.children:
        if isinstance(node, Tag):
            if node.get_text().strip() or node.find(SHOWN) is not None or node.name in SHOWN:
                return node
        elif str(node).strip():
            return None  # loose text first: no block to take
    return None


def _bare(text: str) -> str:
    return "".join(text.split())


def _set_apart(block: Tag, text: str) -> bool:
    """A heading, or a paragraph wholly bold or wholly in capitals."""
    if block.name in HEADINGS:
        return True
    if block.name not in ("p", "div"):
        return False
    if text.isupper():
        return True
    bold = "".join(t.get_text() for t in block.find_all(BOLD))
    return _bare(bold) == _bare(block.get_text())


def split_headline(html: str) -> Split | None:
    """The headline on the first line of ``html`` (sanitised), and the body without it;
    None when the first line is no headline."""
    soup = parse_html(html)
    block = _first_block(soup)
    if block is None:
        return None
    text = " ".join(html_to_text(str(block)).split())
    if len(text.split()) < MIN_WORDS or len(text) > MAX_CHARS or _SENTENCE_END.search(text):
        return None
    if fold(text).lower().startswith(HEADER_STARTS) or not _set_apart(block, text):
        return None
    block.decompose()
    body = sanitize_html(str(soup)).html  # the sanitiser stays the last pass
    return Split(text, body, html_to_text(body))
