"""The real-server fixtures work: Dovecot, the SMTP sink and PostgreSQL (and SQLite)."""

from __future__ import annotations

import os
import smtplib
import socket
from email.message import EmailMessage
from pathlib import Path

import pytest
import sqlalchemy as sa
from imapclient import IMAPClient, imap_utf7
from imapclient.exceptions import LoginError

from tests.fixtures_mail import MakeImapUser, MakeSmtpSink
from tests.helpers import orphaned, reaped
from tests.services import Dovecot, ImapAccount, Postgres, SmtpSink, require_binary

FOLDER_VI = "Đã xử lý"


def _message(subject: str, body: str, to: str = "ban.bien.tap@example.gov.vn") -> bytes:
    msg = EmailMessage()
    msg["From"] = "Phòng Văn hóa <vanhoa@example.gov.vn>"
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content(body)
    return msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))


def _processes_mentioning(text: str) -> list[int]:
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if text.encode() in cmdline:
            found.append(int(entry.name))
    return found


# --------------------------------------------------------------------------- Dovecot


def test_append_to_vietnamese_folder_and_read_back(
    dovecot: Dovecot, imap_user: ImapAccount
) -> None:
    raw = _message("Tin tức: Hội nghị tổng kết", "Nội dung bài viết có dấu tiếng Việt.")
    uid = dovecot.append(imap_user.name, raw, folder=FOLDER_VI)
    assert uid is not None

    with IMAPClient(dovecot.host, port=dovecot.port, ssl=False) as client:
        client.login(imap_user.name, imap_user.password)
        assert b"IDLE" in client.capabilities()
        names = [name for _flags, _delim, name in client.list_folders()]
        assert FOLDER_VI in names
        client.select_folder(FOLDER_VI, readonly=True)
        fetched = client.fetch([uid], [b"BODY.PEEK[]"])
        assert fetched[uid][b"BODY[]"] == raw

        # On the wire the name is IMAP modified UTF-7 (pure ASCII), not raw UTF-8.
        client.folder_encode = False
        wire = [name for _flags, _delim, name in client.list_folders()]
        encoded = imap_utf7.encode(FOLDER_VI)
        assert encoded in wire
        assert encoded.isascii() and encoded != FOLDER_VI.encode("utf-8")

    assert sorted(dovecot.folders(imap_user.name)) == sorted([FOLDER_VI, "INBOX"])
    assert dovecot.messages(imap_user.name, FOLDER_VI) == [raw]
    assert dovecot.messages(imap_user.name) == []


def test_idle_reports_a_new_message(dovecot: Dovecot, imap_user: ImapAccount) -> None:
    with IMAPClient(dovecot.host, port=dovecot.port, ssl=False, timeout=30) as client:
        client.login(imap_user.name, imap_user.password)
        client.select_folder("INBOX")
        client.idle()
        try:
            dovecot.append(imap_user.name, _message("Bài mới", "Xin chào"))
            responses: list[tuple[int, bytes]] = []
            for _ in range(10):  # bounded: Dovecot notifies within a second or so
                responses = client.idle_check(timeout=3)
                if any(kind == b"EXISTS" for _n, kind in responses):
                    break
        finally:
            client.idle_done()
    assert (1, b"EXISTS") in responses


def test_bulk_append_keeps_every_message_in_order(dovecot: Dovecot, imap_user: ImapAccount) -> None:
    template = _message("Bản tin số {n}", "Nội dung {n} " * 20)  # header stays RFC 2047
    batch = [template.replace(b"{n}", b"%d" % i) for i in range(1000)]
    assert len(set(batch)) == len(batch)
    assert dovecot.bulk_append(imap_user.name, batch, folder="Lưu trữ/2024") == len(batch)
    assert dovecot.messages(imap_user.name, "Lưu trữ/2024") == batch
    assert "Lưu trữ/2024" in dovecot.folders(imap_user.name)


def test_users_are_separate_and_passwords_checked(
    dovecot: Dovecot, make_imap_user: MakeImapUser
) -> None:
    alice, bob = make_imap_user("alice"), make_imap_user("bob")
    assert alice.name != bob.name
    dovecot.append(alice.name, _message("Riêng của Alice", "..."))
    assert len(dovecot.messages(alice.name)) == 1
    assert dovecot.messages(bob.name) == []
    with (
        IMAPClient(dovecot.host, port=dovecot.port, ssl=False) as client,
        pytest.raises(LoginError),
    ):
        client.login(alice.name, bob.password)


