"""Photos as a portal publishes them: without what the camera wrote about where and who.

A phone writes into each photo where it was taken (GPS), the camera's make, model and
serial number, often its owner's name and the editing program's history (XMP), a
thumbnail of the picture before it was cropped, and, in a motion photo, a short video
after the picture. None of it is the article's: a portal that published it would tell
anyone where an official's photo was taken, or show what the agency cropped out.

``for_portal`` keeps the picture bit for bit: the coded image data, its colour profile
and its orientation (the one EXIF value kept, in an EXIF block of its own). Every other
segment or chunk of a JPEG, PNG or WebP file goes, and nothing after the picture's end.
The file is rewritten by its structure, never decoded and encoded again, so a broken or
huge file costs no more than reading it. The format is known by the bytes, not by the
name or type a mail gave. Other files (GIF, documents) pass unchanged.

An iPhone's HEIC photo is one no browser but Safari shows: ``as_published`` makes it a
JPEG (decoded, turned upright, encoded with its colour profile and nothing else) named
``….jpg``. Whether a file is converted is read from its name and type, so the name a
portal holds is known without the bytes (verification compares names).
"""

from __future__ import annotations

import io
import re
import zlib
from collections.abc import Callable

import pi_heif
from PIL import Image, ImageOps

pi_heif.register_heif_opener()

ORIENTATION = 0x0112  # the EXIF tag; 1 is upright, 2–8 say how a viewer turns it
_EXIF_HEADER = b"Exif\x00\x00"

HEIF_TYPES = frozenset({"image/heic", "image/heif", "image/heic-sequence", "image/heif-sequence"})
HEIF_SUFFIXES = frozenset({".heic", ".heif", ".hif"})
JPEG_QUALITY = 90  # a converted HEIC: as phones save their JPEGs

# -- JPEG: markers and segments (ITU T.81, B.1.1) ----------------------------------------------
_SOI, _EOI, _SOS, _APP1, _COM = 0xD8, 0xD9, 0xDA, 0xE1, 0xFE
# TEM, SOI, RST0–7: no length follows; outside a scan they mean nothing, and go.
_NO_LENGTH = frozenset({0x01, _SOI, *range(0xD0, 0xD8)})
_APPS = frozenset(range(0xE0, 0xF0))
# The application segments a picture needs, by marker and the name their data starts
# with: JFIF's pixel density, the ICC colour profile, Adobe's colour transform (without
# it a CMYK file decodes wrong). Every other APPn and every comment go: EXIF, XMP, IPTC,
# MPF and the pictures it points at, C2PA manifests, makers' own blocks.
_KEPT_APPS: tuple[tuple[int, bytes], ...] = (
    (0xE0, b"JFIF\x00"),
    (0xE2, b"ICC_PROFILE\x00"),
    (0xEE, b"Adobe"),
)
_JFIF_NO_THUMBNAIL = 14  # "JFIF\0", version, units, densities: the thumbnail follows
# The end of a scan's coded data: a marker other than a stuffed 0xFF (FF 00), a restart
# marker (FF D0–D7) or a fill byte.
_SCAN_END = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")

# -- PNG: chunks (ISO 15948, W3C PNG 3rd edition) ---------------------------------------------
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# The chunks that draw the picture (APNG's frames among them) and its colour; text
# (tEXt, zTXt, iTXt: XMP lives there), eXIf, tIME and anything unknown go.
_PNG_KEPT = frozenset(
    b"IHDR PLTE IDAT IEND tRNS gAMA cHRM sRGB iCCP sBIT pHYs bKGD cICP mDCv cLLi "
    b"acTL fcTL fdAT".split()
)

