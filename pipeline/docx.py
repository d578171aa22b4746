"""Word (.docx) articles to HTML, with legacy Vietnamese fonts converted to Unicode.

mammoth does the conversion. It does not expose fonts, so text typed in the pre-Unicode
fonts still common in offices (".VnTime" = TCVN3, "VNI-Times" = VNI) would come out as
mojibake. Before mammoth sees the file, `_convert_legacy_runs` rewrites the package: every
run whose effective font (direct formatting, then its character style, then its paragraph
style, then the document defaults) is such a font gets its `w:t` text converted and its font
set to a Unicode one - unless the paragraph's text in that font is Unicode already (typed
with a Unicode keyboard under a ".VnTime" style: `is_unicode_in_legacy_font`). What is left
is run through `vietnamese.normalize`.

mammoth also shows what Word does not: text formatted hidden (`w:vanish`, directly or by
its character or paragraph style), such as a note to colleagues left in the file, and the
prompt of a form field nobody filled in ("Bấm vào đây để nhập văn bản", `w:showingPlcHdr`).
The same rewrite empties those runs first, so they never reach a reviewer or the portal.
Deleted tracked changes (`w:del`, `w:moveFrom`) and comments mammoth leaves out itself.

Images are not inlined as data: URLs (the sanitiser strips those). Each image becomes an
`Attachment` with inline=True and a Content-ID, and the HTML refers to it as `cid:<id>`, the
same shape as an inline image of an e-mail, so the caller stores both the same way.
"""

from __future__ import annotations

import mimetypes
import posixpath
import re
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any
from xml.dom import minidom
from xml.dom.minidom import Element, Text
from xml.parsers.expat import ExpatError

import mammoth

from pipeline.parsing import Attachment
from pipeline.vietnamese import (
    Legacy,
    convert_legacy,
    font_encoding,
    is_unicode_in_legacy_font,
    is_uppercase_font,
    normalize,
)

__all__ = ["DocxArticle", "DocxError", "docx_text", "docx_to_html", "is_word_file"]

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
# A .docm is a .docx that also carries macros; only its XML is read, its macros never run.
WORD_SUFFIXES = (".docx", ".docm")
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
WORD_TYPES = frozenset(
    {
        DOCX_TYPE,
        "application/vnd.ms-word.document.macroenabled.12",
    }
)
_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_OFFICE_DOCUMENT = "/officeDocument"
_NOTE_PARTS = ("/footnotes", "/endnotes")
UNICODE_FONT = "Times New Roman"
# An uncompressed XML part larger than this is refused (the file stays an attachment). mammoth
# takes about 5 s and 100 MB a megabyte of dense XML, so 60 MB held a reader for hours and
# took 3.6 GB; an article's document.xml is tens or hundreds of kilobytes.
MAX_PART_BYTES = 4 * 1024 * 1024
MAX_PACKAGE_BYTES = 512 * 1024 * 1024  # the whole package, uncompressed (zip bombs)
_FONT_ATTRS = ("ascii", "hAnsi")
_SENTENCE_END = frozenset(".!?:…")
_BLOCK_END = re.compile(r"</(?:p|h[1-6]|li|tr|table|ul|ol|blockquote)>")
_THEME_ATTRS = {"ascii": "asciiTheme", "hAnsi": "hAnsiTheme"}
_HIDDEN_MARKS = (b"vanish", b"showingPlcHdr")  # a part without them hides no text
_FALSE = frozenset({"0", "false", "off"})
# What an emptied run keeps: its properties, and a field's structure (mammoth pairs them).
_KEPT_IN_HIDDEN_RUN = frozenset({"rPr", "fldChar", "instrText"})


