"""Media and names shared by the connectors that store files and write pages.

``cid:`` references of a body (``content_id``, ``cids_in``, ``rewrite_cids``), names
derived from an article (``short_key``, ``slugify``, ``post_slug``), file names a
portal can take (``safe_filename``, ``ascii_name``) and the list of download links
put under a post (``file_list``).
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
import unicodedata
from collections.abc import Iterable, Mapping
from html import escape
from urllib.parse import unquote

from pipeline.sanitize import resolve_cids
from pipeline.textfold import fold


def short_key(key: str) -> str:
    """Eight hex digits standing for an idempotency key in names and URLs."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:8]


def content_id(value: str) -> str:
    """A content id as a body references it: ``cid:<a%40b>`` and ``<a@b>`` are ``a@b``."""
    value = value.strip()
    if value.lower().startswith("cid:"):
        value = value[4:]
    return unquote(value).strip().strip("<>").strip()


def rewrite_cids(html: str, urls: Mapping[str, str]) -> str:
    """Sanitised ``html`` with ``cid:<id>`` images and links pointing at ``urls[id]``;
    ids without a URL stay."""
    wanted = {content_id(cid): url for cid, url in urls.items()}
    return resolve_cids(html, lambda cid: wanted.get(content_id(cid)))


def cids_in(html: str) -> set[str]:
    """The content ids that sanitised ``html`` references."""
    found: set[str] = set()

    def note(cid: str) -> None:
        found.add(content_id(cid))

    resolve_cids(html, note)
    return found


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def slugify(title: str, limit: int = 60) -> str:
    """ASCII words of ``title``: "Hội nghị tổng kết" -> "hoi-nghi-tong-ket"."""
    words = re.sub(r"[^a-z0-9]+", "-", fold(nfc(title))).strip("-")
    if len(words) > limit:
        words = words[:limit].rsplit("-", 1)[0] if "-" in words[:limit] else words[:limit]
    return words or "bai"


def post_slug(title: str, key: str) -> str:
    """A post's name in paths and URLs: ``<slug of the title>-<short key>``."""
    return f"{slugify(title)}-{short_key(key)}"


def file_list(files: Iterable[tuple[str, str]]) -> str:
    """A ``<ul>`` of download links, one per (URL, file name); empty without files."""
    rows = "".join(
        f'<li><a href="{escape(url, quote=True)}">{escape(name)}</a></li>' for url, name in files
    )
    return f"<ul>{rows}</ul>" if rows else ""


# Served from the portal's own origin, these would run in the reader's browser (or on a
# server that executes scripts): such attachments are written with ".txt" added. So is any
# name the web server would serve as a type the browser renders as a document (HTML, any
# XML: XHTML, SVG, Atom, RDF, MathML…, script): the server takes its types from the same
# table ``mimetypes`` reads (/etc/mime.types), so ".xhtm" counts as surely as ".xhtml".
ACTIVE_EXTENSIONS = frozenset(
    [
        "html",
        "htm",
        "xhtml",
        "xht",
        "shtml",
        "svg",
        "svgz",
        "xml",
        "xsl",
        "xslt",
        "js",
        "mjs",
        "mht",
        "mhtml",
        "swf",
        "hta",
        "php",
        "phtml",
        "phar",
        "cgi",
        "pl",
        "asp",
        "aspx",
        "jsp",
    ]
)

_ACTIVE_TYPE = re.compile(r"html|javascript|ecmascript|[/+]xml$|^text/(?:xsl|mathml)$", re.I)


# A file name's bytes on disk: Linux takes 255 (a temporary name adds a few); 200 leave room.
MAX_NAME_BYTES = 200


def safe_filename(name: str) -> str:
    """``name`` as a plain file name: no folders, control characters or active content,
    and a type every web server knows (a name without one gets ".bin": served as a
    download, never sniffed as a page); at most ``MAX_NAME_BYTES`` bytes in UTF-8.
    A safe name stays as it is."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C")
    name = nfc(name).strip(" .") or "tep"
    served_as = _served_as(name)
    if _active(name, served_as):
        name += ".txt"
    elif not served_as:
        name += ".bin"
    return _shortened(name)


def _served_as(name: str) -> str:
    """The type a web server gives ``name`` (from the table ``mimetypes`` reads); "" if none."""
    extension = name.rpartition(".")[2].lower() if "." in name else ""
    return (extension and mimetypes.guess_type(f"f.{extension}", strict=False)[0]) or ""


def _active(name: str, served_as: str) -> bool:
    extension = name.rpartition(".")[2].lower()
    return extension in ACTIVE_EXTENSIONS or _ACTIVE_TYPE.search(served_as) is not None


def _shortened(name: str) -> str:
    """``name`` cut to ``MAX_NAME_BYTES`` bytes at a character's end, its extension kept."""
    if len(name.encode("utf-8")) <= MAX_NAME_BYTES:
        return name
    stem, _, extension = name.rpartition(".")
    room = MAX_NAME_BYTES - len(extension.encode("utf-8")) - 1
    stem = stem.encode("utf-8")[:room].decode("utf-8", "ignore").rstrip(" .") or "tep"
    return f"{stem}.{extension}"


def ascii_name(filename: str) -> str:
    """A file name WordPress accepts in Content-Disposition: "Ảnh lễ.png" -> "Anh-le.png"."""
    plain = unicodedata.normalize("NFKD", filename.replace("đ", "d").replace("Đ", "D"))
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    return re.sub(r"[^A-Za-z0-9._-]+", "-", plain).strip("-.") or "tep"
