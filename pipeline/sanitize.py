"""HTML sanitising for mail bodies (nh3 / Ammonia) and HTML <-> text helpers.

Every HTML body that arrives by mail is untrusted. :func:`sanitize_html` reduces it to a
small safelist fit for a news article, with nothing that can execute, load remote
resources or clobber the portal's DOM:

* no scripts, event handlers, ``style``/``class``/``id``/``name`` attributes, forms,
  frames, embedded objects, SVG or MathML;
* URLs only with the schemes ``http``, ``https``, ``mailto``, ``tel`` (links) and ``cid``
  (inline images only); an http(s) link is rewritten to the one form browsers and Python
  read alike (:func:`web_url`), or dropped;
* remote images (``http``/``https``) are never fetched: they are replaced by their alt
  text in brackets (or nothing) and listed in :attr:`SanitizedHtml.remote_images`;
* Outlook/Word junk (``o:p``, VML, conditional comments, ``<xml>`` islands, Mso classes,
  empty spacer paragraphs) disappears;
* bidirectional controls (:data:`pipeline.vietnamese.BIDI_CONTROLS`) are removed from text
  and attribute values: they could make a link's label read as another host.

The result is idempotent: ``sanitize_html(sanitize_html(x).html) == sanitize_html(x)``.
"""

from __future__ import annotations

import html as html_lib
import inspect
import re
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote, urlsplit

import idna
import nh3
from bs4 import BeautifulSoup, NavigableString, ParserRejectedMarkup, Tag
from bs4.builder._htmlparser import BeautifulSoupHTMLParser, HTMLParserTreeBuilder
from bs4.element import CData, Comment, PageElement, PreformattedString

from pipeline.vietnamese import strip_bidi

__all__ = [
    "SanitizedHtml",
    "html_to_text",
    "parse_html",
    "relink",
    "shallow_html",
    "resolve_cids",
    "sanitize_html",
    "text_to_html",
    "web_url",
    "with_destinations",
]

LINK_REL = "noopener noreferrer nofollow"

ALLOWED_TAGS: frozenset[str] = frozenset(
    {
        "p",
        "br",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "strong",
        "b",
        "em",
        "i",
        "u",
        "s",
        "sub",
        "sup",
        "blockquote",
        "ul",
        "ol",
        "li",
        "dl",
        "dt",
        "dd",
        "table",
        "thead",
        "tbody",
        "tfoot",
        "tr",
        "th",
        "td",
        "caption",
        "colgroup",
        "col",
        "a",
        "img",
        "figure",
        "figcaption",
        "hr",
        "span",
        "div",
        "pre",
        "code",
    }
)

# Tags removed together with everything inside them (their text is never article content).
CLEAN_CONTENT_TAGS: frozenset[str] = frozenset(
    {
        "script",
        "style",
        "title",
        "xml",
        "template",
        "noscript",
        "noembed",
        "noframes",
        "iframe",
        "frameset",
        "object",
        "applet",
        "textarea",
        "select",
        "svg",
        "math",
    }
)

# The "*" entry overrides Ammonia's generic attributes (lang, title): nothing on every tag.
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    "*": set(),
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "col": {"span"},
    "colgroup": {"span"},
    "ol": {"start"},
}

URL_SCHEMES: frozenset[str] = frozenset({"http", "https", "mailto", "tel", "cid"})

_REMOTE_SCHEMES = ("http:", "https:")
_LINK_SCHEMES = ("http:", "https:", "mailto:", "tel:")
_CID_SCHEME = "cid:"
# Protocol-relative URLs are let through the filters of the first pass and turned into
# https URLs by ``_protocol_relative_to_https``; the final pass denies every relative URL.

_SPAN_RE = re.compile(r"^[1-9][0-9]{0,2}$")  # colspan/rowspan/span: 1..999
_SIZE_RE = re.compile(r"^[0-9]{1,4}(?:px|%)?$")
_SCOPE_VALUES = frozenset({"row", "col", "rowgroup", "colgroup"})
_URL_STRIP = "\x00\t\n\r\f "
_ASCII_SPACES = "\t\n\f\r "