class DocxError(Exception):
    """The file is not a readable .docx document."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class DocxArticle:
    html: str  # images as <img src="cid:...">
    images: tuple[Attachment, ...]  # inline=True, content_id matches the cid: in html
    messages: tuple[str, ...]  # mammoth's warnings, and ours


# --------------------------------------------------------------------------- package parts


def _read_part(archive: zipfile.ZipFile, name: str) -> bytes | None:
    try:
        info = archive.getinfo(name)
    except KeyError:
        return None
    if info.file_size > MAX_PART_BYTES:
        raise DocxError(f"part {name} is too large ({info.file_size} bytes)")
    return archive.read(info)


def _refuse_dtd(data: bytes, name: str) -> None:
    # Word never writes a DTD; one in a mailed file is an entity-expansion attempt.
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise DocxError(f"part {name} declares a DTD; refused")


def _parse_xml(data: bytes, name: str) -> minidom.Document:
    _refuse_dtd(data, name)
    try:
        return minidom.parseString(data)
    except ExpatError as exc:
        raise DocxError(f"part {name} is not well-formed XML ({exc})") from exc


def _relationship_targets(archive: zipfile.ZipFile, part: str) -> dict[str, str]:
    """Relationship type suffix (e.g. "/styles") -> part name, for `part` ("" = package)."""
    folder, base = posixpath.split(part)
    rels_name = posixpath.join(folder, "_rels", f"{base}.rels")
    data = _read_part(archive, rels_name)
    if data is None:
        return {}
    _refuse_dtd(data, rels_name)
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise DocxError(f"part {rels_name} is not well-formed XML ({exc})") from exc
    targets: dict[str, str] = {}
    for rel in root.iter(f"{{{_REL}}}Relationship"):
        if rel.get("TargetMode") == "External":
            continue
        kind = "/" + rel.get("Type", "").rsplit("/", 1)[-1]
        target = rel.get("Target", "")
        path = target.lstrip("/") if target.startswith("/") else posixpath.join(folder, target)
        targets.setdefault(kind, posixpath.normpath(path))
    return targets


# --------------------------------------------------------------------------- fonts

_Fonts = dict[str, str]  # "ascii"/"hAnsi" -> font name ("" = a theme font, i.e. Unicode)


def _children(element: Element, local: str) -> list[Element]:
    return [
        node
        for node in element.childNodes
        if isinstance(node, Element) and node.namespaceURI == W and node.localName == local
    ]


def _child(element: Element | None, local: str) -> Element | None:
    if element is None:
        return None
    found = _children(element, local)
    return found[0] if found else None


def _w_attr(element: Element | None, local: str) -> str | None:
    if element is None or not element.hasAttributeNS(W, local):
        return None
    return element.getAttributeNS(W, local)


def _fonts_of(rpr: Element | None) -> _Fonts:
    fonts: _Fonts = {}
    rfonts = _child(rpr, "rFonts")
    for attr in _FONT_ATTRS:
        if _w_attr(rfonts, _THEME_ATTRS[attr]) is not None:
            fonts[attr] = ""  # a theme font wins over the explicit name
        else:
            value = _w_attr(rfonts, attr)
            if value is not None:
                fonts[attr] = value
    return fonts


def _merge(low: _Fonts, high: _Fonts) -> _Fonts:
    return {**low, **high}


@dataclass(frozen=True)
class _Styles:
    defaults: _Fonts
    default_paragraph: str | None
    own: dict[str, _Fonts]
    based_on: dict[str, str]
    hidden_default: bool | None = None
    hidden: dict[str, bool] = field(default_factory=dict)  # styles that set w:vanish

    def _chain(self, style_id: str | None) -> list[str]:
        chain: list[str] = []
        while style_id and style_id not in chain and len(chain) < 50:
            chain.append(style_id)
            style_id = self.based_on.get(style_id)
        return chain

    def fonts(self, style_id: str | None) -> _Fonts:
        result: _Fonts = {}
        for sid in reversed(self._chain(style_id)):
            result = _merge(result, self.own.get(sid, {}))
        return result

    def hides(self, style_id: str | None) -> bool | None:
        """Whether the style (or the nearest style it is based on that says) hides text."""
        return next((self.hidden[s] for s in self._chain(style_id) if s in self.hidden), None)


def _et_fonts(rpr: ET.Element | None) -> _Fonts:
    fonts: _Fonts = {}
    rfonts = rpr.find(f"{{{W}}}rFonts") if rpr is not None else None
    if rfonts is None:
        return fonts
    for attr in _FONT_ATTRS:
        if rfonts.get(f"{{{W}}}{_THEME_ATTRS[attr]}") is not None:
            fonts[attr] = ""  # a theme font wins over the explicit name
        elif (value := rfonts.get(f"{{{W}}}{attr}")) is not None:
            fonts[attr] = value
    return fonts


def _vanish(value: str | None, present: bool) -> bool | None:
    """A `w:vanish` element's meaning: None when absent, else hidden unless it says false."""
    return (value is None or value.lower() not in _FALSE) if present else None


