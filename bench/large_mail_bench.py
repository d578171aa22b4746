#!/usr/bin/env python3
"""Memory of one pass over a backlog of large mail (scanned documents, photos).

The demo board's Maildir inbox holds ``--mails`` submissions, each with a
``--mb`` MB attachment (random bytes: a scan does not compress); ``run_pipeline.py
--once`` drains it on SQLite, and the resident set size (VmRSS) of the daemon and of
its reader processes is sampled every 0.1 s. The baseline, in the same run, is the
same number of mails with a 4 KB attachment: what the large mail adds is the
difference. Readers and the daemon hold about 32 MB of mail at a time (Maildir reads,
database loads and the readers' hand-over are bounded by size), so the difference
stays near a few times that, not the backlog's size.

    .venv/bin/python bench/large_mail_bench.py [--mails 16] [--mb 12]
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from connectors.maildir import deliver  # noqa: E402
from pipeline.samples import article_mail  # noqa: E402

SENDER = "nhung.ltt@sgddt.demo.bientap.vn"
BOX = "bbt@demo.bientap.vn"
SMALL = 4096


def rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as found:
            return [int(child) for child in found.read().split()]
    except OSError:
        return []


def one_pass(mails: int, size: int) -> tuple[float, float, float]:
    """Peak MB of the daemon and of its largest reader, and the seconds the pass took."""
    with tempfile.TemporaryDirectory(prefix="bientap-large-") as tmp:
        data = Path(tmp)
        inbox = data / "demo" / "inbox"
        for i in range(mails):
            scan = [(f"cong-van-{i}.pdf", "application/pdf", os.urandom(size))]
            deliver(
                inbox, article_mail(SENDER, BOX, f"Công văn số {i}", "Xem tệp.", attachments=scan)
            )
        env = dict(
            os.environ,
            BIENTAP_DATA_DIR=str(data),
            BIENTAP_DATABASE_URL=f"sqlite:///{data}/bientap.db",
            BIENTAP_LINK_KEY=secrets.token_hex(32),
        )
        command = [sys.executable, str(ROOT / "run_pipeline.py"), "--config"]
        command += [str(ROOT / "config" / "demo.toml"), "--once"]
        started = time.perf_counter()
        daemon = subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        peaks = {"daemon": 0.0, "reader": 0.0}

        def watch() -> None:
            while daemon.poll() is None:
                peaks["daemon"] = max(peaks["daemon"], rss_mb(daemon.pid))
                for child in children(daemon.pid):
                    peaks["reader"] = max(peaks["reader"], rss_mb(child))
                time.sleep(0.1)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        _, log = daemon.communicate()
        if daemon.returncode != 0:
            raise SystemExit(f"the pass failed (exit {daemon.returncode}):\n{log.decode()[-2000:]}")
        watcher.join()
        return peaks["daemon"], peaks["reader"], time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mails", type=int, default=16)
    parser.add_argument("--mb", type=int, default=12)
    args = parser.parse_args()
    small = one_pass(args.mails, SMALL)
    large = one_pass(args.mails, args.mb * 1024 * 1024)
    print(f"one --once pass over {args.mails} mails, peak resident memory (MB):")
    print(
        f"  {SMALL // 1024} KB attachments : daemon {small[0]:6.0f}, reader {small[1]:5.0f}"
        f"  ({small[2]:.1f} s)  (baseline)"
    )
    print(
        f"  {args.mb} MB attachments : daemon {large[0]:6.0f}, reader {large[1]:5.0f}"
        f"  ({large[2]:.1f} s)"
    )
    backlog = args.mails * args.mb * 4 / 3  # base64 in the mail
    print(
        f"  added by the large mail: daemon {large[0] - small[0]:.0f} MB, reader"
        f" {large[1] - small[1]:.0f} MB, for a backlog of {backlog:.0f} MB as mailed"
    )


if __name__ == "__main__":
    main()
