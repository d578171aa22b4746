"""Every real-world message of the shared corpus is ingested or set aside with a reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.models import State
from tests.helpers import CORPUS, make_rig

REAL_MAIL = sorted((CORPUS / "real-mail").glob("*.eml"))


def test_the_corpus_is_there() -> None:
    assert len(REAL_MAIL) >= 20


@pytest.mark.parametrize("path", REAL_MAIL, ids=lambda p: p.name)
def test_real_mail_is_stored_or_set_aside_with_a_reason(tmp_path: Path, path: Path) -> None:
    rig = make_rig(tmp_path, f"sqlite:///{tmp_path}/b.db")
    rig.drop(path.read_bytes())
    result = rig.runner.run_once()
    assert result.recorded == 1 and result.processed == 1
    [item] = rig.items()
    assert item.state in set(State)
    if item.state != State.PENDING_REVIEW:
        assert item.reason, f"{path.name}: {item.state} without a reason"
    # none of these senders is known to the demo board: nothing is answered
    assert item.state != State.PENDING_REVIEW
    assert rig.sent() == [] or item.state in (State.RETURNED, State.QUARANTINED)
