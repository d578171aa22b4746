"""Checks that raise flags on a submission, and what each flag does.

A check only reads the facts and says what it found; the table CHECKS says what
happens on a hit. The strongest action decides the submission's state.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from functools import lru_cache

from pipeline.byline import Byline
from pipeline.classify import Sender
from pipeline.config import Board
from pipeline.dedup import Earlier
from pipeline.docx import WORD_SUFFIXES
from pipeline.models import STATE_LABELS, State
from pipeline.textfold import fold, loose


class Action(IntEnum):
    """What a flag does, weakest first."""

    NOTE = 0  # shown to reviewers
    ESCALATE = 1  # review path gains the head and standing deputy (workflow)
    RETURN = 2  # sent back to the sender with what is missing
    HOLD = 3  # an operator decides (unknown sender)
    QUARANTINE = 4  # never publishable; the head is told


STATE_FOR_ACTION: dict[Action, State] = {
    Action.NOTE: State.PENDING_REVIEW,
    Action.ESCALATE: State.PENDING_REVIEW,
    Action.RETURN: State.RETURNED,
    Action.HOLD: State.HELD,
    Action.QUARANTINE: State.QUARANTINED,
}


@dataclass(frozen=True)
class Facts:
    """What the checks read."""

    board: Board
    sender: Sender
    title: str
    text: str
    byline: Byline | None  # None: the body was not read (over the size limit, or in a
    # Word file that cannot be read)
    file_names: tuple[str, ...]
    oversized: tuple[str, ...]  # names of parts over the size limits
    duplicate_of: Earlier | None  # the submission this one nearly repeats
    legacy_encoding: str | None
    remote_images: tuple[str, ...]
    damage: tuple[str, ...] = ()  # parse defects that lost part of the content
    article_file: str | None = None  # the .docx read as the article
    attached_heads: tuple[str, ...] = ()  # the opening of each other .docx attached
    unreadable_word: str | None = None  # the Word file meant as the article, not readable


@dataclass(frozen=True)
class Flag:
    code: str
    action: Action
    message: str  # Vietnamese, plain words, for reviewers and senders
    detail: dict[str, object] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "action": self.action.name.lower(),
            "message": self.message,
            "detail": self.detail,
        }


# How a stamp is written, {} being the marking: alone, or after these words. A stamp
# stands alone on its line (or cell of a header table), in a subject's tag or lead
# ("[MẬT] …", "MẬT - …", "… (Mật)"), or at either end of a file's name ("BC_MAT.pdf").
# Typed without diacritics or with its letters spaced out, it is still a stamp; in a
# phrase ("BẢO MẬT THÔNG TIN", "MẬT ONG", "THÂN MẬT") it is not.
STAMP_FORMS: tuple[str, ...] = ("{}", "tài liệu {}")
_CELLS = re.compile(r"\t|;|\||\s{4,}")  # the columns of a header typed as text
# Stamps side by side in one cell or tag: "KHẨN, MẬT", "MẬT - KHẨN", "[Hỏa tốc/Mật]"
_SIDE_BY_SIDE = re.compile(r"[,/+&]|\s[-–]\s")
# "Độ mật: Mật", its value ending where the line, "Độ khẩn: …" or another field begins
# (the blanks around the colon read by one run: "\s*:?\s*" split a run of them in every
# way, and "Độ mật" before 10,000 line breaks took 7 s)
_DEGREE = re.compile(
    rf"{loose('độ mật').pattern}\s*(?::\s*)?"
    rf"(.+?)(?=\s{{2,}}|[,;.]|\s+{loose('độ khẩn').pattern}|$)",
    re.IGNORECASE | re.MULTILINE,
)
_SUBJECT_PARTS = re.compile(r"\[([^\]]{1,40})\]|\(([^)]{1,40})\)|^([^-–:|]{1,40})\s*[-–:|]")
_NAME_WORDS = re.compile(r"[^\W_]+")
_PUNCTUATION = " \t*[]()-–.:"


@lru_cache(maxsize=64)
def _stamp(marking: str) -> re.Pattern[str]:
    """A cell, its spaces taken out, that is nothing but a stamp of ``marking``."""
    forms = [loose("".join(form.format(marking).split())).pattern for form in STAMP_FORMS]
    return re.compile("|".join(forms), re.IGNORECASE)


def _is_stamp(marking: str, cell: str) -> bool:
    cell = cell.strip(_PUNCTUATION)
    return len(cell) <= 40 and _stamp(marking).fullmatch("".join(cell.split())) is not None


def _candidates(f: Facts) -> list[str]:
    """What may be a stamp: cells of the text's short lines, "Độ mật:" values, the subject
    and its parts,
    the ends of each file's name (in capitals: "Mat_tran" is no stamp)."""
    texts = (f.text[:3000], *f.attached_heads)
    cells = [c for t in texts for line in t.splitlines() for c in _CELLS.split(line)]
    cells += [value for t in texts for value in _DEGREE.findall(t)]
    subject = [f.title] + [
        part for match in _SUBJECT_PARTS.finditer(f.title) for part in match.groups() if part
    ]
    ends = []
    for name in f.file_names:
        words = _NAME_WORDS.findall(name.rpartition(".")[0] or name)
        for n in range(1, 4):
            ends += [" ".join(w) for w in (words[:n], words[-n:]) if " ".join(w).isupper()]
    short = [c for c in cells + subject if len(c) <= 40]
    return cells + subject + ends + [p for c in short for p in _SIDE_BY_SIDE.split(c)]