def _et_vanish(rpr: ET.Element | None) -> bool | None:
    element = rpr.find(f"{{{W}}}vanish") if rpr is not None else None
    return _vanish(element.get(f"{{{W}}}val") if element is not None else None, element is not None)


def _read_styles(data: bytes | None) -> _Styles:
    """Fonts of the styles part. Read-only, so ElementTree (much faster than minidom)."""
    if data is None:
        return _Styles({}, None, {}, {})
    _refuse_dtd(data, "styles")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise DocxError(f"the styles part is not well-formed XML ({exc})") from exc
    defaults: _Fonts = {}
    hidden_default = None
    for rpr_default in root.iter(f"{{{W}}}rPrDefault"):
        defaults = _et_fonts(rpr_default.find(f"{{{W}}}rPr"))
        hidden_default = _et_vanish(rpr_default.find(f"{{{W}}}rPr"))
    own: dict[str, _Fonts] = {}
    hidden: dict[str, bool] = {}
    based_on: dict[str, str] = {}
    default_paragraph = None
    for style in root.iter(f"{{{W}}}style"):
        style_id = style.get(f"{{{W}}}styleId")
        if not style_id:
            continue
        own[style_id] = _et_fonts(style.find(f"{{{W}}}rPr"))
        if (hides := _et_vanish(style.find(f"{{{W}}}rPr"))) is not None:
            hidden[style_id] = hides
        parent = style.find(f"{{{W}}}basedOn")
        if parent is not None and parent.get(f"{{{W}}}val"):
            based_on[style_id] = parent.get(f"{{{W}}}val", "")
        is_default = style.get(f"{{{W}}}default") in ("1", "true")
        if style.get(f"{{{W}}}type") == "paragraph" and is_default:
            default_paragraph = style_id
    return _Styles(defaults, default_paragraph, own, based_on, hidden_default, hidden)


def _paragraph_of(run: Element) -> Element | None:
    node = run.parentNode
    while isinstance(node, Element):
        if node.namespaceURI == W and node.localName == "p":
            return node
        node = node.parentNode
    return None


_RunFont = tuple[Legacy, bool]  # (legacy encoding, upper-case font)


def _paragraph_style(
    run: Element, styles: _Styles, paragraph_styles: dict[int, str | None]
) -> str | None:
    """The style of the run's paragraph (the default one if it names none). Each
    paragraph's is read once: its properties are looked for among all its children, and
    per run a paragraph of 4,000 runs took a minute."""
    paragraph = _paragraph_of(run)
    key = id(paragraph)
    if key not in paragraph_styles:
        paragraph_styles[key] = _w_attr(_child(_child(paragraph, "pPr"), "pStyle"), "val")
    return paragraph_styles[key] or styles.default_paragraph


