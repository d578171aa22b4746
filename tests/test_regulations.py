"""What each shipped board does with an item, held to the article of its regulation that
says so: whose field it is, who reviews it and in which order, what it is checked for.

Pure: the board files, classification and routing, no server. The article is named in
each case (seeds in ``shared/seeds/``; the board file cites the same article).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline import routing
from pipeline.config import Board, load_board

CONFIG = Path(__file__).resolve().parents[1] / "config"

Path_ = list[tuple[str, list[str]]]


def _board(board_id: str) -> Board:
    return load_board(CONFIG / f"{board_id}.toml")


def path(
    board: Board, fields: tuple[str, ...], sender: str | None = None, sensitive: bool = False
) -> Path_:
    """The item's review path, every step approved: each step and who sits at it."""
    facts = routing.Facts(fields, sender, sensitive)
    found: Path_ = []
    after = -1
    while (seats := routing.next_seats(board, facts, after)) is not None:
        found.append((seats.step.id, sorted(seats.members)))
        after = seats.index
    return found


# ---------------------------------------------------------------------------
# Khánh Hòa (seed 002)
# ---------------------------------------------------------------------------
KH_CENTRE = ("tiep-nhan-bien-tap", ["tv-trung-tam-cntt"])
KH_HEAD = ("truong-ban", ["truong-ban"])


@pytest.mark.parametrize(
    ("fields", "sender", "expected"),
    [
        # Bước 1: the centre's member edits and checks; an item from outside the board in
        # a member's field then goes to that member; Bước 2: the head approves.
        pytest.param(
            ("noi-vu",),
            None,
            [KH_CENTRE, ("kiem-duyet-chuyen-nganh", ["tv-so-noi-vu"]), KH_HEAD],
            id="outside-in-a-members-field",
        ),
        # Bước 1: the specialist review is for items "bên ngoài Ban Biên tập" only: a
        # member's item goes from the centre's member to the head (Đ6: he answers for it).
        pytest.param(
            ("tai-chinh",), "tv-van-phong-ubnd", [KH_CENTRE, KH_HEAD], id="member-in-another-field"
        ),
        # Đ5.1: the head approves items the members have checked and edited: one in no
        # member's field, or in no field at all, is the centre's member's.
        pytest.param(("dich-vu-cong-truc-tuyen",), None, [KH_CENTRE, KH_HEAD], id="no-owner"),
        pytest.param((), None, [KH_CENTRE, KH_HEAD], id="no-field"),
    ],
)
def test_khanhhoa_path_follows_article_8(
    fields: tuple[str, ...], sender: str | None, expected: Path_
) -> None:
    assert path(_board("khanhhoa"), fields, sender) == expected