def security_marking(f: Facts) -> Flag | None:
    markings = f.board.checks.security_markings
    everything = "".join(
        fold("\n".join([f.title, f.text[:3000], *f.attached_heads, *f.file_names])).split()
    )
    if not any("".join(fold(m).split()) in everything for m in markings):
        return None  # the common case: no word of any marking anywhere
    candidates = _candidates(f)
    marking = next(
        (m for m in markings if any(_is_stamp(m, c) for c in candidates)), None
    )  # the strongest marking first
    if marking is None:
        return None
    return Flag(
        "security-marking",
        Action.QUARANTINE,
        f"Có dấu mức độ mật “{marking}”: không được đăng tải.",
        {"marking": marking},
    )


def unknown_sender(f: Facts) -> Flag | None:
    if f.sender.known or f.board.checks.unknown_sender != "hold":
        return None
    return Flag(
        "unknown-sender",
        Action.HOLD,
        "Người gửi chưa có trong danh sách cơ quan, thành viên của Ban Biên tập.",
    )


def too_large(f: Facts) -> Flag | None:
    if not f.oversized:
        return None
    return Flag(
        "too-large",
        Action.RETURN,
        "Thư hoặc tệp đính kèm vượt dung lượng cho phép: " + ", ".join(f.oversized),
        {"parts": list(f.oversized)},
    )


def missing_author(f: Facts) -> Flag | None:
    if not f.board.checks.require_author or f.byline is None or f.byline.author:
        return None
    who = "người sưu tầm" if f.byline.collected else "tác giả"  # Lục Nam Đ12.1
    return Flag("missing-author", Action.RETURN, f"Thiếu tên {who}.")


def missing_unit(f: Facts) -> Flag | None:
    byline = f.byline
    if not f.board.checks.require_unit or byline is None or byline.unit or f.sender.agency:
        return None
    return Flag("missing-unit", Action.RETURN, "Thiếu đơn vị hoặc địa chỉ của tác giả.")


def missing_source(f: Facts) -> Flag | None:
    checks, byline = f.board.checks, f.byline
    if byline is None or not (checks.require_source_for_collected and byline.collected):
        return None
    if byline.source:
        return None
    return Flag("missing-source", Action.RETURN, "Tin, bài sưu tầm nhưng chưa ghi nguồn.")


def sensitive_topic(f: Facts) -> Flag | None:
    text = f"{f.title}\n{f.text}"
    folded = fold(text)  # a keyword folded and not found: the common case, one pass
    hits = [
        k
        for k in f.board.checks.sensitive_keywords
        if fold(k) in folded and loose(k).search(text)  # "điểm nóng", not "điểm nông thôn"
    ]
    if not hits:
        return None
    return Flag(
        "sensitive-topic",
        Action.ESCALATE,
        "Nội dung nhạy cảm (" + ", ".join(hits) + "): cần ý kiến lãnh đạo Ban.",
        {"keywords": hits},
    )