_C0_AND_SPACE = "".join(map(chr, range(0x21)))  # what browsers strip around a URL
_TAB_NEWLINE = re.compile(r"[\t\n\r]")  # what browsers remove anywhere in a URL
_WEB_URL = re.compile(r"(https?):(.*)", re.IGNORECASE | re.DOTALL)
_PORT = re.compile(r"[0-9]{0,5}")
_ASCII_HOST = re.compile(r"(?:[a-z0-9_-]+\.)*[a-z0-9_-]+\.?")
_NUMERIC_LABEL = re.compile(r"[0-9]+|0x[0-9a-f]*")  # makes browsers read the host as IPv4
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_IPV4 = re.compile(rf"(?:{_OCTET}\.){{3}}{_OCTET}")


# Python's html.parser reads a construct that never ends (a tag, a comment, a declaration)
# as text and starts again one character on, scanning to the end of the input each time:
# "<a b='>'" or "<a " 20,000 times held it for minutes; a marked section it does not know
# ("<![x") makes it raise. `_parseable` writes as text ("&lt;") each "<" whose construct
# has no end after it, which is what html.parser makes of it, in one pass (in a comment
# or a style, where it is not read as markup, it stays text); a ">" after the input
# ends a tag whose quoted values run to the end. Only that is a change, for markup no
# mail client writes (browsers read such a tag so too).
_COMMENT_END = re.compile(r"--\s*>")
_SECTION_ENDS = {"]]": re.compile(r"\]\s*\]\s*>"), "]": re.compile(r"\]\s*>")}
_SECTION_END = {name: "]]" for name in ("temp", "cdata", "ignore", "include", "rcdata")}
_SECTION_END |= {name: "]" for name in ("if", "else", "endif")}
_OPENINGS = re.compile(r"<(?:!--|!\[(?P<section>[a-zA-Z][-_.a-zA-Z0-9]*)?)")
_END_MARK = "\ufdd0"  # a noncharacter: after the ">", it tells what is ours at the end


def _last_start(pattern: re.Pattern[str], text: str) -> int:
    return max((m.start() for m in pattern.finditer(text)), default=-1)


def _parseable(html: str) -> str:
    last_gt = html.rfind(">")
    head, tail = html[: last_gt + 1], html[last_gt + 1 :]
    comment_end = _last_start(_COMMENT_END, head)
    section_end = {kind: _last_start(pattern, head) for kind, pattern in _SECTION_ENDS.items()}

    def opening(match: re.Match[str]) -> str:
        if match.group(0) == "<!--":
            ended = comment_end >= match.start() + 4
        else:
            kind = _SECTION_END.get((match.group("section") or "").lower())
            ended = kind is not None and section_end[kind] >= match.start() + 3
        return match.group(0) if ended else "&lt;" + match.group(0)[1:]

    return _OPENINGS.sub(opening, head) + tail.replace("<", "&lt;") + ">" + _END_MARK


class _ClosedVoids(Counter[str]):
    """bs4's list of the void elements (<br>, <img>) it closed itself, as a multiset: it
    looks through that list at every end tag, and 60,000 <img> then as many end tags took
    minutes."""

    def append(self, tag: str) -> None:
        self[tag] += 1

    def remove(self, tag: str) -> None:
        self[tag] -= 1
        if self[tag] <= 0:
            del self[tag]


class _Parser(BeautifulSoupHTMLParser):
    @property  # type: ignore[override]
    def already_closed_empty_element(self) -> _ClosedVoids:
        return self._closed_voids

    @already_closed_empty_element.setter
    def already_closed_empty_element(self, tags: list[str]) -> None:
        self._closed_voids = _ClosedVoids(tags)


class _Builder(HTMLParserTreeBuilder):
    def feed(self, markup: Any, *args: Any) -> None:
        super().feed(markup, _parser_class=_Parser)


# bs4 4.15 takes a parser class (4.13 did not); an older one reads as it always did
_BUILDER = (
    _Builder
    if "_parser_class" in inspect.signature(HTMLParserTreeBuilder.feed).parameters
    else HTMLParserTreeBuilder
)


