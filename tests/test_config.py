"""The shipped board files and the errors a broken board file gives.

The five boards follow the regulations in ``shared/seeds/``; each board's ``regulation``
names its seed file, and these tests hold the files to it: real addresses come from the
seed, invented ones are marked, secrets are never written down.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest
from pydantic import ValidationError

from pipeline.config import (
    DEPLOYMENT_FILE,
    ENVIRONMENT,
    Board,
    ConfigError,
    Role,
    Secret,
    board_files,
    load_board,
    load_boards,
    load_deployment,
)

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "config"
SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"
BOARD_FILES = sorted(p for p in CONFIG.glob("*.toml") if p.name != DEPLOYMENT_FILE)
REAL_PUBLIC_HOSTS = {"imap.gmail.com", "smtp.gmail.com"}  # real services, not in any seed
EXAMPLE_MARK = "ví dụ"


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _board(board_id: str) -> Board:
    return load_board(CONFIG / f"{board_id}.toml")


def _seed_text(board: Board) -> str | None:
    """The text of the seed the board's ``regulation`` names, lower-cased, NFC."""
    match = re.search(r"seeds/([\w.-]+\.txt)", board.regulation)
    if match is None:
        return None
    return _nfc((SEEDS / match.group(1)).read_text(encoding="utf-8")).lower()


def _by_id(board: Board) -> dict[str, str]:
    return {m.id: m.name for m in board.members}


# ---------------------------------------------------------------------------
# Every shipped board
# ---------------------------------------------------------------------------


def test_the_five_regulated_boards_and_the_demo_ship() -> None:
    assert [p.stem for p in BOARD_FILES] == [
        "binhphuoc",
        "demo",
        "dongnai",
        "khanhhoa",
        "lucnam",
        "tuyenquang",
    ]
    assert board_files(CONFIG) == BOARD_FILES
    assert sorted(b.id for b in load_boards(CONFIG)) == [p.stem for p in BOARD_FILES]


@pytest.mark.parametrize("path", BOARD_FILES, ids=lambda p: p.stem)
def test_board_file_loads_with_one_head(path: Path) -> None:
    board = load_board(path)
    assert board.id == path.stem
    assert board.source_file == str(path)
    assert len(board.members_with_role(Role.TRUONG_BAN)) == 1


@pytest.mark.parametrize("path", BOARD_FILES, ids=lambda p: p.stem)
def test_board_names_its_seed_and_the_seed_exists(path: Path) -> None:
    board = load_board(path)
    if board.id == "demo":
        assert _seed_text(board) is None
        return
    seed = _seed_text(board)
    assert seed is not None and len(seed) > 1000


@pytest.mark.parametrize("path", BOARD_FILES, ids=lambda p: p.stem)
def test_vietnamese_text_is_nfc_and_keywords_are_usable(path: Path) -> None:
    raw = path.read_text(encoding="utf-8")
    assert unicodedata.is_normalized("NFC", raw)
    board = load_board(path)
    assert board.fields, "a board classifies items into fields"
    for topic in board.fields:
        assert 4 <= len(topic.keywords) <= 10, topic.id
        assert len(set(topic.keywords)) == len(topic.keywords), topic.id
        for keyword in topic.keywords:
            assert keyword == keyword.strip().lower(), (topic.id, keyword)
        assert topic.tags and all(re.fullmatch(r"[A-Z]{2,8}", t) for t in topic.tags), topic.id


@pytest.mark.parametrize("path", BOARD_FILES, ids=lambda p: p.stem)
def test_member_addresses_sit_on_their_agency_domain(path: Path) -> None:
    board = load_board(path)
    for member in board.members:
        if member.agency is None:
            continue
        agency = board.agency(member.agency)
        if agency.domains:
            assert member.email.rsplit("@", 1)[1] in agency.domains, member.id


# ---------------------------------------------------------------------------
# Invented addresses are marked; real ones come from the regulation
# ---------------------------------------------------------------------------


def _lines_marked_example(raw: str, value: str) -> bool:
    lines = [ln for ln in raw.lower().splitlines() if f'"{value.lower()}"' in ln]
    return bool(lines) and all(EXAMPLE_MARK in ln for ln in lines)