def near_duplicate(f: Facts) -> Flag | None:
    if f.duplicate_of is None:
        return None
    item_id, code, state = f.duplicate_of
    where = STATE_LABELS[State(state)]
    return Flag(
        "near-duplicate",
        Action.NOTE,
        f"Gần trùng với bài đã nhận {code} (#{item_id}, {where[0].lower()}{where[1:]}).",
        {"submission_id": item_id, "tracking_code": code, "state": state},
    )


def legacy_font(f: Facts) -> Flag | None:
    if f.legacy_encoding is None:
        return None
    name = {"tcvn3": "TCVN3 (ABC)", "vni": "VNI"}.get(f.legacy_encoding, f.legacy_encoding)
    return Flag(
        "legacy-font",
        Action.NOTE,
        f"Văn bản gõ bằng bảng mã {name}, đã chuyển sang Unicode dựng sẵn.",
    )


def remote_images(f: Facts) -> Flag | None:
    if not f.remote_images:
        return None
    return Flag(
        "remote-images",
        Action.NOTE,
        f"Có {len(f.remote_images)} ảnh liên kết ngoài chưa được tải về.",
        {"urls": list(f.remote_images)},
    )


def damaged_mail(f: Facts) -> Flag | None:
    if not f.damage:
        return None
    return Flag(
        "damaged-mail",
        Action.NOTE,
        "Thư bị lỗi cấu trúc: có thể thiếu một phần nội dung người gửi soạn.",
        {"defects": list(f.damage[:5])},
    )


def unreadable_word(f: Facts) -> Flag | None:
    """The Word file that carries the article (the mail is a cover note) cannot be read:
    damaged, locked by a password, or no .docx inside (a .doc renamed)."""
    if f.unreadable_word is None:
        return None
    return Flag(
        "unreadable-word",
        Action.RETURN,
        f"Không mở được tệp “{f.unreadable_word}” (tệp bị hỏng, có mật khẩu hoặc không đúng "
        "định dạng .docx), nên chưa đọc được nội dung tin, bài.",
    )


def several_articles(f: Facts) -> Flag | None:
    """More .docx files than the one read as the article: the others would be published
    as files of this post, where they may be articles of their own."""
    others = [n for n in f.file_names if n.lower().endswith(WORD_SUFFIXES) and n != f.article_file]
    if f.article_file is None or not others:
        return None
    return Flag(
        "several-articles",
        Action.NOTE,
        f"Thư có {len(others) + 1} tệp .docx; chỉ tệp “{f.article_file}” được đọc làm nội "
        f"dung tin, bài. Các tệp {', '.join(f'“{n}”' for n in others)} là tệp đính kèm, "
        "được đăng kèm nếu tin, bài được duyệt; nếu là tin, bài riêng, đề nghị gửi mỗi "
        "tin, bài một thư.",
        {"files": others},
    )


# Order is data: every check runs; the strongest action decides the state.
CHECKS: tuple[tuple[str, Callable[[Facts], Flag | None]], ...] = (
    ("security-marking", security_marking),
    ("unknown-sender", unknown_sender),
    ("too-large", too_large),
    ("missing-author", missing_author),
    ("missing-unit", missing_unit),
    ("missing-source", missing_source),
    ("sensitive-topic", sensitive_topic),
    ("near-duplicate", near_duplicate),
    ("legacy-font", legacy_font),
    ("remote-images", remote_images),
    ("damaged-mail", damaged_mail),
    ("unreadable-word", unreadable_word),
    ("several-articles", several_articles),
)


def run_checks(facts: Facts) -> list[Flag]:
    return [flag for _, check in CHECKS if (flag := check(facts)) is not None]


def decide(flags: list[Flag]) -> State:
    strongest = max((f.action for f in flags), default=Action.NOTE)
    return STATE_FOR_ACTION[strongest]
