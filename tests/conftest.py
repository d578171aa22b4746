"""Shared fixtures. Real servers are started by the plugin modules listed here."""

from __future__ import annotations

pytest_plugins = [
    "tests.fixtures_mail",  # Dovecot (IMAP) and an SMTP server
    "tests.fixtures_db",  # SQLite and PostgreSQL databases
    "tests.fixtures_browser",  # headless Chromium
    "tests.review_loop",  # the review loop on Dovecot and SMTP
    "tests.fixtures_cms",  # WordPress (PHP's built-in server and MariaDB)
]


def pytest_configure() -> None:
    # The daemon signs reviewers' links with this key; tests run it as a newcomer would.
    import os

    os.environ.setdefault("BIENTAP_LINK_KEY", "hex:" + bytes(range(32)).hex())
    os.environ.setdefault("BIENTAP_WEB_ADDRESS", "127.0.0.1:0")  # daemons under test: any port
