"""Official-document metadata (Đ8.1d) and submission-kind classification.

Regulations require each published document (văn bản) to show its form, number/symbol
(số/ký hiệu), issuer, issue date, effective date and summary (trích yếu). This module reads
them from the header of a document's text (NFC: the mail body or its .docx, as plain text,
where a header typed as a table has its cells separated by tabs), from a cover note that
labels them ("Số ký hiệu: …") or from the mail subject, and classifies what a mail submits:
news (tin), article (bài), photo (ảnh), video or official document. Patterns run on
accent-folded text, so a subject typed without diacritics reads the same; values are cut
from the text as written.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import date, timedelta
from pathlib import PurePath
from typing import Literal, cast, get_args

from pipeline.forwards import REPLY_PREFIX
from pipeline.textfold import fold

Kind = Literal["tin", "bai", "anh", "video", "van_ban"]

KIND_LABELS: dict[str, str] = {
    "tin": "Tin",
    "bai": "Bài",
    "anh": "Ảnh",
    "video": "Video",
    "van_ban": "Văn bản",
}

# Subject tags ("[Tin]", "[Văn bản]"…), compared accent- and case-insensitively.
SUBJECT_TAGS: dict[str, Kind] = {
    "tin": "tin",
    "tin tuc": "tin",
    "bai": "bai",
    "bai viet": "bai",
    "anh": "anh",
    "hinh anh": "anh",
    "phong su anh": "anh",
    "video": "video",
    "clip": "video",
    "van ban": "van_ban",
}

ARTICLE_MIN_WORDS = 600  # a text this long is an article (bài), not a news item (tin)
PHOTO_MAX_WORDS = 80  # a photo mail carries at most a caption of this length

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".gif", ".webp", ".heic", ".tif", ".tiff"})
VIDEO_EXTENSIONS = frozenset(
    {".mp4", ".mov", ".avi", ".mkv", ".wmv", ".flv", ".webm", ".m4v", ".3gp", ".mpg", ".mpeg"}
)
DOCUMENT_EXTENSIONS = frozenset({".pdf", ".doc", ".docx", ".odt", ".rtf"})
# Where agencies put their clips instead of attaching them: a short mail with a link to one
# of these is a video. Host, then the start of a video's path there (a pattern).
VIDEO_LINKS: tuple[tuple[str, str], ...] = (
    ("youtube.com", r"(?:watch|shorts/|live/)"),
    ("youtu.be", r"\w"),
    ("fb.watch", r"\w"),
    ("facebook.com", r"(?:watch|reel/|[\w.-]+/videos/)"),
    ("vimeo.com", r"\d"),
    ("tiktok.com", r"@[\w.-]+/video/"),
)

# Document forms (Nghị định 30/2020/NĐ-CP, Phụ lục III) and their symbol codes.
DOC_KINDS: tuple[tuple[str, str | None], ...] = (
    ("Thông tư liên tịch", "TTLT"),
    ("Nghị quyết liên tịch", "NQLT"),
    ("Quyết định", "QĐ"),
    ("Công văn", "CV"),
    ("Thông báo", "TB"),
    ("Thông cáo", "TC"),
    ("Kế hoạch", "KH"),
    ("Chỉ thị", "CT"),
    ("Nghị quyết", "NQ"),
    ("Báo cáo", "BC"),
    ("Tờ trình", "TTr"),
    ("Hướng dẫn", "HD"),
    ("Thông tư", "TT"),
    ("Nghị định", "NĐ"),
    ("Pháp lệnh", None),
    ("Luật", None),
    ("Công điện", "CĐ"),
    ("Giấy mời", "GM"),
    ("Quy chế", "QC"),
    ("Quy định", "QyĐ"),
    ("Chương trình", "CTr"),
    ("Đề án", "ĐA"),
    ("Phương án", "PA"),
    ("Dự án", "DA"),
    ("Biên bản", "BB"),
    ("Hợp đồng", "HĐ"),
)
DEFAULT_DOC_KIND = "Công văn"  # a symbol without a form code (52/STP-VP) is a công văn
# Issuer codes that also fix the form: 17/2008/QH12 is a law (or a resolution, named in text).
KIND_BY_ISSUER_CODE: dict[str, str] = {"QH": "Luật", "UBTVQH": "Pháp lệnh"}

ISSUER_CODES: dict[str, str] = {
    "QH": "Quốc hội",
    "UBTVQH": "Ủy ban Thường vụ Quốc hội",
    "CTN": "Chủ tịch nước",
    "CP": "Chính phủ",
    "TTg": "Thủ tướng Chính phủ",
    "BTTTT": "Bộ Thông tin và Truyền thông",
    "BNV": "Bộ Nội vụ",
    "BTP": "Bộ Tư pháp",
    "BTC": "Bộ Tài chính",
    "UBND": "Ủy ban nhân dân",
    "HĐND": "Hội đồng nhân dân",
    "VPUBND": "Văn phòng Ủy ban nhân dân",
    "TU": "Tỉnh ủy",
    "BBT": "Ban Biên tập",
    "BBTCTTĐT": "Ban Biên tập Cổng thông tin điện tử",
    "BCĐ": "Ban Chỉ đạo",
    "STP": "Sở Tư pháp",
    "SNV": "Sở Nội vụ",
    "STC": "Sở Tài chính",
    "STTTT": "Sở Thông tin và Truyền thông",
    "SYT": "Sở Y tế",
    "SGDĐT": "Sở Giáo dục và Đào tạo",
    "SKHĐT": "Sở Kế hoạch và Đầu tư",
    "STNMT": "Sở Tài nguyên và Môi trường",
    "SXD": "Sở Xây dựng",
    "SCT": "Sở Công Thương",
    "SNNPTNT": "Sở Nông nghiệp và Phát triển nông thôn",
    "SVHTTDL": "Sở Văn hóa, Thể thao và Du lịch",
    "SLĐTBXH": "Sở Lao động - Thương binh và Xã hội",
    "SGTVT": "Sở Giao thông vận tải",
    "SKHCN": "Sở Khoa học và Công nghệ",
}

# Casing of agency names written in capitals in a document header.
ACRONYMS = frozenset(ISSUER_CODES) | {"TTĐT", "CNTT", "MTTQ", "HĐND&UBND"}
FIXED_PHRASES: dict[str, str] = {
    "ủy ban nhân dân": "Ủy ban nhân dân",
    "uỷ ban nhân dân": "Ủy ban nhân dân",
    "hội đồng nhân dân": "Hội đồng nhân dân",
    "tỉnh ủy": "Tỉnh ủy",
    "tỉnh uỷ": "Tỉnh ủy",
    "huyện ủy": "Huyện ủy",
    "huyện uỷ": "Huyện ủy",
    "thành ủy": "Thành ủy",
    "thành uỷ": "Thành ủy",
}
# Party committees named by the place that follows them: "TỈNH ỦY ĐỒNG NAI" → "Tỉnh ủy Đồng Nai".
PLACE_NAMED = ("tỉnh ủy", "huyện ủy", "thành ủy")
AGENCY_TYPES = ("sở", "bộ", "ban", "phòng", "cục", "chi cục", "tổng cục", "trung tâm",
                "văn phòng", "thanh tra", "đài", "viện")  # fmt: skip
PLACE_WORDS = ("thành phố", "thị xã", "thị trấn", "tỉnh", "huyện", "quận", "xã", "phường")
NOT_AGENCY = frozenset({"ban hành", "phòng chống", "phòng ngừa", "bộ máy", "bộ phận", "sở hữu"})
GENERIC_UNITS = frozenset({"Văn phòng", "Thanh tra"})  # named after the parent agency

# The fields Đ8.1d asks for, as an agency labels them in a cover note ("- Số ký hiệu: …");
# "văn bản" names the document in one go: "Văn bản: Thông báo số 47/TB-VPUBND ngày …".
FIELD_LABELS: dict[str, str] = {
    "hình thức": "doc_type",
    "hình thức văn bản": "doc_type",
    "loại văn bản": "doc_type",
    "số": "number",
    "số ký hiệu": "number",
    "số, ký hiệu": "number",
    "số/ký hiệu": "number",
    "số và ký hiệu": "number",
    "số hiệu": "number",
    "số hiệu văn bản": "number",
    "ký hiệu": "number",
    "số văn bản": "number",
    "cơ quan ban hành": "issuer",
    "cơ quan, đơn vị ban hành": "issuer",
    "đơn vị ban hành": "issuer",
    "thẩm quyền ban hành": "issuer",
    "nơi ban hành": "issuer",
    "ngày ban hành": "issue_date",
    "ngày ký": "issue_date",
    "ngày ký ban hành": "issue_date",
    "ngày hiệu lực": "effective_date",
    "ngày có hiệu lực": "effective_date",
    "hiệu lực": "effective_date",
    "trích yếu": "summary",
    "trích yếu nội dung": "summary",
    "văn bản": "document",
    "tên văn bản": "document",
}

# A subject that sends a document: "Sở Tư pháp gửi …", "V/v đăng tải …", "Đề nghị đăng …".
SEND_VERBS = ("gửi", "chuyển", "đăng tải", "đăng", "trình", "xin đăng", "đề nghị đăng")
# What may follow a document's name in a subject without being its trích yếu ("… để đăng
# tải", "… đăng trên Cổng"); compared with the words as typed, with or without diacritics.
NOT_SUMMARY = ("để", "đăng", "lên", "trên", "kèm", "gửi", "đến", "tới", "xin", "nhờ", "ngày",
               "và", "đề nghị đăng", "de dang", "dang tai", "dang len", "dang tren",
               "len cong", "tren cong", "kem theo", "gui kem", "xin dang", "de nghi dang",
               "ngay")  # fmt: skip
# Words that open a body's first paragraph, not the next line of a trích yếu, when capitalised.
# Compared as written: folded, "để" would be "Đề án…" too.
BODY_OPENERS = ("nhằm", "để", "thực hiện", "triển khai", "theo", "ngày", "hôm nay", "qua",
                "vừa qua", "thời gian qua", "trên cơ sở", "sau khi", "hiện nay")  # fmt: skip
# Where a document dates itself: "có hiệu lực", "thi hành", "Luật này … thông qua ngày".
CLAUSE_CUES = ("hiệu lực", "Hiệu lực", "thi hành", "thông qua",
               "hieu luc", "Hieu luc", "thi hanh", "thong qua")  # fmt: skip
FIRST_DOCUMENT_ENDS = ("Nơi nhận", "NƠI NHẬN", "Noi nhan", "NOI NHAN")  # what it was sent to

SUBJECT_PREFIX = re.compile(rf"^(?:\s*{REPLY_PREFIX}\s*|\s*\[[^\]]*\]\s*)*", re.I)
SUBJECT_TAG = re.compile(r"\[([^\]]{1,40})\]")
_WORD = re.compile(r"\w+")
_VIDEO_LINK = re.compile(
    r"https?://(?:[\w-]+\.)*(?:"
    + "|".join(f"{re.escape(host)}/{path}" for host, path in VIDEO_LINKS)
    + ")",
    re.IGNORECASE,
)

AUTHORITY_LINE = re.compile(
    r"^(?:(?:TM\.\s*|KT\.\s*)?(?:CHỦ TỊCH|BỘ TRƯỞNG|GIÁM ĐỐC|TRƯỞNG BAN|THỦ TRƯỞNG)\s+)?"
    r"(?P<agency>(?:ỦY BAN|UỶ BAN|UBND|HỘI ĐỒNG|BỘ|SỞ|BAN (?!HÀNH)|VĂN PHÒNG|CỤC|TRUNG TÂM).*)$"
)
HEAD_MAX_LINES = 60
FOLD_PREFIX = 80  # letters of a paragraph the header patterns read ("Số: …", a title, a date)
ROW_MAX = 160  # a line this short may be a two-column table's row, read (folded) whole
SUMMARY_LINE_MAX = 100  # a trích yếu's line; a body's sentence is longer or ends with "."
CLAUSE_MAX = 240  # letters from a cue to the end of its clause's date
SENTENCE_BACK = 300  # letters before a cue where its sentence (its subject) may begin

_KIND_BY_CODE = {code: label for label, code in DOC_KINDS if code}
_FOLDED_CODES = "|".join(
    sorted({code.upper().replace("Đ", "D") for code in _KIND_BY_CODE}, key=len, reverse=True)
)
SYMBOL_FILENAME = re.compile(
    rf"(?<![A-Z0-9])(?:\d{{1,6}}[-_. ]+(?:\d{{4}}[-_. ]+)?(?:{_FOLDED_CODES})(?![A-Z])"
    rf"|(?:{_FOLDED_CODES})[-_. ]*\d{{1,6}}(?!\d))"
)
# from a run of digits' start only (tried from each digit, a name of digits took time
# quadratic in them: 30,000 took 4 s)
UNIT_SYMBOL_FILENAME = re.compile(r"(?<!\d)\d+[-_ ]+(?:\d{4}[-_ ]+)?[A-ZĐ]{2,}[-_][A-ZĐ]{2,}")


# --- the same grammar on accent-folded text (pipeline.textfold): "Quyet dinh so 1060/QD-UBND"
# reads like "Quyết định số 1060/QĐ-UBND"; values are cut from the text as written.


def _alternation(words: Iterable[str]) -> str:
    return "|".join(sorted({re.escape(fold(w)) for w in words}, key=len, reverse=True))


DASHES = "\\-\u2010-\u2015\u2212"  # in a character class: hyphen, en dash, minus (Word's)
_DASH_TO_HYPHEN = str.maketrans(dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"))
_ETH_TO_D = str.maketrans("Ðð", "Đđ")  # Icelandic eth typed for Đ: "QÐ-UBND"
_DATE_F = (
    r"\d{1,2}\s*[/.\-]\s*\d{1,2}\s*[/.\-]\s*\d{4}|\d{1,2}\s+thang\s+\d{1,2}\s*,?\s+nam\s+\d{4}"
)
_CODE_F = r"[a-z][a-z0-9&]*"
_CODES_F = rf"(?>{_CODE_F}(?:[{DASHES}]{_CODE_F})*)"  # atomic: never "05/KH" of "05/KH-BCĐ"
_SYMBOL_F = (
    rf"(?:(?P<num>\d{{1,6}}[a-z]?)\s*/\s*(?:(?P<year>\d{{4}})\s*/\s*)?(?P<code>{_CODES_F})"
    rf"|(?P<pnum>\d{{1,6}})\s*[{DASHES}]\s*(?P<pkind>(?>[a-z]+))\s*/\s*(?P<pcode>{_CODES_F}))"
)  # state form 1060/QĐ-UBND, 25/2024/NĐ-CP; Party form 05-KH/TU
_KINDS_F = _alternation(label for label, _ in DOC_KINDS)
_ABBREVIATIONS_F = _alternation(code for _, code in DOC_KINDS if code)
_SUBJECT_DOC = re.compile(
    rf"^(?:.*?\b(?:{_alternation(SEND_VERBS)})\s+)?"
    r"(?:van ban\b\s*:?\s*)?"
    rf"(?:(?P<kind>(?:{_KINDS_F})\b|(?:{_ABBREVIATIONS_F})(?=\s*(?:so\b|\d)))\s*)?"
    r"(?:so\b\s*[:.]?\s*)?"
    rf"(?:{_SYMBOL_F}|(?(kind)(?!(?:19|20)\d\d\b)\d{{1,6}}(?=\s*(?:[:{DASHES}]|$))|(?!)))"
    rf"(?:\s*,?\s*ngay\s+(?P<date>{_DATE_F}))?"
    r"(?:\s*,?\s+cua\s+(?P<issuer>.+?)"
    rf"(?:\s*,?\s*ngay\s+(?P<date2>{_DATE_F}))?(?:\s*,?\s+(?P<about>(?:ve|v/v)\b.+?))?"
    rf"|\s*[:{DASHES}]\s*(?P<summary>.+?)"
    r"|\s*,?\s+(?P<about2>(?:ve|v/v)\b.+?)"
    r"|\s*,?\s+(?P<free>[^(\s].*?))?"
    r"(?:\s*\((?P<note>[^()]*)\))?"  # "(05/11/2026)", "(kèm file)"
    r"[\s.;,]*$"
)
_ANOTHER_DOCUMENT_F = re.compile(rf"(?:{_KINDS_F}|{_ABBREVIATIONS_F})\s+(?:so\b\s*)?\d")
_NOT_SUMMARY = re.compile(rf"\s?(?:{'|'.join(map(re.escape, NOT_SUMMARY))})\b", re.I)
_KIND_BY_FOLDED_LABEL = {fold(label): label for label, _ in DOC_KINDS}
_NUMBER_F = re.compile(rf"\s*(?:(?:{_KINDS_F})\s+)?so\b\s*[:.]?\s*{_SYMBOL_F}")  # "Luật số: …"
_PLACE_DATE_F = re.compile(rf"[^\d,]{{2,40}},\s*ngay\s+(?P<date>{_DATE_F})")
_PLACE_DATE_LOOSE_F = re.compile(r"[^\d,]{2,40},\s*ngay\b")
# The line typed without its comma ("Biên Hòa ngày 12 tháng 3 năm 2026"): the whole line,
# the place in capitalised words (checked on the line as typed: see _place_date_bare).
_PLACE_DATE_BARE_F = re.compile(rf"(?P<place>[^\d,]{{2,40}}?)\s+ngay\s+(?P<date>{_DATE_F})[\s.]*$")
_PLACE_WORDS = 5  # "Thành phố Hồ Chí Minh"
# Capitalised words that open a sentence about a day, not a place: "Sáng ngày 12/3/2026".
_NOT_PLACES_F = frozenset(
    fold(w).lower()
    for w in (
        "sáng",
        "chiều",
        "tối",
        "trưa",
        "đêm",
        "hôm",
        "vào",
        "từ",
        "đến",
        "trong",
        "cùng",
        "cũng",
    )
)
_HEADER_LINES = 15  # where a document's place-date line stands
_TITLE_F = re.compile(rf"\s*(?P<kind>{_KINDS_F})\b\s*(?P<rest>.*)")
_VV_F = re.compile(r"\s*(?:v/v|ve viec)\b")
_BODY_START_F = re.compile(
    r"\s*(?:[-+•]\s*)?(?:kinh gui|kinh moi|tran trong kinh moi|can cu|theo de nghi"
    r"|xet de nghi|dieu 1\b|chuong i\b|phan i\b)"
)
_RULE_F = re.compile(r"[-_=.~•\s]{3,}")  # the rule under a title, typed: "_______", "-----"
_HEADING_F = re.compile(r"(?:[ivx]+|\d+|[a-z])[.)]\s|(?:dieu|chuong|phan|muc)\s+[\divx]+\b")
_BODY_OPENER = re.compile(rf"(?:{'|'.join(map(re.escape, BODY_OPENERS))})\b", re.I)
_MOTTO_F = re.compile(r"cong\s+hoa|doc\s+lap|dang\s+cong\s+san")
_CELL_GAP = re.compile(r"\t| {2,}")
# Where the right column of a header typed as a table begins: the motto, or place and date.
_RIGHT_CELL_F = re.compile(
    rf"(?:\t| {{2,}})(?=\s*(?:{_MOTTO_F.pattern}|(?:[^\t\d, ]| (?! )){{2,40}},\s*ngay\b))"
)
_EFFECTIVE_F = re.compile(
    rf"(?:hieu luc|thi hanh)[^.;\n]{{0,80}}?(?:sau\s+(?P<days>\d{{1,3}})\s+ngay\s+)?(?:ke\s+)?"
    rf"tu\s+ngay\s+(?:(?P<signing>ky|ban hanh|(?:duoc\s+)?thong qua)|(?P<date>{_DATE_F}))"
)
_PASSED_F = re.compile(rf"thong\s+qua\s+(?:ngay\s+)?(?P<date>{_DATE_F})")  # a law's date
_FIELD_BY_LABEL_F = {fold(label): name for label, name in FIELD_LABELS.items()}
_LABEL_F = re.compile(
    rf"[-+•\s]*(?:\d{{1,2}}[.)]\s*)?(?P<label>{_alternation(FIELD_LABELS)})\s*:\s*(?P<value>\S.*?)"
    r"[\s.;,]*"
)
_SYMBOL_IN_F = re.compile(_SYMBOL_F)
_DATE_IN_F = re.compile(_DATE_F)
_SIGNING_F = re.compile(r"\b(?:ky|ban hanh)\b")
_ITSELF_F = re.compile(rf"\b(?:{_KINDS_F}|van ban)\s+nay\b")  # "Quyết định này", "văn bản này"


@dataclass(frozen=True)
class DocumentMetadata:
    doc_type: str | None
    number: str | None
    issuer: str | None
    issue_date: date | None
    effective_date: date | None
    summary: str | None

    def to_dict(self) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = value.isoformat() if isinstance(value, date) else value
        return out


def extract_document_metadata(subject: str, text: str) -> DocumentMetadata | None:
    """Metadata of the official document in `text` (header) or named by `subject`.

    Header fields win over those a cover note labels ("Số ký hiệu: …", FIELD_LABELS), which
    win over the subject's. None when neither the text's header (a "Số:" line, or a title
    such as "QUYẾT ĐỊNH" with a place-date line), nor labels, nor the subject name a document.
    """
    top = _top(text)
    from_subject = _from_subject(subject)
    from_labels, labelled_effective = _from_labels(*top)
    named = from_subject is not None or from_labels is not None
    from_text = _from_text(_head(*top), named_by_subject=named)
    if from_text is None and not named:
        return None
    merged = _merge(from_text, from_labels, from_subject)
    clauses = _clauses(text)
    issued = merged.issue_date or _clause_date(clauses, _PASSED_F, merged.doc_type)
    effective = _effective_clause(clauses, merged.doc_type)
    if effective is None:
        effective = labelled_effective
    if isinstance(effective, timedelta):  # "kể từ ngày ký", "sau 10 ngày kể từ ngày ký"
        effective = issued + effective if issued else None
    return replace(merged, issue_date=issued, effective_date=effective)


def classify_submission(
    subject: str,
    text: str,
    attachment_types: Sequence[tuple[str, str]],
    subject_tags: Mapping[str, str] | None = None,
    *,
    html: str = "",
    article_min_words: int = ARTICLE_MIN_WORDS,
    photo_max_words: int = PHOTO_MAX_WORDS,
) -> tuple[Kind, DocumentMetadata | None]:
    """What a mail submits and, if it is an official document, the document's metadata.

    The text is read once. Only a document carries metadata: a story tagged [Tin] whose
    subject names a decision is news, and its item shows no document fields. ``html`` is
    the body as HTML, whose links the text does not show.
    """
    tagged = _tagged_kind(subject, subject_tags)
    if tagged is not None and tagged != "van_ban":
        return tagged, None
    document = extract_document_metadata(subject, text)
    if (
        tagged == "van_ban"
        or document is not None
        or any(
            _suffix(name) in DOCUMENT_EXTENSIONS and _looks_like_symbol(PurePath(name).stem)
            for name, _ in attachment_types
        )
    ):
        return "van_ban", document
    if any(_is_media(name, ctype, "video/", VIDEO_EXTENSIONS) for name, ctype in attachment_types):
        return "video", None
    words = len(_WORD.findall(text))
    if words < photo_max_words and (_VIDEO_LINK.search(text) or _VIDEO_LINK.search(html)):
        return "video", None  # a short note with a link to the clip
    images = sum(
        _is_media(name, ctype, "image/", IMAGE_EXTENSIONS) for name, ctype in attachment_types
    )
    if images and images * 2 >= len(attachment_types) and words < photo_max_words:
        return "anh", None
    return ("bai" if words >= article_min_words else "tin"), None


def _tagged_kind(subject: str, subject_tags: Mapping[str, str] | None) -> Kind | None:
    """The kind a subject tag ("[Tin]", "[Văn bản]") says, if any."""
    tags: Mapping[str, str] = SUBJECT_TAGS
    if subject_tags:
        tags = dict(SUBJECT_TAGS)
        for tag, kind in subject_tags.items():
            if kind not in get_args(Kind):
                raise ValueError(f"unknown kind {kind!r} for subject tag {tag!r}")
            tags[_fold(tag)] = kind
    for match in SUBJECT_TAG.finditer(subject):
        tagged = tags.get(_fold(match.group(1)))
        if tagged:
            return cast(Kind, tagged)
    return None


# --- document text -------------------------------------------------------------------------


def _from_text(head: Head, *, named_by_subject: bool) -> DocumentMetadata | None:
    """Header fields; None unless the text (or else the subject) shows it is a document."""
    lines, flines = head
    number_at = _first(flines, _NUMBER_F)
    # A form's name with more capitals after it is a headline ("KẾ HOẠCH NHỎ - Ý NGHĨA LỚN",
    # "LUẬT SƯ TƯ VẤN…") unless the header is a document's (a number, the national motto).
    pairs = enumerate(zip(lines, flines, strict=True))
    titles = [(i, m) for i, (line, fl) in pairs if (m := _title(line, fl))]
    if titles and number_at is None and not any(_MOTTO_F.search(fl) for fl in flines):
        titles = [(i, m) for i, m in titles if not _is_upper(lines[i][m.start("rest") :])]
    titled = bool(titles) and _first(flines, _PLACE_DATE_LOOSE_F) is not None
    if number_at is None and not titled and not named_by_subject:
        return None

    number = code = None
    if number_at is not None:
        group = _groups(lines[number_at[0]], number_at[1])
        number, code = _symbol(group), _symbol_code(group)
    doc_type: str | None = None
    summary: str | None = None
    if titles:
        title_index, title = titles[0]
        doc_type = _KIND_BY_FOLDED_LABEL[title.group("kind")]
        rest = lines[title_index][title.start("rest") :]
        summary = _title_summary(rest, lines[title_index + 1 :], flines[title_index + 1 :])
    vv_index = next((i for i, fl in enumerate(flines) if _VV_F.match(fl)), None)
    if summary is None and vv_index is not None:
        summary = _join(_paragraph(lines[vv_index:], flines[vv_index:]))
    if doc_type is None and code:
        doc_type = _kind_from_code(code)

    date_at = _first(flines, _PLACE_DATE_F) or _place_date_bare(lines, flines)
    issue_date = _to_date(date_at[1].group("date")) if date_at else None
    issuer = _header_issuer(lines, flines) or _authority_issuer(lines, flines)
    if issuer is None and code:
        issuer = _issuer_from_code(code)
    return DocumentMetadata(
        doc_type=doc_type,
        number=number,
        issuer=issuer,
        issue_date=issue_date,
        effective_date=None,  # read from the whole body by extract_document_metadata
        summary=summary,
    )


Head = tuple[list[str], list[str]]  # a header's lines as written and folded, position for position


def _top(text: str) -> Head:
    """The first lines of ``text``, stripped, as written and folded. A long line (a news
    story's paragraph runs to hundreds of letters; this runs on every mail) is folded only
    as far as the header patterns look, its first FOLD_PREFIX letters."""
    end = -1
    for _ in range(HEAD_MAX_LINES):
        end = text.find("\n", end + 1)
        if end < 0:
            break
    lines = [_clean(line) for line in (text if end < 0 else text[:end]).splitlines()]
    prefixes = "\n".join(line if len(line) <= ROW_MAX else line[:FOLD_PREFIX] for line in lines)
    written, folded = _fold_pair(prefixes)
    if written is not prefixes:  # an Ð or a combining mark was taken out: the same in full
        lines = [_fold_pair(line)[0] for line in lines]
    return lines, folded.split("\n") if lines else []


def _head(lines: Sequence[str], flines: Sequence[str]) -> Head:
    """The document header: up to the salutation or the legal grounds (Kính gửi, Căn cứ…)."""
    end = next((i for i, fl in enumerate(flines) if _BODY_START_F.match(fl)), len(flines))
    return _columns(lines[:end], flines[:end])


def _from_labels(
    lines: Sequence[str], flines: Sequence[str]
) -> tuple[DocumentMetadata | None, date | timedelta | None]:
    """The fields a cover note labels, and its effective date (or time after signing);
    None unless it gives a number or two fields."""
    values: dict[str, tuple[str, str]] = {}  # field → its first value, as written and folded
    for line, fl in zip(lines, flines, strict=True):
        if ":" in fl and (match := _LABEL_F.fullmatch(fl)):
            value = (line[match.start("value") :].rstrip(" \t.;,"), match.group("value"))
            values.setdefault(_FIELD_BY_LABEL_F[match.group("label")], value)
    if not values:
        return None, None
    number = code = None
    if (written := values.get("number")) and (symbol := _SYMBOL_IN_F.search(written[1])):
        group = _groups(written[0], symbol)
        number, code = _symbol(group), _symbol_code(group)
    kind = _kind_named(values["doc_type"][0]) if "doc_type" in values else None
    issuer, summary = (
        _sentence(_as_written(values[name][0])) if name in values else None
        for name in ("issuer", "summary")
    )
    effective: date | timedelta | None = _labelled_date(values.get("effective_date"))
    if effective is None and _SIGNING_F.search(values.get("effective_date", ("", ""))[1]):
        effective = timedelta(0)  # "Ngày hiệu lực: kể từ ngày ký"
    labelled = DocumentMetadata(
        doc_type=kind or (_kind_from_code(code) if code else None),
        number=number,
        issuer=issuer or (_issuer_from_code(code) if code else None),
        issue_date=_labelled_date(values.get("issue_date")),
        effective_date=None,
        summary=summary,
    )
    named = _from_subject(values["document"][0]) if "document" in values else None
    meta = _merge(labelled, named)
    given = (meta.doc_type, meta.issuer, meta.issue_date, meta.summary, effective)
    if meta.number is None and sum(v is not None for v in given) < 2:
        return None, None
    return meta, effective


def _labelled_date(value: tuple[str, str] | None) -> date | None:
    found = _DATE_IN_F.search(value[1]) if value else None
    return _to_date(found.group()) if found else None


def _merge(*found: DocumentMetadata | None) -> DocumentMetadata:
    """Each field from the first that has it."""
    return DocumentMetadata(
        *(
            next((v for m in found if m is not None and (v := getattr(m, f.name))), None)
            for f in fields(DocumentMetadata)
        )
    )


def _kind_named(value: str) -> str | None:
    """A form named in full or by its code: "Quyết định", "Quyet dinh", "QĐ"."""
    return _KIND_BY_FOLDED_LABEL.get(_fold(value)) or _lookup(_KIND_CODES, value.strip())


def _columns(lines: Sequence[str], flines: Sequence[str]) -> Head:
    """A header typed as a two-column table, a row a line ("ỦY BAN NHÂN DÂN<tab>CỘNG HÒA…",
    "Số: 1060/QĐ-UBND<tab>Đồng Nai, ngày…"), read a column at a time: the left one (issuer,
    number, V/v on as many rows as it takes) up to the blank line that ends the table, then
    the right one (motto, place and date)."""
    out: list[str] = []
    fout: list[str] = []
    right: list[tuple[str, str]] = []
    for line, fl in zip(lines, flines, strict=True):
        if not line and right:
            _flush(right, out, fout)
        cut = _RIGHT_CELL_F.search(fl) if "\t" in fl or "  " in fl else None
        if cut:
            right.append((line[cut.end() :].strip(), fl[cut.end() :].strip()))
            line, fl = line[: cut.start()].strip(), fl[: cut.start()].strip()
            if not line:
                continue
        out.append(line)
        fout.append(fl)
    _flush(right, out, fout)
    return out, fout


def _flush(right: list[tuple[str, str]], out: list[str], fout: list[str]) -> None:
    """The right column, after the left one and a blank line (it is a block of its own)."""
    if right:
        out.extend(["", *(r for r, _ in right)])
        fout.extend(["", *(f for _, f in right)])
        right.clear()


def _clean(line: str) -> str:
    return line.replace("*", "").strip()


def _first(flines: Sequence[str], pattern: re.Pattern[str]) -> tuple[int, re.Match[str]] | None:
    return next(((i, m) for i, fl in enumerate(flines) if (m := pattern.match(fl))), None)


def _place_date_bare(
    lines: Sequence[str], flines: Sequence[str]
) -> tuple[int, re.Match[str]] | None:
    """A place-date line of the header typed without its comma: a place of one to five
    capitalised words ("Biên Hòa", "TP. Hồ Chí Minh"), "ngày" and a date, alone on it."""
    for i, (line, fl) in enumerate(zip(lines[:_HEADER_LINES], flines, strict=False)):
        found = _PLACE_DATE_BARE_F.match(fl)
        if found is None:
            continue
        words = line[: len(found.group("place").rstrip())].split()
        if (
            words
            and len(words) <= _PLACE_WORDS
            and all(w[0].isupper() for w in words)
            and fold(words[0]).lower() not in _NOT_PLACES_F
        ):
            return i, found
    return None


def _title(line: str, fl: str) -> re.Match[str] | None:
    """A form's name in capitals opening a line ("QUYẾT ĐỊNH", "KẾ HOẠCH")."""
    match = _TITLE_F.match(fl)
    return match if match and _is_upper(line[match.start("kind") : match.end("kind")]) else None


def _paragraph(lines: Sequence[str], flines: Sequence[str]) -> list[str]:
    """Lines up to a blank line, a place-date line, a rule or a note in parentheses.

    One blank line does not end it when the line after it goes on with the same words: a
    header from HTML or Word has a blank line after every paragraph (one a line, typed
    with Enter), "Về việc phê duyệt Kế hoạch…" ‹blank› "tỉnh Đồng Nai năm 2027".
    """
    out: list[str] = []
    for i, (line, fl) in enumerate(zip(lines, flines, strict=True)):
        if not line:
            if out and i + 1 < len(lines) and _goes_on(out[-1], lines[i + 1], flines[i + 1]):
                continue
            break
        if _ends_paragraph(line, fl):
            break
        out.append(line)
    return out


def _ends_paragraph(line: str, fl: str) -> bool:
    return line.startswith("(") or bool(_PLACE_DATE_LOOSE_F.match(fl) or _RULE_F.fullmatch(fl))


def _goes_on(before: str, line: str, fl: str) -> bool:
    """Whether ``line``, after a blank line, continues the trích yếu ending with ``before``."""
    return not (
        not line
        or before.endswith((".", ":", ";", "!", "?"))
        or line.endswith((".", ":", ";", "!", "?"))
        or _ends_paragraph(line, fl)
        or _is_upper(line)  # the authority ("CHỦ TỊCH ỦY BAN…") or a heading ("I. MỤC ĐÍCH")
        or _HEADING_F.match(fl)
        or (not line[:1].islower() and (len(line) > SUMMARY_LINE_MAX or _BODY_OPENER.match(line)))
    )


def _title_summary(rest: str, following: Sequence[str], ffollowing: Sequence[str]) -> str | None:
    if rest.strip():
        return _join([rest, *_paragraph(following, ffollowing)])
    start = next((i for i, line in enumerate(following) if line), len(following))
    paragraph = _paragraph(following[start:], ffollowing[start:])
    if not paragraph or (_is_upper(paragraph[0]) and AUTHORITY_LINE.match(paragraph[0])):
        return None
    return _join(paragraph)


def _join(parts: Sequence[str]) -> str | None:
    joined = " ".join(" ".join(parts).split())
    return _sentence(_agency_case(joined) if _is_upper(joined) else joined) or None


def _header_issuer(lines: Sequence[str], flines: Sequence[str]) -> str | None:
    """Issuing agency from the header block left of (above) the national motto."""
    block: list[str] = []
    for line, fl in zip(lines, flines, strict=True):
        if _NUMBER_F.match(fl) or _PLACE_DATE_LOOSE_F.match(fl) or _title(line, fl):
            break
        cell = _CELL_GAP.search(line)
        end = cell.start() if cell else len(line)
        motto = _MOTTO_F.search(fl, 0, end)
        left = line[: motto.start() if motto else end].strip(" -–_")
        if left and _is_upper(left):
            block.append(left)
    if not block:
        return None
    parent: str | None = None
    if len(block) > 1 and _starts_with_agency_type(block[1]):
        parent, block = block[0], block[1:]
    issuer = _agency_case(" ".join(block))
    if parent and issuer in GENERIC_UNITS:
        issuer = f"{issuer} {_agency_case(parent)}"
    return issuer


def _authority_issuer(lines: Sequence[str], flines: Sequence[str]) -> str | None:
    """Issuing authority from a capitalised line such as 'ỦY BAN NHÂN DÂN TỈNH KHÁNH HOÀ'."""
    for line, fl in zip(lines, flines, strict=True):
        match = AUTHORITY_LINE.match(line)
        if match and _is_upper(line) and not _title(line, fl):
            return _agency_case(match.group("agency"))
    return None


def _clauses(text: str) -> list[tuple[str, int]]:
    """The sentences of the first document (it ends at "Nơi nhận") that may date it, folded,
    each with where its cue ("hiệu lực", "thi hành", "thông qua") begins. Only these are
    folded: a decision with its regulation attached runs to tens of thousands of letters."""
    end = min((i for s in FIRST_DOCUMENT_ENDS if (i := text.find(s)) >= 0), default=len(text))
    out: list[tuple[str, int]] = []
    for at in sorted(_occurrences(text, CLAUSE_CUES, end)):
        back = max(0, at - SENTENCE_BACK)
        start = max(back - 1, *(text.rfind(stop, back, at) for stop in ".;\n")) + 1
        out.append((_fold_pair(text[start : at + CLAUSE_MAX])[1], at - start))
    return out


def _occurrences(text: str, words: Iterable[str], end: int) -> Iterator[int]:
    for word in words:
        at = text.find(word, 0, end)
        while at >= 0:
            yield at
            at = text.find(word, at + 1, end)


def _effective_clause(
    clauses: list[tuple[str, int]], doc_type: str | None
) -> date | timedelta | None:
    """The date the document's own clause says it takes effect, or how long after signing."""
    for sentence, at in clauses:
        match = _EFFECTIVE_F.match(sentence, at)
        if match and _about_itself(sentence[: match.end()], doc_type):
            if match.group("date"):
                return _to_date(match.group("date"))
            return timedelta(days=int(match.group("days") or 0))
    return None


def _clause_date(
    clauses: list[tuple[str, int]], pattern: re.Pattern[str], doc_type: str | None
) -> date | None:
    for sentence, at in clauses:
        match = pattern.match(sentence, at)
        if match and _about_itself(sentence[: match.end()], doc_type):
            return _to_date(match.group("date"))
    return None


def _about_itself(sentence: str, doc_type: str | None) -> bool:
    """Whether a (folded) sentence speaks of this document ("Quyết định này có hiệu lực…",
    "Quyết định có hiệu lực…" in a Quyết định), not of another it cites ("Luật Phòng cháy,
    chữa cháy có hiệu lực từ ngày 01/7/2025" in a Công văn)."""
    if _ITSELF_F.search(sentence):
        return True
    return doc_type is None or sentence.lstrip().startswith(fold(doc_type))


# --- subject -------------------------------------------------------------------------------


def _from_subject(subject: str) -> DocumentMetadata | None:
    cleaned, folded = _fold_pair(" ".join(SUBJECT_PREFIX.sub("", subject).split()))
    match = _SUBJECT_DOC.match(folded)
    if match is None:
        return None
    group = _groups(cleaned, match)
    kind, number, code = group("kind"), _symbol(group), _symbol_code(group)
    if kind:
        doc_type = _KIND_BY_FOLDED_LABEL.get(fold(kind)) or _lookup(_KIND_CODES, kind)
    else:
        doc_type = _kind_from_code(code) if code else None
    summary = group("summary") or group("about") or group("about2") or group("free")
    if summary and (_NOT_SUMMARY.match(summary) or _ANOTHER_DOCUMENT_F.match(fold(summary))):
        summary = None  # "… để đăng tải", "…, Kế hoạch 05/KH-BCĐ"
    issuer = group("issuer")
    if issuer and (tail := _NOT_SUMMARY.search(issuer, 1)):  # "của UBND tỉnh để đăng tải"
        issuer = issuer[: tail.start()]
    in_note = _DATE_IN_F.search(match.group("note") or "")
    issued = match.group("date") or match.group("date2") or (in_note.group() if in_note else None)
    return DocumentMetadata(
        doc_type=doc_type,
        number=number,
        issuer=_as_written(issuer) if issuer else _issuer_from_code(code) if code else None,
        issue_date=_to_date(issued) if issued else None,
        effective_date=None,
        summary=_sentence(_as_written(summary)) if summary else None,
    )


def _fold_pair(text: str) -> tuple[str, str]:
    """``text`` (with Đ for a look-alike Ð) and its folded form, position for position."""
    if "Ð" in text or "ð" in text:
        text = text.translate(_ETH_TO_D)
    folded = fold(text)
    if len(folded) != len(text):  # combining marks left over: drop them, the rest folds 1:1
        text = "".join(c for c in text if not unicodedata.combining(c))
        folded = fold(text)
    return text, folded


def _groups(written: str, match: re.Match[str]) -> Callable[[str], str | None]:
    """A match's groups cut from the text as written (the match ran on its folded form)."""

    def group(name: str) -> str | None:
        start, end = match.span(name)
        return written[start:end] if start >= 0 else None

    return group


def _as_written(value: str) -> str:
    """A value from a subject; one typed in capitals is cased as staff would write it."""
    return _agency_case(value) if _is_upper(value) else value


def _sentence(value: str) -> str:
    return value[:1].upper() + value[1:]


# --- symbols, dates, names -----------------------------------------------------------------


def _symbol(group: Callable[[str], str | None]) -> str | None:
    """The number/symbol of a match of _SYMBOL_F, written the standard way."""
    if group("num"):
        year = f"{group('year')}/" if group("year") else ""
        symbol = f"{group('num')}/{year}{group('code')}"
    elif group("pnum"):
        symbol = f"{group('pnum')}-{group('pkind')}/{group('pcode')}"
    else:
        return None
    return symbol.translate(_DASH_TO_HYPHEN)


def _symbol_code(group: Callable[[str], str | None]) -> str | None:
    """The code part that names the form and the issuer: 'QĐ-UBND'; 'KH-TU' for 05-KH/TU."""
    if group("code"):
        return (group("code") or "").translate(_DASH_TO_HYPHEN)
    if group("pkind"):
        return f"{group('pkind')}-{group('pcode')}".translate(_DASH_TO_HYPHEN)
    return None


def _code_parts(code: str) -> list[str]:
    """'QĐ-UBND' → ['QĐ', 'UBND']; a trailing term number goes: 'QH12' → 'QH'."""
    return [re.sub(r"\d+$", "", part) for part in code.split("-")]


@dataclass(frozen=True)
class _Codes:
    """A code table, looked up exactly (case-insensitively) first, then without diacritics."""

    exact: dict[str, str]
    folded: dict[str, str]

    @classmethod
    def of(cls, table: Mapping[str, str]) -> _Codes:
        folded: dict[str, str] = {}
        for key, value in table.items():
            folded.setdefault(_ascii_upper(key), value)
        return cls({key.upper(): value for key, value in table.items()}, folded)


def _lookup(codes: _Codes, code: str) -> str | None:
    """'QĐ' → Quyết định; 'QD' too."""
    return codes.exact.get(code.upper()) or codes.folded.get(_ascii_upper(code))


def _kind_from_code(code: str) -> str:
    first = _code_parts(code)[0]
    return _lookup(_KIND_CODES, first) or KIND_BY_ISSUER_CODE.get(first, DEFAULT_DOC_KIND)


def _issuer_from_code(code: str) -> str | None:
    parts = _code_parts(code)
    if _lookup(_KIND_CODES, parts[0]):
        parts = parts[1:]
    return _lookup(_ISSUER_CODES, parts[0]) if parts else None


def _to_date(raw: str) -> date | None:
    day, month, year = (int(n) for n in re.findall(r"\d+", raw)[:3])
    try:
        return date(year, month, day)
    except ValueError:
        return None


@dataclass(frozen=True)
class _Words:
    """What _agency_case knows, as written or, for a name typed without diacritics, folded."""

    acronyms: frozenset[str]
    phrases: dict[tuple[str, ...], str]  # lower-case words → the phrase as written
    agency_types: frozenset[str]
    place_words: frozenset[str]
    not_agency: frozenset[str]
    joining: frozenset[str]  # after these another agency is named: "Sở Văn hóa, Thể thao và …"
    place_named: frozenset[str]  # "tỉnh_ủy": a place name follows


def _words(key: Callable[[str], str], acronyms: Iterable[str]) -> _Words:
    def cased(phrase: str) -> str:
        return " ".join(
            k[:1].upper() + k[1:] if w[:1].isupper() else k
            for k, w in zip(key(phrase).split(), phrase.split(), strict=True)
        )

    return _Words(
        acronyms=frozenset(acronyms),
        phrases={tuple(key(k).split()): cased(v) for k, v in FIXED_PHRASES.items()},
        agency_types=frozenset(map(key, AGENCY_TYPES)),
        place_words=frozenset(map(key, PLACE_WORDS)),
        not_agency=frozenset(map(key, NOT_AGENCY)),
        joining=frozenset({key("và"), "-"}),
        place_named=frozenset(key(p).replace(" ", "_") for p in PLACE_NAMED),
    )


_WRITTEN_WORDS = _words(str.lower, ACRONYMS)
# Without diacritics a short acronym is a word: "SO TU PHAP" is "Sở Tư pháp", not "TU" (Tỉnh ủy).
_FOLDED_WORDS = _words(fold, {fold(a).upper() for a in ACRONYMS if len(a) > 2})


def _agency_case(name: str) -> str:
    """Sentence case for capitalised names and titles, keeping agency and place names.

    'SỞ TƯ PHÁP' → 'Sở Tư pháp'; 'UBND TỈNH ĐỒNG NAI' → 'UBND tỉnh Đồng Nai';
    'BAN HÀNH QUY CHẾ CỦA BAN BIÊN TẬP' → 'Ban hành quy chế của Ban Biên tập';
    'UY BAN NHAN DAN TINH DONG NAI' → 'Uy ban nhan dan tinh Dong Nai'.
    """
    vocabulary = _FOLDED_WORDS if fold(name) == name.lower() else _WRITTEN_WORDS
    lowered = [w if w in vocabulary.acronyms else w.lower() for w in name.split()]
    words: list[str] = []  # a fixed phrase is one word here, joined by '_'
    i = 0
    while i < len(lowered):
        n = next((n for n in (4, 3, 2) if tuple(lowered[i : i + n]) in vocabulary.phrases), 1)
        phrase = vocabulary.phrases.get(tuple(lowered[i : i + n])) if n > 1 else None
        words.append(phrase.replace(" ", "_") if phrase else lowered[i])
        i += n
    out: list[str] = []
    capitalise_next, in_field, in_place = True, False, False
    i = 0
    while i < len(words):
        word, two = words[i], " ".join(words[i : i + 2])
        places, agencies = vocabulary.place_words, vocabulary.agency_types
        place = two if two in places else word if word in places else None
        agency = two if two in agencies else word if word in agencies else None
        if place and out and not capitalise_next and not in_place:
            out.append(place)
            i, in_field, in_place = i + len(place.split()), False, True
        elif agency and not in_place and two not in vocabulary.not_agency:
            out.append(agency[:1].upper() + agency[1:])
            i, capitalise_next, in_field = i + len(agency.split()), True, True
        else:
            if capitalise_next or in_place:
                word = word[:1].upper() + word[1:]
            out.append(word)
            capitalise_next = in_field and (word in vocabulary.joining or word.endswith(","))
            in_place = in_place or word.lower() in vocabulary.place_named
            i += 1
    return " ".join(out).replace("_", " ")


def _starts_with_agency_type(line: str) -> bool:
    lowered = line.lower()
    return any(lowered == t or lowered.startswith(t + " ") for t in AGENCY_TYPES)


def _is_upper(line: str) -> bool:
    return any(c.isalpha() for c in line) and line == line.upper()


def _fold(value: str) -> str:
    return " ".join(fold(value).split())


def _ascii_upper(value: str) -> str:
    return _fold(value).upper()


def _suffix(filename: str) -> str:
    return PurePath(filename).suffix.lower()


def _is_media(filename: str, content_type: str, prefix: str, extensions: frozenset[str]) -> bool:
    return content_type.lower().startswith(prefix) or _suffix(filename) in extensions


def _looks_like_symbol(stem: str) -> bool:
    """'1060-QD-UBND', 'QĐ 172', '52_STP-VP' look like document symbols; 'IMG_0412' not."""
    return bool(SYMBOL_FILENAME.search(_ascii_upper(stem)) or UNIT_SYMBOL_FILENAME.search(stem))


_KIND_CODES = _Codes.of(_KIND_BY_CODE)
_ISSUER_CODES = _Codes.of(ISSUER_CODES)