def _unmarked_inventions(path: Path) -> list[str]:
    """Addresses and hosts that are neither in the board's seed nor marked invented."""
    board = load_board(path)
    seed = _seed_text(board)
    problems: list[str] = []
    if seed is None:  # the demo: everything in it must be declared invented
        problems += [f"{m.id}: not example" for m in board.members if not m.example]
        problems += [f"{a.id}: not example" for a in board.agencies if not a.example]
        return problems
    for member in board.members:
        if not member.example:
            problems += [
                f"{member.id}: {address} is not in the regulation"
                for address in [member.email, *member.aliases]
                if address not in seed
            ]
    for agency in board.agencies:
        if not agency.example:
            problems += [
                f"{agency.id}: {value} is not in the regulation"
                for value in [*agency.addresses, *agency.domains]
                if value not in seed
            ]
    raw = path.read_text(encoding="utf-8")
    values: list[str] = []
    for box in board.mailboxes:
        values += [box.address, *box.aliases, box.username or "", box.host or ""]
    out = board.mail_out
    values += [out.from_address, out.username or "", out.host or ""]
    for value in filter(None, dict.fromkeys(values)):
        if value.lower() in seed or value in REAL_PUBLIC_HOSTS:
            continue
        if not _lines_marked_example(raw, value):
            problems.append(f"{value} is invented but not marked {EXAMPLE_MARK!r}")
    return problems


@pytest.mark.parametrize("path", BOARD_FILES, ids=lambda p: p.stem)
def test_invented_addresses_are_marked_as_examples(path: Path) -> None:
    assert _unmarked_inventions(path) == []


def test_an_invented_member_address_not_marked_example_is_caught(tmp_path: Path) -> None:
    text = (CONFIG / "khanhhoa.toml").read_text(encoding="utf-8")
    old = 'fields = ["phan-anh-kien-nghi"]\nexample = true'
    assert old in text
    path = tmp_path / "khanhhoa.toml"
    path.write_text(text.replace(old, 'fields = ["phan-anh-kien-nghi"]'), encoding="utf-8")
    assert not load_board(path).member("thu-ky").example
    assert _unmarked_inventions(path) == [
        "thu-ky: thuky.btt@khanhhoa.gov.vn is not in the regulation"
    ]


def test_an_invented_mailbox_without_the_mark_is_caught(tmp_path: Path) -> None:
    text = (CONFIG / "tuyenquang.toml").read_text(encoding="utf-8")
    old = 'address = "bbt.cttdt@tuyenquang.gov.vn"  # ví dụ (example)'
    assert old in text
    path = tmp_path / "tuyenquang.toml"
    path.write_text(text.replace(old, 'address = "bbt.cttdt@tuyenquang.gov.vn"'), encoding="utf-8")
    assert _unmarked_inventions(path) == [
        "bbt.cttdt@tuyenquang.gov.vn is invented but not marked 'ví dụ'"
    ]


# ---------------------------------------------------------------------------
# Secrets
# ---------------------------------------------------------------------------


def _secrets(board: Board) -> list[Secret]:
    found = [box.password for box in board.mailboxes if box.password is not None]
    if board.mail_out.password is not None:
        found.append(board.mail_out.password)
    return found


@pytest.mark.parametrize("path", BOARD_FILES, ids=lambda p: p.stem)
def test_no_secret_is_written_in_a_board_file(path: Path) -> None:
    board = load_board(path)
    for box in board.mailboxes:
        if box.source == "imap":
            assert isinstance(box.password, Secret), box.name
    if board.mail_out.transport == "smtp" and board.mail_out.username is not None:
        assert isinstance(board.mail_out.password, Secret)
    for secret in _secrets(board):
        assert re.fullmatch(r"[A-Z][A-Z0-9_]*", secret.env_name)
    raw = path.read_text(encoding="utf-8")
    for line in raw.splitlines():
        if re.match(r"\s*(password|secret|token)\s*=", line):
            assert re.match(r'\s*\w+\s*=\s*"env:[A-Z][A-Z0-9_]*"', line), line


def test_secret_reveal_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = Secret("BIENTAP_TEST_SECRET")
    monkeypatch.setenv("BIENTAP_TEST_SECRET", "mật-khẩu-thử")
    assert secret.reveal() == "mật-khẩu-thử"
    monkeypatch.delenv("BIENTAP_TEST_SECRET")
    with pytest.raises(ConfigError, match="BIENTAP_TEST_SECRET"):
        secret.reveal()
    monkeypatch.setenv("BIENTAP_TEST_SECRET", "")  # `export X=` in a service's file
    with pytest.raises(ConfigError, match="BIENTAP_TEST_SECRET is empty"):
        secret.reveal()


