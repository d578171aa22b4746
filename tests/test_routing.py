"""Routing: when a conditional step joins an item's review path, and who sits at it."""

from __future__ import annotations

import pytest

from pipeline import routing
from pipeline.config import Board

BOARD = {
    "id": "thu",
    "name": "Ban Biên tập thử",
    "mailboxes": [{"name": "hop-thu", "address": "bbt@vi-du.vn", "source": "maildir", "path": "x"}],
    "mail_out": {"from_address": "bbt@vi-du.vn"},
    "fields": [{"id": "y-te", "name": "Y tế"}],
    "members": [
        {"id": "truong-ban", "name": "A", "email": "a@vi-du.vn", "role": "truong_ban"},
        {
            "id": "uv-y-te",
            "name": "B",
            "email": "b@vi-du.vn",
            "role": "thanh_vien",
            "fields": ["y-te"],
        },
        {"id": "uv-khac", "name": "C", "email": "c@vi-du.vn", "role": "thanh_vien"},
        {"id": "phong-vien", "name": "D", "email": "d@vi-du.vn", "role": "phong_vien"},
    ],
    "review": {
        "steps": [
            {
                "id": "chuyen-nganh",
                "name": "Kiểm duyệt chuyên ngành",
                "when": "from_outside",
                "actors": [{"field_owners": True}],
            },
            {"id": "truong-ban", "name": "Trưởng ban duyệt", "actors": [{"role": "truong_ban"}]},
        ]
    },
}


def _steps(board: Board, sender: str | None, fields: tuple[str, ...]) -> list[str]:
    facts = routing.Facts(fields, sender, sensitive=False)
    found, after = [], -1
    while (seats := routing.next_seats(board, facts, after)) is not None:
        found.append(seats.step.id)
        after = seats.index
    return found


@pytest.mark.parametrize(
    ("sender", "fields", "steps"),
    [
        (None, ("y-te",), ["chuyen-nganh", "truong-ban"]),  # an agency, or anyone outside
        ("phong-vien", ("y-te",), ["chuyen-nganh", "truong-ban"]),  # a contributor
        ("uv-khac", ("y-te",), ["truong-ban"]),  # a member: no other member's review
        (None, (), ["truong-ban"]),  # outside, but in no member's field: nobody to sit
    ],
)
def test_a_from_outside_step_joins_only_items_sent_from_outside_the_board(
    sender: str | None, fields: tuple[str, ...], steps: list[str]
) -> None:
    assert _steps(Board.model_validate(BOARD), sender, fields) == steps
