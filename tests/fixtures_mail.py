"""Mail fixtures: one real Dovecot per session, a fresh IMAP user and SMTP sink per test."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.services import Dovecot, ImapAccount, SmtpSink

MakeImapUser = Callable[..., ImapAccount]
MakeSmtpSink = Callable[..., SmtpSink]


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    """A Dovecot IMAP server on 127.0.0.1, started once and removed after the session."""
    with Dovecot() as server:
        yield server


@pytest.fixture
def make_imap_user(dovecot: Dovecot) -> MakeImapUser:
    """Factory: ``make_imap_user(prefix="u")`` adds a uniquely named user to ``dovecot``."""

    def make(prefix: str = "u") -> ImapAccount:
        return dovecot.new_user(prefix)

    return make


@pytest.fixture
def imap_user(make_imap_user: MakeImapUser) -> ImapAccount:
    """A fresh ``(user, password)`` on the session Dovecot, with an empty mailbox."""
    return make_imap_user()


@pytest.fixture
def make_smtp_sink() -> Iterator[MakeSmtpSink]:
    """Factory taking ``SmtpSink`` keyword arguments; every sink stops after the test."""
    sinks: list[SmtpSink] = []

    def make(**kwargs: Any) -> SmtpSink:
        sink = SmtpSink(**kwargs)
        sinks.append(sink)
        sink.start()
        return sink

    yield make
    for sink in sinks:
        sink.stop()


@pytest.fixture
def smtp_sink(make_smtp_sink: MakeSmtpSink) -> SmtpSink:
    """A fresh SMTP sink that offers AUTH PLAIN/LOGIN (``sink.username``/``sink.password``)
    over plain SMTP but also accepts anonymous senders; it only records messages."""
    return make_smtp_sink(auth=("bientap", secrets.token_urlsafe(12)))