def _is_hidden(run: Element, styles: _Styles, paragraph_styles: dict[int, str | None]) -> bool:
    """Word hides the run: `w:vanish` set on it, else by its character style, else by its
    paragraph's style, else by the document's defaults (the nearest that says wins)."""
    rpr = _child(run, "rPr")
    vanish = _child(rpr, "vanish")
    for hides in (
        _vanish(_w_attr(vanish, "val"), vanish is not None),
        styles.hides(_w_attr(_child(rpr, "rStyle"), "val")),
        styles.hides(_paragraph_style(run, styles, paragraph_styles)),
        styles.hidden_default,
    ):
        if hides is not None:
            return hides
    return False


def _in_placeholder(run: Element) -> bool:
    """The run is in a content control that shows its prompt, not text typed into it."""
    node = run.parentNode
    while isinstance(node, Element):
        is_control = node.namespaceURI == W and node.localName == "sdt"
        if is_control and _child(_child(node, "sdtPr"), "showingPlcHdr") is not None:
            return True
        node = node.parentNode
    return False


def _empty(run: Element) -> None:
    """Take out everything the run shows (text, pictures, breaks, note references)."""
    for node in list(run.childNodes):
        if not (isinstance(node, Element) and node.localName in _KEPT_IN_HIDDEN_RUN):
            run.removeChild(node)


def _run_font(
    run: Element, styles: _Styles, paragraph_styles: dict[int, str | None]
) -> _RunFont | None:
    """(legacy encoding, upper-case font) of a run's effective font, or None if Unicode.
    ``paragraph_styles``: each paragraph's style, read once (see `_paragraph_style`)."""
    p_style = _paragraph_style(run, styles, paragraph_styles)
    rpr = _child(run, "rPr")
    fonts = _merge(styles.defaults, styles.fonts(p_style))
    fonts = _merge(fonts, styles.fonts(_w_attr(_child(rpr, "rStyle"), "val")))
    fonts = _merge(fonts, _fonts_of(rpr))
    for attr in _FONT_ATTRS:
        font = fonts.get(attr) or None
        encoding = font_encoding(font)
        if encoding is not None:
            return encoding, is_uppercase_font(font)
    return None


def _set_unicode_font(document: minidom.Document, run: Element) -> None:
    prefix = run.prefix
    qualified = (lambda local: f"{prefix}:{local}") if prefix else (lambda local: local)
    rpr = _child(run, "rPr")
    if rpr is None:
        rpr = document.createElementNS(W, qualified("rPr"))
        run.insertBefore(rpr, run.firstChild)
    rfonts = _child(rpr, "rFonts")
    if rfonts is None:
        rfonts = document.createElementNS(W, qualified("rFonts"))
        r_style = _child(rpr, "rStyle")  # schema order: rStyle, then rFonts
        anchor = r_style.nextSibling if r_style is not None else rpr.firstChild
        rpr.insertBefore(rfonts, anchor)  # type: ignore[arg-type]
    for local in ("asciiTheme", "hAnsiTheme", "cstheme"):
        if rfonts.hasAttributeNS(W, local):
            rfonts.removeAttributeNS(W, local)
    for local in ("ascii", "hAnsi", "cs"):
        rfonts.setAttributeNS(W, qualified(local), UNICODE_FONT)


_FONT_NAME = re.compile(rb'(?::|\s)(?:ascii|hAnsi)="([^"]{1,100})"')


def _names_legacy_font(*parts: bytes | None) -> bool:
    """Cheap pre-check: does any rFonts in these parts name a legacy font?"""
    for data in parts:
        for match in _FONT_NAME.finditer(data or b""):
            if font_encoding(match.group(1).decode("utf-8", "replace")) is not None:
                return True
    return False


def _sentence_start(preceding: str) -> bool:
    stripped = preceding.rstrip()
    return not stripped or stripped[-1] in _SENTENCE_END


def _text_nodes(run: Element) -> list[Text]:
    return [
        node
        for text_element in _children(run, "t")
        for node in text_element.childNodes
        if isinstance(node, Text) and node.data
    ]


