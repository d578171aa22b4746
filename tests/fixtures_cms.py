"""CMS fixtures: one real WordPress (Debian's, on PHP's built-in server and MariaDB) per
test session. Tests share it: each should create its own posts (unique ``bientap_key``)
rather than expect an empty site."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.wordpress import WordPress


@pytest.fixture(scope="session")
def wordpress() -> Iterator[WordPress]:
    """A WordPress site on 127.0.0.1 with an admin and an Application Password
    (``wordpress.url``, ``.rest_url(route)``, ``.auth``), removed after the session."""
    with WordPress() as site:
        yield site