def parse_html(html: str) -> BeautifulSoup:
    """``html`` as mailed (any garbage) as a tree, read by html.parser in time linear in
    its length; never raises."""
    try:
        soup = BeautifulSoup(_parseable(html), builder=_BUILDER())
    except ParserRejectedMarkup:
        return BeautifulSoup(html_lib.escape(html, quote=False), builder=_BUILDER())
    strings = soup.find_all(string=True)
    last = strings[-1] if strings else None
    if last == _END_MARK:  # the ">" ended a tag
        last.extract()
    elif last is not None and last.endswith(">" + _END_MARK):
        rest = last[: -len(_END_MARK) - 1]
        kept = last.find_parent(["pre", "textarea"]) is not None
        if rest and not rest.strip(_ASCII_SPACES) and not kept:  # as bs4 keeps blank text
            rest = "\n" if "\n" in rest else " "
        if rest:
            last.replace_with(type(last)(rest))
        else:
            last.extract()
    return soup


def _mergeable(node: PageElement) -> bool:
    return isinstance(node, NavigableString) and not isinstance(node, PreformattedString)


def _in_place_of(run: list[NavigableString], text: str) -> NavigableString:
    """A string of ``text`` linked where the adjacent strings ``run`` were; the caller
    puts it in their parent's contents (bs4 would find each one's place there again)."""
    first, last = run[0], run[-1]
    new = NavigableString(text)
    new.parent = first.parent
    new.previous_sibling, new.next_sibling = first.previous_sibling, last.next_sibling
    new.previous_element, new.next_element = first.previous_element, last.next_element
    if first.previous_sibling is not None:
        first.previous_sibling.next_sibling = new
    if last.next_sibling is not None:
        last.next_sibling.previous_sibling = new
    if first.previous_element is not None:
        first.previous_element.next_element = new
    if last.next_element is not None:
        last.next_element.previous_element = new
    for node in run:
        node.parent = node.previous_sibling = node.next_sibling = None
        node.previous_element = node.next_element = None
    return new


def smooth(top: Tag) -> None:
    """``Tag.smooth`` (adjacent strings joined) in one pass over the tree: bs4's own
    recurses (a mail's HTML may nest thousands deep) and moves every string it joins
    one at a time (100,000 adjacent ones took minutes)."""
    stack = [top]
    while stack:
        tag = stack.pop()
        contents: list[PageElement] = []
        run: list[NavigableString] = []
        for child in [*tag.contents, None]:
            if child is not None and _mergeable(child):
                run.append(child)  # type: ignore[arg-type]
                continue
            if run:
                contents.append(run[0] if len(run) == 1 else _in_place_of(run, "".join(run)))
                run = []
            if child is not None:
                contents.append(child)
                if isinstance(child, Tag):
                    stack.append(child)
        tag.contents = contents


def _url_prefix(value: str) -> str:
    return value.strip(_URL_STRIP).lower()


def _plain_host(host: str) -> str | None:
    """``host`` in the ASCII form a browser opens, or None if browsers could read it
    otherwise than Python does (percent-encoded, IPv6, IPv4 in octal or hex...)."""
    if not host.isascii():
        try:
            host = idna.encode(host, uts46=True).decode("ascii")
        except idna.IDNAError:
            return None
    host = host.lower()
    if _ASCII_HOST.fullmatch(host) is None:
        return None
    last_label = host.rstrip(".").rpartition(".")[2]
    if _NUMERIC_LABEL.fullmatch(last_label) and _IPV4.fullmatch(host) is None:
        return None
    return host


