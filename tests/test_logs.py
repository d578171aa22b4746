"""The daemon's logs: JSON lines when asked, and never a secret, the link key, a link
token, a password or a whole mail body, whoever writes the line."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from pathlib import Path

import pytest

from connectors.maildir import deliver
from pipeline import logs
from pipeline.config import load_board
from pipeline.samples import article_mail, demo_mails
from pipeline.tokens import Signer, load_key
from tests.fixtures_mail import MakeSmtpSink
from tests.helpers import DEMO_BOX, REPO
from tests.test_daemon import demo_variant

SECRET = "Zq9-portal-S3cret-7781"  # the SMTP password, in DEMO_MAIL_PASS
LINK = re.compile(r"/duyet/\d+/([A-Za-z0-9_.-]+)")
SENDER = "nhung.ltt@sgddt.demo.bientap.vn"


def _token() -> str:
    return Signer([load_key()]).issue("truong-ban", "demo", 1, 0, "approve", "v1")


def test_the_daemon_logs_json_lines_without_secrets_or_links(
    tmp_path: Path, make_smtp_sink: MakeSmtpSink
) -> None:
    sink = make_smtp_sink(auth=("bientap", SECRET), auth_required=True)
    smtp = (
        f'transport = "smtp"\nhost = "127.0.0.1"\nport = {sink.port}\nstarttls = false\n'
        'username = "bientap"\npassword = "env:DEMO_MAIL_PASS"'
    )
    config = demo_variant(tmp_path / "board.toml", ('transport = "outbox"', smtp))
    inbox = tmp_path / "demo" / "inbox"
    for _label, raw in demo_mails(DEMO_BOX):
        deliver(inbox, raw)
    link_key = os.environ["BIENTAP_LINK_KEY"]
    planted = _token()
    # what a sender controls reaches the log line of its message: the Message-ID
    for i, leak in enumerate((SECRET, link_key.partition(":")[2], planted)):
        deliver(inbox, article_mail(SENDER, DEMO_BOX, f"Tin {i}", message_id=f"<{leak}@x.vn>"))
    env = {
        **os.environ,
        "BIENTAP_DATA_DIR": str(tmp_path),
        "BIENTAP_DATABASE_URL": f"sqlite:///{tmp_path}/bientap.db",
        "DEMO_MAIL_PASS": SECRET,
        "BIENTAP_LOG_FORMAT": "text",  # the option wins over the environment
    }
    ran = subprocess.run(
        [sys.executable, "run_pipeline.py", "--config", str(config), "--once", "-v"]
        + ["--log-format", "json"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ran.returncode == 0, ran.stderr
    lines = [line for line in (ran.stdout + ran.stderr).splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert {"level", "logger", "message", "time"} <= set(records[0])
    assert any("recorded 7, processed 7" in r["message"] for r in records)
    # the review requests went out through SMTP (logged in with the secret) with links
    mailed = [BytesParser(policy=default).parsebytes(m.data) for m in sink.messages]
    tokens = {t for m in mailed for t in LINK.findall(_plain(m))}
    assert tokens
    output = ran.stdout + ran.stderr
    for hidden in (SECRET, link_key, link_key.partition(":")[2], planted, *tokens):
        assert hidden not in output
    assert output.count(logs.REDACTED) >= 3  # the planted ones were logged, then scrubbed


def _plain(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    return part.get_content() if part is not None else ""


# -- the filter, on every record ----------------------------------------------------------
@pytest.fixture
def logged() -> Iterator[Callable[[], logging.Logger]]:
    """Starts the daemon's logging (JSON) in the test, on the captured stderr; the test
    run's own logging is put back afterwards."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)

    def start() -> logging.Logger:
        logs.setup(logging.DEBUG, json_format=True)
        return logging.getLogger("bientap.test")

    yield start
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


def _records(capsys: pytest.CaptureFixture[str]) -> list[dict[str, str]]:
    return [json.loads(line) for line in capsys.readouterr().err.splitlines()]


