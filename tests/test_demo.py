"""What a newcomer does: runs scripts/demo.sh, opens the printed link in a browser,
approves, and finds the item on the static site the daemon serves; then runs it again."""

from __future__ import annotations

import http.client
import json
import os
import queue
import re
import signal
import socket
import subprocess
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import pytest
import requests
from playwright.sync_api import Page

from pipeline.samples import NEWS_TITLE
from tests.helpers import REPO

TCVN3_TITLE = "Sở Y tế triển khai chiến dịch tiêm chủng mở rộng"
SECRET_TITLE = "Báo cáo tình hình an ninh trật tự quý I"
LINK = re.compile(r"https?://\S+/duyet/\d+/\S+")
SITE = re.compile(r"https?://\S+/cong/")
BIENTAP = REPO / ".venv" / "bin" / "bientap"
PATIENCE = 300.0  # seconds before a hung script fails the test (a guard, not a measurement)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Demo:
    """scripts/demo.sh running: its output line by line, until its daemon is stopped."""

    process: subprocess.Popen[str]
    lines: queue.Queue[str | None] = field(default_factory=queue.Queue)
    seen: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        assert self.process.stdout is not None
        threading.Thread(target=self._read, args=[self.process.stdout], daemon=True).start()

    def _read(self, out: IO[str]) -> None:
        for line in out:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def until(self, pattern: re.Pattern[str]) -> str:
        """The first text matching ``pattern`` in the lines still to come."""
        deadline = time.monotonic() + PATIENCE
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=1)
            except queue.Empty:
                continue
            assert line is not None, "demo.sh ended early:\n" + "\n".join(self.seen)
            self.seen.append(line)
            found = pattern.search(line)
            if found:
                return found.group()
        raise AssertionError("demo.sh printed no such line:\n" + "\n".join(self.seen))

    def stop(self) -> int:
        """SIGTERM to the daemon (demo.sh execs it), as Ctrl-C or a service manager would."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(PATIENCE)


@dataclass
class Newcomer:
    tmp: Path
    port: int
    environ: dict[str, str]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> str:
        path = self.tmp / "demo" / "daemon.log"
        return path.read_text("utf-8") if path.exists() else ""

    @property
    def site(self) -> Path:
        return self.tmp / "demo" / "site"

    def run_demo(self) -> Demo:
        stderr = (self.tmp / "demo.stderr").open("a")
        process = subprocess.Popen(
            ["scripts/demo.sh"],
            cwd=REPO,
            env=self.environ,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        stderr.close()
        return Demo(process)

    def items(self) -> dict[str, dict[str, object]]:
        listed = subprocess.run(
            [str(BIENTAP), "--config", "config/demo.toml", "list", "--json"],
            cwd=REPO,
            env={**self.environ, "BIENTAP_DATABASE_URL": f"sqlite:///{self.tmp}/bientap.db"},
            capture_output=True,
            text=True,
            timeout=PATIENCE,
        )
        assert listed.returncode == 0, listed.stderr
        return {str(i["title"]): i for i in json.loads(listed.stdout)}

    def wait_for(self, demo: Demo, what: str, ready: Callable[[], bool]) -> None:
        """Poll until ``ready()``, while the daemon runs."""
        deadline = time.monotonic() + PATIENCE
        while not ready():
            assert demo.process.poll() is None, f"the daemon stopped:\n{self.log}"
            assert time.monotonic() < deadline, f"never {what}:\n{self.log}"
            time.sleep(0.5)

    def serving(self) -> bool:
        try:
            return requests.get(f"{self.base}/healthz", timeout=5).status_code == 200
        except requests.ConnectionError:
            return False

    def raw_status(self, path: str) -> int:
        """The status of a request sent as written (a browser would tidy ``..`` away)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request("GET", path)
            return connection.getresponse().status
        finally:
            connection.close()


@pytest.fixture
def newcomer(tmp_path: Path) -> Iterator[Newcomer]:
    port = free_port()
    environ = {
        k: v
        for k, v in os.environ.items()
        if k not in ("BIENTAP_DATABASE_URL", "BIENTAP_PUBLIC_URL", "BIENTAP_LINK_KEY")
    }
    environ |= {"BIENTAP_DATA_DIR": str(tmp_path), "BIENTAP_WEB_ADDRESS": f"127.0.0.1:{port}"}
    yield Newcomer(tmp_path, port, environ)


def test_the_newcomer_approves_in_a_browser_and_finds_the_item_on_the_site(
    newcomer: Newcomer, page: Page
) -> None:
    demo = newcomer.run_demo()
    try:
        link = demo.until(LINK)
        site = demo.until(SITE)
        assert site == f"{newcomer.base}/cong/"
        newcomer.wait_for(demo, "served the link pages", newcomer.serving)

        # the samples were read: TCVN3 converted, the MẬT one quarantined
        items = newcomer.items()
        assert len(items) == 4
        assert items[TCVN3_TITLE]["state"] == "pending_review"
        assert items[SECRET_TITLE]["state"] == "quarantined"

        # the site before anything is approved: empty, and says so
        page.goto(site)
        assert "Chưa có tin bài nào được đăng" in page.inner_text("body")

        page.goto(link)
        assert page.inner_text("#title") == NEWS_TITLE
        page.click("#approve")
        assert page.inner_text("h1") == "Đã ghi nhận"

        def listed() -> bool:
            return NEWS_TITLE in requests.get(site, timeout=10).text

        newcomer.wait_for(demo, "published the approved item", listed)
        page.goto(site)
        page.click(f"text={NEWS_TITLE}")
        heading = page.inner_text("h1")
        assert heading == NEWS_TITLE and unicodedata.is_normalized("NFC", heading)
        assert "hơn 1.200 học sinh lớp 12" in page.inner_text("#noi-dung")

        served = requests.get(site, timeout=10)
        assert "frame-ancestors 'none'" in served.headers["Content-Security-Policy"]
        assert SECRET_TITLE not in served.text
        assert SECRET_TITLE not in (newcomer.site / "index.json").read_text("utf-8")
        # the site is read-only and stays in its folder
        assert newcomer.raw_status("/cong/..%2f..%2fbientap.db") == 404
        assert newcomer.raw_status("/cong/.lock") == 404
        assert newcomer.items()[NEWS_TITLE]["state"] == "published"
    finally:
        returncode = demo.stop()
    assert returncode == 0, newcomer.log
    assert "stopping once the work in hand is done" in newcomer.log

    # again: nothing added twice, a fresh link to the item still waiting
    again = newcomer.run_demo()
    try:
        link = again.until(LINK)
        assert any("đã có từ lần chạy trước" in line for line in again.seen)
        newcomer.wait_for(again, "served the link pages", newcomer.serving)
        page.goto(link)
        assert page.inner_text("#title") == TCVN3_TITLE
        items = newcomer.items()
        assert len(items) == 4
        assert items[NEWS_TITLE]["state"] == "published"
        assert items[SECRET_TITLE]["state"] == "quarantined"
    finally:
        returncode = again.stop()
    assert returncode == 0, newcomer.log
