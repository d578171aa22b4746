"""Near-duplicates: the same item sent again is noted; the next issue of a template is not."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.samples import article_mail
from tests.helpers import DEMO_BOX, Rig, make_rig

SENDER = "nhung.ltt@sgddt.demo.bientap.vn"
MEETING = (
    "THÔNG BÁO\nLịch họp giao ban của Ủy ban nhân dân huyện\n\n"
    "Ủy ban nhân dân huyện thông báo lịch họp giao ban định kỳ như sau:\n"
    "Thời gian: 8 giờ 00, ngày {day} tháng 3 năm 2026.\n"
    "Địa điểm: Phòng họp số 1, trụ sở UBND huyện.\n"
    "Thành phần: Chủ tịch, các Phó Chủ tịch UBND huyện; Trưởng các phòng, ban, ngành "
    "thuộc huyện; Giám đốc các đơn vị sự nghiệp.\n"
    "Nội dung: Đánh giá kết quả thực hiện nhiệm vụ tuần qua, triển khai nhiệm vụ tuần tới.\n"
    "Đề nghị các thành phần dự họp đúng giờ, chuẩn bị nội dung báo cáo.\n"
    "Tác giả: Trần Thị Mai\n"
)


@pytest.fixture
def rig(tmp_path: Path, db_url: str) -> Rig:
    return make_rig(tmp_path, db_url)


def notice(rig: Rig, day: int, body: str | None = None, title: str | None = None) -> None:
    text = body if body is not None else MEETING.format(day=day)
    subject = title or f"Thông báo lịch họp giao ban ngày {day}/3"
    rig.drop(article_mail(SENDER, DEMO_BOX, subject, text))
    rig.runner.run_once()


def test_next_weeks_notice_of_the_same_template_is_no_duplicate(rig: Rig) -> None:
    notice(rig, 20)
    notice(rig, 27)
    _first, second = rig.items()
    assert second.duplicate_of is None
    assert "near-duplicate" not in [f["code"] for f in second.flags]


def test_a_notice_sent_again_corrected_with_a_dated_cover_note_is_a_duplicate(rig: Rig) -> None:
    notice(rig, 20)
    corrected = "Gửi lại thông báo (sửa phòng họp), ngày 18/3.\n\n" + MEETING.format(
        day=20
    ).replace("số 1", "số 2")
    notice(rig, 20, corrected, "Thông báo lịch họp giao ban ngày 20/3 (sửa)")
    first, second = rig.items()
    assert second.duplicate_of == first.id


def test_the_next_days_bulletin_is_no_duplicate_though_both_name_the_day_between(
    rig: Rig,
) -> None:
    bulletin = (
        "Dự báo thời tiết từ 19 giờ ngày {0}/3 đến 19 giờ ngày {1}/3/2026: khu vực tỉnh có "
        "mây thay đổi, ngày nắng, đêm không mưa; gió đông nam cấp 2 - 3; nhiệt độ thấp nhất "
        "từ 23 - 25 độ C, cao nhất từ 33 - 35 độ C. Cảnh báo: nắng nóng gay gắt có thể ảnh "
        "hưởng đến sức khỏe người dân và sản xuất nông nghiệp; người dân cần chủ động các "
        "biện pháp phòng tránh, hạn chế ra ngoài trời vào buổi trưa, bảo đảm đủ nước tưới "
        "cho cây trồng và chống nóng cho gia súc, gia cầm.\n"
        "Trung tâm Khí tượng Thủy văn tỉnh\nTin: Nguyễn Văn Phong\n"
    )
    notice(rig, 15, bulletin.format(15, 16), "Dự báo thời tiết")
    notice(rig, 16, bulletin.format(16, 17), "Dự báo thời tiết")
    notice(rig, 16, bulletin.format(16, 17), "Fwd: Dự báo thời tiết")  # the same, again
    _first, second, third = rig.items()
    assert second.duplicate_of is None
    assert third.duplicate_of == second.id
