"""Builds the connectors a board's configuration names."""

from __future__ import annotations

from pathlib import Path

from connectors.base import MailSender, MailSource
from connectors.cms import Cms
from connectors.imap import ImapSource
from connectors.maildir import MaildirSource, OutboxSender
from connectors.smtp import SmtpSender
from pipeline.config import Mailbox, MailOut, Publish


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


def cms(publish: Publish, data_dir: Path) -> Cms:
    """The CMS connector a board's ``[publish]`` names; secrets are read here. Imported
    when named, so a deployment loads only the connectors it uses."""
    if publish.connector == "wordpress":
        from connectors.wordpress import WordPressCms

        assert publish.wordpress is not None
        return WordPressCms(publish.wordpress)
    if publish.connector == "rest":
        from connectors.rest import RestCms

        assert publish.rest is not None
        return RestCms(publish.rest)
    if publish.connector == "liferay":
        from connectors.liferay import LiferayCms

        assert publish.liferay is not None
        return LiferayCms(publish.liferay)
    from connectors.static_site import StaticSiteCms

    return StaticSiteCms(publish.static, data_dir)
