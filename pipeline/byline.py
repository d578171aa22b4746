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
# Labels that also open other lines ("Ảnh: Toàn cảnh hội nghị", a photo's caption): they
# name the author only when what follows is written like a name ("Ảnh: Minh Anh", "Tin: PV").
_NAME_ONLY = frozenset({"tin", "bai", "anh"})
# "Tác giả: …", "(Nguồn: …)": the value runs to the line's last character that is no space
# (its closing bracket taken off after); greedy, so a line of many spaces is read once.
_LABEL_LINE = re.compile(r"^\s*[(\-–]?\s*([^:()]{2,20}?)\s*:\s*(.*\S)")
_SOURCE_LINE = re.compile(r"^\s*\(?\s*(theo|nguon)\s+(.{3,120}?)\s*\)?\s*$")
# A collected item says so in its closing lines, a line opening with the word ("Sưu tầm",
# "(Sưu tầm)", "ST: Nguyễn Văn An", "Tổng hợp từ …") or "(st)" after the collector's name;
# not "… đã tổng hợp từ báo cáo của các xã" in a sentence.
_COLLECTED = re.compile(r"^\W*(suu tam|nguoi suu tam|st|tong hop tu)(?!\w)|\((st|suu tam)\)", re.M)
_BYLINE_LINES = 6
_NAME = re.compile(r"^(?:[A-ZĐÀ-Ỹ][a-zà-ỹđ]+)(?: [A-ZĐÀ-Ỹ][a-zà-ỹđ]+){1,4}$")
# A signature line: "Thu Hà (TTVH)", "Nguyễn Văn A - Phòng VH-TT", "Văn Toàn - Hải Yến",
# "CTV Lê Văn Tám": the name, then what follows it.
_SIGNED = re.compile(r"^(?:(?:CTV|PV|Phóng viên)\s+)?(.+?)(?:\s+[-–]\s+(.+)|\s*\((.+?)\)?)?$")
_CREDITS = re.compile(r"(?<!\s)\s+[-–]\s+|(?<!\s)\s+và\s+|[,;]\s*")  # a run of spaces once
_NAME_LIKE = re.compile(r"^[A-ZĐÀ-Ỹ0-9][\w.]*(?:[ ,&–-]+[A-ZĐÀ-Ỹ0-9][\w.]*)*$")
# A byline's line is short: a longer one is text (and the patterns below, read on a line
# of many spaces, would try each of them against the rest).
LINE_MAX = 300
# The family names most Vietnamese bear: a line in capitals that opens with one and has
# three to five words is a full name signed in capitals.
SURNAMES = frozenset(
    (
        "Nguyễn",
        "Trần",
        "Lê",
        "Phạm",
        "Hoàng",
        "Huỳnh",
        "Phan",
        "Vũ",
        "Võ",
        "Đặng",
        "Bùi",
        "Đỗ",
        "Hồ",
        "Ngô",
        "Dương",
        "Lý",
        "Đào",
        "Đoàn",
        "Vương",
        "Trịnh",
        "Trương",
        "Đinh",
        "Lâm",
        "Mai",
        "Hà",
        "Tạ",
        "Tô",
        "Lương",
        "Cao",
        "Châu",
        "Thái",
        "Quách",
        "Triệu",
        "Lưu",
        "Kiều",
        "Phùng",
        "Chu",
        "La",
        "Tăng",
        "Âu",
        "Hứa",
        "Lục",
        "Mạc",
        "Khúc",
        "Nông",
        "Hầu",
        "Thân",
        "Doãn",
    )
)
_NAME_FIRST = re.compile(r"^(.+?)(\s+[-–]\s+.*|\s*\(.*)?$")  # "THU HÀ - TTVH": the name, the rest
# A unit as bylines abbreviate it: "TTVH", "VH-TT", "TTXVN" (capitals, not a phone number).
_UNIT_ABBREVIATION = re.compile(r"^[A-ZĐ][A-ZĐ0-9&./-]{1,15}$")
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


def _labelled(lines: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    labels = dict(_LABELS)
    for line in lines:
        match = _LABEL_LINE.match(line.strip())  # linear: no run of spaces tried twice
        if not match:
            continue
        label, value = fold(match.group(1)).strip(), match.group(2)
        if value.endswith(")") and value.count(")") > value.count("("):  # "(Tác giả: …)"
            value = value[:-1]
        value = value.strip()
        what = labels.get(label)
        first = _CREDITS.split(value)[0]  # "Tin: Hoàng Anh - Ảnh: Minh Đức"
        if label in _NAME_ONLY and not _NAME_LIKE.match(first):
            continue
        if what and what not in found:
            found[what] = value
    return found


def _uncapped(line: str) -> str:
    """A full name signed in capitals ("NGUYỄN VĂN AN") as written in a byline; other lines
    in capitals ("TRÂN TRỌNG CẢM ƠN", "UBND HUYỆN") are left as they are."""
    match = _NAME_FIRST.match(line)
    name, rest = (match[1], match[2] or "") if match else (line, "")
    words = name.split()
    if (
        name.isupper()
        and 3 <= len(words) <= 5
        and words[0].title() in SURNAMES
        and not fold(name).startswith(_UNIT_WORDS)  # "VĂN PHÒNG UBND HUYỆN"
    ):
        return name.title() + rest
    return line


def _signature(lines: list[str]) -> tuple[str | None, str | None]:
    """A closing "Nguyễn Văn A / Phòng Văn hóa và Thông tin" block."""
    tail = [_uncapped(ln.strip(" -–()")) for ln in lines[-6:] if ln.strip() and len(ln) <= LINE_MAX]
    for i, line in enumerate(tail):
        signed = _SIGNED.match(line)
        if signed is None or not _NAME.match(signed.group(1)):
            continue
        name, after = signed.group(1), signed.group(2) or signed.group(3)
        if after and _NAME.match(after):  # two writers
            return f"{name} - {after}", None
        if after and _UNIT_ABBREVIATION.match(after):  # "Thu Hà - TTVH": her unit, as written
            return name, after
        units = [after] if after else []
        unit = next(
            (u for u in [*units, *tail[i + 1 : i + 3]] if fold(u).startswith(_UNIT_WORDS)), None
        )
        return name, unit
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
            match = _SOURCE_LINE.match(fold(line)) if len(line) <= LINE_MAX else None
            if match:
                source = line.strip(" ()")
                break
    closing = fold("\n".join(lines[-_BYLINE_LINES:]))
    return Byline(
        author=author, unit=unit, source=source, collected=bool(_COLLECTED.search(closing))
    )