def _unicode_paragraphs(runs: list[tuple[Element, _RunFont | None]]) -> set[tuple[int, Legacy]]:
    """(paragraph, encoding) pairs whose legacy-font text is Unicode already, judged on all
    the paragraph's runs in that encoding together (Word splits a word across runs). A
    paragraph that cannot tell follows the others: Unicode if some are and none is legacy."""
    texts: dict[tuple[int, Legacy], list[str]] = {}
    for run, font in runs:
        if font is not None:
            key = (id(_paragraph_of(run)), font[0])
            texts.setdefault(key, []).extend(n.data for n in _text_nodes(run))
    verdicts = {
        key: is_unicode_in_legacy_font("".join(parts), key[1]) for key, parts in texts.items()
    }
    found: dict[Legacy, set[bool | None]] = {}
    for (_, encoding), verdict in verdicts.items():
        found.setdefault(encoding, set()).add(verdict)
    unsure_are_unicode = {enc for enc, seen in found.items() if True in seen and False not in seen}
    return {
        key
        for key, verdict in verdicts.items()
        if verdict or (verdict is None and key[1] in unsure_are_unicode)
    }


def _convert_part(data: bytes, name: str, styles: _Styles, legacy: bool = True) -> bytes | None:
    """Converted XML of one part, or None when it has no hidden and no legacy-font run.

    Hidden runs (and a form field's prompt) are emptied first. ``legacy``: the package
    names a legacy font somewhere.

    Each `w:t` is converted on its own (a VNI letter and its mark split across two runs
    would stay split; Word keeps them in one run unless the formatting changes between).
    The text before a run in its paragraph tells TCVN3 whether the run starts a sentence.
    A paragraph whose text in a legacy font is Unicode already is left as it is.
    """
    document = _parse_xml(data, name)
    changed = False
    # each paragraph's last character so far that is not a space: all a sentence start needs
    paragraph_text: dict[int, str] = {}
    paragraph_styles: dict[int, str | None] = {}
    all_runs = document.getElementsByTagNameNS(W, "r")
    if any(mark in data for mark in _HIDDEN_MARKS) or styles.hidden or styles.hidden_default:
        for run in all_runs:
            if _is_hidden(run, styles, paragraph_styles) or _in_placeholder(run):
                _empty(run)
                changed = True
    runs = [(run, _run_font(run, styles, paragraph_styles) if legacy else None) for run in all_runs]
    unicode = _unicode_paragraphs(runs)
    for run, font in runs:
        key = id(_paragraph_of(run))
        if font is not None and (key, font[0]) in unicode:
            font = None
        for node in _text_nodes(run):
            preceding = paragraph_text.get(key, "")
            if font is not None:
                encoding, uppercase = font
                node.data = convert_legacy(
                    node.data,
                    encoding,
                    uppercase=uppercase,
                    at_sentence_start=_sentence_start(preceding),
                )
            paragraph_text[key] = (preceding + node.data).rstrip()[-1:]
        if font is not None:
            _set_unicode_font(document, run)
            changed = True
    return document.toxml(encoding="UTF-8") if changed else None


def _convert_legacy_runs(data: bytes) -> bytes:
    """The package with legacy-font runs converted to Unicode (the same bytes if none)."""
    try:
        archive = zipfile.ZipFile(BytesIO(data))
    except (zipfile.BadZipFile, ValueError) as exc:
        raise DocxError("not a .docx file (not a ZIP archive)") from exc
    try:
        with archive:
            return _rewrite_package(data, archive)
    except DocxError:
        raise
    except Exception as exc:  # encrypted entries, unknown compression, bad CRC...
        raise DocxError(f"the package cannot be read ({type(exc).__name__}: {exc})") from exc