def test_passwords_authorization_and_links_are_scrubbed(
    logged: Callable[[], logging.Logger], capsys: pytest.CaptureFixture[str]
) -> None:
    log, token = logged(), _token()
    log.info("GET http://127.0.0.1:8470/duyet/12/%s 200", token)
    log.warning("header Authorization: Bearer abc.def-ghi sent")
    log.info("connecting to smtp://bientap:hunter2@mail.example.vn:587 with password=hunter2")
    log.info("forwarded token %s from a reply", token)
    out = _records(capsys)
    text = json.dumps(out, ensure_ascii=False)
    assert token not in text and "abc.def-ghi" not in text and "hunter2" not in text
    assert out[0]["message"] == f"GET http://127.0.0.1:8470/duyet/12/{logs.REDACTED} 200"
    assert out[1]["message"] == f"header Authorization: {logs.REDACTED} sent"


def test_secrets_named_by_a_board_are_hidden_in_messages_tracebacks_and_fields(
    logged: Callable[[], logging.Logger],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    smtp = 'transport = "smtp"\nhost = "mail.x.vn"\nusername = "u"\npassword = "env:DEMO_OUT"'
    board = load_board(demo_variant(tmp_path / "b.toml", ('transport = "outbox"', smtp)))
    monkeypatch.setenv("KHANHHOA_IMAP_PASSWORD", "imap-pw-0042")  # a name that says so
    monkeypatch.setenv("DEMO_OUT", "smtp-pw-0043")  # a name only the board's file gives
    logs.hide_secrets([board])
    log = logged()
    log.info("login as btt with imap-pw-0042", extra={"attempt": "smtp-pw-0043"})
    try:
        raise RuntimeError("server said: bad password smtp-pw-0043")
    except RuntimeError:
        log.exception("pass failed")
    text = capsys.readouterr().err
    assert "imap-pw-0042" not in text and "smtp-pw-0043" not in text
    first, second = (json.loads(line) for line in text.splitlines())
    assert first["message"] == f"login as btt with {logs.REDACTED}"
    assert first["attempt"] == logs.REDACTED
    assert "RuntimeError: server said: bad password [redacted]" in second["exc_info"]


def test_a_whole_mail_body_is_cut(
    logged: Callable[[], logging.Logger], capsys: pytest.CaptureFixture[str]
) -> None:
    log = logged()
    body = "Sáng ngày 15/3, Trường THPT Ngô Quyền tổ chức Ngày hội tuyển sinh. " * 2000
    log.error("could not parse: %s", body)
    [record] = _records(capsys)
    assert len(record["message"]) < logs.MAX_MESSAGE + 100
    assert record["message"].endswith("characters cut]")


def test_text_lines_when_json_is_not_asked(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        logs.setup(logging.INFO, json_format=False)
        logging.getLogger("bientap").info("board=demo: at %s", datetime(2026, 3, 15, tzinfo=UTC))
        # a value from a mail cannot forge a line of its own
        logging.getLogger("bientap").info("message=%s", "<a@x>\r\n2026-03-15 ERROR fake: line")
        lines = capsys.readouterr().err.strip().splitlines()
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    assert len(lines) == 2
    assert lines[0].endswith("INFO bientap: board=demo: at 2026-03-15 00:00:00+00:00")
    assert lines[1].endswith("INFO bientap: message=<a@x>\\r\\n2026-03-15 ERROR fake: line")


def test_a_new_database_logs_its_migrations_without_alembics_chatter(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from pipeline.db import make_engine, migrate

    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        logs.setup(logging.INFO, json_format=False)
        migrate(make_engine(f"sqlite:///{tmp_path / 'bientap.db'}"))
        err = capsys.readouterr().err
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    assert "Running upgrade  -> 0001" in err
    assert "Context impl" not in err and "Will assume" not in err
