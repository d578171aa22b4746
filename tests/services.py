"""Real, throwaway servers for tests and benchmarks: Dovecot (IMAP), an SMTP sink, PostgreSQL.

Plain classes without pytest so that ``bench/`` can reuse them. Every server listens on
127.0.0.1 on a free port, keeps all of its files in its own temporary directory and is
stopped at interpreter exit if the caller forgot to (``atexit``).

The system binaries come from Debian packages; when one is missing a ``RuntimeError``
tells to run ``scripts/install-system-deps.sh``.

Dovecot and PostgreSQL refuse to run their workers as root, so the working directory of
each server is created with ``tempfile.mkdtemp`` in a directory that the ``mail`` and
``postgres`` users can traverse (the system temp directory when the given one is private,
e.g. pytest's ``/tmp/pytest-of-root`` which is mode 0700).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import glob
import math
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from email.utils import parseaddr
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple, Protocol, Self

from imapclient import IMAPClient, imap_utf7

INSTALL_HINT = "run `scripts/install-system-deps.sh` (as root) to install the system packages"
LOCALHOST = "127.0.0.1"
_START_ATTEMPTS = 3  # a free port can be taken between probing and binding: retry then


# --------------------------------------------------------------------------- helpers


def require_binary(name: str, candidates: Sequence[str] = ()) -> str:
    """Absolute path of an executable, or a RuntimeError telling how to install it."""
    for candidate in candidates:
        if os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"Required program {name!r} was not found: {INSTALL_HINT}.")
    return found


def free_port(host: str = LOCALHOST) -> int:
    """A TCP port that was free a moment ago (bound to port 0, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def _read_tail(path: Path, limit: int = 6000) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return f"<no log at {path}>"
    return text[-limit:] if len(text) > limit else text


def _logs(*paths: Path) -> str:
    return "\n".join(f"--- {p} ---\n{_read_tail(p)}" for p in paths)


def _traversable_by(path: Path, uid: int, gid: int) -> bool:
    """True if a process with uid/gid (not root) can reach ``path``."""
    for part in [path, *path.parents]:
        try:
            st = part.stat()
        except OSError:
            return False
        if st.st_uid == uid:
            needed = stat.S_IXUSR
        elif st.st_gid == gid:
            needed = stat.S_IXGRP
        else:
            needed = stat.S_IXOTH
        if not st.st_mode & needed:
            return False
    return True


def _make_workdir(prefix: str, parent: Path | None, uid: int, gid: int) -> Path:
    """A fresh, short directory that a service user (uid/gid) can traverse."""
    base: Path | None = parent
    # Unix socket paths are limited to ~107 bytes: keep the base short as well.
    if base is not None and (len(str(base)) > 60 or not _traversable_by(base, uid, gid)):
        base = None
    _reap_stale(prefix, base)
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=base))
    path.chmod(0o755)
    (path / _OWNER_FILE).write_text(str(os.getpid()), encoding="ascii")
    return path


_OWNER_FILE = "owner.pid"
# pid files of the server in a work directory, relative to it
_SERVER_PID_FILES = ("run/master.pid", "data/postmaster.pid")


def _pid_alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie awaiting its parent counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return True
    return stat_line.rpartition(")")[2].split()[:1] != ["Z"]


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text(encoding="ascii").split()[0])
    except (OSError, IndexError, ValueError):
        return None


def _reap_stale(prefix: str, base: Path | None) -> None:
    """Stop servers and delete work directories left by a process that died without
    running its atexit handlers (e.g. a test run killed with SIGKILL)."""
    root = base if base is not None else Path(tempfile.gettempdir())
    for workdir in root.glob(f"{prefix}*"):
        owner = _read_pid(workdir / _OWNER_FILE)
        if owner is None or _pid_alive(owner):
            continue
        for relative in _SERVER_PID_FILES:
            pid = _read_pid(workdir / relative)
            if pid is None or not _pid_alive(pid):
                continue
            for sig in (signal.SIGTERM, signal.SIGKILL):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, sig)
                deadline = time.monotonic() + 5
                while _pid_alive(pid) and time.monotonic() < deadline:
                    time.sleep(0.05)
                if not _pid_alive(pid):
                    break
        shutil.rmtree(workdir, ignore_errors=True)