def test_user_added_before_start_and_stop_leaves_nothing_running(tmp_path: Path) -> None:
    server = Dovecot(tmp_path)
    account = server.add_user("truoc.khi.chay", "mat-khau-1")
    server.start()
    try:
        pid = server.pid
        assert pid is not None
        server.append(account.name, _message("Trước", "a"))
        late = server.add_user("sau.khi.chay", "mat-khau-2")
        server.append(late.name, _message("Sau", "b"))
        assert len(server.messages(account.name)) == len(server.messages(late.name)) == 1
        server.add_user(account.name, "mat-khau-moi")  # a changed password takes effect
        assert len(server.messages(account.name)) == 1
        with (
            IMAPClient(server.host, port=server.port, ssl=False) as client,
            pytest.raises(LoginError),
        ):
            client.login(account.name, "mat-khau-1")
        instance = server.instance_name
        assert _processes_mentioning(instance)
        port = server.port
    finally:
        server.cleanup()
    assert server.pid is None
    assert not os.path.exists(f"/proc/{pid}")
    assert _processes_mentioning(instance) == []
    assert not server.root.exists()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass


def test_servers_left_by_a_killed_process_are_reaped() -> None:
    script = (
        "import time\n"
        "from tests.services import Dovecot, Postgres\n"
        "d, p = Dovecot(), Postgres()\n"
        "d.start(); p.start()\n"
        "print(d.root, d.pid, p.root, p.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    dovecot_root, dovecot_pid, pg_root, pg_pid = orphaned(script)  # the servers live on
    pids = [int(dovecot_pid), int(pg_pid)]
    assert all(os.path.exists(f"/proc/{pid}") for pid in pids)

    Dovecot().cleanup()  # creating a work directory sweeps those of dead owners
    Postgres().cleanup()

    assert not Path(dovecot_root).exists()
    assert not Path(pg_root).exists()
    assert all(reaped(pid) for pid in pids)


class _MisconfiguredDovecot(Dovecot):
    def _config(self) -> str:
        return super()._config() + "bientap_unknown_setting = 1\n"


def test_failed_start_reports_the_server_log() -> None:
    server = _MisconfiguredDovecot()
    try:
        with pytest.raises(RuntimeError, match="bientap_unknown_setting"):
            server.start()
        assert server.pid is None
    finally:
        server.cleanup()
    assert not server.root.exists()


def test_missing_program_names_the_install_script() -> None:
    with pytest.raises(RuntimeError, match="scripts/install-system-deps.sh"):
        require_binary("bientap-no-such-program")


# --------------------------------------------------------------------------- SMTP


def test_smtp_auth_records_and_delivers_to_dovecot(
    dovecot: Dovecot, imap_user: ImapAccount, make_smtp_sink: MakeSmtpSink
) -> None:
    sink = make_smtp_sink(auth=("bientap", "bi-mat-123"), deliver_to=dovecot)
    rcpt = f"{imap_user.name}@example.gov.vn"
    raw = _message("Phản hồi: đã duyệt bài", "Đồng ý đăng.", to=rcpt)
    with smtplib.SMTP(sink.host, sink.port, timeout=30) as smtp:
        smtp.ehlo()
        assert "PLAIN" in smtp.esmtp_features["auth"]
        assert "LOGIN" in smtp.esmtp_features["auth"]
        smtp.login("bientap", "bi-mat-123")
        smtp.sendmail("vanhoa@example.gov.vn", [rcpt, "nobody@elsewhere.vn"], raw)

    [received] = sink.wait_for(1, timeout=30)
    assert received.mail_from == "vanhoa@example.gov.vn"
    assert received.rcpt_tos == (rcpt, "nobody@elsewhere.vn")
    assert received.login == "bientap"
    assert received.delivered_to == (imap_user.name,)
    assert b"Subject: =?utf-8?" in received.data
    assert sink.errors == []

    [delivered] = dovecot.messages(imap_user.name, "INBOX")
    assert delivered == received.data


def test_smtp_address_map_and_auth_login(
    dovecot: Dovecot, imap_user: ImapAccount, make_smtp_sink: MakeSmtpSink
) -> None:
    sink = make_smtp_sink(
        auth=("bientap", "bi-mat"),
        deliver_to=dovecot,
        address_map={"Ban.Bien.Tap@Example.gov.vn": imap_user.name},
    )
    with smtplib.SMTP(sink.host, sink.port, timeout=30) as smtp:
        smtp.ehlo()
        smtp.user, smtp.password = "bientap", "bi-mat"
        smtp.auth("LOGIN", smtp.auth_login)
        smtp.sendmail("a@example.vn", ["ban.bien.tap@example.gov.vn"], _message("Gửi BBT", "x"))
    [received] = sink.wait_for(1)
    assert received.delivered_to == (imap_user.name,)
    assert len(dovecot.messages(imap_user.name)) == 1


def test_smtp_sink_fixture_accepts_anonymous_and_rejects_bad_password(
    smtp_sink: SmtpSink,
) -> None:
    assert smtp_sink.username and smtp_sink.password
    with smtplib.SMTP(smtp_sink.host, smtp_sink.port, timeout=30) as smtp:
        with pytest.raises(smtplib.SMTPAuthenticationError):
            smtp.login(smtp_sink.username, "sai-mat-khau")
        smtp.sendmail("a@example.vn", ["b@example.vn"], _message("Ẩn danh", "x"))
    [received] = smtp_sink.wait_for(1)
    assert received.login is None
    assert received.delivered_to == ()


def test_smtp_sink_without_auth_does_not_offer_it(make_smtp_sink: MakeSmtpSink) -> None:
    sink = make_smtp_sink()
    with smtplib.SMTP(sink.host, sink.port, timeout=30) as smtp:
        smtp.ehlo()
        assert not smtp.has_extn("auth")
        smtp.sendmail("a@example.vn", ["b@example.vn", "c@example.vn"], _message("Hai", "x"))
        smtp.sendmail("a@example.vn", ["d@example.vn"], _message("Ba", "y"))
    received = sink.wait_for(2)
    assert [m.rcpt_tos for m in received] == [("b@example.vn", "c@example.vn"), ("d@example.vn",)]
    with pytest.raises(TimeoutError):
        sink.wait_for(3, timeout=0.2)


def test_smtp_auth_required_refuses_anonymous_sender(make_smtp_sink: MakeSmtpSink) -> None:
    sink = make_smtp_sink(auth=("bientap", "bi-mat"), auth_required=True)
    with smtplib.SMTP(sink.host, sink.port, timeout=30) as smtp:
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            smtp.sendmail("a@example.vn", ["b@example.vn"], _message("Bị từ chối", "x"))
        assert refused.value.smtp_code == 530
        smtp.rset()
        smtp.login("bientap", "bi-mat")
        smtp.sendmail("a@example.vn", ["b@example.vn"], _message("Được nhận", "x"))
    [received] = sink.wait_for(1)
    assert received.login == "bientap"


# --------------------------------------------------------------------------- databases


def test_postgres_runs_queries_with_vietnamese_text(postgres: Postgres) -> None:
    engine = sa.create_engine(postgres.url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT current_database()")).scalar() == "bientap"
            upper = conn.execute(sa.text("SELECT upper(:s)"), {"s": FOLDER_VI}).scalar()
            assert upper == "ĐÃ XỬ LÝ"
            assert str(conn.execute(sa.text("SHOW server_encoding")).scalar()) == "UTF8"
    finally:
        engine.dispose()


def test_postgres_create_and_drop_database(postgres: Postgres) -> None:
    url = postgres.create_database("tam_thoi")
    try:
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT current_database()")).scalar() == "tam_thoi"
        # a connection left open must not block the drop
        lingering = engine.connect()
        assert "tam_thoi" in postgres.databases()
    finally:
        postgres.drop_database("tam_thoi")
    lingering.invalidate()
    engine.dispose()
    assert "tam_thoi" not in postgres.databases()


def test_db_url_gives_an_empty_working_database(
    db_url: str, request: pytest.FixtureRequest
) -> None:
    engine = sa.create_engine(db_url)
    try:
        assert engine.dialect.name == request.node.callspec.params["db_url"]
        assert sa.inspect(engine).get_table_names() == []
        table = sa.Table(
            "bai_viet",
            sa.MetaData(),
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("tieu_de", sa.Text, nullable=False),
        )
        table.create(engine)
        with engine.begin() as conn:
            conn.execute(table.insert(), [{"tieu_de": "Thông báo"}, {"tieu_de": FOLDER_VI}])
        with engine.connect() as conn:
            titles = conn.execute(sa.select(table.c.tieu_de).order_by(table.c.id)).scalars()
            assert list(titles) == ["Thông báo", FOLDER_VI]
    finally:
        engine.dispose()
