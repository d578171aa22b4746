"""Dotted paths into decoded JSON: ``"data.id"``, ``"items.0.url"``, ``"files.*.name"``.

A segment is an object key, a list index (digits) or ``*`` (every element of a list, or
every value of an object: the result is then a list). That is the whole language: the
portals' answers are read with paths an operator writes in a board's TOML file.
"""

from __future__ import annotations

from typing import Any


class PathError(LookupError):
    """The path does not lead anywhere in this document."""


def _step(node: Any, segment: str, path: str) -> Any:
    if isinstance(node, dict):
        if segment in node:
            return node[segment]
    elif isinstance(node, list) and segment.lstrip("-").isdigit():
        index = int(segment)
        if -len(node) <= index < len(node):
            return node[index]
    raise PathError(f"{path!r}: nothing at {segment!r}")


def _walk(node: Any, segments: list[str], path: str) -> Any:
    for i, segment in enumerate(segments):
        if segment == "*":
            if isinstance(node, dict):
                children = list(node.values())
            elif isinstance(node, list):
                children = node
            else:
                raise PathError(f"{path!r}: '*' needs a list or an object")
            rest = segments[i + 1 :]
            out: list[Any] = []
            for child in children:
                try:
                    out.append(_walk(child, rest, path))
                except PathError:
                    continue  # elements without the field are left out
            return out
        node = _step(node, segment, path)
    return node


def get_path(data: Any, path: str) -> Any:
    """The value at ``path``; ``PathError`` when there is none. ``""`` is ``data``."""
    segments = [s for s in path.split(".") if s] if path else []
    return _walk(data, segments, path)


def find_path(data: Any, path: str, default: Any = None) -> Any:
    """The value at ``path``, or ``default`` when there is none."""
    try:
        return get_path(data, path)
    except PathError:
        return default
