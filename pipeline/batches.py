"""Work in batches as it comes: by count, and by weight where items are mail of any size
(a backlog of 25 MB messages is not read 200 at a time)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """``items`` in lists of ``size`` (the last one shorter), as they come."""
    source = iter(items)
    while batch := list(itertools.islice(source, size)):
        yield batch


def weighed(
    items: Iterable[T], size: int, weight: Callable[[T], int], budget: int
) -> Iterator[list[T]]:
    """``items`` in lists of at most ``size`` that weigh at most ``budget`` together, as
    they come; an item heavier than ``budget`` makes a list of its own."""
    batch: list[T] = []
    total = 0
    for item in items:
        heavy = weight(item)
        if batch and total + heavy > budget:
            yield batch
            batch, total = [], 0
        batch.append(item)
        total += heavy
        if len(batch) >= size:
            yield batch
            batch, total = [], 0
    if batch:
        yield batch
