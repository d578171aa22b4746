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
    # The flowed line waiting for the next one, as pieces joined once at its end (joined
    # at each piece, a paragraph of many lines took time quadratic in them): its depth,
    # its length and its last character. Empty lines add no piece: a flowed "số " (as long
    # as a separator) before 100,000 of them was joined at each to be compared, and with
    # DelSp each looked back past all of them for the last character: minutes.
    pieces: list[str] = []
    open_depth: int | None = None
    length, last = 0, ""
    for raw in text.replace("\r\n", "\n").split("\n"):
        depth = len(raw) - len(raw.lstrip(">"))
        line = raw[depth:]
        line = line[1:] if line.startswith(" ") else line  # space-stuffed
        if open_depth is not None and (open_depth != depth or not line):
            # it ends at a change of depth, and at an empty line, which stays one: the
            # paragraph's last line ended in a space typed ("Xin chào ⎵", then a blank
            # line), and the next paragraph was run into it
            out.append(_quoted(open_depth, "".join(pieces)))
            pieces, open_depth, length, last = [], None, 0, ""
        if line:  # no empty piece is kept: the pieces of a separator are then 3 at most
            pieces.append(line)
        length, last = length + len(line), line[-1:] or last
        separator = length == len(SIGNATURE_SEPARATOR) and "".join(pieces) == SIGNATURE_SEPARATOR
        if last == " " and not separator:
            open_depth = depth
            if delsp:  # the space that ends it goes (the last piece's: it is never empty)
                pieces[-1] = pieces[-1][:-1]
                if not pieces[-1]:
                    pieces.pop()
                length -= 1
                last = pieces[-1][-1] if pieces else ""
        else:
            out.append(_quoted(depth, "".join(pieces)))
            pieces, open_depth, length, last = [], None, 0, ""
    if open_depth is not None:
        out.append(_quoted(open_depth, "".join(pieces)))
    return "\n".join(out)
