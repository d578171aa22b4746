"""The entry points as a newcomer runs them: run_pipeline.py --once and the bientap script."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import REPO

BIN = Path(sys.executable).parent


def demo_variant(path: Path, *replacements: tuple[str, str]) -> Path:
    """Write config/demo.toml to ``path`` with each (old, new) text replaced once."""
    text = (REPO / "config" / "demo.toml").read_text(encoding="utf-8")
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new, 1)
    path.write_text(text, encoding="utf-8")
    return path


def _run(args: list[str], tmp: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {
        **os.environ,
        "BIENTAP_DATA_DIR": str(tmp),
        "BIENTAP_DATABASE_URL": f"sqlite:///{tmp}/bientap.db",
        **env,
    }
    return subprocess.run(args, cwd=REPO, env=environ, capture_output=True, text=True, timeout=300)


def test_demo_pass_stores_the_samples_and_lists_them(tmp_path: Path) -> None:
    seeded = _run(
        [
            sys.executable,
            "-m",
            "pipeline.samples",
            str(tmp_path / "demo" / "inbox"),
            "bbt@demo.bientap.vn",
        ],
        tmp_path,
    )
    assert seeded.returncode == 0, seeded.stderr
    ran = _run(
        [sys.executable, "run_pipeline.py", "--config", "config/demo.toml", "--once"], tmp_path
    )
    assert ran.returncode == 0, ran.stderr
    listed = _run(
        [str(BIN / "bientap"), "--config", "config/demo.toml", "list", "--json"], tmp_path
    )
    items = {i["title"]: i for i in json.loads(listed.stdout)}
    assert items["Sở Y tế triển khai chiến dịch tiêm chủng mở rộng"]["state"] == "pending_review"
    assert items["Báo cáo tình hình an ninh trật tự quý I"]["state"] == "quarantined"
    assert items["Trả lời tự động: Vắng mặt tại cơ quan"]["state"] == "set_aside"
    shown = _run(
        [
            str(BIN / "bientap"),
            "--config",
            "config/demo.toml",
            "show",
            str(items["Sở Y tế triển khai chiến dịch tiêm chủng mở rộng"]["id"]),
            "--json",
        ],
        tmp_path,
    )
    detail = json.loads(shown.stdout)
    assert detail["legacy_encoding"] == "tcvn3"
    assert "Lương Thế Vinh" in detail["body_text"]
    # a second pass over the same inbox adds nothing
    again = _run(
        [sys.executable, "run_pipeline.py", "--config", "config/demo.toml", "--once"], tmp_path
    )
    assert again.returncode == 0
    relisted = _run(
        [str(BIN / "bientap"), "--config", "config/demo.toml", "list", "--json"], tmp_path
    )
    assert len(json.loads(relisted.stdout)) == len(items) == 4


def test_a_bad_config_names_file_key_and_problem(tmp_path: Path) -> None:
    bad = demo_variant(tmp_path / "bad.toml", ('role = "thu_ky"', 'role = "boss"'))
    ran = _run([sys.executable, "run_pipeline.py", "--config", str(bad), "--once"], tmp_path)
    assert ran.returncode == 2
    assert f"{bad}: members[5].role:" in ran.stderr


def test_a_missing_secret_is_named_without_its_value(tmp_path: Path) -> None:
    ran = _run(
        [sys.executable, "run_pipeline.py", "--config", "config/khanhhoa.toml", "--once"],
        tmp_path,
        KHANHHOA_SMTP_PASSWORD="s3cr3t-value",
    )
    assert ran.returncode == 2
    assert "KHANHHOA_IMAP_PASSWORD is not set" in ran.stderr
    assert "s3cr3t-value" not in ran.stderr + ran.stdout


def test_an_empty_secret_is_refused_as_config_check_refuses_it(tmp_path: Path) -> None:
    ran = _run(
        [sys.executable, "run_pipeline.py", "--config", "config/khanhhoa.toml", "--once"],
        tmp_path,
        KHANHHOA_IMAP_PASSWORD="",
        KHANHHOA_SMTP_PASSWORD="s3cr3t-value",
    )
    assert ran.returncode == 2
    assert "mailboxes[0].password: environment variable KHANHHOA_IMAP_PASSWORD is empty" in (
        ran.stderr
    )


def test_a_short_link_key_is_refused_before_a_database_is_made(tmp_path: Path) -> None:
    ran = _run(
        [sys.executable, "run_pipeline.py", "--config", "config/demo.toml", "--once"],
        tmp_path,
        BIENTAP_LINK_KEY="ngắn",
    )
    assert ran.returncode == 2
    assert "BIENTAP_LINK_KEY" in ran.stderr and "ngắn" not in ran.stderr
    assert not (tmp_path / "bientap.db").exists()


def test_the_daemon_says_at_start_what_it_watches_and_where_it_keeps_things(
    tmp_path: Path, db_url: str
) -> None:
    """The log names the database and data folder the daemon opened, each mailbox it
    reads and how, and where the board's mail and posts go: an operator sees a daemon
    started in the wrong folder or on the wrong settings. No password is among it."""
    given = db_url.replace("postgres@", "postgres:S3cretPW@")  # trust auth: not checked
    ran = _run(
        [sys.executable, "run_pipeline.py", "--config", "config/demo.toml", "--once"],
        tmp_path,
        BIENTAP_DATABASE_URL=given,
        BIENTAP_PUBLIC_URL="https://bbt.example.gov.vn",
    )
    assert ran.returncode == 0, ran.stderr
    assert f"database {db_url}; data folder {tmp_path}\n" in ran.stderr
    assert (
        f"board=demo mailbox=hop-thu-chinh: Maildir {tmp_path / 'demo' / 'inbox'}, "
        "a pass every 10 s\n"
    ) in ran.stderr
    assert f"board=demo: mail out by outbox Maildir {tmp_path / 'demo' / 'outbox'}\n" in ran.stderr
    site = f"static site {tmp_path / 'demo' / 'site'}, at https://bbt.example.gov.vn/cong/"
    assert f"board=demo: publishing to {site}\n" in ran.stderr
    assert "S3cretPW" not in ran.stderr


def test_a_web_address_in_use_is_named(tmp_path: Path) -> None:
    """A second daemon on the machine, started with the first one's web address."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        ran = _run(
            [sys.executable, "run_pipeline.py", "--config", "config/demo.toml"],
            tmp_path,
            BIENTAP_WEB_ADDRESS=address,
        )
    assert ran.returncode == 2
    assert f"web_address {address}: Address already in use" in ran.stderr


