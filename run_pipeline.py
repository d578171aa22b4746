#!/usr/bin/env python3
"""The bientap daemon: watch every mailbox of every configured board.

python run_pipeline.py --config config/            # run until SIGTERM
python run_pipeline.py --config config/demo.toml --once   # one pass, then exit
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
from types import FrameType

from apscheduler.schedulers.background import BackgroundScheduler

from pipeline.app import (
    Sweeper,
    Watcher,
    open_deployment,
    publishers,
    sweepers,
    watchers,
    web_server,
)
from pipeline.config import ConfigError
from pipeline.publishing import Publisher
from pipeline.web import WebServer

log = logging.getLogger("bientap")
SWEEP_SECONDS = 300  # reminders and escalations are checked this often
IDLE_SLICE = 5.0  # longest single IDLE (s)
PUBLISH_SECONDS = 5  # approved items are sent to the CMS within this
RECHECK_SECONDS = 3600  # live posts are compared with what was approved this often


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--config", default="config", help="a board file or a folder of them")
    parser.add_argument(
        "--once", action="store_true", help="one pass over every mailbox, then exit"
    )
    parser.add_argument("--database-url", help="overrides deployment.toml and BIENTAP_DATABASE_URL")
    parser.add_argument("--data-dir", help="overrides deployment.toml and BIENTAP_DATA_DIR")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


def _watch(watcher: Watcher) -> None:
    """One scheduled run of a polled mailbox: a pass."""
    watcher.run_once()


def _idle(watcher: Watcher, stop: threading.Event) -> None:
    """An IDLE mailbox until SIGTERM, in its own thread: a pass, then IDLE; a pass after
    every change the server reports, and every poll_seconds anyway. IDLE is re-issued
    every IDLE_SLICE so that SIGTERM is seen soon."""
    box = watcher.mailbox
    changed, due = True, 0.0
    while not stop.is_set():
        if changed or time.monotonic() >= due:
            try:
                result = watcher.run_once()
            except Exception:  # noqa: BLE001 - the daemon never dies of one pass
                log.exception("mailbox %s: pass failed", watcher.runner.mailbox)
                result = None
            due = time.monotonic() + box.poll_seconds
            if result is None:  # server unwell: Watcher set the backoff
                stop.wait(max(1.0, watcher.retry_at - time.monotonic()))
                continue
        try:
            changed = watcher.runner.source.wait(max(0.0, min(IDLE_SLICE, due - time.monotonic())))
        except Exception as exc:  # noqa: BLE001 - a dropped IDLE: the next pass reconnects
            log.warning("mailbox %s: IDLE ended: %s", watcher.runner.mailbox, exc)
            changed = True
            stop.wait(1.0)


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        deployed = open_deployment(args.config, args.database_url, args.data_dir)
        active = watchers(deployed)
        clocks = sweepers(deployed)
        outlets = publishers(deployed)
        web = None if args.once else web_server(deployed)
    except ConfigError as exc:
        print(f"configuration error:\n{exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # the web address is taken
        print(f"cannot serve reviewers' pages: {exc}", file=sys.stderr)
        return 2
    try:
        if web is None:
            return _once(active, clocks, outlets)
        return _serve(active, clocks, outlets, web, len(deployed.boards))
    finally:
        for watcher in active:
            watcher.close()
        for outlet in outlets:
            outlet.cms.close()


def _job(name: str, board_id: str, run: Callable[[], object]) -> None:
    """One run of a board's clock-driven job; the daemon never dies of one failing job."""
    try:
        result = run()
    except Exception:  # noqa: BLE001 - logged; the next run tries again
        log.exception("board=%s: %s failed", board_id, name)
        return
    if any(vars(result).values()):
        log.info("board=%s: %s: %s", board_id, name, result)


def _jobs(
    clocks: list[Sweeper], outlets: list[Publisher]
) -> list[tuple[str, float, Callable[[], object], str]]:
    """Every board's clock-driven jobs: (name, interval in seconds, what to run, board)."""
    return [
        *(("reminders", SWEEP_SECONDS, c.run_once, c.board.id) for c in clocks),
        *(("publishing", PUBLISH_SECONDS, p.run_once, p.board.id) for p in outlets),
        *(("re-verification", RECHECK_SECONDS, p.recheck, p.board.id) for p in outlets),
    ]


def _once(active: list[Watcher], clocks: list[Sweeper], outlets: list[Publisher]) -> int:
    """Reminders, one pass over every mailbox, then publishing; exit 1 if a mailbox pass
    failed (for cron)."""
    for sweeper in clocks:
        _job("reminders", sweeper.board.id, sweeper.run_once)
    failed = 0
    for watcher in active:
        result = watcher.run_once()
        name = f"{watcher.runner.board.id}/{watcher.runner.mailbox}"
        if result is None:
            failed += 1
            log.error("%s: pass failed, see the warning above", name)
        else:
            log.info(
                "%s: recorded %d, processed %d, sent %d, filed %d",
                name,
                result.recorded,
                result.processed,
                result.sent,
                result.filed,
            )
    for outlet in outlets:
        _job("publishing", outlet.board.id, outlet.run_once)
    for watcher in active:  # mail the publishing caused (links to senders, alerts)
        watcher.runner.deliver()
    return 1 if failed else 0


def _serve(
    active: list[Watcher],
    clocks: list[Sweeper],
    outlets: list[Publisher],
    web: WebServer,
    boards: int,
) -> int:
    stop = threading.Event()
    scheduler = BackgroundScheduler(job_defaults={"coalesce": True, "max_instances": 1})
    for name, seconds, run, board_id in _jobs(clocks, outlets):
        scheduler.add_job(
            _job,
            "interval",
            seconds=seconds,
            args=[name, board_id, run],
            id=f"{name}:{board_id}",
            next_run_time=datetime.now(),
        )
    idlers: list[threading.Thread] = []
    for watcher in active:
        box = watcher.mailbox
        name = f"watch:{watcher.runner.board.id}:{box.name}"
        if box.source == "imap" and box.idle:
            idlers.append(threading.Thread(target=_idle, args=[watcher, stop], name=name))
            continue
        scheduler.add_job(
            _watch,
            "interval",
            seconds=box.poll_seconds,
            args=[watcher],
            id=name,
            next_run_time=datetime.now(),
        )

    def _stop(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: finishing the message in hand", signum)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    scheduler.start()
    for thread in idlers:
        thread.start()
    web.start()
    log.info(
        "watching %d mailbox(es) of %d board(s); reviewers' pages on %s:%d",
        len(active),
        boards,
        web.host,
        web.port,
    )
    stop.wait()
    web.stop()
    scheduler.shutdown(wait=True)
    for thread in idlers:
        thread.join()
    return 0


if __name__ == "__main__":
    sys.exit(main())
