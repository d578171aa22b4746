#!/usr/bin/env python3
"""The bientap daemon: every mailbox of every configured board, and the jobs around them.

python run_pipeline.py --config config/            # run until SIGTERM
python run_pipeline.py --config config/demo.toml --once   # every job once, then exit
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from types import FrameType

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.exc import OperationalError

from pipeline import claims, logs
from pipeline.app import (
    Deployed,
    Sweeper,
    Watcher,
    link_key,
    open_deployment,
    publishers,
    reporters,
    retainers,
    scheduled_backup,
    sweepers,
    watchers,
    web_server,
)
from pipeline.claims import DaemonLock
from pipeline.cli_argparse import root
from pipeline.cli_common import (
    OPERATOR_ERRORS,
    deployment_options,
    interrupted,
    operator_error,
    utf8_output,
)
from pipeline.publishing import Publisher
from pipeline.web import WebServer

log = logging.getLogger("bientap")
SWEEP_SECONDS = 300  # reminders and escalations are checked this often
IDLE_SLICE = 5.0  # longest single IDLE (s)
PUBLISH_SECONDS = 5  # approved items are sent to the CMS within this
RECHECK_SECONDS = 3600  # live posts are compared with what was approved this often
REPORT_SECONDS = 3600  # is a report period over, to be mailed?
PURGE_SECONDS = 86400  # personal data past its retention is anonymised daily
BACKUP_SECONDS = 3600  # is a backup due (backup_interval_days)?
STANDBY_SECONDS = 2.0  # a mailbox another daemon watches: its mail is processed this often


def parser() -> argparse.ArgumentParser:
    out = root(
        "run_pipeline.py",
        "Daemon bientap: đọc mọi hộp thư của mọi ban đã cấu hình và làm các việc đi kèm: "
        "duyệt, nhắc hạn, đăng bài, gửi thư, báo cáo, sao lưu (the bientap daemon)",
    )
    deployment_options(out)
    out.add_argument(
        "--once",
        action="store_true",
        help="làm mỗi việc một lần (hộp thư, đăng bài…) rồi thoát (every job once, then exit)",
    )
    out.add_argument(
        "-v", "--verbose", action="store_true", help="nhật ký chi tiết, mức DEBUG (verbose)"
    )
    out.add_argument(
        "--log-format",
        choices=logs.FORMATS,
        default=logs.default_format(),
        help="nhật ký dạng dòng chữ (text) hay mỗi dòng một đối tượng JSON (json); mặc định "
        f"lấy từ {logs.FORMAT_ENV}, không có thì text",
    )
    return out


def _args(argv: list[str] | None) -> argparse.Namespace:
    return parser().parse_args(argv)


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
        if not watcher.holds():  # another daemon watches it: help with what it fetched
            _standby(watcher)
            changed = True
            stop.wait(STANDBY_SECONDS)
            continue
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


def _standby(watcher: Watcher) -> None:
    try:
        watcher.runner.source.close()  # no IMAP session while another daemon has one
        watcher.run_once()
    except Exception:  # noqa: BLE001 - the daemon never dies of one pass
        log.exception("mailbox %s: pass failed", watcher.runner.mailbox)


def main(argv: list[str] | None = None) -> int:
    """The daemon; Ctrl-C outside the served loop (at start, in ``--once``) ends it with a
    line and the shell's code for it, after the same clean-up as any end."""
    utf8_output()
    try:
        return _main(argv)
    except KeyboardInterrupt:
        return interrupted()


def _main(argv: list[str] | None) -> int:
    args = _args(argv)
    logs.setup(logging.DEBUG if args.verbose else logging.INFO, args.log_format == "json")
    os.environ[logs.FORMAT_ENV] = args.log_format  # reader processes log the same way
    # every run of every job, and each run skipped while the last is still going: noise
    logging.getLogger("apscheduler").setLevel(logging.DEBUG if args.verbose else logging.ERROR)
    lock: DaemonLock | None = None
    try:
        link_key()  # refused before a database is made or migrated
        deployed = open_deployment(args.config, args.database_url, args.data_dir)
        logs.hide_secrets(deployed.boards)
        lock = DaemonLock(deployed.deployment.database_url)
        lock.acquire()
        if lock.path is not None:  # alone on a SQLite file: what was claimed is free
            claims.free(deployed.sessions)
        active = watchers(deployed)
        clocks = sweepers(deployed)
        outlets = publishers(deployed)
        web = None if args.once else web_server(deployed)
    except OPERATOR_ERRORS as exc:  # a setting, the database, a folder, the web address
        print(operator_error(exc, "Không khởi động được (cannot start)"), file=sys.stderr)
        if lock is not None:
            lock.release()
        return 2
    try:
        if web is None:
            return _once(deployed, active, clocks, outlets)
        return _serve(deployed, active, clocks, outlets, web)
    finally:
        for watcher in active:
            watcher.close()
        for outlet in outlets:
            outlet.cms.close()
        _hand_back(deployed)
        lock.release()