def test_the_daemon_picks_up_new_mail_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    import signal
    import time

    from pipeline.samples import article_mail

    config = demo_variant(tmp_path / "board.toml", ("poll_seconds = 10", "poll_seconds = 1"))
    environ = {
        **os.environ,
        "BIENTAP_DATA_DIR": str(tmp_path),
        "BIENTAP_DATABASE_URL": f"sqlite:///{tmp_path}/bientap.db",
    }
    daemon = subprocess.Popen(
        [sys.executable, "run_pipeline.py", "--config", str(config)],
        cwd=REPO,
        env=environ,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        from connectors.maildir import deliver

        deliver(
            tmp_path / "demo" / "inbox",
            article_mail("nhung.ltt@sgddt.demo.bientap.vn", "bbt@demo.bientap.vn"),
        )
        items: list[dict[str, object]] = []
        deadline = time.monotonic() + 60
        while not items and time.monotonic() < deadline:
            time.sleep(0.5)
            listed = _run(
                [str(BIN / "bientap"), "--config", str(config), "list", "--json"], tmp_path
            )
            items = json.loads(listed.stdout or "[]")
        assert [i["state"] for i in items] == ["pending_review"]
    finally:
        daemon.send_signal(signal.SIGTERM)
        _out, err = daemon.communicate(timeout=60)
    assert daemon.returncode == 0, err
    assert "stopping once the work in hand is done" in err
    assert err.rstrip().endswith("stopped")  # the operator sees when it is gone


def test_sigterm_during_a_backlog_stops_after_the_mail_in_hand_and_loses_none(
    tmp_path: Path,
) -> None:
    """systemd stops a daemon with SIGTERM and kills it 90 s later: a daemon draining a
    backlog of thousands (after an outage) must stop soon, leaving the rest for its
    next start, neither lost nor counted as a failed try."""
    import signal

    from connectors.maildir import deliver
    from tests.workload import AGENCY_SENDERS, backlog

    n = 1500
    for mail in backlog(n, senders=AGENCY_SENDERS):
        deliver(tmp_path / "demo" / "inbox", mail)
    config = demo_variant(tmp_path / "board.toml")
    env = {"BIENTAP_DATA_DIR": str(tmp_path), "BIENTAP_DATABASE_URL": f"sqlite:///{tmp_path}/b.db"}
    daemon = subprocess.Popen(
        [sys.executable, "run_pipeline.py", "--config", str(config)],
        cwd=REPO,
        env={**os.environ, **env},
        stderr=subprocess.PIPE,
        text=True,
    )
    assert daemon.stderr is not None
    try:
        for line in daemon.stderr:  # the first submission stored: the drain is under way
            if " item=" in line:
                break
    finally:
        daemon.send_signal(signal.SIGTERM)
        _out, err = daemon.communicate(timeout=120)
    assert daemon.returncode == 0, err

    def stored() -> list[dict[str, object]]:
        listed = _run(
            [str(BIN / "bientap"), "--config", str(config), "list", "--json", "--limit", "5000"],
            tmp_path,
            **env,
        )
        return json.loads(listed.stdout)

    assert 0 < len(stored()) < n  # the backlog's rest was left for the next start
    again = _run(
        [sys.executable, "run_pipeline.py", "--config", str(config), "--once"], tmp_path, **env
    )
    assert again.returncode == 0, again.stderr
    items = stored()
    assert len({i["title"] for i in items}) == len(items) == n
    assert {i["state"] for i in items} == {"pending_review"}


def _moved(board: str) -> list[tuple[str, str]]:
    return [(f'"demo/{part}"', f'"{board}/{part}"') for part in ("inbox", "outbox", "site")]


def test_two_boards_serving_different_sites_at_one_address_are_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pipeline import cli

    folder = tmp_path / "config"
    folder.mkdir()
    a = demo_variant(folder / "a.toml", ('id = "demo"', 'id = "a"'), *_moved("a"))
    b = demo_variant(folder / "b.toml", ('id = "demo"', 'id = "b"'), *_moved("b"))
    (folder / "deployment.toml").write_text(f'data_dir = "{tmp_path}"\n', encoding="utf-8")
    assert cli.main(["config", "check", "--config", str(folder)]) == 2
    said = " ".join(capsys.readouterr().out.split())  # the console wraps long lines
    assert f"{a}: {tmp_path / 'a' / 'site'}" in said
    assert f"{b}: {tmp_path / 'b' / 'site'}" in said
    ran = _run([sys.executable, "run_pipeline.py", "--config", str(folder)], tmp_path)
    assert ran.returncode == 2 and f"{a}: {tmp_path / 'a' / 'site'}" in ran.stderr


def test_several_boards_and_mailboxes_in_one_deployment(tmp_path: Path) -> None:
    from connectors.maildir import deliver
    from pipeline.samples import article_mail

    folder = tmp_path / "config"
    folder.mkdir()
    demo_variant(folder / "a.toml", ('id = "demo"', 'id = "a"'), ("demo/inbox", "a/inbox"))
    second_box = (
        '[[mailboxes]]\nname = "hop-thu-phu"\naddress = "bbt2@demo.bientap.vn"\n'
        'source = "maildir"\npath = "b/inbox2"\n\n[mail_out]'
    )
    demo_variant(
        folder / "b.toml",
        ('id = "demo"', 'id = "b"'),
        ("demo/inbox", "b/inbox"),
        ("[mail_out]", second_box),
    )
    sender = "nhung.ltt@sgddt.demo.bientap.vn"
    for inbox, title in (("a/inbox", "Tin A"), ("b/inbox", "Tin B"), ("b/inbox2", "Tin B2")):
        deliver(
            tmp_path / inbox,
            article_mail(sender, "bbt@demo.bientap.vn", title, message_id=f"<{title}@x>"),
        )
    ran = _run([sys.executable, "run_pipeline.py", "--config", str(folder), "--once"], tmp_path)
    assert ran.returncode == 0, ran.stderr
    listed = _run([str(BIN / "bientap"), "--config", str(folder), "list", "--json"], tmp_path)
    found = sorted((i["board"], i["title"]) for i in json.loads(listed.stdout))
    assert found == [("a", "Tin A"), ("b", "Tin B"), ("b", "Tin B2")]


@pytest.fixture
def in_process() -> Iterator[None]:
    """``run_pipeline.main`` called in the test sets the logging up on the test's own
    stderr, closed after it: the test run's logging is put back, else every later log
    line fails («I/O operation on closed file»)."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    yield
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


def test_the_daemon_speaks_vietnamese_on_any_terminal_and_stops_on_ctrl_c(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    in_process: None,
) -> None:
    """LANG=C without Python's UTF-8 mode: the daemon's refusal is written in UTF-8, not in
    escapes (\\u1ed7i). Ctrl-C while it starts or runs --once: a line, exit 130."""
    ascii_locale = {"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0"}
    missing = tmp_path / "cau-hinh"
    ran = _run(
        [sys.executable, "run_pipeline.py", "--config", str(missing)], tmp_path, **ascii_locale
    )
    assert ran.returncode == 2 and "Lỗi cấu hình (configuration error)" in ran.stderr
    import run_pipeline

    def interrupted(*_args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setenv("BIENTAP_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("BIENTAP_DATABASE_URL", f"sqlite:///{tmp_path}/bientap.db")
    monkeypatch.setattr(run_pipeline, "_once", interrupted)
    try:
        code = run_pipeline.main(["--config", str(REPO / "config" / "demo.toml"), "--once"])
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C reached the operator as a traceback")
    assert code == 130
    assert capsys.readouterr().err.endswith("Đã dừng (interrupted by Ctrl-C)\n")


def test_a_database_gone_at_the_stop_leaves_the_leases_to_lapse_without_a_traceback(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    in_process: None,
) -> None:
    """The database went away (or Ctrl-C left it locked) as the daemon stopped: handing
    back its leases fails, and says so; the run's own exit stands."""
    from sqlalchemy.exc import OperationalError

    import run_pipeline
    from pipeline.claims import Crew

    def locked(*_args: object) -> None:
        raise OperationalError("UPDATE lease", {}, Exception("database is locked"))

    monkeypatch.setenv("BIENTAP_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("BIENTAP_DATABASE_URL", f"sqlite:///{tmp_path}/bientap.db")
    monkeypatch.setattr(Crew, "let_go", locked)
    assert run_pipeline.main(["--config", str(REPO / "config" / "demo.toml"), "--once"]) == 0
    err = capsys.readouterr().err
    assert "leases and claims not handed back (database is locked)" in err
    assert "Traceback" not in err
