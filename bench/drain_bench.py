#!/usr/bin/env python3
"""Drain throughput with one and with two daemons sharing one PostgreSQL database, and
the resident memory of one daemon over a long run.

A backlog of varied submissions (tests/workload.py) waits in the demo board's Maildir
inbox; real ``run_pipeline.py`` daemons (tests/daemons.py) are started on it and the
clock runs from their start until every submission is stored, reviewed-for and its
receipt and review request sent. One daemon is the baseline; two daemons are the same
work split by claims (pipeline/claims.py). Target: two daemons drain at least 1.6× as
fast as one on two cores.

Memory: one daemon drains ``--memory-items`` submissions; its resident set size
(VmRSS) is read after every 1,000 stored. Target: flat after the first 1,000.

    .venv/bin/python bench/drain_bench.py [--items 2000] [--memory-items 10000]
"""

from __future__ import annotations

import argparse
import secrets
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select  # noqa: E402

from connectors.maildir import deliver  # noqa: E402
from pipeline.db import open_database  # noqa: E402
from pipeline.models import OutgoingMail, Submission  # noqa: E402
from tests.daemons import Daemon  # noqa: E402
from tests.services import Postgres  # noqa: E402
from tests.test_several_daemons import write_config  # noqa: E402
from tests.workload import AGENCY_SENDERS, backlog  # noqa: E402

TARGET_RATIO = 1.6


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def drain(
    server: Postgres, items: int, daemons: int, memory_every: int = 0
) -> tuple[float, list[tuple[int, int]]]:
    """Seconds for ``daemons`` to drain ``items``; RSS samples (stored, KiB) if asked."""
    with tempfile.TemporaryDirectory(prefix="drain-") as tmp:
        folder = Path(tmp)
        url = server.create_database(f"drain_{secrets.token_hex(4)}")
        config = write_config(folder, url, None)
        _engine, sessions = open_database(url)
        for raw in backlog(items, senders=AGENCY_SENDERS):
            deliver(folder / "inbox", raw)
        running = [Daemon(config, folder / f"d{i}.log") for i in range(daemons)]
        samples: list[tuple[int, int]] = []
        t0 = time.perf_counter()
        for d in running:
            d.__enter__()
        try:
            while True:
                for d in running:
                    d.check()
                with sessions() as s:
                    stored = s.scalar(select(func.count(Submission.id))) or 0
                    unsent = s.scalar(
                        select(func.count(OutgoingMail.id)).where(OutgoingMail.sent_at.is_(None))
                    )
                if memory_every and stored >= (len(samples) + 1) * memory_every:
                    samples.append((stored, rss_kib(running[0].pid)))
                if stored >= items and not unsent:
                    break
                time.sleep(0.2)
            took = time.perf_counter() - t0
        finally:
            for d in running:
                d.stop(60)
                d.__exit__(None, None, None)
        return took, samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--memory-items", type=int, default=10000)
    args = parser.parse_args()
    with Postgres() as server:
        one, _ = drain(server, args.items, 1)
        two, _ = drain(server, args.items, 2)
        ratio = one / two
        print(f"drain of {args.items} submissions on PostgreSQL (2 cores)")
        print(f"  one daemon (baseline): {one:7.1f} s  {args.items / one:6.1f} items/s")
        print(f"  two daemons          : {two:7.1f} s  {args.items / two:6.1f} items/s")
        verdict = "met" if ratio >= TARGET_RATIO else "NOT met"
        print(f"  ratio two/one        : {ratio:7.2f}×  (target ≥ {TARGET_RATIO}×: {verdict})")
        if args.memory_items:
            _took, samples = drain(server, args.memory_items, 1, memory_every=1000)
            print(f"resident memory of one daemon over {args.memory_items} submissions")
            for stored, kib in samples:
                print(f"  after {stored:6d}: {kib / 1024:7.1f} MiB")
            if len(samples) >= 2:
                growth = (samples[-1][1] - samples[0][1]) / 1024
                print(f"  growth after the first 1,000: {growth:+.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
