"""Who sent it and whose is it: sender -> agency and member; text -> fields -> owners.

Everything comes from the board's configuration; code never names a province.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from pipeline.config import Agency, Board, Member
from pipeline.docmeta import SUBJECT_TAGS as KIND_TAGS
from pipeline.textfold import fold, toned, toned_pattern

_TAG = re.compile(r"\[([^\[\]]{1,40})\]")

# Words whose last syllable begins a keyword: a keyword never starts inside one ("thi công
# an toàn" is no "công an", "toàn dân tộc" no "dân tộc"). Read like keywords, for no field.
COMPOUNDS = ("thi công", "thành công", "tấn công", "toàn dân tộc")


@dataclass(frozen=True)
class Sender:
    member: Member | None
    agency: Agency | None

    @property
    def known(self) -> bool:
        return self.member is not None or self.agency is not None


def identify_sender(board: Board, address: str) -> Sender:
    address = address.lower()
    member = next((m for m in board.members if address in (m.email, *m.aliases)), None)
    agency = None
    if member is not None and member.agency is not None:
        agency = board.agency(member.agency)
    if agency is None:
        domain = address.rpartition("@")[2]
        for candidate in board.agencies:
            if address in candidate.addresses or any(
                domain == d or domain.endswith("." + d) for d in candidate.domains
            ):
                agency = candidate
                break
    return Sender(member=member, agency=agency)


def subject_tags(subject: str) -> list[str]:
    """Bracketed tags of a subject, folded: "[GD] [Tin] ..." -> ["gd", "tin"]."""
    return [fold(t).strip() for t in _TAG.findall(subject)]


def untagged(board: Board, subject: str) -> str:
    """The subject as the item's title: without the tags that route it, a field's or a
    kind's ("[GD] [Tin] Ngày hội…" -> "Ngày hội…"), which are the board's business and
    not the portal's readers'. A tag the board does not know ("[Infographic]") stays."""
    if "[" not in subject:
        return subject
    known = _routing_tags(board)
    title = _TAG.sub(lambda m: " " if fold(m.group(1)).strip() in known else m.group(), subject)
    return " ".join(title.split()) or subject


def _routing_tags(board: Board) -> frozenset[str]:
    fields = ((f.name, *f.tags) for f in board.fields)
    return frozenset(KIND_TAGS) | {fold(tag).strip() for names in fields for tag in names}


# Each field's keywords: (field id, its keywords), as a board lists them.
Keywords = tuple[tuple[str, tuple[str, ...]], ...]


@dataclass(frozen=True)
class _Keywords:
    pattern: re.Pattern[str]  # every keyword, folded: one pass over the folded text
    fields_of: dict[str, list[str]]  # folded keyword -> its fields
    written: dict[str, list[re.Pattern[str]]]  # folded keyword -> as the board wrote it
    spelled: frozenset[str]  # each keyword as written, in lower case: a hit seen most

    def as_written(self, key: str, seen: str) -> bool:
        """Whether ``seen``, a hit of the folded keyword ``key``, has its marks or none."""
        lower = seen.lower()
        return lower in self.spelled or any(w.fullmatch(toned(lower)) for w in self.written[key])


@lru_cache(maxsize=64)
def _keyword_table(fields: Keywords) -> _Keywords:
    """Every field's keywords as one pattern (folded, each a whole phrase; where several
    start at one place the longest wins), the fields each keyword is of, and how it is
    written. Made once per board, not per item."""
    fields_of: dict[str, list[str]] = {}
    written: dict[str, list[re.Pattern[str]]] = {}
    compounds = ((None, c) for c in COMPOUNDS)  # words of no field: no keyword starts in one
    phrases = [*compounds, *((f, k) for f, keywords in fields for k in keywords)]
    for field_id, phrase in phrases:
        key, as_written = fold(phrase), re.compile(toned_pattern(toned(phrase)))
        ids, spellings = fields_of.setdefault(key, []), written.setdefault(key, [])
        if field_id is not None and field_id not in ids:  # "văn hóa", "văn hoá": hit once
            ids.append(field_id)
        if as_written not in spellings:
            spellings.append(as_written)
    alternatives = "|".join(re.escape(k) for k in sorted(fields_of, key=len, reverse=True))
    spelled = frozenset(phrase.lower() for _field_id, phrase in phrases)
    pattern = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")
    return _Keywords(pattern, fields_of, written, spelled)


def _keyword_scores(board: Board, text: str) -> dict[str, int]:
    """Keyword hits per field. Every field's keywords are read in one pass, so a phrase
    counts once, for the longest keyword it is: "phổ biến giáo dục pháp luật" is the
    justice field's, not also "giáo dục" for education's. A hit counts if its marks are
    the keyword's or missing (a mail typed without them), not others: "công an" is not
    "công ăn việc làm", nor "đô thị" a woman named Đỗ Thị."""
    scores = dict.fromkeys((f.id for f in board.fields), 0)
    table = _keyword_table(tuple((f.id, tuple(f.keywords)) for f in board.fields))
    if not any(table.fields_of.values()):
        return scores
    folded = fold(text)
    aligned = len(folded) == len(text)  # else a combining mark was dropped: no check
    for hit in table.pattern.finditer(folded):
        key = hit.group()
        if aligned and not table.as_written(key, text[hit.start() : hit.end()]):
            continue
        for field_id in table.fields_of[key]:
            scores[field_id] += 1
    return scores


def classify_fields(board: Board, subject: str, text: str, sender: Sender) -> list[str]:
    """Fields of the item: subject tags first, then keywords, then the sender's own fields
    (a member's, or those of the one member who represents the sending agency)."""
    tags = set(subject_tags(subject))
    tagged = [f.id for f in board.fields if tags & ({fold(t) for t in f.tags} | {fold(f.name)})]
    if tagged:
        return tagged
    scores = _keyword_scores(board, f"{subject}\n{subject}\n{text}")  # the subject weighs double
    best = max(scores.values(), default=0)
    if best > 0:
        # the best field, and any other that scores close to it
        return [fid for fid, score in scores.items() if score * 2 >= best and score > 0]
    if sender.member is not None and sender.member.fields:
        return list(sender.member.fields)
    if sender.agency is not None:
        agency_id = sender.agency.id
        owning = [m for m in board.members if m.agency == agency_id and m.fields]
        if len(owning) == 1:  # the agency's representative; several: nobody's to guess
            return list(owning[0].fields)
    return []


def owners(board: Board, field_ids: list[str]) -> list[str]:
    found: list[str] = []
    for field_id in field_ids:
        for member in board.owners_of(field_id):
            if member.id not in found:
                found.append(member.id)
    return found
