"""Outlook's winmail.dat (application/ms-tnef), unpacked with tnefparse into real files.

tnefparse trusts the counts in the stream, so a crafted count of 2**32-1 would keep a
worker looping for hours: every count is checked against its data first.
"""

from __future__ import annotations

import mimetypes
import unicodedata
from dataclasses import dataclass
from typing import Any

from tnefparse import TNEF

from pipeline.charsets import decode_bytes

_MAPI_ATTACH_LONG_FILENAME = 0x3707
_MAPI_ATTACH_MIME_TAG = 0x370E


_TNEF_SIGNATURE = b"\x78\x9f\x3e\x22"
_IMESSAGE_SIG = b"\x07\x03\x02\x00\x00\x00\x00\x00\xc0\x00\x00\x00\x00\x00\x00\x46"
_MAX_EMBEDDED = 16
_MAX_OBJECTS = 20_000  # a real winmail.dat has a few per attachment
# MAPI value sizes (MS-OXCDATA 2.11.1); None = counted, length-prefixed values.
_MAPI_FIXED = {0x0002: 2, 0x000B: 2, 0x0003: 4, 0x0004: 4, 0x000A: 4}
_MAPI_FIXED |= {0x0005: 8, 0x0006: 8, 0x0007: 8, 0x0014: 8, 0x0040: 8, 0x0048: 16}
_MAPI_COUNTED = frozenset({0x0000, 0x000D, 0x001E, 0x001F, 0x0102})


class _Truncated(Exception):
    """tnefparse stops (struct.error) where this is raised, so checking may stop too."""


def _u32(data: bytes, offset: int) -> int:
    if offset + 4 > len(data):
        raise _Truncated
    return int.from_bytes(data[offset : offset + 4], "little")


def _mapi_end(data: bytes, offset: int) -> int:
    """End of a MAPI property list starting at `offset`; ValueError if a count overruns.

    tnefparse trusts the counts in the stream and loops that many times even past the end
    of the data, so a crafted winmail.dat with a count of 2**32 would hang the worker.
    """
    try:
        return _mapi_list_end(data, offset)
    except _Truncated:
        return len(data)


def _mapi_list_end(data: bytes, offset: int) -> int:
    count = _u32(data, offset)
    offset += 4
    if count > (len(data) - offset) // 4:
        raise ValueError(f"{count} MAPI properties cannot fit in {len(data) - offset} bytes")
    for _ in range(count):
        prop_type = int.from_bytes(data[offset : offset + 2], "little")
        prop_id = int.from_bytes(data[offset + 2 : offset + 4], "little")
        offset += 4
        if prop_id >= 0x8000:  # named property: GUID, kind, then an id or a name
            kind = _u32(data, offset + 16)
            offset += 20
            offset += 4 if kind == 0 else 4 + (_u32(data, offset) + 3) // 4 * 4
        values = 1
        if prop_type & 0x1000:
            prop_type ^= 0x1000
            values = _u32(data, offset)
            offset += 4
        elif prop_type in _MAPI_COUNTED:
            values = _u32(data, offset)
            offset += 4
        if prop_type in _MAPI_FIXED:
            size = _MAPI_FIXED[prop_type]
            if values * size > len(data) - offset:
                raise ValueError("MAPI values overrun the attribute")
            offset += values * size
            if prop_type in (0x0002, 0x000B) and values % 2:
                offset += 2
        elif prop_type in _MAPI_COUNTED:
            if values > (len(data) - offset) // 4:
                raise ValueError("MAPI values overrun the attribute")
            for _ in range(values):
                offset += 4 + (_u32(data, offset) + 3) // 4 * 4
        else:
            return len(data)  # tnefparse stops at an unknown type too
        if offset > len(data):
            raise ValueError("MAPI property overruns the attribute")
    return offset


def _check_tnef(data: bytes) -> None:
    """Raise ValueError unless every count in the stream (and embedded ones) fits its data."""
    starts = [0]
    position = data.find(_IMESSAGE_SIG)
    while position != -1:
        starts.append(position + len(_IMESSAGE_SIG))
        if len(starts) > _MAX_EMBEDDED:
            raise ValueError("too many embedded messages")
        position = data.find(_IMESSAGE_SIG, position + 1)
    for start in starts:
        stream = data[start:]
        if not stream.startswith(_TNEF_SIGNATURE):
            continue
        offset, objects = 6, 0
        while offset + 12 < len(stream):  # the same framing as tnefparse
            objects += 1
            if objects > _MAX_OBJECTS:  # tnefparse copies the rest of the stream per object
                raise ValueError(f"more than {_MAX_OBJECTS} objects")
            name = int.from_bytes(stream[offset + 1 : offset + 3], "little")
            length = min(len(stream) - offset, _u32(stream, offset + 5) + 11)
            payload = stream[offset + 9 : offset + length - 2]
            if name in (0x9003, 0x9005) and len(payload) >= 4:  # MAPI props, attachment
                _mapi_end(payload, 0)
            elif name == 0x9004 and len(payload) >= 4:  # recipient table: rows of props
                rows, row_offset = _u32(payload, 0), 4
                if rows > len(payload) // 4:
                    raise ValueError(f"{rows} recipients cannot fit in {len(payload)} bytes")
                for _ in range(rows):
                    if row_offset >= len(payload):
                        break
                    row_offset = _mapi_end(payload, row_offset)
            offset += length


def _tnef_text(value: Any, codepage: str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return decode_bytes(value.rstrip(b"\x00"), codepage)
    return unicodedata.normalize("NFC", str(value).rstrip("\x00"))


def _tnef_attr(attachment: Any, name: int) -> str | None:
    for attr in getattr(attachment, "mapi_attrs", []):
        if attr.name == name:
            try:
                return _tnef_text(attr.data, None) or None
            except Exception:
                return None
    return None


@dataclass(frozen=True)
class Unpacked:
    files: tuple[tuple[str | None, str, bytes], ...]  # (name, content type, data)
    text: str
    html: str


def unpack(data: bytes) -> Unpacked:
    """The files and body inside a TNEF stream; raises ValueError (or tnefparse's own
    errors) when the stream cannot be trusted or read."""
    _check_tnef(data)
    tnef = TNEF(data, do_checksum=False)
    codepage = tnef.codepage
    files = []
    for item in tnef.attachments:
        # The short title is in the OEM code page (often cp1258 in Vietnam), which
        # tnefparse decodes as UTF-8; read its bytes ourselves when there is no long name.
        name = _tnef_attr(item, _MAPI_ATTACH_LONG_FILENAME) or _tnef_text(
            getattr(item, "_name", None), codepage
        )
        mime = _tnef_attr(item, _MAPI_ATTACH_MIME_TAG) or (
            mimetypes.guess_type(name or "")[0] or "application/octet-stream"
        )
        files.append((name or None, mime.lower(), bytes(item.data)))
    return Unpacked(
        tuple(files), _tnef_text(tnef.body, codepage), _tnef_text(tnef.htmlbody, codepage)
    )