def test_a_board_password_comes_from_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    box = _board("lucnam").mailboxes[0]
    assert box.password == Secret("LUCNAM_IMAP_PASSWORD")
    monkeypatch.setenv("LUCNAM_IMAP_PASSWORD", "abcd efgh ijkl mnop")
    assert box.password is not None and box.password.reveal() == "abcd efgh ijkl mnop"
    monkeypatch.delenv("LUCNAM_IMAP_PASSWORD")
    with pytest.raises(ConfigError, match="LUCNAM_IMAP_PASSWORD"):
        box.password.reveal()


@pytest.mark.parametrize("path", BOARD_FILES, ids=lambda p: p.stem)
def test_repr_of_a_board_never_shows_a_secret(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    board = load_board(path)
    values = {}
    for n, secret in enumerate(_secrets(board)):
        values[secret.env_name] = f"gia-tri-bi-mat-{n}-XYZ"
        monkeypatch.setenv(secret.env_name, values[secret.env_name])
    for secret in _secrets(board):
        assert secret.reveal() == values[secret.env_name]  # the value is really there
    shown = " ".join(
        [repr(board), str(board), repr(board.mail_out), *(repr(b) for b in board.mailboxes)]
    )
    for value in values.values():
        assert value not in shown
    for name in values:
        assert f"Secret(env:{name})" in shown


# ---------------------------------------------------------------------------
# Đồng Nai (seed 000)
# ---------------------------------------------------------------------------

# Đ8.2 a–v: field id, the bodies the item names (agency name prefixes), and a phrase of
# the regulation that the field's name must carry. Point u names three bodies, each for
# its own sector ("hoạt động của ngành"): one field each, "u1"–"u3".
DONGNAI_D82: dict[str, tuple[str, list[str], str]] = {
    "a": ("noi-vu", ["Sở Nội vụ"], "cải cách hành chính"),
    "b": ("tu-phap", ["Sở Tư pháp"], "trợ giúp pháp lý"),
    "c": ("khoa-hoc-cong-nghe", ["Sở Khoa học và Công nghệ"], "khoa học và công nghệ"),
    "d": ("tai-nguyen-moi-truong", ["Sở Tài nguyên và Môi trường"], "bảng giá đất"),
    "e": ("ke-hoach-dau-tu", ["Sở Kế hoạch và Đầu tư"], "hỗ trợ doanh nghiệp"),
    "f": ("tai-chinh", ["Sở Tài chính"], "quản lý công sản"),
    "g": ("lao-dong-xa-hoi", ["Sở Lao động - Thương binh và Xã hội"], "giảm nghèo"),
    "h": ("nong-nghiep", ["Sở Nông nghiệp và Phát triển nông thôn"], "nông thôn mới"),
    "i": ("xay-dung", ["Sở Xây dựng"], "kiến trúc"),
    "j": ("giao-thong-van-tai", ["Sở Giao thông vận tải"], "giấy phép lái xe"),
    "k": ("cong-thuong", ["Sở Công thương"], "xúc tiến thương mại"),
    "l": ("y-te", ["Sở Y tế"], "y tế dự phòng"),
    "m": ("van-hoa-the-thao-du-lich", ["Sở Văn hoá, Thể thao và Du lịch"], "di tích, danh thắng"),
    "n": ("giao-duc-dao-tao", ["Sở Giáo dục và Đào tạo"], "tuyển sinh"),
    "o": ("ngoai-vu", ["Sở Ngoại vụ"], "đối ngoại"),
    "p": ("thanh-tra", ["Thanh tra tỉnh"], "tiếp công dân"),
    "q": ("khu-cong-nghiep", ["Ban Quản lý các Khu công nghiệp"], "khu công nghiệp"),
    "r": ("dan-toc", ["Ban Dân tộc"], "công tác dân tộc"),
    "s": (
        "cong-nghe-cao-sinh-hoc",
        ["Ban Quản lý Khu công nghệ cao công nghệ sinh học"],
        "công nghệ cao công nghệ sinh học",
    ),
    "t": ("an-ninh-trat-tu", ["Công an tỉnh"], "phòng cháy chữa cháy"),
    "u1": ("hai-quan", ["Cục Hải quan"], "hải quan"),
    "u2": ("thong-ke", ["Cục Thống kê"], "thống kê"),
    "u3": ("thue", ["Cục Thuế"], "thuế"),
    "v": (
        "su-kien-noi-bat",
        ["Đài Phát thanh - Truyền hình Đồng Nai", "Báo Đồng Nai", "Hội Nhà báo"],
        "sự kiện nổi bật",
    ),
}


def test_dongnai_has_the_fields_of_articles_6_6_and_8_2_in_order() -> None:
    board = _board("dongnai")
    seed = _seed_text(board)
    assert seed is not None
    assert len({letter[0] for letter in DONGNAI_D82}) == 22  # a–v
    # Đ6.6, the standing deputy's, then Đ8.2 a–v
    assert [f.id for f in board.fields] == [
        "chi-dao-dieu-hanh",
        *(v[0] for v in DONGNAI_D82.values()),
    ]
    assert [m.id for m in board.owners_of("chi-dao-dieu-hanh")] == ["pho-truong-ban-thuong-truc"]
    for letter, (field_id, _, phrase) in DONGNAI_D82.items():
        name = next(f.name for f in board.fields if f.id == field_id).lower()
        assert phrase in seed, f"Đ8.2{letter}: {phrase!r} is not in the regulation"
        assert phrase in name, f"Đ8.2{letter}: field {field_id} lacks {phrase!r}"


def test_dongnai_agencies_are_the_bodies_of_article_8_2_owning_their_fields() -> None:
    board = _board("dongnai")
    bodies = [body for _, names, _ in DONGNAI_D82.values() for body in names]
    assert len(board.agencies) == len(bodies) == 26  # u) and v) name three bodies each
    for letter, (field_id, names, _) in DONGNAI_D82.items():
        agency_ids = set()
        for body in names:
            matches = [a for a in board.agencies if a.name.casefold().startswith(body.casefold())]
            assert len(matches) == 1, f"Đ8.2{letter}: {body}"
            agency_ids.add(matches[0].id)
        owners = board.owners_of(field_id)
        assert owners, f"Đ8.2{letter}: nobody owns {field_id}"
        assert {m.agency for m in owners} == agency_ids, f"Đ8.2{letter}"
        assert all(m.role is Role.THANH_VIEN for m in owners)


def test_dongnai_has_both_real_mailboxes() -> None:
    board = _board("dongnai")
    seed = _seed_text(board)
    assert seed is not None
    addresses = [box.address for box in board.mailboxes]
    assert addresses == ["quantricong@dongnai.gov.vn", "mail@dongnai.gov.vn"]
    assert all(a in seed for a in addresses)
    assert all(box.source == "imap" for box in board.mailboxes)
    assert board.agency("so-tu-phap").domains == ["stp.dongnai.gov.vn"]
    assert not board.agency("so-tu-phap").example


def test_dongnai_roster_and_sensitive_topics() -> None:
    board = _board("dongnai")
    assert [m.name for m in board.members_with_role(Role.TRUONG_BAN)] == ["Trần Văn Vĩnh"]
    deputies = board.members_with_role(Role.PHO_TRUONG_BAN_THUONG_TRUC)
    assert [m.title for m in deputies] == ["Chánh Văn phòng UBND tỉnh"]
    assert board.members_with_role(Role.PHO_TRUONG_BAN)
    assert board.members_with_role(Role.TO_CHUYEN_VIEN)
    for phrase in ("thời sự điểm nóng", "vụ việc đang xử lý", "chưa rõ kết quả"):
        assert phrase in board.checks.sensitive_keywords
    assert board.checks.unknown_sender == "hold"


# ---------------------------------------------------------------------------
# Bình Phước (seed 001), Khánh Hòa (002), Tuyên Quang (003)
# ---------------------------------------------------------------------------


def test_binhphuoc_head_is_the_office_chief_and_forbidden_content_is_flagged() -> None:
    board = _board("binhphuoc")
    (head,) = board.members_with_role(Role.TRUONG_BAN)
    assert head.title == "Chánh Văn phòng UBND tỉnh"  # Đ13.2
    assert board.members_with_role(Role.THU_KY)
    assert board.members_with_role(Role.LANH_DAO_TRUNG_TAM)
    for phrase in ("bí mật nhà nước", "kích động bạo lực", "xuyên tạc", "mê tín dị đoan"):
        assert phrase in board.checks.sensitive_keywords  # Đ12
    assert {f.id for f in board.fields} >= {"tieng-anh", "thong-ke", "du-an-dau-thau"}


def test_khanhhoa_mailbox_and_its_misspelt_alias() -> None:
    board = _board("khanhhoa")
    (box,) = board.mailboxes
    assert box.address == "btt.hcc@khanhhoa.gov.vn"
    assert box.aliases == ["btt.hhc@khanhhoa.gov.vn"]
    assert {"btt.hcc@khanhhoa.gov.vn", "btt.hhc@khanhhoa.gov.vn"} <= board.addresses()
    assert board.mail_out.from_address == "btt.hcc@khanhhoa.gov.vn"


def test_khanhhoa_roster_has_the_it_centre_member_and_the_secretary() -> None:
    board = _board("khanhhoa")
    centre = board.member("tv-trung-tam-cntt")
    assert "Trung tâm Công nghệ thông tin và Dịch vụ hành chính công trực tuyến" in centre.title
    assert board.agency(centre.agency or "").domains == ["hanhchinhcong.khanhhoa.gov.vn"]
    assert len(board.members_with_role(Role.THU_KY)) == 1
    assert len(board.members_with_role(Role.PHO_TRUONG_BAN)) == 1
    # Đ5.4–5.7: each member agency's representative owns its agency's field.
    for member_id, field_id in [
        ("tv-so-noi-vu", "noi-vu"),
        ("tv-van-phong-ubnd", "van-phong-ubnd"),
        ("tv-so-khcn", "khoa-hoc-cong-nghe"),
        ("tv-so-tai-chinh", "tai-chinh"),
    ]:
        assert [m.id for m in board.owners_of(field_id)] == [member_id]


def test_tuyenquang_roster() -> None:
    board = _board("tuyenquang")
    (head,) = board.members_with_role(Role.TRUONG_BAN)
    assert (head.name, head.title) == ("Vũ Tuấn", "Giám đốc Sở Thông tin và Truyền thông")
    (standing,) = board.members_with_role(Role.PHO_TRUONG_BAN_THUONG_TRUC)
    assert standing.title == "Phó Giám đốc Sở Thông tin và Truyền thông"  # Đ4.2
    (deputy,) = board.members_with_role(Role.PHO_TRUONG_BAN)
    assert deputy.title.startswith("Phó Chánh Văn phòng UBND tỉnh")  # Đ4.3
    assert "chi-dao-dieu-hanh" in deputy.fields
    members = board.members_with_role(Role.THANH_VIEN)
    assert [m.title for m in members] == ["Giám đốc Trung tâm Công nghệ thông tin và Truyền thông"]
    assert board.members_with_role(Role.THU_KY)
    assert "nhạy cảm" in board.checks.sensitive_keywords  # Đ4.1f


# ---------------------------------------------------------------------------
# Lục Nam (seed 004)
# ---------------------------------------------------------------------------

LUCNAM_ROSTER = [
    ("Nguyễn Đức Toàn", Role.TRUONG_BAN),
    ("Nguyễn Đức Triệu", Role.PHO_TRUONG_BAN_THUONG_TRUC),
    ("Nguyễn Văn Chung", Role.PHO_TRUONG_BAN),
    ("Trần Văn Hòa", Role.PHO_TRUONG_BAN),
    ("Nguyễn Đức Thành", Role.THANH_VIEN),
    ("Nguyễn Trường Sinh", Role.THANH_VIEN),
    ("Nguyễn Thị Oanh", Role.THANH_VIEN),
    ("Vũ Trí Học", Role.THANH_VIEN),
    ("Nguyễn Đăng Vinh", Role.THANH_VIEN),
    ("Nguyễn Thanh Chiến", Role.THANH_VIEN),
    ("Nguyễn Thị Thoa", Role.THANH_VIEN),
    ("Tống Văn Thắng", Role.THANH_VIEN),
    ("Vũ Thị An", Role.THANH_VIEN),
    ("Nguyễn Thị Quyên", Role.THANH_VIEN),
    ("Nguyễn Trọng Sử", Role.THANH_VIEN),
    ("Đặng Thúy Chà", Role.THANH_VIEN),
    ("Lê Quý Dương", Role.THANH_VIEN),
    ("Tống Kim Túy", Role.THANH_VIEN),
    ("Nguyễn Thế Mạnh", Role.THANH_VIEN),
    ("Nguyễn Việt Hải", Role.THANH_VIEN),
    ("Tống Hồng Anh", Role.THANH_VIEN),
    ("Trương Thu Thủy", Role.THU_KY),
]


def test_lucnam_has_the_22_members_of_the_roster() -> None:
    board = _board("lucnam")
    seed = _seed_text(board)
    assert seed is not None
    assert len(board.members) == 22
    assert [(m.name, m.role) for m in board.members] == LUCNAM_ROSTER
    for member in board.members:
        assert member.name.lower() in seed, member.name
        assert member.title and member.title.lower() in seed, member.title
        assert member.example  # no personal address is given


def test_lucnam_sections_and_checks() -> None:
    board = _board("lucnam")
    (box,) = board.mailboxes
    assert (box.address, box.host) == ("banbientap.ttdt@gmail.com", "imap.gmail.com")
    assert board.mail_out.host == "smtp.gmail.com"
    assert board.checks.require_source_for_collected  # Đ12.1
    assert board.checks.require_author
    assert "MẬT" in board.checks.security_markings  # Quy chế Đ5
    names = _by_id(board)
    owners = {f.id: [names[m.id] for m in board.owners_of(f.id)] for f in board.fields}
    assert owners["du-an-dau-thau"] == ["Nguyễn Đăng Vinh"]  # TB mục 21
    assert owners["van-ban-qppl"] == ["Vũ Thị An"]  # TB mục 19
    assert owners["chien-luoc-quy-hoach"] == ["Vũ Trí Học"]  # TB mục 11
    assert owners["gioi-thieu"] == ["Trương Thu Thủy"]  # TB mục 22
    assert "Tống Văn Thắng" in owners["tin-tuc-su-kien"]  # TB mục 14
    assert all(owners[f.id] for f in board.fields), "every section has an owner"


# ---------------------------------------------------------------------------
# Keywords classify typical items to the right field
# ---------------------------------------------------------------------------


def _best_field(board: Board, text: str) -> str:
    text = _nfc(text).lower()
    scores = {f.id: sum(kw in text for kw in f.keywords) for f in board.fields}
    best = max(scores.values())
    winners = [fid for fid, score in scores.items() if score == best]
    assert best > 0 and len(winners) == 1, scores
    return winners[0]


@pytest.mark.parametrize(
    ("board_id", "text", "field_id"),
    [
        (
            "dongnai",
            "Sở Tư pháp tổ chức hội nghị phổ biến giáo dục pháp luật và trợ giúp pháp lý "
            "cho đồng bào",
            "tu-phap",
        ),
        (
            "dongnai",
            "Công khai kết quả quan trắc chất lượng môi trường nước; bảng giá đất năm 2020",
            "tai-nguyen-moi-truong",
        ),
        (
            "dongnai",
            "Kỳ thi tuyển sinh lớp 10: học sinh nhận văn bằng, chứng chỉ",
            "giao-duc-dao-tao",
        ),
        (
            "dongnai",
            "Thanh tra tỉnh công bố kết luận thanh tra và kết quả xử lý khiếu nại, tố cáo",
            "thanh-tra",
        ),
        (
            "binhphuoc",
            "Cục Thống kê công bố số liệu thống kê từ kết quả tổng điều tra dân số",
            "thong-ke",
        ),
        (
            "khanhhoa",
            "Quyết định công bố danh mục thủ tục hành chính thuộc thẩm quyền của Sở Tài chính",
            "thu-tuc-hanh-chinh",
        ),
        (
            "khanhhoa",
            "Trả lời phản ánh, kiến nghị về hồ sơ trễ hạn tại bộ phận một cửa",
            "phan-anh-kien-nghi",
        ),
        (
            "tuyenquang",
            "Lịch tiếp công dân định kỳ của lãnh đạo tỉnh tháng 10",
            "lich-lam-viec",
        ),
        (
            "lucnam",
            "Ban Thường vụ Huyện ủy Lục Nam bàn công tác đảng và phát triển đảng viên",
            "khoi-dang",
        ),
        (
            "lucnam",
            "Kế hoạch lựa chọn nhà thầu các gói thầu mua sắm công năm 2019",
            "du-an-dau-thau",
        ),
    ],
)
def test_keywords_classify_a_typical_item(board_id: str, text: str, field_id: str) -> None:
    assert _best_field(_board(board_id), text) == field_id


# ---------------------------------------------------------------------------
# Broken board files: every error names the file, the key and the problem
# ---------------------------------------------------------------------------

MINIMAL = """\
id = "thu"
name = "Ban Biên tập thử"

[[mailboxes]]
name = "hop-thu"
address = "bbt@vi-du.vn"
source = "imap"
host = "imap.vi-du.vn"
username = "bbt@vi-du.vn"
password = "env:THU_IMAP_PASSWORD"

[mail_out]
from_address = "bbt@vi-du.vn"

[[fields]]
id = "y-te"
name = "Y tế"

[[members]]
id = "a"
name = "Nguyễn Văn A"
email = "a@vi-du.vn"
role = "truong_ban"
fields = ["y-te"]
"""

SECOND_MEMBER = """
[[members]]
id = "a"
name = "Trần Thị B"
email = "b@vi-du.vn"
role = "thu_ky"
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hong.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_minimal_board_loads(tmp_path: Path) -> None:
    board = load_board(_write(tmp_path, MINIMAL))
    assert board.member("a").fields == ["y-te"]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(
            'name = "Ban Biên tập thử"',
            'name = "Ban Biên tập thử',
            ["not valid TOML", "line 2"],
            id="toml-syntax",
        ),
        pytest.param(
            'role = "truong_ban"',
            'role = "truong_phong"',
            ["members[0].role", "'truong_ban'"],
            id="unknown-role",
        ),
        pytest.param(
            'password = "env:THU_IMAP_PASSWORD"',
            'password = "hunter2-literal"',
            ["mailboxes[0].password", "env:VARIABLE_NAME"],
            id="literal-password",
        ),
        pytest.param(
            'fields = ["y-te"]',
            'fields = ["khong-co"]',
            ["members[0].fields", "unknown field 'khong-co'"],
            id="unknown-field",
        ),
        pytest.param(
            'source = "imap"',
            'source = "maildir"',
            ["mailboxes[0]", "needs path"],
            id="maildir-without-path",
        ),
        pytest.param(
            'fields = ["y-te"]\n',
            'fields = ["y-te"]\n' + SECOND_MEMBER,
            ["members", "duplicate id 'a'"],
            id="duplicate-member",
        ),
        pytest.param(
            'username = "bbt@vi-du.vn"',
            'usernme = "bbt@vi-du.vn"',
            ["mailboxes[0].usernme: unknown key: did you mean 'username'?"],
            id="unknown-key",
        ),
        pytest.param(
            'username = "bbt@vi-du.vn"',
            'username = "bbt@vi-du.vn"\nmat_khau = "x"',
            ["mailboxes[0].mat_khau: unknown key: this table takes name, address,"],
            id="unknown-key-nothing-like",
        ),
        pytest.param(
            'username = "bbt@vi-du.vn"',
            'username = "bbt@vi-du.vn"\nprocessed_folder = "inbox"',
            ["mailboxes[0]", "processed_folder 'inbox' is the folder the mailbox reads"],
            id="filed-into-the-inbox",
        ),
        pytest.param(
            'username = "bbt@vi-du.vn"',
            'username = "bbt@vi-du.vn"\nfolder = "Bài gửi"\nset_aside_folder = "Bài gửi"',
            ["mailboxes[0]", "set_aside_folder 'Bài gửi' is the folder the mailbox reads"],
            id="set-aside-into-the-folder-read",
        ),
        pytest.param(
            'role = "truong_ban"',
            'role = "thu_ky"',
            ["members", "truong_ban"],
            id="no-head",
        ),
        pytest.param(
            'email = "a@vi-du.vn"',
            'email = "a.vi-du.vn"',
            ["members[0].email", "not an e-mail address"],
            id="bad-email",
        ),
        pytest.param(
            'email = "a@vi-du.vn"',
            'email = "Nguyễn Văn A <a@vi-du.vn>"',
            ["members[0].email", "not an e-mail address", "the address alone"],
            id="email-with-its-name",
        ),
        pytest.param(
            'from_address = "bbt@vi-du.vn"',
            'from_address = "Ban Biên tập <bbt@vi-du.vn>"',
            ["mail_out.from_address", "not an e-mail address"],
            id="from-address-with-its-name",
        ),
        pytest.param(
            'password = "env:THU_IMAP_PASSWORD"',
            'password = "env:hunter2-literal p@ss"',
            ["mailboxes[0].password", "must name an environment variable"],
            id="secret-after-env",
        ),
        pytest.param(
            'role = "truong_ban"\nfields = ["y-te"]\n',
            'role = "truong_ban"\nfields = ["y-te"]\n\n[publish]\nconnector = "wordpress"\n'
            '[publish.wordpress]\nurl = "https://bbt:S3cr3t-DongNai@cong.vi-du.vn"\n'
            'username = "bbt"\npassword = "env:THU_WP_PASSWORD"\n',
            ["publish.wordpress.url", "secrets are never written in the file"],
            id="password-in-the-cms-address",
        ),
        pytest.param(
            'name = "Ban Biên tập thử"',
            'name = "Ban Biên tập thử"\ntimezone = "Asia/Hanoi"',
            ["timezone", "unknown time zone 'Asia/Hanoi'"],
            id="unknown-timezone",
        ),
        pytest.param(
            'fields = ["y-te"]\n',
            'fields = ["y-te"]\n' + SECOND_MEMBER.replace('"a"', '"b"').replace("b@", "A@"),
            ["members", "duplicate e-mail 'a@vi-du.vn'"],
            id="two-members-one-address",
        ),
    ],
)
def test_broken_board_file_error_names_file_key_and_problem(
    tmp_path: Path, old: str, new: str, expected: list[str]
) -> None:
    assert old in MINIMAL
    path = _write(tmp_path, MINIMAL.replace(old, new, 1))
    with pytest.raises(ConfigError) as caught:
        load_board(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    for fragment in expected:
        assert fragment in message
    assert "hunter2" not in message and "S3cr3t" not in message  # a secret is not repeated
    assert "hunter2-literal" not in message  # a mistyped secret is never echoed


def test_missing_board_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "khong-co.toml"
    with pytest.raises(ConfigError, match=re.escape(f"{path}: không đọc được (cannot read)")):
        load_board(path)


def test_publish_sections_name_known_fields(tmp_path: Path) -> None:
    text = (CONFIG / "demo.toml").read_text(encoding="utf-8")
    bad = tmp_path / "demo.toml"
    bad.write_text(text + '\n[publish]\nsections = { "khong-co" = "Không có" }\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"publish.sections: unknown field 'khong-co'"):
        load_board(bad)


def test_a_board_file_not_in_utf8_is_named(tmp_path: Path) -> None:
    path = tmp_path / "hong.toml"
    path.write_bytes(MINIMAL.encode("utf-16"))
    with pytest.raises(ConfigError, match=re.escape(f"{path}: không phải văn bản UTF-8")):
        load_board(path)


def test_two_boards_reading_one_mailbox_are_refused(tmp_path: Path) -> None:
    """The first board to read it would take every message; the other would get none."""
    _write(tmp_path, MINIMAL)
    other = tmp_path / "khac.toml"
    other.write_text(MINIMAL.replace('id = "thu"', 'id = "khac"', 1), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_boards(tmp_path)
    problem = f"{other}: mailboxes[0]: IMAP bbt@vi-du.vn@imap.vi-du.vn:993/INBOX is also read by"
    assert problem in str(caught.value)


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ('database_url = "notaurl"', "database_url: not a database URL"),
        ('database_url = "mysql://u@localhost/x"', "'mysql' is not supported"),
        ('database_url = "postgresql://u@db:54x/b"', "database_url: not a database URL"),
        (
            'database_url = "postgresql+psycopg2://bientap:S3cretPW@db/b"',
            "database_url: a password is never written in the file",
        ),
        ('web_address = "999.1.1.1:8470"', "web_address: '999.1.1.1' is not an IP address"),
        ('public_url = "not a url"', "public_url: must be an http(s) URL"),
        (
            'databse_url = "sqlite:///x.db"',
            "databse_url: unknown key: did you mean 'database_url'?",
        ),
    ],
)
def test_a_broken_deployment_file_names_file_key_and_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setting: str, expected: str
) -> None:
    for _key, variable in ENVIRONMENT:  # the file's value, not the environment's, is read
        monkeypatch.delenv(variable, raising=False)
    (tmp_path / DEPLOYMENT_FILE).write_text(setting + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_deployment(tmp_path)
    assert str(caught.value).startswith(f"{tmp_path / DEPLOYMENT_FILE}: ")
    assert expected in str(caught.value) and "S3cretPW" not in str(caught.value)


def test_a_database_password_from_the_environment_is_not_shown_by_repr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = "postgresql+psycopg2://bientap:S3cr3t-DongNai-42@db.vi-du.vn/bientap"
    monkeypatch.setenv("BIENTAP_DATABASE_URL", url)
    deployment = load_deployment(tmp_path)
    assert deployment.database_url == url  # used as given
    for shown in (repr(deployment), str(deployment)):
        assert "S3cr3t" not in shown and "bientap:***@db.vi-du.vn" in shown


def test_a_bad_setting_from_the_environment_is_blamed_on_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BIENTAP_WEB_ADDRESS", "localhost")
    with pytest.raises(ConfigError, match=r"^environment BIENTAP_WEB_ADDRESS: web_address: "):
        load_deployment(tmp_path)


def test_a_role_nobody_holds_is_named_as_written(tmp_path: Path) -> None:
    text = (CONFIG / "demo.toml").read_text(encoding="utf-8")
    bad = tmp_path / "demo.toml"
    bad.write_text(text + '\n[reports.royalties]\napprover = "pho_truong_ban"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_board(bad)
    assert str(caught.value).endswith("no member has role 'pho_truong_ban'")


def test_an_escalation_ladder_nobody_can_climb_is_refused() -> None:
    data = load_board(CONFIG / "demo.toml").model_dump(exclude={"source_file"})
    data["review"]["escalation"] = ["pho_truong_ban", "lanh_dao_trung_tam"]  # none in the demo
    with pytest.raises(ValidationError, match="review.escalation: no member has"):
        Board.model_validate(data)
