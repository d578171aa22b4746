"""Near-duplicate detection: word shingles, MinHash (datasketch), LSH buckets in the database.

Each submission's signature is cut into bands; a band's hash is a bucket row with
an index, so a look-up reads only the items that share a bucket, never the whole
table. Candidates are then confirmed by their estimated Jaccard similarity.
"""

from __future__ import annotations

import hashlib
import re
import struct
from dataclasses import dataclass
from typing import NamedTuple, cast

import numpy as np
from datasketch import LeanMinHash, MinHash
from sqlalchemy import Table, bindparam, delete, insert, select
from sqlalchemy.orm import Session

from pipeline.models import ShingleBand, State, Submission
from pipeline.textfold import fold

NUM_PERM = 128
BANDS, ROWS = 32, 4  # candidate threshold about (1/32)^(1/4) = 0.42, well below any setting
SHINGLE = 4
_WORD = re.compile(r"\w+")
# What a new submission is compared with: anything queued, approved, or that went live
# (withdrawn included: the head took it off, and the reviewer should know).
_LIVE = (
    State.PENDING_REVIEW,
    State.HELD,
    State.RETURNED,
    State.APPROVED,
    State.PUBLISHED,
    State.WITHDRAWN,
)


class Earlier(NamedTuple):
    """The earlier submission a new one nearly repeats."""

    id: int
    tracking_code: str
    state: str


# Drawing the permutations costs more than hashing a message: draw them once (fixed seed,
# so signatures stored by one process compare with those of another).
_TEMPLATE = MinHash(num_perm=NUM_PERM, seed=1)


def shingles(text: str) -> set[bytes]:
    words = _WORD.findall(fold(text))
    if len(words) < SHINGLE:
        return {" ".join(words).encode()} if words else set()
    return {" ".join(words[i : i + SHINGLE]).encode() for i in range(len(words) - SHINGLE + 1)}


# The days a text names: "20/3", "20/3/2026", "20 tháng 3". Two items made from one
# template (a weather bulletin, a meeting notice) differ in little else.
# A day and a month are two digits at most, after no other digit: a run of digits is
# tried once, not from each of its digits (1 MB of them took hours).
_DAY = re.compile(r"(?<!\d)(\d{1,2})(?:/(\d{1,2})|\s+tháng\s+(\d{1,2}))(?!\d)", re.IGNORECASE)


def days(text: str) -> frozenset[tuple[int, int]]:
    """(day, month) of each date ``text`` names."""
    found = set()
    for match in _DAY.finditer(text):
        day, month = int(match[1]), int(match[2] or match[3])
        if 1 <= day <= 31 and 1 <= month <= 12:
            found.add((day, month))
    return frozenset(found)


def other_days(new: frozenset[tuple[int, int]], old: frozenset[tuple[int, int]]) -> bool:
    """The earlier text names a day the new one does not: the next issue of a template
    (a bulletin "from 15/3 to 16/3" after one "from 14/3 to 15/3"), not one item twice.
    An item sent again keeps its days, and a cover note only adds one."""
    return bool(new) and not new >= old


@dataclass(frozen=True)
class Sketch:
    """A text's MinHash (serialised), its LSH buckets and the days it names: plain
    values, made by a reader."""

    minhash: bytes
    buckets: tuple[tuple[int, int], ...]  # (band, bucket)
    days: frozenset[tuple[int, int]] = frozenset()


def sketch(text: str) -> Sketch | None:
    sig = signature(text)
    return Sketch(to_bytes(sig), tuple(buckets(sig)), days(text)) if sig is not None else None


def signature(text: str) -> LeanMinHash | None:
    grams = shingles(text)
    if len(grams) < 3:
        return None  # too short to compare meaningfully
    mh = MinHash(num_perm=NUM_PERM, permutations=_TEMPLATE.permutations, scheme=_TEMPLATE.scheme)
    mh.update_batch(list(grams))
    return LeanMinHash(mh)


