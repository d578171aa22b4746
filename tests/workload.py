"""Many realistic, varied submissions at once: for the benchmarks and the tests that
need a backlog (distinct texts, so that none is taken for a near-duplicate)."""

from __future__ import annotations

import random

from pipeline.samples import NEWS_BODY, article_mail

BOX = "bbt@demo.bientap.vn"
AGENCY_SENDERS = [  # known to the demo board: their items go to review
    "nhung.ltt@sgddt.demo.bientap.vn",
    "dung.pt@syt.demo.bientap.vn",
    "em.hq@stp.demo.bientap.vn",
]
SENDERS = [*AGENCY_SENDERS, "someone@unknown.example"]  # and one the board holds
TOPICS = ["tuyển sinh", "tiêm chủng", "hộ tịch", "giao thông", "nông thôn mới"]


def backlog(
    n: int, seed: int = 7, senders: list[str] = SENDERS, first: int = 0, to: str = BOX
) -> list[bytes]:
    """Submissions ``first`` … ``first + n - 1``: distinct texts, some typed in a legacy
    font (TCVN3, VNI), some HTML, some with a photo."""
    rng = random.Random(seed + first)
    words = NEWS_BODY.split()
    out = []
    for i in range(first, first + n):
        body = " ".join(rng.sample(words, len(words) // 2))
        body = f"{body}\n\nVề {rng.choice(TOPICS)} số {i}.\n\nTin, ảnh: Lê Thị Hồng Nhung\n"
        kind = i % 10
        out.append(
            article_mail(
                senders[i % len(senders)],
                to,
                f"Tin hoạt động số {i} về {rng.choice(TOPICS)}",
                body,
                legacy="tcvn3" if kind == 0 else ("vni" if kind == 1 else None),
                html=kind in (2, 3, 4),
                message_id=f"<bench-{i}@demo.bientap.vn>",
                attachments=[("anh.jpg", "image/jpeg", rng.randbytes(4000))] if kind == 5 else None,
            )
        )
    return out