def _rewrite_package(data: bytes, archive: zipfile.ZipFile) -> bytes:
    declared = sum(info.file_size for info in archive.infolist())
    if declared > MAX_PACKAGE_BYTES:
        raise DocxError(f"the package unpacks to {declared} bytes; refused")
    main = _relationship_targets(archive, "").get(_OFFICE_DOCUMENT, "word/document.xml")
    related = _relationship_targets(archive, main)
    styles_xml = _read_part(archive, related.get("/styles", "word/styles.xml"))
    if styles_xml is not None:
        _refuse_dtd(styles_xml, "styles")
    contents: dict[str, bytes] = {}
    for part in (main, *(related[kind] for kind in _NOTE_PARTS if kind in related)):
        content = _read_part(archive, part)
        if content is not None:
            _refuse_dtd(content, part)
            contents[part] = content
    if main not in contents:
        raise DocxError("the package has no main document part")
    legacy = _names_legacy_font(styles_xml, *contents.values())
    parts = (styles_xml, *contents.values())
    if not legacy and not any(mark in (data or b"") for data in parts for mark in _HIDDEN_MARKS):
        return data
    styles = _read_styles(styles_xml)
    replaced: dict[str, bytes] = {}
    for part, content in contents.items():
        converted = _convert_part(content, part, styles, legacy)
        if converted is not None:
            replaced[part] = converted
    if not replaced:
        return data
    output = BytesIO()
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as rebuilt:
        for info in archive.infolist():
            rebuilt.writestr(info, replaced.get(info.filename) or archive.read(info))
    return output.getvalue()


# --------------------------------------------------------------------------- conversion


def is_word_file(filename: str, content_type: str) -> bool:
    """The attachment is a Word 2007+ document (.docx, .docm), by its type or its name."""
    return content_type.lower() in WORD_TYPES or filename.lower().endswith(WORD_SUFFIXES)


def _image_collector(
    images: list[Attachment], messages: list[str]
) -> Callable[[Any], dict[str, str]]:
    def convert(image: Any) -> dict[str, str]:
        number = len(images) + 1
        try:
            with image.open() as stream:
                content = stream.read()
        except Exception as exc:
            messages.append(f"image {number} could not be read ({type(exc).__name__})")
            return {}
        content_type = (image.content_type or "application/octet-stream").lower()
        extension = mimetypes.guess_extension(content_type, strict=False) or ".bin"
        content_id = f"docx-image-{number}"
        images.append(
            Attachment(
                filename=f"image-{number}{extension}",
                content_type=content_type,
                data=content,
                content_id=content_id,
                inline=True,
            )
        )
        return {"src": f"cid:{content_id}"}

    return convert


def docx_to_html(data: bytes) -> DocxArticle:
    """Convert a .docx to HTML (legacy fonts fixed, images collected). Raises `DocxError`."""
    prepared = _convert_legacy_runs(data)
    images: list[Attachment] = []
    messages: list[str] = []
    try:
        result = mammoth.convert_to_html(
            BytesIO(prepared),
            convert_image=mammoth.images.img_element(_image_collector(images, messages)),
            external_file_access=False,  # an image "linked" to file:///etc/… is never read
        )
    except DocxError:
        raise
    except Exception as exc:
        raise DocxError(f"mammoth could not read the document ({type(exc).__name__})") from exc
    messages[:0] = [str(message.message) for message in result.messages]
    # mammoth writes one long line; `normalize` decides per line, so give it one per block.
    html = _BLOCK_END.sub(lambda match: match.group(0) + "\n", result.value)
    return DocxArticle(html=normalize(html), images=tuple(images), messages=tuple(messages))


def docx_text(data: bytes) -> str:
    """The plain text of a .docx (legacy fonts fixed). Raises `DocxError`."""
    prepared = _convert_legacy_runs(data)
    try:
        result = mammoth.extract_raw_text(BytesIO(prepared))
    except Exception as exc:
        raise DocxError(f"mammoth could not read the document ({type(exc).__name__})") from exc
    return normalize(result.value)