def to_bytes(sig: LeanMinHash) -> bytes:
    buf = bytearray(sig.bytesize())
    sig.serialize(buf)
    return bytes(buf)


def from_bytes(data: bytes) -> LeanMinHash:
    return LeanMinHash.deserialize(data)


def buckets(sig: LeanMinHash) -> list[tuple[int, int]]:
    values = np.asarray(sig.hashvalues, dtype=np.uint64)
    out = []
    for band in range(BANDS):
        chunk = values[band * ROWS : (band + 1) * ROWS].tobytes()
        # the band number is hashed in, so one indexed column finds every band
        digest = hashlib.blake2b(bytes([band]) + chunk, digest_size=8).digest()
        out.append((band, struct.unpack(">q", digest)[0]))
    return out


_bands, _items = ShingleBand.__table__.c, Submission.__table__.c
_BUCKET_HITS = (
    select(_bands.submission_id)
    .where(_bands.board_id == bindparam("board"))
    .where(_bands.bucket.in_(bindparam("buckets", expanding=True)))
    .distinct()
)
_SKETCHES = select(_items.id, _items.minhash, _items.tracking_code, _items.state).where(
    _items.id.in_(bindparam("ids", expanding=True)),
    _items.state.in_([str(s) for s in _LIVE]),
    _items.minhash.is_not(None),
)


def find_duplicate(
    session: Session, board_id: str, sk: Sketch, threshold: float, itself: int | None = None
) -> Earlier | None:
    """The most similar submission of ``_LIVE`` at or above ``threshold``,
    an item stored earlier in the same transaction and not yet written included, the
    item ``itself`` (a message read again) excluded."""
    # Core statements, built once (building one costs as much as running it): this runs
    # for every message. Most messages share no bucket with anything: one look-up says so.
    connection = session.connection()
    hits = set(
        connection.execute(
            _BUCKET_HITS, {"board": board_id, "buckets": [bucket for _, bucket in sk.buckets]}
        ).scalars()
    )
    hits.discard(itself)
    if not hits:
        return None
    found: list[tuple[bytes | None, Earlier]] = [
        (row.minhash, Earlier(row.id, row.tracking_code, row.state))
        for row in connection.execute(_SKETCHES, {"ids": sorted(hits)})
    ]
    # an item stored earlier in this transaction: its buckets are written, its row not yet
    found += [
        (o.minhash, Earlier(o.id, o.tracking_code, o.state))
        for o in session.new
        if isinstance(o, Submission) and o.id in hits and o.state in _LIVE
    ]
    sig = from_bytes(sk.minhash)
    scored = [(sig.jaccard(from_bytes(m)), e) for m, e in found if m is not None]
    close = sorted((s for s in scored if s[0] >= threshold), reverse=True)
    # the most similar that is not the same template filled in for another day
    for _score, earlier in close:
        if not other_days(sk.days, _days_of(session, earlier.id)):
            return earlier
    return None


def _days_of(session: Session, item_id: int) -> frozenset[tuple[int, int]]:
    """The days a stored item names (read only for an item close enough to be a duplicate)."""
    item = session.get(Submission, item_id)
    return days(f"{item.title}\n{item.body_text}") if item is not None else frozenset()


def unindex(session: Session, item_id: int) -> None:
    """Take an item out of the look-up (its message is read again)."""
    session.connection().execute(delete(ShingleBand).where(ShingleBand.submission_id == item_id))


def index(session: Session, item: Submission, sk: Sketch) -> None:
    """File a stored ``item`` (its ``minhash`` set from ``sk``) under its LSH buckets."""
    session.connection().execute(
        insert(cast(Table, ShingleBand.__table__)),
        [
            {"submission_id": item.id, "band": band, "board_id": item.board_id, "bucket": bucket}
            for band, bucket in sk.buckets
        ],
    )
