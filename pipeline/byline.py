"""Author, unit and source lines of a submission (Lục Nam Đ12.1, "Mẫu cung cấp thông tin")."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline.textfold import fold

# Folded label -> what it names. A line "Tin, ảnh: Minh Anh" names the author.
_LABELS: tuple[tuple[str, str], ...] = (
    ("tac gia", "author"),
    ("nguoi viet", "author"),
    ("nguoi thuc hien", "author"),
    ("nguoi suu tam", "author"),  # a collected item names its collector (Lục Nam Đ12.1)
    ("suu tam", "author"),
    ("thuc hien", "author"),
    ("tin, anh", "author"),
    ("tin va anh", "author"),
    ("bai, anh", "author"),
    ("bai va anh", "author"),
    ("tin, bai", "author"),
    ("phong vien", "author"),
    ("ctv", "author"),
    ("tin", "author"),
    ("bai", "author"),
    ("anh", "author"),
    ("don vi", "unit"),
    ("co quan", "unit"),
    ("don vi cung cap", "unit"),
    ("dia chi", "address"),
    ("nguon", "source"),
)
_LABEL_LINE = re.compile(r"^\s*[(\-–]?\s*([^:()]{2,20}?)\s*:\s*(.+?)\s*\)?\s*$")
_SOURCE_LINE = re.compile(r"^\s*\(?\s*(theo|nguon)\s+(.{3,120}?)\s*\)?\s*$")
_COLLECTED = re.compile(r"(?<!\w)(suu tam|\(st\)|st:|tong hop tu)(?!\w)")
_NAME = re.compile(r"^(?:[A-ZĐÀ-Ỹ][a-zà-ỹđ]+)(?: [A-ZĐÀ-Ỹ][a-zà-ỹđ]+){1,4}$")
_NAME_AND_UNIT = re.compile(r"^(.+?)\s+(?:[-–]\s+(.+)|\((.+)\))$")  # "Thu Hà - TTVH"
# Under a photo, "Ảnh: Toàn cảnh hội nghị" is its caption; only a name there is a credit.
_NAMES_ONLY = frozenset({"anh"})
_UNIT_WORDS = (
    "phong",
    "so ",
    "trung tam",
    "ubnd",
    "uy ban",
    "ban ",
    "truong",
    "benh vien",
    "van phong",
    "hoi ",
    "cong an",
    "chi cuc",
    "doan ",
    "huyen",
    "xa ",
    "phuong",
    "thi tran",
    "bao ",
    "dai ",
    "cuc ",
    "vien ",
    "cong ty",
    "tinh ",
)


@dataclass(frozen=True)
class Byline:
    author: str | None
    unit: str | None
    source: str | None
    collected: bool  # the text says it was collected (sưu tầm) from elsewhere


def _name_and_unit(line: str) -> tuple[str, str | None] | None:
    """A line that is a name ("Thu Hà"), or a name and its unit ("Thu Hà - TTVH", "Thu Hà
    (Phòng Văn hóa)", as bylines are written at the end of an article)."""
    line = line.strip(" -–")
    if _NAME.match(line.strip("()")):
        return line.strip("()"), None
    match = _NAME_AND_UNIT.match(line)
    if match and _NAME.match(match.group(1)):
        return match.group(1), (match.group(2) or match.group(3)).strip()
    return None


def _labelled(lines: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    labels = dict(_LABELS)
    for line in lines:
        match = _LABEL_LINE.match(line)
        if not match:
            continue
        label = fold(match.group(1)).strip()
        what = labels.get(label)
        if label in _NAMES_ONLY and not _name_and_unit(match.group(2)):
            continue
        if what and what not in found:
            found[what] = match.group(2).strip()
    return found


def _signature(lines: list[str]) -> tuple[str | None, str | None]:
    """A closing "Nguyễn Văn A / Phòng Văn hóa và Thông tin" block, or "Thu Hà - TTVH"."""
    tail = [ln.strip() for ln in lines[-6:] if ln.strip()]
    for i, line in enumerate(tail):
        if signed := _name_and_unit(line):
            name, unit = signed
            below = (u.strip(" -–()") for u in tail[i + 1 : i + 3])
            return name, unit or next((u for u in below if fold(u).startswith(_UNIT_WORDS)), None)
    return None, None


def extract(text: str) -> Byline:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    found = _labelled(lines)
    # the writer's unit or, failing it, his address: either says where he is (Đ12.1)
    author, unit = found.get("author"), found.get("unit") or found.get("address")
    if author is None:
        author, sig_unit = _signature(lines)
        unit = unit or sig_unit
    source = found.get("source")
    if source is None:
        for line in lines[-4:]:
            match = _SOURCE_LINE.match(fold(line))
            if match:
                source = line.strip(" ()")
                break
    folded = fold(text)
    return Byline(
        author=author, unit=unit, source=source, collected=bool(_COLLECTED.search(folded))
    )