def _is_root() -> bool:
    return os.geteuid() == 0


def _kill_group(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM then SIGKILL a process started with ``start_new_session=True``."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if proc.poll() is not None:
            break
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            continue
    # Workers that outlived their master stay in its process group: reap them too.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


class _Stoppable(Protocol):
    def cleanup(self) -> None: ...


_RUNNING: set[_Stoppable] = set()
_RUNNING_LOCK = threading.Lock()


def _register(service: _Stoppable) -> None:
    with _RUNNING_LOCK:
        _RUNNING.add(service)


def _unregister(service: _Stoppable) -> None:
    with _RUNNING_LOCK:
        _RUNNING.discard(service)


@atexit.register
def _stop_all() -> None:
    with _RUNNING_LOCK:
        services = list(_RUNNING)
    for service in services:
        with contextlib.suppress(Exception):
            service.cleanup()


class _ServiceBase:
    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def cleanup(self) -> None:
        """Stop, and delete whatever the service wrote to disk."""
        self.stop()

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.cleanup()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cleanup()


# --------------------------------------------------------------------------- Dovecot

_USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+@-]{0,99}$")


class ImapAccount(NamedTuple):
    """An IMAP login on a test Dovecot; unpacks as ``(name, password)``."""

    name: str
    password: str


def _imap_quote(value: str | bytes) -> bytes:
    raw = value.encode("utf-8") if isinstance(value, str) else value
    if b"\r" in raw or b"\n" in raw or b"\0" in raw:
        raise ValueError("CR, LF and NUL cannot be sent in an IMAP quoted string")
    return b'"' + raw.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


class _RawImap:
    """Just enough IMAP over a socket to pipeline MULTIAPPEND with LITERAL+ literals.

    IMAPClient and imaplib send one APPEND per round trip; this sends hundreds of messages
    in a single command, which is what makes ``Dovecot.bulk_append`` fast.
    """

    def __init__(self, host: str, port: int, timeout: float = 60.0) -> None:
        self._sock = socket.create_connection((host, port), timeout=timeout)
        self._reader = self._sock.makefile("rb")
        self._counter = 0
        greeting = self._reader.readline()
        if not greeting.startswith(b"* OK"):
            raise RuntimeError(f"unexpected IMAP greeting: {greeting!r}")

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.command(b"LOGOUT")
        self._reader.close()
        self._sock.close()

    def command(self, *chunks: bytes) -> tuple[bytes, list[bytes]]:
        """Send ``TAG <chunks...>\\r\\n``; return (tagged status line, untagged lines)."""
        self._counter += 1
        tag = b"b%d" % self._counter
        self._sock.sendall(tag + b" " + b"".join(chunks) + b"\r\n")
        untagged: list[bytes] = []
        while True:
            line = self._reader.readline()
            if not line:
                raise RuntimeError("IMAP server closed the connection")
            if line.startswith(tag + b" "):
                return line[len(tag) + 1 :].rstrip(b"\r\n"), untagged
            untagged.append(line.rstrip(b"\r\n"))

    def check(self, *chunks: bytes) -> list[bytes]:
        status, untagged = self.command(*chunks)
        if not status.startswith(b"OK"):
            shown = b"".join(chunks)[:200]
            raise RuntimeError(f"IMAP command {shown!r} failed: {status!r}")
        return untagged


