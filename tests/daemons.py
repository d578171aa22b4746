"""The daemon as its operators run it: ``run_pipeline.py`` in a subprocess of its own,
for the tests and the benchmarks that need one (or two) of them."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO, Self

REPO = Path(__file__).resolve().parents[1]


class Daemon:
    """``run_pipeline.py --config <folder>`` as a subprocess, its output in ``log``.
    The environment is the caller's without any BIENTAP_ setting, plus ``env``."""

    def __init__(
        self,
        config: Path,
        log: Path,
        env: dict[str, str] | None = None,
        verbose: bool = False,
    ) -> None:
        self.config, self.log, self.verbose = config, log, verbose
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("BIENTAP_")}
        self.env |= {"BIENTAP_LINK_KEY": secrets.token_hex(32)} | (env or {})
        self.proc: subprocess.Popen[bytes] | None = None
        self._out: IO[bytes] | None = None

    def __enter__(self) -> Self:
        self._out = self.log.open("ab")
        argv = [sys.executable, "run_pipeline.py", "--config", str(self.config)]
        self.proc = subprocess.Popen(
            argv + (["-v"] if self.verbose else []),
            cwd=REPO,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def check(self) -> None:
        """Raise if the daemon has exited."""
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"the daemon exited with {self.proc.returncode}:\n{self.tail()}")

    def tail(self, limit: int = 4000) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")[-limit:]

    def stop(self, timeout: float) -> tuple[int, float]:
        """SIGTERM; the exit status and how long the daemon took to exit."""
        assert self.proc is not None
        t0 = time.perf_counter()
        self.proc.send_signal(signal.SIGTERM)
        status = self.proc.wait(timeout=timeout)
        return status, time.perf_counter() - t0

    def kill(self) -> None:
        """SIGKILL: the daemon dies wherever it is, as in a power cut."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self._out is not None:
            self._out.close()


def wait_for(what: str, done: Callable[[], bool], daemons: list[Daemon], limit: float) -> None:
    """Poll until ``done()``; fail with the daemons' logs if it never comes."""
    end = time.monotonic() + limit
    while not done():
        for d in daemons:
            d.check()
        if time.monotonic() > end:
            raise AssertionError(f"{what}: not done\n" + "\n".join(d.tail() for d in daemons))
        time.sleep(0.5)