def _hand_back(d: Deployed) -> None:
    """Hand back this daemon's leases and claims: the other daemons take over at once. A
    database gone meanwhile, or locked by work Ctrl-C cut short, is no reason for a
    traceback at the end: they lapse by themselves."""
    try:
        d.crew.let_go(d.sessions)
    except OperationalError as exc:
        log.warning(
            "daemon %s: leases and claims not handed back (%s); they lapse within %d s",
            d.crew.holder,
            exc.orig,
            max(d.crew.lease_seconds, d.crew.claim_seconds),
        )


@dataclass(frozen=True)
class Job:
    """A clock-driven job of one board."""

    name: str
    board_id: str
    seconds: float  # how often
    run: Callable[[], object]
    singleton: bool  # one daemon at a time (a lease); else its work is claimed row by row


def _jobs(d: Deployed, clocks: list[Sweeper], outlets: list[Publisher]) -> list[Job]:
    """Every clock-driven job of the deployment, as data."""
    return [
        *(Job("reminders", c.board.id, SWEEP_SECONDS, c.run_once, True) for c in clocks),
        *(Job("publishing", p.board.id, PUBLISH_SECONDS, p.run_once, False) for p in outlets),
        *(Job("re-verification", p.board.id, RECHECK_SECONDS, p.recheck, True) for p in outlets),
        *(Job("reports", r.board.id, REPORT_SECONDS, r.run_once, True) for r in reporters(d)),
        *(Job("retention", r.board.id, PURGE_SECONDS, r.run_once, True) for r in retainers(d)),
        Job("backup", "*", BACKUP_SECONDS, lambda: scheduled_backup(d), True),
    ]


def _run(job: Job, d: Deployed) -> None:
    """One run of a job; the daemon never dies of one failing job. A singleton job runs
    only in the daemon holding its lease, held for its interval and renewed while it runs
    (a backup of many files may take longer than that): when that daemon dies, another
    runs it once the lease lapses."""
    name = f"job:{job.name}:{job.board_id}"
    seconds = job.seconds + d.crew.lease_seconds
    if job.singleton and not d.crew.hold(d.sessions, name, seconds):
        return
    kept: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
    if job.singleton:
        renew = functools.partial(d.crew.hold, d.sessions, name, seconds)
        kept = claims.heartbeat(d.crew.lease_seconds / 3, renew, name)
    try:
        with kept:
            result = job.run()
    except Exception:  # noqa: BLE001 - logged; the next run tries again
        log.exception("board=%s: %s failed", job.board_id, job.name)
        return
    if any(vars(result).values()):
        log.info("board=%s: %s: %s", job.board_id, job.name, result)


def _once(
    d: Deployed, active: list[Watcher], clocks: list[Sweeper], outlets: list[Publisher]
) -> int:
    """Every job once: reminders, a pass over every mailbox, publishing and the rest;
    exit 1 if a mailbox pass failed (for cron)."""
    jobs = _jobs(d, clocks, outlets)
    for job in jobs:
        if job.name == "reminders":
            _run(job, d)
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
    for job in jobs:
        if job.name != "reminders":
            _run(job, d)
    for watcher in active:  # mail the jobs caused (links to senders, alerts, reports)
        watcher.runner.deliver()
    return 1 if failed else 0


def _serve(
    d: Deployed,
    active: list[Watcher],
    clocks: list[Sweeper],
    outlets: list[Publisher],
    web: WebServer,
) -> int:
    stop = d.crew.leaving  # the work over a backlog ends with what is in hand
    scheduler = BackgroundScheduler(job_defaults={"coalesce": True, "max_instances": 1})
    for job in _jobs(d, clocks, outlets):
        scheduler.add_job(
            _run,
            "interval",
            seconds=job.seconds,
            args=[job, d],
            id=f"{job.name}:{job.board_id}",
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
        log.info("signal %d: stopping once the work in hand is done", signum)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    scheduler.start()
    for thread in idlers:
        thread.start()
    web.start()
    log.info(
        "daemon %s: watching %d mailbox(es) of %d board(s); reviewers' pages on %s:%d",
        d.crew.holder,
        len(active),
        len(d.boards),
        web.host,
        web.port,
    )
    stop.wait()
    web.stop()
    scheduler.shutdown(wait=True)
    for thread in idlers:
        thread.join()
    log.info("daemon %s: stopped", d.crew.holder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
