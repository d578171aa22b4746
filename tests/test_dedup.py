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
