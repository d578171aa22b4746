"""Plain text sent as ``format=flowed`` (RFC 3676), as typed.

Thunderbird, Roundcube (the webmail of many *.gov.vn mail systems) and Apple Mail send
plain text this way: each line is broken at the client's width (72 to 78 characters),
and a line that goes on on the next one ends in a space. Read as it comes, an article
is cut into short lines, each a line break on the portal. The only Python package for
it, formatflowed, has had no release since 2016; the decoding is a few lines.
"""

from __future__ import annotations

SIGNATURE_SEPARATOR = "-- "  # ends in a space, yet ends its line


def _quoted(depth: int, text: str) -> str:
    return f"{'>' * depth} {text}" if depth else text


def unflow(text: str, *, delsp: bool = False) -> str:
    """``text`` with its flowed lines joined (``delsp``: the client added the space that
    ends each of them, DelSp=yes); quoted lines keep their ``>`` marks, each depth apart."""
    out: list[str] = []
    open_line: tuple[int, str] | None = None  # a flowed line waiting for the next one
    for raw in text.replace("\r\n", "\n").split("\n"):
        depth = len(raw) - len(raw.lstrip(">"))
        line = raw[depth:]
        line = line[1:] if line.startswith(" ") else line  # space-stuffed
        if open_line is not None and open_line[0] != depth:
            out.append(_quoted(*open_line))  # a flowed line before a change of depth ends
            open_line = None
        line = (open_line[1] if open_line else "") + line
        if line.endswith(" ") and line != SIGNATURE_SEPARATOR:
            open_line = (depth, line[:-1] if delsp else line)
        else:
            out.append(_quoted(depth, line))
            open_line = None
    if open_line is not None:
        out.append(_quoted(*open_line))
    return "\n".join(out)
