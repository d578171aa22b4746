"""Classification: which fields an item falls in, from its subject tags and keywords."""

from __future__ import annotations

from pipeline.classify import Sender, classify_fields
from pipeline.config import Board

BOARD = {
    "id": "thu",
    "name": "Ban Biên tập thử",
    "mailboxes": [{"name": "hop-thu", "address": "bbt@vi-du.vn", "source": "maildir", "path": "x"}],
    "mail_out": {"from_address": "bbt@vi-du.vn"},
    "fields": [
        {"id": "tu-phap", "name": "Tư pháp", "keywords": ["phổ biến giáo dục pháp luật"]},
        {"id": "giao-duc", "name": "Giáo dục", "keywords": ["giáo dục", "trường học"]},
        {"id": "y-te", "name": "Y tế", "keywords": ["an toàn thực phẩm"]},
        {"id": "cong-thuong", "name": "Công thương", "keywords": ["an toàn thực phẩm"]},
    ],
    "members": [{"id": "a", "name": "A", "email": "a@vi-du.vn", "role": "truong_ban"}],
}
NOBODY = Sender(None, None)


def test_a_phrase_counts_for_the_longest_keyword_it_is_not_for_the_words_inside() -> None:
    board = Board.model_validate(BOARD)
    subject = "Hội nghị phổ biến giáo dục pháp luật cho đồng bào"
    assert classify_fields(board, subject, "", NOBODY) == ["tu-phap"]
    subject = "Phổ biến giáo dục pháp luật tại trường học"  # one hit each: both fields
    assert classify_fields(board, subject, "", NOBODY) == ["tu-phap", "giao-duc"]


def test_a_keyword_two_fields_hold_counts_for_both() -> None:
    board = Board.model_validate(BOARD)
    subject = "Kiểm tra an toàn thực phẩm dịp Tết"
    assert classify_fields(board, subject, "", NOBODY) == ["y-te", "cong-thuong"]