# -- WebP: RIFF chunks (RFC 9649) ---------------------------------------------------------------
_WEBP_KEPT = frozenset({b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF", b"ICCP"})
_VP8X_EXIF, _VP8X_XMP = 0x08, 0x04


def orientation(tiff: bytes) -> int:
    """The orientation an EXIF block gives (1 when it gives none, or cannot be read)."""
    exif = Image.Exif()
    try:
        exif.load(tiff.removeprefix(_EXIF_HEADER))
        value = exif.get(ORIENTATION, 1)
    except Exception:  # Pillow raises what it meets in a broken block
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _exif(turn: int) -> bytes:
    """An EXIF block (TIFF, without the "Exif" header) holding the orientation alone."""
    exif = Image.Exif()
    exif[ORIENTATION] = turn
    return exif.tobytes().removeprefix(_EXIF_HEADER)


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + (len(payload) + 2).to_bytes(2, "big") + payload


def _kept_app(marker: int, payload: bytes) -> bytes | None:
    """An application segment's data as published, or None when it goes."""
    for kept, name in _KEPT_APPS:
        if marker == kept and payload.startswith(name):
            if name == b"JFIF\x00" and len(payload) > _JFIF_NO_THUMBNAIL:
                return payload[:12] + b"\x00\x00"  # no thumbnail
            return payload
    return None


def _jpeg(data: bytes) -> bytes:
    head, body = [bytes((0xFF, _SOI))], []
    turn, pos, size = 1, 2, len(data)
    while (pos := data.find(b"\xff", pos)) >= 0:  # bytes before a marker: dropped
        while pos < size and data[pos] == 0xFF:  # fill bytes
            pos += 1
        if pos >= size:
            break
        marker, pos = data[pos], pos + 1
        if marker == 0x00:  # a stuffed byte outside a scan: junk
            continue
        if marker == _EOI:
            body.append(bytes((0xFF, _EOI)))
            break  # a motion photo's video, MPF's other pictures, anything after: gone
        if marker in _NO_LENGTH:
            continue
        length = int.from_bytes(data[pos : pos + 2], "big")
        if length < 2 or pos + length > size:
            break  # a truncated or broken segment: the picture ends here
        payload, pos = data[pos + 2 : pos + length], pos + length
        if marker in _APPS or marker == _COM:
            if marker == _APP1 and payload.startswith(_EXIF_HEADER):
                turn = orientation(payload)
            kept = None if marker == _COM else _kept_app(marker, payload)
            if kept is not None:
                (head if marker == 0xE0 and not body else body).append(_segment(marker, kept))
            continue
        body.append(_segment(marker, payload))
        if marker == _SOS:
            end = _SCAN_END.search(data, pos)
            stop = end.start() if end else size
            body.append(data[pos:stop])
            pos = stop
    if turn != 1:
        head.append(_segment(_APP1, _EXIF_HEADER + _exif(turn)))
    return b"".join(head + body)


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload).to_bytes(4, "big")
    return len(payload).to_bytes(4, "big") + kind + payload + crc


def _png(data: bytes) -> bytes:
    out, turn, pos = [_PNG_SIGNATURE], 1, len(_PNG_SIGNATURE)
    while pos + 8 <= len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        chunk = data[pos : pos + 12 + length]
        pos += 12 + length
        if kind == b"eXIf":
            turn = orientation(chunk[8:-4])
        elif kind in _PNG_KEPT:
            if kind == b"IDAT" and turn != 1:  # eXIf must come before the image data
                out.append(_png_chunk(b"eXIf", _exif(turn)))
                turn = 1
            out.append(chunk)
        if kind == b"IEND":
            break
    return b"".join(out)


def _riff_chunk(kind: bytes, payload: bytes) -> bytes:
    pad = b"\x00" if len(payload) % 2 else b""
    return kind + len(payload).to_bytes(4, "little") + payload + pad


def _webp(data: bytes) -> bytes:
    chunks: list[list[bytes]] = []
    turn, pos = 1, 12
    end = min(len(data), 8 + int.from_bytes(data[4:8], "little"))
    while pos + 8 <= end:
        kind = data[pos : pos + 4]
        length = int.from_bytes(data[pos + 4 : pos + 8], "little")
        payload = data[pos + 8 : pos + 8 + length]
        pos += 8 + length + length % 2
        if kind == b"EXIF":
            turn = orientation(payload)
        elif kind in _WEBP_KEPT:
            chunks.append([kind, payload])
    extended = [c for c in chunks if c[0] == b"VP8X"]
    if extended:  # its flags say which chunks follow: EXIF only with an orientation
        flags = extended[0][1][0] & ~(_VP8X_EXIF | _VP8X_XMP)
        if turn != 1:
            flags |= _VP8X_EXIF
            chunks.append([b"EXIF", _exif(turn)])
        extended[0][1] = bytes((flags,)) + extended[0][1][1:]
    body = b"WEBP" + b"".join(_riff_chunk(kind, payload) for kind, payload in chunks)
    return b"RIFF" + len(body).to_bytes(4, "little") + body


_FORMATS: tuple[tuple[Callable[[bytes], bool], Callable[[bytes], bytes]], ...] = (
    (lambda data: data.startswith(b"\xff\xd8\xff"), _jpeg),
    (lambda data: data.startswith(_PNG_SIGNATURE), _png),
    (lambda data: data[:4] == b"RIFF" and data[8:12] == b"WEBP", _webp),
)


def for_portal(data: bytes) -> bytes:
    """``data`` as a portal may publish it: a JPEG, PNG or WebP picture without its
    metadata (see the module's note); any other file unchanged."""
    for matches, rewrite in _FORMATS:
        if matches(data):
            return rewrite(data)
    return data


class Unreadable(ValueError):
    """A photo that must be converted to be shown cannot be read."""


def jpeg_name(filename: str, content_type: str) -> str | None:
    """The name a HEIC photo goes live under, as a JPEG ("IMG_0412.HEIC" ->
    "IMG_0412.jpg"); None for any other file. Known by the name and the type alone."""
    stem, dot, suffix = filename.rpartition(".")
    if dot and f".{suffix.lower()}" in HEIF_SUFFIXES:
        return f"{stem}.jpg"
    return f"{filename}.jpg" if content_type.lower() in HEIF_TYPES else None


def as_jpeg(filename: str, data: bytes) -> bytes:
    """A HEIC photo (or any picture Pillow reads) as an upright JPEG with its colour
    profile and nothing else; Unreadable, naming the file, when it cannot be read."""
    try:
        with Image.open(io.BytesIO(data)) as picture:  # a HEIC's decoder turns it upright
            upright = ImageOps.exif_transpose(picture)  # a JPEG called .heic, by its EXIF
            icc = picture.info.get("icc_profile")
            out = io.BytesIO()
            upright.convert("RGB").save(out, "JPEG", quality=JPEG_QUALITY, icc_profile=icc)
    except Exception as exc:  # whatever a broken file makes the decoder raise
        raise Unreadable(f"{filename}: {exc}") from exc
    return out.getvalue()


def as_published(filename: str, content_type: str, data: bytes | None) -> tuple[str, str, bytes]:
    """A mailed file's name, type and bytes as a portal gets them: a HEIC photo as a
    JPEG, a picture without its metadata, anything else unchanged. Without ``data``,
    the name and type (and no bytes). Raises Unreadable for a HEIC that cannot be read."""
    name = jpeg_name(filename, content_type)
    if name is None:
        return filename, content_type, for_portal(data) if data is not None else b""
    return name, "image/jpeg", as_jpeg(filename, data) if data is not None else b""