def web_url(href: str) -> str | None:
    """An http(s) ``href`` in the one form browsers and Python read alike,
    ``scheme://host[:port]/path?query#fragment``, with the host in ASCII; None if it is no
    http(s) URL or its host is not plain (user info before ``@``, see :func:`_plain_host`).

    It is the URL a browser resolves: for http(s), backslashes before the query are
    slashes and any number of them may follow the colon (``https:\\\\host\\x``,
    ``https:///host/x``, ``https:host/x``: Python sees no host in these).
    """
    match = _WEB_URL.fullmatch(_TAB_NEWLINE.sub("", href).strip(_C0_AND_SPACE))
    if match is None:
        return None
    scheme, rest = match.group(1).lower(), match.group(2)
    end = min((i for i in (rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
    before_query, query = rest[:end].replace("\\", "/").lstrip("/"), rest[end:]
    authority, slash, path = before_query.partition("/")
    host, _, port = authority.partition(":")
    plain = _plain_host(host)
    if plain is None or _PORT.fullmatch(port) is None or int(port or 0) > 65535:
        return None
    return f"{scheme}://{plain}{':' + port if port else ''}{slash}{path}{query}"


def _common_filter(tag: str, attr: str, value: str) -> str | None:
    if attr in {"colspan", "rowspan", "span"}:
        return value.strip() if _SPAN_RE.match(value.strip()) else None
    if attr in {"width", "height"}:
        return value.strip() if _SIZE_RE.match(value.strip()) else None
    if attr == "start":
        return value.strip() if re.fullmatch(r"-?[0-9]{1,6}", value.strip()) else None
    if attr == "scope":
        return value.strip().lower() if value.strip().lower() in _SCOPE_VALUES else None
    if tag == "a" and attr == "href":
        if _url_prefix(value).startswith(_REMOTE_SCHEMES):
            return web_url(value)
        return value if _url_prefix(value).startswith(_LINK_SCHEMES + ("//",)) else None
    return value


def _first_pass_filter(tag: str, attr: str, value: str) -> str | None:
    if tag == "img" and attr == "src":
        prefix = _url_prefix(value)
        return value if prefix.startswith(_REMOTE_SCHEMES + (_CID_SCHEME, "//")) else None
    return _common_filter(tag, attr, value)


def _final_pass_filter(tag: str, attr: str, value: str) -> str | None:
    if tag == "img" and attr == "src":
        return value if _url_prefix(value).startswith(_CID_SCHEME) else None
    return _common_filter(tag, attr, value)


def _protocol_relative_to_https(url: str) -> str | None:
    """Relative URLs mean nothing in a mail; ``//host/x`` is really a remote URL."""
    stripped = url.strip(_URL_STRIP)
    if stripped.startswith("//") and len(stripped) > 2 and stripped[2] not in "/\\":
        return "https:" + stripped
    return None


def _cleaner(
    attribute_filter: Callable[[str, str, str], str | None],
    url_relative: Callable[[str], str | None] | Literal["deny", "pass_through"],
) -> nh3.Cleaner:
    return nh3.Cleaner(
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(CLEAN_CONTENT_TAGS),
        attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
        attribute_filter=attribute_filter,
        strip_comments=True,
        link_rel=LINK_REL,
        url_schemes=set(URL_SCHEMES),
        url_relative=url_relative,
    )


# nh3 takes time quadratic in the characters of one text that it writes out escaped or
# one at a time ("&", U+0080-U+00BF: a no-break space, a TCVN3 letter left unconverted):
# a line of 1 MB of them took a minute. A long run of text holding many is cut into
# pieces by <wbr>, which the sanitiser drops: the pieces come out joined as they were.
_LONG_TEXT = re.compile(r"(?:^|(?<=[<>]))[^<>]{4096,}")  # from a run's start only: linear
_SLOW_CHARS = re.compile(r"[&\x80-\xbf]")
_PIECE = 2048


def _cut_text(match: re.Match[str]) -> str:
    text = match.group(0)
    if len(_SLOW_CHARS.findall(text)) < 256:
        return text  # an article's text: nothing to cut
    pieces: list[str] = []
    start = 0
    while len(text) - start > _PIECE:
        end = start + _PIECE
        entity = text.rfind("&", end - 40, end)  # not through a character reference
        if entity > start and text.find(";", entity, end) < 0:
            end = entity
        pieces.append(text[start:end])
        start = end
    pieces.append(text[start:])
    return "<wbr>".join(pieces)


def _clean(cleaner: nh3.Cleaner, html: str) -> str:
    return cleaner.clean(_LONG_TEXT.sub(_cut_text, html))


_FIRST_PASS = _cleaner(_first_pass_filter, _protocol_relative_to_https)
_FINAL_PASS = _cleaner(_final_pass_filter, "deny")


@dataclass(frozen=True)
class SanitizedHtml:
    """Sanitised HTML plus what was found about images on the way."""

    html: str
    remote_images: tuple[str, ...]  # URLs of remote images that were removed (not fetched)
    cid_refs: tuple[str, ...]  # content-ids referenced by kept inline images


def _cid_from_src(src: str) -> str:
    value = src.strip(_URL_STRIP)[len(_CID_SCHEME) :]
    return unquote(value).strip().strip("<>").strip()


def _is_blank(text: str) -> bool:
    return not text.replace("\xa0", " ").strip()


_MEDIA = frozenset({"img", "br", "hr", "table"})


def relink(top: Tag) -> None:
    """Set every node's parent, sibling and document-order links under ``top`` from the
    ``contents`` lists, after they were rewritten in one pass (bs4's own moves look for
    each node's place among its siblings: quadratic on a mail of many)."""
    previous: PageElement = top
    _link_children(top)
    stack: list[PageElement] = list(reversed(top.contents))
    while stack:
        node = stack.pop()
        node.previous_element, previous.next_element = previous, node
        previous = node
        if isinstance(node, Tag):
            _link_children(node)
            stack.extend(reversed(node.contents))
    previous.next_element = None


def _link_children(tag: Tag) -> None:
    before: PageElement | None = None
    for child in tag.contents:
        child.parent, child.previous_sibling = tag, before
        if before is not None:
            before.next_sibling = child
        before = child
    if before is not None:
        before.next_sibling = None


def _process_tree(soup: BeautifulSoup) -> tuple[list[str], list[str]]:
    """Images, link-less anchors, spans and blank paragraphs, in one pass from the leaves
    up: each element's new contents are made once."""
    remote: dict[str, None] = {}
    cids: dict[str, None] = {}
    blank: dict[int, tuple[bool, bool]] = {}  # id(tag) -> (no text, holds media)
    order: list[Tag] = []
    stack: list[Tag] = [soup]
    while stack:  # parents before children; walked backwards below
        tag = stack.pop()
        order.append(tag)
        stack.extend(child for child in tag.contents if isinstance(child, Tag))
    for tag in reversed(order):
        contents: list[PageElement] = []
        no_text, media = True, False
        for child in tag.contents:
            if not isinstance(child, Tag):
                contents.append(child)
                if type(child) in (NavigableString, CData):  # what get_text() reads
                    no_text = no_text and _is_blank(str(child))
                continue
            kept = _kept(child, remote, cids)
            if kept is None:  # removed
                continue
            if isinstance(kept, NavigableString):
                contents.append(kept)
                no_text = False
                continue
            child_blank, child_media = blank.pop(id(child))
            if child.name == "p" and child_blank and not child_media:
                continue  # Word/Outlook spacer paragraph (<p class=MsoNormal><o:p>&nbsp;…)
            no_text, media = no_text and child_blank, media or child_media
            media = media or child.name in _MEDIA
            if child.name == "span" or (child.name == "a" and not child.get("href")):
                contents.extend(child.contents)  # only noise: never an attribute to keep
            else:
                contents.append(child)
        tag.contents = contents
        blank[id(tag)] = (no_text, media)
    relink(soup)
    _normalise_blank_strings(soup)
    return list(remote), list(cids)


def _kept(tag: Tag, remote: dict[str, None], cids: dict[str, None]) -> Tag | NavigableString | None:
    """What stays of an element: itself, text in place of a remote image, or None."""
    if tag.name != "img":
        return tag
    src = str(tag.get("src") or "")
    prefix = _url_prefix(src)
    if prefix.startswith(_CID_SCHEME) and _cid_from_src(src):
        cids.setdefault(_cid_from_src(src))
        return tag
    if prefix.startswith(_REMOTE_SCHEMES):
        remote.setdefault(src.strip(_URL_STRIP))
        alt = " ".join(str(tag.get("alt") or "").split())
        if alt:
            return NavigableString(f"[{alt}]")
    return None


def _normalise_blank_strings(soup: BeautifulSoup) -> None:
    """Collapse whitespace-only text outside ``<pre>`` the way the parser does on re-reading.

    Removing elements leaves neighbouring blank strings; without this the next
    ``sanitize_html`` run would collapse them and the result would not be idempotent.
    """
    smooth(soup)
    stack: list[tuple[Tag, bool]] = [(soup, False)]  # (tag, inside a <pre>)
    while stack:
        tag, in_pre = stack.pop()
        for index, child in enumerate(tag.contents):
            if isinstance(child, Tag):
                stack.append((child, in_pre or child.name == "pre"))
            elif (
                isinstance(child, NavigableString)
                and not isinstance(child, Comment)
                and not in_pre
                and str(child)
                and str(child).strip(_ASCII_SPACES) == ""
            ):
                blank = "\n" if "\n" in child else " "
                tag.contents[index] = _in_place_of([child], blank)


# nh3's parser (html5ever) looks through the elements open around each tag it reads, and
# bs4 finds where an element ends by walking down to its last descendant: HTML nested
# 40,000 deep took 9 s a nh3 pass, 200,000 deep hours. Elements nested deeper than an
# article ever is are flattened first (their text stays). Markup that short, or with
# that few tags, cannot nest deep enough to matter, and is not looked at.
MAX_DEPTH = 256
_SHALLOW_ENOUGH = 4096
_START_TAG = re.compile(r"<[a-zA-Z]")
_TAG_START = re.compile(r"<(/?)([a-zA-Z][^\t\n\r\f />\x00]*)")
_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param"}
    | {"source", "track", "wbr"}
)


def _too_deep(html: str) -> bool:
    """Whether elements nest deeper than MAX_DEPTH in ``html`` (as html.parser reads it:
    an end tag closes the elements opened after its own, one without its own is none)."""
    stack: list[str] = []
    open_count: dict[str, int] = {}
    for match in _TAG_START.finditer(html):
        name = match.group(2).lower()
        if not match.group(1):
            if name not in _VOID:
                stack.append(name)
                open_count[name] = open_count.get(name, 0) + 1
                if len(stack) > MAX_DEPTH:
                    return True
        elif open_count.get(name):
            while (closed := stack.pop()) != name:
                open_count[closed] -= 1
            open_count[name] -= 1
    return False


def _flattened(html: str) -> str:
    """``html`` with each element at MAX_DEPTH holding only the text beneath it."""
    soup = parse_html(html)
    stack: list[tuple[Tag, int]] = [(soup, 0)]
    while stack:
        tag, depth = stack.pop()
        if depth >= MAX_DEPTH:
            text = [NavigableString(s) for s in tag.descendants if type(s) is NavigableString]
            tag.contents = list(text)
            continue
        stack.extend((child, depth + 1) for child in tag.contents if isinstance(child, Tag))
    relink(soup)
    return str(soup)


def shallow_html(html: str) -> str:
    """``html`` with the elements nested deeper than MAX_DEPTH flattened (their text kept)."""
    if len(html) <= _SHALLOW_ENOUGH or len(_START_TAG.findall(html)) <= MAX_DEPTH:
        return html
    return _flattened(html) if _too_deep(html) else html


def sanitize_html(html: str) -> SanitizedHtml:
    """Sanitise an untrusted HTML body; see the module docstring for the policy."""
    html = shallow_html(html)
    first = strip_bidi(_clean(_FIRST_PASS, html))  # character references are decoded by now
    soup = parse_html(first)
    remote, cids = _process_tree(soup)
    final = _clean(_FINAL_PASS, str(soup)).strip()
    return SanitizedHtml(html=final, remote_images=tuple(remote), cid_refs=tuple(cids))


_CID_ATTRS = frozenset({("img", "src"), ("a", "href")})


def resolve_cids(html: str, url_for: Callable[[str], str | None]) -> str:
    """Sanitised ``html`` with each ``cid:`` reference (an image's ``src``, a link's
    ``href``) replaced by ``url_for(content id)``, or kept where that gives None.

    The sanitiser parses and writes the HTML out again, so a reference is only ever a
    real attribute, and a URL put in can only land inside its attribute's quotes: text
    that merely looks like ``src='cid:…'`` (in a title, in the prose) is left alone.
    """

    def swap(tag: str, attr: str, value: str) -> str | None:
        if (tag, attr) in _CID_ATTRS and _url_prefix(value).startswith(_CID_SCHEME):
            return url_for(_cid_from_src(value)) or value
        return _common_filter(tag, attr, value)

    return _clean(_cleaner(swap, "pass_through"), html)


def _recipients(href: str) -> str:
    """Whom a mailto: link writes to: its address and those of its ``to``, ``cc`` and
    ``bcc`` fields (``mailto:?to=x@y`` has only the latter)."""
    address, _, fields = href.partition(":")[2].partition("#")[0].partition("?")
    found = [unquote(address)] + [
        value for name, value in parse_qsl(fields) if name.lower() in ("to", "cc", "bcc")
    ]
    return ", ".join(a.strip() for a in found if a.strip())


def _destination(href: str) -> str:
    """Where a link goes, as a reader should see it: the host (in ASCII, so a look-alike
    letter shows), or the addresses of a mailto: link, the number of a tel: link."""
    url = href.strip(_URL_STRIP)
    scheme = url.partition(":")[0].lower()
    if scheme == "mailto":
        return _recipients(url)
    if scheme == "tel":
        return unquote(url.partition(":")[2].partition("?")[0].partition("#")[0])
    return urlsplit(url).hostname or ""  # http(s), or scheme-relative (//host)


_SHOWN_URL = re.compile(r"(?:https?://)?([^\s/?#:]+)(?::[0-9]*)?(?:[/?#]\S*)?", re.IGNORECASE)


def _text_names(text: str, where: str) -> bool:
    """Whether a link's whole visible text is its destination: the host or a URL on it
    (``dongnai.gov.vn/x``, ``https://dongnai.gov.vn``), the address of a mailto: link.
    Containing it is not enough: the host may be drawn too small to see."""
    shown = text.strip().casefold()
    url = _SHOWN_URL.fullmatch(shown)
    if url is not None and url.group(1) == where.casefold():
        return True
    return shown.removeprefix("mailto:").removeprefix("tel:") == where.casefold()


def with_destinations(html: str) -> str:
    """Sanitised ``html`` for a reviewer: each link whose text is not where it goes
    (:func:`_text_names`) is followed by its destination in brackets, so an article cannot
    dress a link to another site as the board's own «Duyệt» button or link.

    An http(s) link is put in :func:`web_url`'s form first (a body stored before the
    sanitiser did so may hold another), so the label names the host a browser opens."""
    if "<a " not in html:
        return strip_bidi(html)
    soup = BeautifulSoup(strip_bidi(html), "html.parser")
    for link in soup.find_all("a", href=True):
        href = str(link["href"])
        if _url_prefix(href).startswith(_REMOTE_SCHEMES):
            web = web_url(href)
            if web is None:
                link.unwrap()
                continue
            link["href"] = href = web
        where = strip_bidi(_destination(href))  # a mailto: address may hold %E2%80%AE
        if where and not _text_names(link.get_text(), where):
            link.insert_after(f" [{where}]")
    return str(soup)


_URL_RE = re.compile(r"https?://[^\s<>\"'`]+", re.IGNORECASE)
_URL_TRAILING = ".,;:!?)]}'\""


def _without_trailing(url: str) -> str:
    """``url`` without the punctuation that ends the sentence around it, but a closing
    parenthesis that belongs to it (Wikipedia style). One pass from the end: cut a character
    at a time, and its brackets counted again each time, 100,000 ")" took 4 s."""
    opening, closing = url.count("("), url.count(")")  # "(" is never cut: opening stays
    end = len(url)
    while end and url[end - 1] in _URL_TRAILING:
        if url[end - 1] == ")":
            if opening >= closing:
                break
            closing -= 1
        end -= 1
    return url[:end]


def _linkify_line(line: str) -> str:
    out: list[str] = []
    pos = 0
    for match in _URL_RE.finditer(line):
        url = _without_trailing(match.group(0))
        if len(url) <= len("https://"):
            continue
        start = match.start()
        out.append(html_lib.escape(line[pos:start], quote=False))
        href = html_lib.escape(url, quote=True)
        out.append(f'<a href="{href}">{html_lib.escape(url, quote=False)}</a>')
        pos = start + len(url)
    out.append(html_lib.escape(line[pos:], quote=False))
    return "".join(out)


def text_to_html(text: str) -> str:
    """Plain-text body -> safe HTML: blank-line separated ``<p>``, ``<br>`` inside them.

    Everything is escaped; http(s) URLs become links (with the same ``rel`` as sanitised
    links). The result is already in sanitised form.
    """
    normalised = text.replace("\r\n", "\n").replace("\r", "\n")
    paragraphs = [p for p in re.split(r"\n[ \t\xa0]*\n", normalised) if not _is_blank(p)]
    parts: list[str] = []
    for para in paragraphs:
        lines = [_linkify_line(line.rstrip()) for line in para.strip("\n").split("\n")]
        parts.append("<p>" + "<br>".join(lines) + "</p>")
    return strip_bidi(_clean(_FINAL_PASS, "\n".join(parts)).strip())


_BLOCK_TAGS: frozenset[str] = frozenset(
    {
        "p",
        "div",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "blockquote",
        "pre",
        "table",
        "figure",
        "ul",
        "ol",
        "dl",
        "address",
        "article",
        "section",
        "header",
        "footer",
        "main",
        "aside",
        "nav",
        "hr",
        "form",
        "fieldset",
        "center",
    }
)
_LINE_TAGS: frozenset[str] = frozenset(
    {"li", "tr", "caption", "figcaption", "dt", "dd", "thead", "tbody", "tfoot"}
)
_CELL_TAGS: frozenset[str] = frozenset({"td", "th"})
_SKIP_TAGS: frozenset[str] = frozenset(
    {"script", "style", "head", "title", "template", "noscript", "xml", "svg", "math"}
)


class _TextBuilder:
    """Accumulates text with pending line breaks (1 = newline, 2 = blank line)."""

    def __init__(self, line_tags: frozenset[str] = frozenset()) -> None:
        self.line_tags = line_tags  # blocks that end a line, not a paragraph
        self.parts: list[str] = []
        self.pending = 0
        self.cell_sep = False

    def text(self, value: str) -> None:
        if not value:
            return
        if not value.strip(" ") and (
            self.pending or self.cell_sep or not self.parts or self.parts[-1].endswith("\n")
        ):
            return  # inter-element whitespace must not break a pending line break
        if self.parts:
            if self.pending:
                self.parts.append("\n" * self.pending)
            elif self.cell_sep:
                self.parts.append("\t")
        self.pending = 0
        self.cell_sep = False
        self.parts.append(value)

    def newline(self) -> None:
        if self.parts:
            self.parts.append("\n" * max(self.pending, 1))
        self.pending = 0
        self.cell_sep = False

    def brk(self, level: int) -> None:
        self.pending = max(self.pending, level)

    def result(self) -> str:
        raw = "".join(self.parts)
        lines = [
            re.sub(r" *\t *", "\t", re.sub(r"[ ]{2,}", " ", line)).strip(" ")
            for line in raw.split("\n")
        ]
        joined = "\n".join(lines)
        return re.sub(r"\n{3,}", "\n\n", joined).strip("\n")


def _boundary(name: str, out: _TextBuilder) -> None:
    """What starts and ends an element: its block or line break, its cell separator."""
    ends_line = name in _LINE_TAGS or name in out.line_tags
    level = 1 if ends_line else 2 if name in _BLOCK_TAGS else 0
    if level:
        out.brk(level)
    if name in _CELL_TAGS:
        out.cell_sep = True


def _walk(top: PageElement, out: _TextBuilder) -> None:
    """Write ``top`` and what it holds, in document order. A loop over a stack, not
    recursion: a mail's HTML may nest thousands deep (an unclosed ``<font>`` a word)."""
    # (node, inside a <pre>) to open, or the name of an element to close
    stack: list[tuple[PageElement, bool] | str] = [(top, False)]
    while stack:
        entry = stack.pop()
        if isinstance(entry, str):
            _boundary(entry, out)
            continue
        node, in_pre = entry
        if isinstance(node, Comment):
            continue
        if isinstance(node, NavigableString):
            value = str(node).replace("\xa0", " ")
            if in_pre:
                for i, line in enumerate(value.split("\n")):
                    if i:
                        out.newline()
                    out.text(line)
            else:
                out.text(re.sub(r"[ \t\n\r\f]+", " ", value))
            continue
        if not isinstance(node, Tag):
            continue
        name = node.name.lower()
        if name in _SKIP_TAGS:
            continue
        if name == "br":
            out.newline()
            continue
        _boundary(name, out)
        if name == "li":
            out.text("- ")
        stack.append(name)
        inner = in_pre or name == "pre"
        stack.extend((child, inner) for child in reversed(list(node.children)))


def html_to_text(html: str, *, line_tags: frozenset[str] = frozenset()) -> str:
    """Readable plain text from (sanitised) HTML, NFC-normalised.

    Paragraphs and other blocks are separated by a blank line, ``<br>``, list items,
    table rows and captions by a newline; list items start with ``"- "`` and table
    cells are separated by a tab. Used for classification and duplicate detection.
    ``line_tags``: blocks that hold one line each and so end with a newline only (a mail
    editor writes each line typed as a ``<div>`` or ``<p>``).
    """
    soup = parse_html(html)
    out = _TextBuilder(line_tags)
    for child in soup.children:
        _walk(child, out)
    return unicodedata.normalize("NFC", out.result())
