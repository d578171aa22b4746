"""Backups: one archive of a working deployment restores into an empty one (SQLite or
PostgreSQL, either way) equal row for row and byte for byte, with its record intact; a
damaged archive is refused; old archives rotate."""

from __future__ import annotations

import hashlib
import io
import json
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connectors.maildir import MaildirSource
from pipeline import audit, backup, cli, restore, review
from pipeline.app import Deployed, open_deployment, publishers
from pipeline.claims import MAILBOX_LEASE, DaemonLock
from pipeline.commands import Verb
from pipeline.db import MIGRATIONS, alembic_config, make_engine
from pipeline.models import Base, Lease, ReviewTask, State, Submission, TaskState, utcnow
from pipeline.samples import article_mail
from tests.daemons import Daemon, wait_for
from tests.fixtures_db import empty_database
from tests.helpers import CONFIG, DEMO_BOX, Rig, make_rig

SENDER = "nhung.ltt@sgddt.demo.bientap.vn"
STRANGER = "ai.do@mail.example.vn"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


@dataclass
class World:
    """A deployment as an operator has it: a config folder, a data folder, a database."""

    config: Path
    data: Path
    db_url: str
    deployed: Deployed
    rig: Rig

    @property
    def board_id(self) -> str:
        return self.rig.board.id


def build_world(tmp: Path, db_url: str, settings: str = "") -> World:
    """The demo board in ``tmp/config``, its data in ``tmp/var`` (the SQLite file too, as
    in the default layout); nothing stored yet."""
    config, data = tmp / "config", tmp / "var"
    config.mkdir(parents=True)
    data.mkdir(parents=True)
    if db_url.startswith("sqlite"):
        db_url = f"sqlite:///{data}/bientap.db"
    shutil.copy(CONFIG / "demo.toml", config / "demo.toml")
    (config / "deployment.toml").write_text(
        f'database_url = "{db_url}"\ndata_dir = "{data}"\n{settings}', encoding="utf-8"
    )
    deployed = open_deployment(config)
    return World(config, data, db_url, deployed, make_rig(data, db_url, deployed.boards[0]))


def decide(world: World, item_id: int, verb: Verb, text: str | None = None) -> None:
    """Every open seat on the item decides ``verb`` until its review ends (or one refusal)."""
    rig = world.rig
    with rig.sessions.begin() as s:
        while True:
            task = s.scalars(
                select(ReviewTask).where(
                    ReviewTask.submission_id == item_id, ReviewTask.state == TaskState.PENDING
                )
            ).first()
            if task is None:
                break
            item = s.get(Submission, item_id)
            assert item is not None
            desk = review.Desk(rig.board, s, rig.runner.links, rig.files)
            decision = review.Decision(verb, text)
            evidence = review.Evidence("cli", {"operator": "test"})
            review.act(desk, task.id, task.member_id, decision, item.content_hash or "", evidence)
            if verb is not Verb.APPROVE:
                break
        audit.seal(s, rig.board.id)


def stranger_reply(world: World, tracking_code: str, stranger: str = STRANGER) -> None:
    """Someone outside the board answers a review request (refused, and on record)."""
    request = next(
        m
        for m in world.rig.sent()
        if tracking_code in str(m["Subject"]) and "Duyệt tin bài" in str(m["Subject"])
    )
    msg = EmailMessage()
    msg["From"] = f"Người Lạ <{stranger}>"
    msg["To"] = DEMO_BOX
    msg["Subject"] = "Re: " + str(request["Subject"])
    msg["Message-ID"] = make_msgid(domain="mail.example.vn")
    msg["In-Reply-To"] = msg["References"] = request["Message-ID"]
    msg.set_content("DUYỆT")
    world.rig.drop(msg.as_bytes())
    world.rig.runner.run_once()


