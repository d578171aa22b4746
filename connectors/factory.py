"""Builds the connectors a board's configuration names."""

from __future__ import annotations

from pathlib import Path

from connectors.base import MailSender, MailSource
from connectors.imap import ImapSource
from connectors.maildir import MaildirSource, OutboxSender
from connectors.smtp import SmtpSender
from pipeline.config import Mailbox, MailOut


def _resolve(data_dir: Path, path: str) -> Path:
    p = Path(path)
    return p if p.is_absolute() else data_dir / p


def mail_source(box: Mailbox, data_dir: Path) -> MailSource:
    if box.source == "maildir":
        assert box.path is not None
        return MaildirSource(box.name, _resolve(data_dir, box.path))
    assert box.host and box.username and box.password
    return ImapSource(
        box.name,
        box.host,
        box.port,
        box.username,
        box.password.reveal(),
        use_ssl=box.ssl,
        folder=box.folder,
        idle=box.idle,
    )


def mail_sender(out: MailOut, data_dir: Path) -> MailSender:
    if out.transport == "outbox":
        return OutboxSender(_resolve(data_dir, out.path))
    assert out.host is not None
    return SmtpSender(
        out.host,
        out.port,
        username=out.username,
        password=out.password.reveal() if out.password else None,
        starttls=out.starttls,
        use_ssl=out.ssl,
    )
