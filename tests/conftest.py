"""Shared fixtures. Real servers are started by the plugin modules listed here."""

from __future__ import annotations

pytest_plugins = [
    "tests.fixtures_mail",  # Dovecot (IMAP) and an SMTP server
    "tests.fixtures_db",  # SQLite and PostgreSQL databases
    "tests.fixtures_browser",  # headless Chromium
]