def submit_batch(world: World, sender: str, label: str, stranger: str = STRANGER) -> dict[str, int]:
    """From ``sender``: an article with a photo, approved and published on the static site;
    one corrected by its sender, answered by a stranger, then rejected; an auto-reply set
    aside; one without its author, returned. Everything sent, every event sealed. Returns
    the items' ids by role."""
    rig = world.rig
    before = {i.id for i in rig.items()}
    rig.drop(
        article_mail(
            sender,
            DEMO_BOX,
            f"Ngày hội tuyển sinh {label}",
            attachments=[("anh-khai-giang.png", "image/png", PNG)],
        )
    )
    rig.drop(article_mail(sender, DEMO_BOX, f"Học sinh giỏi cấp tỉnh {label}"))
    rig.drop(
        article_mail(
            sender, DEMO_BOX, f"Vắng mặt {label}", extra_headers={"Auto-Submitted": "auto-replied"}
        )
    )
    rig.drop(article_mail(sender, DEMO_BOX, f"Thông báo {label}", body="Nội dung ngắn.\n"))
    rig.runner.run_once()
    new = [i for i in rig.items() if i.id not in before]
    published, rejected, aside, returned = (i.id for i in new)
    code = new[1].tracking_code
    rig.drop(
        article_mail(
            sender,
            DEMO_BOX,
            f"Re: {code} Học sinh giỏi cấp tỉnh {label} (bản sửa)",
            body="Nội dung đã sửa lại theo góp ý.\n\nTin: Lê Thị Hồng Nhung\n",
        )
    )
    rig.runner.run_once()
    rig.runner.deliver()
    stranger_reply(world, code, stranger)
    decide(world, published, Verb.APPROVE)
    decide(world, rejected, Verb.REJECT, "Trùng nội dung đã đăng")
    for outlet in publishers(world.deployed):
        outlet.run_once()
    rig.runner.deliver()
    with rig.sessions.begin() as s:
        audit.seal(s, rig.board.id)
    states = {i.id: i.state for i in rig.items()}
    assert [states[published], states[rejected], states[aside], states[returned]] == [
        State.PUBLISHED,
        State.REJECTED,
        State.SET_ASIDE,
        State.RETURNED,
    ]
    return {"published": published, "rejected": rejected, "set_aside": aside, "returned": returned}


def table_rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in key order, as the application reads them."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return {
                t.name: [tuple(r) for r in conn.execute(select(t).order_by(*t.primary_key.columns))]
                for t in Base.metadata.sorted_tables
            }
    finally:
        engine.dispose()


def tree(folder: Path, leave_out: tuple[str, ...] = ()) -> dict[str, bytes]:
    """Relative path -> bytes of every file under ``folder``."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.relative_to(folder).as_posix().startswith(leave_out)
    }


def bientap(*argv: str) -> int:
    """A command of pipeline/cli_backup.py as the console script parses it; its errors are
    raised, not printed."""
    args = cli.parser().parse_args(argv)
    code: int = args.handler(args)
    return code


# -- fixtures ---------------------------------------------------------------------------------
@pytest.fixture
def world(tmp_path: Path, db_url: str) -> World:
    world = build_world(tmp_path / "live", db_url)
    submit_batch(world, SENDER, "2026")
    return world


@pytest.fixture(params=["to-sqlite", "to-postgresql"])
def target_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database to restore into, on either engine."""
    engine = request.param.removeprefix("to-")
    yield from empty_database(request, engine, tmp_path / "restored" / "bientap.db", "restore")


def members(archive: Path) -> list[str]:
    with tarfile.open(archive, "r:gz") as tar:
        return tar.getnames()