class Dovecot(_ServiceBase):
    """A throwaway Dovecot IMAP server (plaintext, loopback only) with passwd-file users.

    Users may be added before or after ``start()``: Dovecot re-reads the passwd-file when it
    changes. Mail is stored as Maildir under ``<workdir>/mail/<user>`` owned by ``mail:mail``.
    """

    def __init__(
        self,
        tmpdir: str | os.PathLike[str] | None = None,
        *,
        max_userip_connections: int = 100,
        start_timeout: float = 30.0,
        capabilities: str | None = None,
    ) -> None:
        self._parent = Path(tmpdir) if tmpdir is not None else None
        self._capabilities = capabilities  # e.g. "IMAP4rev1 IDLE": a server without MOVE
        self._max_userip = max_userip_connections
        self._start_timeout = start_timeout
        self._users: dict[str, str] = {}
        self._users_lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self.host = LOCALHOST
        self.port = 0
        self._root = self._make_root()
        _register(self)  # atexit: stop it and delete its files

    # -- paths -------------------------------------------------------------
    def _make_root(self) -> Path:
        mail = pwd.getpwnam("mail")
        root = _make_workdir("bientap-dovecot-", self._parent, mail.pw_uid, mail.pw_gid)
        (root / "mail").mkdir()
        (root / "users").mkdir()
        if _is_root():
            os.chown(root / "mail", mail.pw_uid, mail.pw_gid)
        return root

    @property
    def root(self) -> Path:
        """The working directory (config, logs, sockets, passwd-files, maildirs)."""
        return self._root

    @property
    def config_path(self) -> Path:
        return self.root / "dovecot.conf"

    @property
    def log_path(self) -> Path:
        return self.root / "dovecot.log"

    @property
    def instance_name(self) -> str:
        """Shown in the process titles of this instance (``<name>/imap`` ...)."""
        return f"bientap-{self.root.name}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def maildir(self, user: str) -> Path:
        return self.root / "mail" / user

    # -- users ---------------------------------------------------------------
    def add_user(self, name: str, password: str) -> ImapAccount:
        if not _USERNAME_RE.match(name):
            raise ValueError(f"unsupported IMAP user name {name!r}")
        if any(ch in password for ch in ":\r\n\0") or not password:
            raise ValueError("the password must be non-empty without ':', CR, LF or NUL")
        with self._users_lock:
            previous = self._users.get(name)
            changed = previous not in (None, password)
            self._users[name] = password
            if previous != password:
                self._write_user(name, password)
        if changed and self._proc is not None:
            self._wait_for_restat()
        return ImapAccount(name, password)

    @staticmethod
    def _wait_for_restat() -> None:
        """Dovecot stats a passwd-file at most once per clock second: once the next second
        has begun, every later login sees what was just written."""
        time.sleep(max(0.0, math.floor(time.time()) + 1.05 - time.time()))

    def new_user(self, prefix: str = "u") -> ImapAccount:
        """Add a user with a unique name and a random password."""
        return self.add_user(f"{prefix}{secrets.token_hex(6)}", secrets.token_urlsafe(12))

    def has_user(self, name: str) -> bool:
        with self._users_lock:
            return name in self._users

    def password(self, user: str) -> str:
        with self._users_lock:
            try:
                return self._users[user]
            except KeyError:
                raise KeyError(f"{user!r} was not added with Dovecot.add_user") from None

    def _write_users(self) -> None:
        for name, password in self._users.items():
            self._write_user(name, password)

    def _write_user(self, name: str, password: str) -> None:
        """One passwd-file per user (``users/<name>``).

        Dovecot re-stats a passwd-file at most once per second, so a user appended to a
        shared file right after another login would stay unknown for up to a second. With
        ``%u`` in the passdb path every new user is a new file, read on first login.
        """
        folder = self.root / "users"
        folder.mkdir(exist_ok=True)
        target = folder / name
        tmp = folder / f".{name}.tmp"
        tmp.write_text(f"{name}:{{PLAIN}}{password}::::::\n", encoding="utf-8")
        tmp.chmod(0o644)  # the auth process runs as the `dovecot` user
        with contextlib.suppress(FileNotFoundError):
            # Dovecot notices a change by (mtime in seconds, size) only: move mtime on.
            stamp = max(time.time(), target.stat().st_mtime + 1)
            os.utime(tmp, (stamp, stamp))
        os.replace(tmp, target)

    # -- lifecycle -----------------------------------------------------------
    def _config(self) -> str:
        root = self.root
        return f"""# Throwaway Dovecot written by tests/services.py
protocols = imap
listen = {self.host}
instance_name = {self.instance_name}
base_dir = {root}/run
state_dir = {root}/state
log_path = {self.log_path}
info_log_path = {self.log_path}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_verbose = yes
auth_failure_delay = 0
default_login_user = dovenull
default_internal_user = dovecot
first_valid_uid = 1
first_valid_gid = 1
mail_location = maildir:{root}/mail/%u
mail_fsync = never
mail_max_userip_connections = {self._max_userip}
default_process_limit = 200
default_client_limit = 1000
verbose_proctitle = yes
namespace inbox {{
  inbox = yes
  separator = /
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users/%u
}}
userdb {{
  driver = static
  args = uid=mail gid=mail home={root}/mail/%u
}}
service anvil {{
  # No auth penalty socket: the auth process then skips the per-IP delay that would slow
  # every later login from 127.0.0.1 for 15 s after one wrong password.
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = {self.host}
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
""" + (f"imap_capability = {self._capabilities}\n" if self._capabilities else "")

    def start(self) -> None:
        if self._proc is not None:
            return
        if not _is_root():
            raise RuntimeError("The Dovecot test server must be started as root (uid 0).")
        _register(self)
        if not self._root.exists():  # started again after cleanup()
            self._root = self._make_root()
            with self._users_lock:
                self._write_users()
        dovecot = require_binary("dovecot", ["/usr/sbin/dovecot"])
        require_binary("doveadm", ["/usr/bin/doveadm"])
        for attempt in range(1, _START_ATTEMPTS + 1):
            self.port = free_port(self.host)
            self.config_path.write_text(self._config(), encoding="utf-8")
            self.log_path.write_bytes(b"")
            stderr_path = self.root / "dovecot.stderr"
            with stderr_path.open("wb") as stderr:
                proc = subprocess.Popen(
                    [dovecot, "-F", "-c", str(self.config_path)],
                    stdin=subprocess.DEVNULL,
                    stdout=stderr,
                    stderr=subprocess.STDOUT,
                    cwd=self.root,
                    start_new_session=True,
                )
            self._proc = proc
            try:
                self._wait_ready(proc)
                return
            except RuntimeError as error:
                logs = _logs(self.log_path, stderr_path)
                self._terminate()
                if "in use" in logs and attempt < _START_ATTEMPTS:
                    continue
                raise RuntimeError(f"{error}\n{logs}") from None

    def _wait_ready(self, proc: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + self._start_timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"Dovecot exited with status {proc.returncode} while starting")
            with (
                contextlib.suppress(OSError),
                socket.create_connection((self.host, self.port), timeout=2.0) as sock,
            ):
                sock.settimeout(5.0)
                if sock.recv(256).startswith(b"* OK"):
                    return
            time.sleep(0.05)
        raise RuntimeError(f"Dovecot did not accept IMAP on port {self.port} in time")

    def stop(self) -> None:
        if self._proc is None:
            return
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run(
                [require_binary("doveadm", ["/usr/bin/doveadm"]), "-c", str(self.config_path)]
                + ["stop"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=15,
                check=False,
            )
        self._terminate()

    def _terminate(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
        _kill_group(proc, timeout=5)

    def cleanup(self) -> None:
        """Stop and delete the working directory (maildirs included)."""
        self.stop()
        _unregister(self)
        shutil.rmtree(self._root, ignore_errors=True)

    # -- IMAP helpers ----------------------------------------------------------
    @contextlib.contextmanager
    def client(self, user: str, *, timeout: float = 30.0) -> Iterator[IMAPClient]:
        """An IMAPClient logged in as ``user``; logs out on exit."""
        imap = IMAPClient(self.host, port=self.port, ssl=False, timeout=timeout)
        password = self.password(user)
        try:
            if password.isascii():
                imap.login(user, password)
            else:  # LOGIN is ASCII only in imaplib
                imap.plain_login(user, password)
            yield imap
        finally:
            with contextlib.suppress(Exception):
                imap.logout()

    @staticmethod
    def _ensure_folder(imap: IMAPClient, folder: str) -> None:
        if folder.upper() != "INBOX" and not imap.folder_exists(folder):
            imap.create_folder(folder)

    def append(
        self,
        user: str,
        raw: bytes,
        folder: str = "INBOX",
        flags: Sequence[str] = (),
    ) -> int | None:
        """Append one message (creating ``folder`` if needed); returns its UID if known."""
        with self.client(user) as imap:
            self._ensure_folder(imap, folder)
            response = imap.append(folder, raw, flags=tuple(flags))
        match = re.search(rb"\[APPENDUID \d+ (\d+)\]", response)
        return int(match.group(1)) if match else None

    def bulk_append(
        self,
        user: str,
        messages: Iterable[bytes],
        folder: str = "INBOX",
        *,
        batch_bytes: int = 8 * 1024 * 1024,
        batch_count: int = 1000,
    ) -> int:
        """Append many messages quickly; returns how many were appended.

        Uses one IMAP connection and MULTIAPPEND (RFC 3502) with non-synchronising
        LITERAL+ literals, so each batch of messages is a single command without round
        trips. Falls back to one APPEND per message if the server lacks either extension.
        Messages keep their order: UIDs ascend in the order given.
        """
        raw = _RawImap(self.host, self.port)
        try:
            raw.check(b"LOGIN ", _imap_quote(user), b" ", _imap_quote(self.password(user)))
            caps = b" ".join(raw.check(b"CAPABILITY")).upper().split()
            mailbox = _imap_quote(imap_utf7.encode(folder))
            if folder.upper() != "INBOX":
                status, _ = raw.command(b"CREATE ", mailbox)
                if not status.startswith(b"OK") and b"ALREADYEXISTS" not in status:
                    raise RuntimeError(f"cannot create {folder!r}: {status!r}")
            if b"MULTIAPPEND" not in caps or b"LITERAL+" not in caps:
                return self._append_one_by_one(user, messages, folder)
            total = 0
            batch: list[bytes] = []
            size = 0
            for message in messages:
                batch.append(message)
                size += len(message)
                if len(batch) >= batch_count or size >= batch_bytes:
                    total += self._multiappend(raw, mailbox, batch)
                    batch, size = [], 0
            if batch:
                total += self._multiappend(raw, mailbox, batch)
            return total
        finally:
            raw.close()

    @staticmethod
    def _multiappend(raw: _RawImap, mailbox: bytes, batch: Sequence[bytes]) -> int:
        parts = [b"APPEND ", mailbox]
        for message in batch:
            parts += [b" {%d+}\r\n" % len(message), message]
        raw.check(*parts)
        return len(batch)

    def _append_one_by_one(self, user: str, messages: Iterable[bytes], folder: str) -> int:
        total = 0
        with self.client(user) as imap:
            for message in messages:
                imap.append(folder, message)
                total += 1
        return total

    def messages(self, user: str, folder: str = "INBOX") -> list[bytes]:
        """The raw bytes (as served by IMAP, CRLF line ends) of every message, by UID."""
        with self.client(user) as imap:
            imap.select_folder(folder, readonly=True)
            uids = sorted(imap.search("ALL"))
            result: list[bytes] = []
            for start in range(0, len(uids), 500):
                chunk = uids[start : start + 500]
                fetched = imap.fetch(chunk, [b"BODY.PEEK[]"])
                result.extend(bytes(fetched[uid][b"BODY[]"]) for uid in chunk)
            return result

    def folders(self, user: str) -> list[str]:
        """Folder names (decoded from IMAP modified UTF-7) of ``user``."""
        with self.client(user) as imap:
            return [str(name) for _flags, _delim, name in imap.list_folders()]


# --------------------------------------------------------------------------- SMTP sink


@dataclass(frozen=True)
class ReceivedMessage:
    """One message accepted by ``SmtpSink``."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    login: str | None  # the SMTP AUTH user, if the client authenticated
    delivered_to: tuple[str, ...]  # Dovecot users whose INBOX received a copy


class SmtpSink(_ServiceBase):
    """An aiosmtpd server on 127.0.0.1 that records every message it accepts.

    With ``auth=(user, password)`` it offers AUTH PLAIN and LOGIN over the plain connection;
    clients may still send anonymously unless ``auth_required=True``. Without ``auth`` it
    does not advertise AUTH. With ``deliver_to=<Dovecot>`` every recipient whose address
    maps to a Dovecot user (through ``address_map`` or else the local part) also gets the
    message appended to that user's INBOX before the message is recorded. ``refuse`` maps
    a recipient address (or ``"*"``, any) to the reply it gets instead of 250 (a 4xx
    greylists, a 5xx refuses); it can be changed while the sink runs; refusals are listed.
    A sender address in ``refuse`` is refused at MAIL FROM. ``slow`` is how long it works on
    each message before it answers its DATA (a slow relay; other sessions go on).
    """

    def __init__(
        self,
        *,
        auth: tuple[str, str] | None = None,
        auth_required: bool = False,
        deliver_to: Dovecot | None = None,
        address_map: Mapping[str, str] | None = None,
        stamp: Callable[[bytes], str | None] | None = None,
    ) -> None:
        if auth_required and auth is None:
            raise ValueError("auth_required needs auth=(user, password)")
        self.host = LOCALHOST
        self.port = 0
        self.auth = auth
        self.auth_required = auth_required
        self.deliver_to = deliver_to
        self.address_map = {k.lower(): v for k, v in (address_map or {}).items()}
        self.stamp = stamp
        self.refuse: dict[str, str] = {}
        self.refused: list[str] = []  # the recipients answered from ``refuse``, in order
        self.slow = 0.0  # seconds over each message's DATA
        self._messages: list[ReceivedMessage] = []
        self._errors: list[str] = []
        self._cond = threading.Condition()
        self._controller: Any = None

    @property
    def username(self) -> str | None:
        return self.auth[0] if self.auth else None

    @property
    def password(self) -> str | None:
        return self.auth[1] if self.auth else None

    @property
    def messages(self) -> list[ReceivedMessage]:
        with self._cond:
            return list(self._messages)

    @property
    def errors(self) -> list[str]:
        """Delivery failures (each also answered with a 451 to the client)."""
        with self._cond:
            return list(self._errors)

    def clear(self) -> None:
        with self._cond:
            self._messages.clear()
            self._errors.clear()

    def wait_for(self, count: int = 1, timeout: float = 10.0) -> list[ReceivedMessage]:
        """Block until at least ``count`` messages were recorded; TimeoutError otherwise."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._messages) >= count, timeout=timeout):
                raise TimeoutError(
                    f"SmtpSink received {len(self._messages)} of {count} messages "
                    f"in {timeout} s; errors: {self._errors}"
                )
            return list(self._messages)

    def user_for(self, address: str) -> str | None:
        """The Dovecot user that ``address`` delivers to, if any."""
        if self.deliver_to is None:
            return None
        address = (parseaddr(address)[1] or address).lower()
        local, _, domain = address.rpartition("@")
        base = f"{local.partition('+')[0]}@{domain}"  # plus addressing, as real MTAs do
        user = self.address_map.get(address) or self.address_map.get(base) or base.partition("@")[0]
        return user if self.deliver_to.has_user(user) else None

    # -- aiosmtpd hooks --------------------------------------------------------
    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> Any:
        from aiosmtpd.smtp import AuthResult, LoginPassword

        fail = AuthResult(success=False, handled=False)
        if self.auth is None or mechanism not in ("PLAIN", "LOGIN"):
            return fail
        if not isinstance(auth_data, LoginPassword):
            return fail
        user_ok = secrets.compare_digest(auth_data.login, self.auth[0].encode("utf-8"))
        pass_ok = secrets.compare_digest(auth_data.password, self.auth[1].encode("utf-8"))
        return AuthResult(success=True, auth_data=auth_data) if user_ok and pass_ok else fail

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, mail_options: list[str]
    ) -> str:
        if self.auth_required and not session.authenticated:
            return "530 5.7.0 Authentication required"
        if address.lower() in self.refuse:  # a sender address refused (MAIL FROM)
            return self.refuse[address.lower()]
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        reply = self.refuse.get(address.lower(), self.refuse.get("*"))
        if reply is not None:
            with self._cond:
                self.refused.append(address.lower())
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(self.slow)
        data = envelope.original_content or envelope.content
        raw = data if isinstance(data, bytes) else str(data).encode("utf-8")
        stamped = self.stamp(raw) if self.stamp is not None else None
        if stamped:  # as the receiving server does: Authentication-Results on top
            raw = f"Authentication-Results: {stamped}\r\n".encode() + raw
        rcpts = tuple(str(r) for r in envelope.rcpt_tos)
        delivered: list[str] = []
        users = {u for u in (self.user_for(r) for r in rcpts) if u is not None}
        dovecot = self.deliver_to
        if dovecot is not None:
            loop = asyncio.get_running_loop()
            for user in sorted(users):
                try:
                    await loop.run_in_executor(None, dovecot.append, user, raw, "INBOX")
                except Exception as error:  # reported to the client and kept in .errors
                    with self._cond:
                        self._errors.append(f"delivery to {user}: {error!r}")
                        self._cond.notify_all()
                    return "451 4.3.0 Delivery to the IMAP mailbox failed"
                delivered.append(user)
        auth_data = session.auth_data if session.authenticated else None
        login = getattr(auth_data, "login", None)
        message = ReceivedMessage(
            mail_from=str(envelope.mail_from),
            rcpt_tos=rcpts,
            data=raw,
            login=login.decode("utf-8", "replace") if isinstance(login, bytes) else login,
            delivered_to=tuple(delivered),
        )
        with self._cond:
            self._messages.append(message)
            self._cond.notify_all()
        return "250 2.0.0 Message accepted"

    # -- lifecycle -----------------------------------------------------------
    def start(self, port: int = 0) -> None:
        """Start on ``port`` (again on the same one after ``stop``), else on a free one."""
        if self._controller is not None:
            return
        from aiosmtpd.controller import Controller

        last_error: Exception | None = None
        for _attempt in range(_START_ATTEMPTS):
            self.port = port or free_port(self.host)
            controller = Controller(
                self,
                hostname=self.host,
                port=self.port,
                ready_timeout=10.0,
                decode_data=False,
                enable_SMTPUTF8=True,
                authenticator=self._authenticate if self.auth else None,
                # Without credentials, keep AUTH un-advertised on the plain connection.
                auth_require_tls=self.auth is None,
                auth_exclude_mechanism=["CRAM-MD5"],
            )
            try:
                controller.start()
            except Exception as error:  # port taken between probing and binding
                last_error = error
                with contextlib.suppress(Exception):
                    controller.stop()
                continue
            self._controller = controller
            _register(self)
            return
        raise RuntimeError(f"SmtpSink could not start on {self.host}: {last_error!r}")

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        _unregister(self)
        if controller is not None:
            controller.stop()


# --------------------------------------------------------------------------- PostgreSQL

_DBNAME_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def find_postgres_bin() -> Path:
    """The newest ``/usr/lib/postgresql/<version>/bin`` holding initdb and pg_ctl."""

    def version(path: str) -> tuple[int, ...]:
        parts = Path(path).parent.name.split(".")
        return tuple(int(p) for p in parts if p.isdigit())

    candidates = [
        d
        for d in glob.glob("/usr/lib/postgresql/*/bin")
        if os.access(os.path.join(d, "initdb"), os.X_OK)
        and os.access(os.path.join(d, "pg_ctl"), os.X_OK)
    ]
    if not candidates:
        raise RuntimeError(f"PostgreSQL (initdb, pg_ctl) was not found: {INSTALL_HINT}.")
    return Path(max(candidates, key=version))


class Postgres(_ServiceBase):
    """A throwaway PostgreSQL cluster on 127.0.0.1 with trust authentication.

    As root the cluster is created and run by the ``postgres`` OS user (``runuser``); as
    another user it runs as that user. The superuser role is always ``postgres``.
    """

    def __init__(
        self,
        tmpdir: str | os.PathLike[str] | None = None,
        *,
        database: str = "bientap",
        start_timeout: float = 60.0,
    ) -> None:
        if not _DBNAME_RE.match(database):
            raise ValueError(f"unsupported database name {database!r}")
        self._parent = Path(tmpdir) if tmpdir is not None else None
        self.database = database
        self._start_timeout = start_timeout
        self._running = False
        self.host = LOCALHOST
        self.port = 0
        self.user = "postgres"
        self._root = self._make_root()
        _register(self)  # atexit: stop it and delete its files

    def _make_root(self) -> Path:
        uid, gid = self._owner()
        root = _make_workdir("bientap-pg-", self._parent, uid, gid)
        if _is_root():
            os.chown(root, uid, gid)
        return root

    @property
    def root(self) -> Path:
        """The working directory (data directory, socket, server log)."""
        return self._root

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_path(self) -> Path:
        return self.root / "postgres.log"

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the default database."""
        return self.url_for(self.database)

    def url_for(self, database: str) -> str:
        return f"postgresql+psycopg2://{self.user}@{self.host}:{self.port}/{database}"

    @staticmethod
    def _owner() -> tuple[int, int]:
        if _is_root():
            try:
                entry = pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError(f"There is no `postgres` OS user: {INSTALL_HINT}.") from None
            return entry.pw_uid, entry.pw_gid
        return os.getuid(), os.getgid()

    def _as_owner(self, argv: list[str]) -> list[str]:
        if _is_root():
            return [require_binary("runuser", ["/usr/sbin/runuser"]), "-u", "postgres", "--"] + argv
        return argv

    def _run(self, argv: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
        command = self._as_owner(argv)
        try:
            return subprocess.run(
                command,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                cwd=self.root,  # the postgres user cannot enter root's home directory
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as error:
            return subprocess.CompletedProcess(
                command, -1, str(error.stdout or ""), f"timed out after {timeout} s"
            )

    def start(self) -> None:
        if self._running:
            return
        bindir = find_postgres_bin()
        _register(self)
        if not self._root.exists():  # started again after cleanup()
            self._root = self._make_root()
        if not (self.data_dir / "PG_VERSION").exists():
            done = self._run(
                [str(bindir / "initdb"), "-D", str(self.data_dir), "-U", self.user]
                + ["-A", "trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"]
                + ["--no-instructions"],
                timeout=120,
            )
            if done.returncode != 0:
                raise RuntimeError(
                    f"initdb failed ({done.returncode}):\n{done.stdout}{done.stderr}"
                )
        for attempt in range(1, _START_ATTEMPTS + 1):
            self.port = free_port(self.host)
            options = (
                f"-p {self.port} -k {self.root} -c listen_addresses={self.host} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                "-c max_connections=100 -c shared_buffers=32MB"
            )
            done = self._run(
                [str(bindir / "pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log_path)]
                + ["-o", options, "-w", "-t", str(int(self._start_timeout)), "start"],
                timeout=self._start_timeout + 15,
            )
            if done.returncode == 0:
                self._running = True
                break
            logs = _read_tail(self.log_path)
            self._kill_postmaster()
            if "in use" in logs and attempt < _START_ATTEMPTS:
                continue
            raise RuntimeError(
                f"PostgreSQL failed to start ({done.returncode}):\n{done.stdout}{done.stderr}\n"
                f"--- {self.log_path} ---\n{logs}"
            )
        self.create_database(self.database, exist_ok=True)

    def stop(self) -> None:
        if not self._running:
            return
        self._running = False
        with contextlib.suppress(OSError, subprocess.SubprocessError, RuntimeError):
            self._run(
                [str(find_postgres_bin() / "pg_ctl"), "-D", str(self.data_dir)]
                + ["-m", "fast", "-w", "-t", "30", "stop"],
                timeout=45,
            )
        self._kill_postmaster()

    @property
    def pid(self) -> int | None:
        pid = _read_pid(self.data_dir / "postmaster.pid")
        return pid if pid is not None and _pid_alive(pid) else None

    def _kill_postmaster(self) -> None:
        pid = self.pid
        if pid is None:
            return
        for sig in (signal.SIGQUIT, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                if not _pid_alive(pid):
                    return
                time.sleep(0.05)

    def cleanup(self) -> None:
        """Stop and delete the cluster directory."""
        self.stop()
        _unregister(self)
        shutil.rmtree(self._root, ignore_errors=True)

    # -- databases -----------------------------------------------------------
    def _admin(self) -> Any:
        import psycopg2

        conn = psycopg2.connect(
            host=self.host, port=self.port, user=self.user, dbname="postgres", connect_timeout=10
        )
        conn.autocommit = True
        return conn

    def create_database(self, name: str, *, exist_ok: bool = False) -> str:
        """Create database ``name`` and return its SQLAlchemy URL."""
        if not _DBNAME_RE.match(name):
            raise ValueError(f"unsupported database name {name!r}")
        conn = self._admin()
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
                exists = cur.fetchone() is not None
                if exists and not exist_ok:
                    raise RuntimeError(f"database {name!r} already exists")
                if not exists:
                    cur.execute(f'CREATE DATABASE "{name}"')
        finally:
            conn.close()
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        """Drop ``name``, disconnecting any session still using it."""
        if not _DBNAME_RE.match(name):
            raise ValueError(f"unsupported database name {name!r}")
        conn = self._admin()
        try:
            with conn.cursor() as cur:
                cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            conn.close()

    def databases(self) -> list[str]:
        conn = self._admin()
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT datname FROM pg_database WHERE NOT datistemplate")
                return sorted(row[0] for row in cur.fetchall())
        finally:
            conn.close()