# -- tests ------------------------------------------------------------------------------------
def test_a_restored_copy_equals_the_original(
    world: World, target_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = backup.create(world.deployed, backup.backup_dir(world.deployed), utcnow())
    assert archive.parent == world.data / "backups"
    assert backup.verify(archive) == []
    names = members(archive)
    assert "manifest.json" in names and "config/demo.toml" in names
    assert "config/deployment.toml" in names and "database/event.jsonl" in names
    assert any(n.startswith("data/files/") for n in names)  # the attachment store
    assert any(n.startswith("data/demo/site/posts/") for n in names)  # the published page
    assert not any(n.startswith("data/backups") or n.endswith(".db") for n in names)
    manifest = backup.read_manifest(archive)
    source = table_rows(world.db_url)
    assert manifest["tables"] == {name: len(rows) for name, rows in source.items()}
    assert manifest["alembic_revision"]

    data, config = tmp_path / "restored" / "var", tmp_path / "restored" / "config"
    done = restore.restore(archive, target_url, data, config_dir=config)

    assert table_rows(target_url) == source  # every item, decision, mail and event
    assert tree(data) == tree(world.data, leave_out=("backups", "bientap.db"))
    assert tree(config) == tree(world.config)
    assert done.files == len(tree(data))
    engine = make_engine(target_url)
    with Session(engine) as s:
        assert audit.verify(s, world.board_id).ok
    engine.dispose()
    assert cli.main(["--database-url", target_url, "audit", "verify"]) == 0
    assert "chuỗi nhật ký toàn vẹn" in capsys.readouterr().out

    # the restored deployment goes on working: new ids follow the restored ones
    rig = make_rig(data, target_url, world.rig.board)
    rig.drop(article_mail("tin.moi@syt.demo.bientap.vn", DEMO_BOX, "Tiêm chủng mở rộng"))
    rig.runner.run_once()
    newest = rig.items()[-1]
    assert newest.title == "Tiêm chủng mở rộng" and newest.id == len(source["submission"]) + 1
    assert cli.main(["--database-url", target_url, "audit", "verify"]) == 0


def test_restore_refuses_a_deployment_that_has_items(world: World, tmp_path: Path) -> None:
    archive = backup.create(world.deployed, tmp_path / "out", utcnow())
    before = table_rows(world.db_url)
    with pytest.raises(backup.BackupError, match="đã có dữ liệu"):
        restore.restore(archive, world.db_url, tmp_path / "elsewhere")
    assert table_rows(world.db_url) == before
    # --force replaces what is there, and the result is the archive again
    submit_batch(world, SENDER, "2027")
    assert table_rows(world.db_url) != before
    restore.restore(archive, world.db_url, tmp_path / "elsewhere", force=True)
    assert table_rows(world.db_url) == before


def _rewrite(archive: Path, target: Path, change: str) -> None:
    """Copy ``archive`` with member ``change`` altered and its manifest untouched."""
    with tarfile.open(archive, "r:gz") as src, tarfile.open(target, "w:gz") as dst:
        for member in src:
            fh = src.extractfile(member)
            data = fh.read() if fh is not None else b""
            if member.name == change:
                data = data.replace(b"1.200", b"12.000") + b"\n"
                member.size = len(data)
            dst.addfile(member, io.BytesIO(data))


def test_a_tampered_archive_fails_verify_and_is_not_restored(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = backup.create(world.deployed, tmp_path / "out", utcnow())
    page = next(n for n in members(archive) if n.endswith("/index.html") and "/posts/" in n)
    tampered = tmp_path / "tampered.tar.gz"
    _rewrite(archive, tampered, page)
    assert backup.verify(tampered) == [f"{page}: sai mã kiểm tra SHA-256 (checksum mismatch)"]
    with pytest.raises(backup.BackupError, match="hỏng"):
        restore.restore(tampered, f"sqlite:///{tmp_path}/r.db", tmp_path / "r")
    assert not (tmp_path / "r").exists()
    assert bientap("backup", "--verify", str(tampered)) == 1
    assert "BẢN SAO LƯU HỎNG" in capsys.readouterr().out

    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    assert "không đọc được" in backup.verify(truncated)[0]
    assert bientap("backup", "--verify", str(archive)) == 0
    assert "toàn vẹn" in capsys.readouterr().out


def test_an_archive_mistyped_is_not_called_damaged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A path that is not there, or a folder, is the operator's typing, not a damaged
    backup: said so, exit 2, nothing restored."""
    target = ["--database-url", f"sqlite:///{tmp_path}/r.db", "--data-dir", str(tmp_path / "r")]
    for argv in (
        ["backup", "--verify", str(tmp_path / "sao-luu.tar.gz")],
        ["restore", str(tmp_path / "sao-luu.tar.gz"), *target],
        ["backup", "--verify", str(tmp_path)],
    ):
        with pytest.raises(SystemExit) as exited:
            bientap(*argv)
        assert exited.value.code == 2
        err = capsys.readouterr().err
        assert "HỎNG" not in err.upper() and ("không có tệp này" in err or "là thư mục" in err)
    assert not (tmp_path / "r").exists()


def test_backup_and_restore_from_the_command_line(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = tmp_path / "ban-sao"
    assert bientap("--config", str(world.config), "backup", "--dest", str(dest)) == 0
    out = capsys.readouterr().out
    [archive] = backup.archives(dest)
    assert f"Đã sao lưu (backup written): {archive}" in out
    target = f"sqlite:///{tmp_path}/moi/bientap.db"
    args = ["restore", str(archive), "--database-url", target, "--data-dir", str(tmp_path / "moi")]
    assert bientap("--config", str(tmp_path / "chua-co"), *args) == 0
    assert "Đã phục hồi" in capsys.readouterr().out
    assert table_rows(target) == table_rows(world.db_url)
    assert (tmp_path / "moi" / "config-restored" / "demo.toml").is_file()
    assert bientap("--config", str(tmp_path / "chua-co"), *args) == 1  # not empty any more
    assert "--force" in capsys.readouterr().err
    assert cli.main(["--database-url", target, "audit", "verify"]) == 0


def test_the_data_folder_given_on_the_command_line_is_backed_up(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """A daemon started with --data-dir, as the README's table allows: bientap takes the
    same option, and its backup holds that folder's attachments."""
    (world.config / "deployment.toml").write_text(
        f'database_url = "{world.db_url}"\n', encoding="utf-8"
    )
    given = ["--config", str(world.config), "--data-dir", str(world.data)]
    assert bientap(*given, "backup") == 0
    [archive] = backup.archives(world.data / "backups")
    assert f"Đã sao lưu (backup written): {archive}" in capsys.readouterr().out
    assert any(name.endswith("anh-khai-giang.png") for name in members(archive))


def test_a_backup_without_the_data_folder_is_refused(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """bientap run where the daemon's data folder is not (a relative data_dir read from
    another folder): the archive would hold the rows and none of the attachments they
    name, so none is made."""
    elsewhere, dest = tmp_path / "noi-khac", tmp_path / "ban-sao"
    given = ["--config", str(world.config), "--data-dir", str(elsewhere)]
    assert cli.main([*given, "backup", "--dest", str(dest)]) == 2
    assert f"thư mục dữ liệu {elsewhere} không có tệp đính kèm" in capsys.readouterr().err
    assert not dest.exists()


def schema_at(revision: str, scratch: Path) -> dict[str, list[str]]:
    """Table -> columns of the schema at migration ``revision``."""
    engine = make_engine(f"sqlite:///{scratch}/schema-{revision}.db")
    try:
        command.upgrade(alembic_config(engine), revision)
        found = inspect(engine)
        return {
            t: [c["name"] for c in found.get_columns(t)]
            for t in found.get_table_names()
            if t != "alembic_version"
        }
    finally:
        engine.dispose()


def rewritten(
    archive: Path, target: Path, edit: Callable[[str, bytes, dict[str, Any]], bytes | None]
) -> Path:
    """``archive`` copied to ``target`` with each member as ``edit(name, bytes, manifest)``
    returns it (None: left out), every checksum of the manifest right."""
    manifest = backup.read_manifest(archive)
    with tarfile.open(archive, "r:gz") as src, tarfile.open(target, "w:gz") as dst:
        for member in src:
            fh = src.extractfile(member)
            if fh is None or member.name == backup.MANIFEST:
                continue
            data = edit(member.name, fh.read(), manifest)
            if data is None:
                del manifest["files"][member.name]
                continue
            manifest["files"][member.name] = hashlib.sha256(data).hexdigest()
            member.size = len(data)
            dst.addfile(member, io.BytesIO(data))
        body = json.dumps(manifest, ensure_ascii=False).encode()
        info = tarfile.TarInfo(backup.MANIFEST)
        info.size = len(body)
        dst.addfile(info, io.BytesIO(body))
    return target


def as_of(archive: Path, shape: dict[str, list[str]], revision: str, target: Path) -> Path:
    """``archive`` as a bientap of schema ``revision`` wrote it: only the tables and columns
    that schema had, its revision in the manifest, every checksum right."""

    def older(name: str, data: bytes, manifest: dict[str, Any]) -> bytes | None:
        manifest["alembic_revision"] = revision
        if not name.startswith(f"{backup.DB}/"):
            return data
        table = name.removeprefix(f"{backup.DB}/").removesuffix(".jsonl")
        if table not in shape:
            del manifest["tables"][table]
            return None
        rows = [json.loads(line) for line in data.splitlines()]
        return b"".join(
            json.dumps(
                {k: v for k, v in r.items() if k in shape[table]}, ensure_ascii=False
            ).encode()
            + b"\n"
            for r in rows
        )

    return rewritten(archive, target, older)


def rows_in(url: str, shape: dict[str, list[str]]) -> dict[str, list[tuple[Any, ...]]]:
    """The rows of ``shape``'s tables, its columns only, in key order, as the application
    reads them."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return {
                name: [
                    tuple(r)
                    for r in conn.execute(
                        select(*(table.c[c] for c in shape[name])).order_by(
                            *table.primary_key.columns
                        )
                    )
                ]
                for name, table in Base.metadata.tables.items()
                if name in shape
            }
    finally:
        engine.dispose()


def revision_of(url: str) -> str | None:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def head() -> str | None:
    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


@pytest.mark.parametrize("revision", ["0003", "0006"])
def test_an_archive_of_an_older_version_restores_and_is_brought_up_to_date(
    world: World, target_url: str, revision: str, tmp_path: Path
) -> None:
    """An operator restores last month's backup after upgrading bientap: the archive's
    schema is older (0003: before the review workflow; 0006: before leases and claims)."""
    shape = schema_at(revision, tmp_path)
    archive = backup.create(world.deployed, tmp_path / "out", utcnow())
    old = as_of(archive, shape, revision, tmp_path / f"bientap-{revision}.tar.gz")
    assert backup.verify(old) == []
    assert "database/lease.jsonl" not in members(old)

    data = tmp_path / "restored" / "var"
    done = restore.restore(old, target_url, data, config_dir=tmp_path / "restored" / "config")

    assert done.revision == revision
    assert rows_in(target_url, shape) == rows_in(world.db_url, shape)  # nothing of it lost
    assert revision_of(target_url) == head()  # then migrated to this version's schema
    assert cli.main(["--database-url", target_url, "audit", "verify"]) == 0
    rig = make_rig(data, target_url, world.rig.board)  # and the deployment goes on working
    rig.drop(article_mail("tin.moi@syt.demo.bientap.vn", DEMO_BOX, "Tiêm chủng mở rộng"))
    rig.runner.run_once()
    assert rig.items()[-1].title == "Tiêm chủng mở rộng"
    assert rig.items()[-1].state == State.PENDING_REVIEW


def test_scheduled_backups_are_weekly_and_rotate(tmp_path: Path) -> None:
    world = build_world(tmp_path, "sqlite", "backup_keep = 3\n")
    world.rig.drop(article_mail(SENDER, DEMO_BOX, "Tin tuần"))
    world.rig.runner.run_once()
    start = utcnow()
    made = []
    for day in range(0, 70):
        path = backup.run_scheduled(world.deployed, start + timedelta(days=day))
        if path is not None:
            made.append((day, path))
    assert [day for day, _ in made] == list(range(0, 70, 7))  # weekly (Bình Phước Đ11.3)
    kept = backup.archives(world.data / "backups")
    assert kept == [path for _, path in made[-3:]]  # the newest three
    assert all(backup.verify(p) == [] for p in kept)
    assert backup.rotate(world.data / "backups", keep=1) == kept[:2]
    assert backup.archives(world.data / "backups") == kept[2:]
    assert not any(p.name.startswith(".tmp") for p in (world.data / "backups").iterdir())
    assert os.listdir(world.data / "backups") == [kept[2].name]


def test_nothing_the_daemon_stores_after_its_backup_is_lost_to_a_command(tmp_path: Path) -> None:
    """With the SQLite file inside data_dir (the default layout), the daemon's backup
    once read it like any data file: closing that file dropped SQLite's locks in the
    daemon, the next ``bientap`` command took the daemon for gone and deleted the WAL
    under it, and every item it stored after that was lost."""
    world = build_world(tmp_path, "sqlite")
    rig = world.rig  # its pool keeps its connections open, as a daemon's does

    def listed() -> list[str]:
        out = subprocess.run(
            [str(Path(sys.executable).parent / "bientap"), "--config", str(world.config)]
            + ["list", "--json"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return sorted(item["title"] for item in json.loads(out))

    rig.drop(article_mail(SENDER, DEMO_BOX, "Tin trước sao lưu"))
    rig.runner.run_once()
    assert backup.run_scheduled(world.deployed, utcnow()) is not None
    assert listed() == ["Tin trước sao lưu"]
    rig.drop(article_mail(SENDER, DEMO_BOX, "Tin sau sao lưu"))
    rig.runner.run_once()
    assert listed() == ["Tin sau sao lưu", "Tin trước sao lưu"]


class _DaemonAtWork:
    """A backup's progress that lets a daemon work at each step: a pass (which records,
    processes and files what is in the inbox), then a new mail in the inbox."""

    def __init__(self, rig: Rig) -> None:
        self.rig, self.sent = rig, 0

    def begin(self, label: str, total: int) -> None:
        self.rig.runner.run_once()
        self.sent += 1
        self.rig.drop(article_mail(SENDER, DEMO_BOX, f"Tin số {self.sent}"))

    def advance(self, amount: int = 1) -> None:
        pass


def _message_ids(maildir: Path) -> list[str]:
    """The Message-ID of every mail in a Maildir and its sub-folders."""
    return sorted(
        str(message_from_bytes(p.read_bytes())["Message-ID"])
        for p in maildir.rglob("*")
        if p.is_file() and p.parent.name in ("cur", "new")
    )


def test_no_mail_is_lost_to_a_backup_made_while_a_daemon_files_it(
    tmp_path: Path, db_url: str
) -> None:
    """A ``bientap backup`` while a daemon works: a mail the daemon recorded and filed
    away between the backup's copy of the database and of the files was in the archive's
    "handled" folder and in none of its rows, so a restore never read it again; a mail
    filed away after its name was listed failed the backup."""
    world = build_world(tmp_path / "live", db_url)
    board = world.rig.board
    inbox = world.data / "demo" / "inbox"  # the board's mailbox, where the daemon reads
    source = MaildirSource(board.mailboxes[0].name, inbox)
    daemon = make_rig(world.data, world.db_url, board, source=source)
    daemon.inbox = inbox
    daemon.drop(article_mail(SENDER, DEMO_BOX, "Tin số 0"))
    archive = backup.create(world.deployed, tmp_path / "out", utcnow(), _DaemonAtWork(daemon))

    data, url = tmp_path / "restored" / "var", f"sqlite:///{tmp_path / 'restored.db'}"
    restore.restore(archive, url, data)
    source = MaildirSource(board.mailboxes[0].name, data / "demo" / "inbox")
    restored = make_rig(data, url, board, source=source)
    restored.runner.run_once()
    items = [f"<{i.message_id}>" for i in restored.items()]
    assert set(_message_ids(data / "demo" / "inbox")) <= set(items)  # every mail, read
    assert items  # "Tin số 0" at least: recorded before the rows were copied


def test_restore_is_refused_while_a_daemon_works_on_the_target(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``restore --force`` replaced the database and wrote files into the folders of a
    daemon running on them: what it stored after the backup went, while it went on as if
    nothing happened (mail filed away, receipts sent). Refused until it is stopped."""
    archive = backup.create(world.deployed, tmp_path / "out", utcnow())
    world.rig.drop(article_mail(SENDER, DEMO_BOX, "Tin sau sao lưu"))
    world.rig.runner.run_once()
    before = table_rows(world.db_url)
    (world.config / "deployment.toml").open("a").write('web_address = "127.0.0.1:0"\n')
    with Daemon(world.config, tmp_path / "daemon.log") as daemon:
        wait_for("the daemon at work", lambda: _leased(world), [daemon], 60)
        code = bientap("--config", str(world.config), "restore", str(archive), "--force")
        said = capsys.readouterr().err
        daemon.stop(60)
    assert code == 1 and "daemon" in said
    assert "Tin sau sao lưu" in [r.title for r in world.rig.items()]
    assert table_rows(world.db_url)["submission"] == before["submission"]
    assert bientap("--config", str(world.config), "restore", str(archive), "--force") == 0
    assert "Tin sau sao lưu" not in [r.title for r in world.rig.items()]


def test_a_daemon_just_started_holds_off_a_restore(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A daemon takes the daemons' lock as it starts, seconds before its first mailbox
    lease: a restore in between went ahead on PostgreSQL and replaced the database under
    it. Refused from the daemon's start, and allowed again once it has stopped."""
    archive = backup.create(world.deployed, tmp_path / "out", utcnow())
    starting = DaemonLock(world.db_url)  # what run_pipeline.py takes before any pass
    starting.acquire()
    try:
        assert not _leased(world)
        code = bientap("--config", str(world.config), "restore", str(archive), "--force")
    finally:
        starting.release()
    said = capsys.readouterr().err
    assert code == 1 and f"pid {os.getpid()}" in said  # the daemon, named
    assert bientap("--config", str(world.config), "restore", str(archive), "--force") == 0


def test_no_daemon_starts_while_a_restore_runs(world: World) -> None:
    """The restore holds the database alone until it is done: a daemon started meanwhile
    would work on tables being emptied and filled. It refuses, saying why."""
    restoring = DaemonLock(world.db_url, restore=True)
    restoring.acquire()
    try:
        ran = subprocess.run(
            [sys.executable, "run_pipeline.py", "--config", str(world.config), "--once"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        restoring.release()
    assert ran.returncode == 2, ran.stderr
    assert "đang được phục hồi từ bản sao lưu" in ran.stderr
    assert "Traceback" not in ran.stderr


def test_a_daemon_killed_outright_does_not_hold_up_a_restore_for_a_day(
    world: World, tmp_path: Path
) -> None:
    """Its jobs' leases stay on record for their interval (retention's is a day); its
    mailbox's lapses within seconds, and only that one says a daemon is at work."""
    archive = backup.create(world.deployed, tmp_path / "out", utcnow())
    with world.rig.sessions.begin() as s:
        for name, expires in (
            ("job:retention:demo", utcnow() + timedelta(days=1)),
            ("mailbox:demo:hop-thu-chinh", utcnow() - timedelta(seconds=1)),
        ):
            s.add(Lease(name=name, holder="vm/4242/dead", acquired_at=utcnow(), expires_at=expires))
    assert bientap("--config", str(world.config), "restore", str(archive), "--force") == 0


def _leased(world: World) -> bool:
    """A daemon holds the board's mailbox (not only a job's lease, taken first at start)."""
    with world.rig.sessions() as s:
        mailbox = Lease.name.startswith(MAILBOX_LEASE)
        return (s.scalar(select(func.count()).select_from(Lease).where(mailbox)) or 0) > 0


def test_archives_and_their_folder_are_private(
    world: World, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An archive holds every sender's mail and attachments: its owner's only."""
    umask = os.umask(0o022)
    try:
        archive = backup.create(world.deployed, backup.backup_dir(world.deployed), utcnow())
        shared = tmp_path / "chia-se"
        shared.mkdir(mode=0o755)
        elsewhere = backup.create(world.deployed, shared, utcnow())
    finally:
        os.umask(umask)
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    assert stat.S_IMODE(archive.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(elsewhere.stat().st_mode) == 0o600
    assert stat.S_IMODE(shared.stat().st_mode) == 0o755  # the operator's folder, left alone
    assert f"backup folder {shared} is open to other users" in caplog.text


def with_a_duplicate_row(archive: Path, table: str, target: Path) -> Path:
    """``archive`` with the last row of ``table`` twice (the manifest's checksum right):
    the restore fails on it after everything before was loaded."""
    name = f"{backup.DB}/{table}.jsonl"

    def doubled(member: str, data: bytes, _manifest: dict[str, Any]) -> bytes:
        return data + data.splitlines(keepends=True)[-1] if member == name else data

    return rewritten(archive, target, doubled)


@pytest.mark.parametrize("revision", [None, "0006"])
def test_a_failed_forced_restore_leaves_the_database_as_it_was(
    world: World, tmp_path: Path, revision: str | None
) -> None:
    """``--force`` empties the target only in the transaction that fills it again: a
    row refused halfway (of an archive at this schema, or at an older one that takes the
    schema back first), or a data folder that cannot be written, changes nothing."""
    archive = backup.create(world.deployed, tmp_path / "out", utcnow())
    if revision is not None:
        archive = as_of(archive, schema_at(revision, tmp_path), revision, tmp_path / "old.tar.gz")
    broken = with_a_duplicate_row(archive, "event", tmp_path / "broken.tar.gz")
    assert backup.verify(broken) == []
    before = table_rows(world.db_url)
    with pytest.raises(IntegrityError):
        restore.restore(broken, world.db_url, tmp_path / "elsewhere", force=True)
    assert table_rows(world.db_url) == before
    assert revision_of(world.db_url) == head()

    (tmp_path / "a-file").write_text("not a folder")
    with pytest.raises(OSError):
        restore.restore(archive, world.db_url, tmp_path / "a-file" / "var", force=True)
    assert table_rows(world.db_url) == before


@pytest.mark.parametrize("cut", [1, 4, 8])
def test_an_archive_cut_in_its_gzip_trailer_fails_verify(
    world: World, tmp_path: Path, cut: int
) -> None:
    """The last 8 bytes of a .tar.gz are its CRC and length, after the tar's end blocks:
    a copy that lost them is damaged, though every member reads."""
    archive = backup.create(world.deployed, tmp_path / "out", utcnow())
    cut_short = tmp_path / "cut.tar.gz"
    cut_short.write_bytes(archive.read_bytes()[:-cut])
    assert "không đọc được" in backup.verify(cut_short)[0]
    with pytest.raises(backup.BackupError, match="hỏng"):
        restore.restore(cut_short, f"sqlite:///{tmp_path}/r.db", tmp_path / "r")


class DiskFillsUp:
    """A restore's progress during which the disk fills up once ``after`` members are
    unpacked: writes past ``size`` bytes of a file fail then (EFBIG, as ENOSPC would)."""

    def __init__(self, after: int, size: int) -> None:
        self.after, self.size, self.done = after, size, 0
        self.limits = resource.getrlimit(resource.RLIMIT_FSIZE)
        self.signal = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the error, not a kill

    def begin(self, label: str, total: int) -> None:
        pass

    def advance(self, amount: int = 1) -> None:
        self.done += amount
        if self.done == self.after:
            resource.setrlimit(resource.RLIMIT_FSIZE, (self.size, self.limits[1]))

    def close(self) -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, self.limits)
        signal.signal(signal.SIGXFSZ, self.signal)


def test_a_forced_restore_that_fails_half_way_leaves_every_file_whole(
    world: World, tmp_path: Path
) -> None:
    """Restored over the deployment's own data folder, the archive's files replace files
    of the same name: the disk filling up half-way through one (after the tables) leaves
    every file there as it was, attachments and mail alike, as it does the database."""
    rig = world.rig
    scan = PNG * 200  # 200 KB, a scanned letter
    rig.drop(
        article_mail(SENDER, DEMO_BOX, "Công văn", attachments=[("cv.png", "image/png", scan)])
    )
    rig.runner.run_once()
    archive = backup.create(world.deployed, tmp_path / "out", utcnow())
    tables = sum(n.startswith("database/") for n in members(archive))
    before, files = table_rows(world.db_url), tree(world.data, leave_out=("bientap.db",))

    full = DiskFillsUp(after=tables, size=len(scan) // 2)
    try:
        with pytest.raises(OSError):
            restore.restore(archive, world.db_url, world.data, force=True, progress=full)
    finally:
        full.close()

    assert table_rows(world.db_url) == before
    assert tree(world.data, leave_out=("bientap.db",)) == files
    [stored] = [f for i in rig.items() for f in i.files if f.filename == "cv.png"]
    assert stored.sha256 is not None and rig.files.get(stored.sha256) == scan
