"""A real, throwaway WordPress for tests: Debian's WordPress on PHP's built-in web server,
with its own MariaDB, everything on 127.0.0.1 and in one temporary directory.

Debian's ``/usr/share/wordpress/wp-config.php`` reads ``/etc/wordpress/config-<host>.php``,
so two test sessions on one machine would share (and fight over) one config file. This
module does not use it: each instance serves its own document root holding its own
``wp-config.php``, symlinks to the core files in /usr/share/wordpress and a writable
``wp-content`` (uploads, mu-plugins). Core files resolve ``__DIR__`` to
/usr/share/wordpress, so ``ABSPATH`` is defined up front (PHP's ``auto_prepend_file``),
and ``wp-load.php`` then loads this instance's ``wp-config.php``.

The admin talks to the REST API with an Application Password (``WP_ENVIRONMENT_TYPE`` is
``local``, which allows them over plain HTTP). Permalinks are plain, so the REST API lives
at ``/?rest_route=/wp/v2/...``. A must-use plugin registers the ``bientap_*`` post meta
and lets ``GET /wp/v2/posts`` filter by ``bientap_key``.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

from tests.services import (
    _OWNER_FILE,
    _START_ATTEMPTS,
    LOCALHOST,
    _is_root,
    _kill_group,
    _logs,
    _make_workdir,
    _pid_alive,
    _read_pid,
    _register,
    _ServiceBase,
    _unregister,
    free_port,
    port_accepts,
    require_binary,
)

WORDPRESS_DIR = Path("/usr/share/wordpress")
WORKDIR_PREFIX = "bientap-wp-"
MYSQL_USER = "mysql"

META_KEYS = (
    "bientap_key",
    "bientap_document_number",
    "bientap_document_issuer",
    "bientap_document_issued",
    "bientap_document_effective",
    "bientap_document_summary",
    "bientap_document_kind",
)


_MU_PLUGIN = """<?php
/**
 * Plugin Name: bientap test support
 * Description: Post meta of the bientap connector; posts can be looked up by bientap_key.
 */

const BIENTAP_META_KEYS = [%(keys)s];

add_action('init', function () {
    foreach (BIENTAP_META_KEYS as $key) {
        register_post_meta('post', $key, [
            'show_in_rest' => true,
            'single' => true,
            'type' => 'string',
        ]);
    }
});

// GET /wp/v2/posts?bientap_key=K (with status=any for drafts and scheduled posts).
add_filter('rest_post_collection_params', function ($params) {
    $params['bientap_key'] = [
        'description' => 'Limit the result to posts with this bientap idempotency key.',
        'type' => 'string',
    ];
    return $params;
});

add_filter('rest_post_query', function ($args, $request) {
    $key = $request->get_param('bientap_key');
    if (null !== $key) {
        $args['meta_query'] = array_merge(
            isset($args['meta_query']) ? $args['meta_query'] : [],
            [['key' => 'bientap_key', 'value' => (string) $key, 'compare' => '=']]
        );
    }
    return $args;
}, 10, 2);

// Attachments the editorial boards send (WordPress allows most of them already).
add_filter('upload_mimes', function ($mimes) {
    return array_merge($mimes, [
        'pdf' => 'application/pdf',
        'docx' => 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
        'xlsx' => 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
        'zip' => 'application/zip',
    ]);
});
"""

# Runs after install: plain permalinks, Vietnamese time, no sample content, an app password.
_SETUP_PHP = """
update_option('permalink_structure', '');
update_option('timezone_string', %(timezone)s);
update_option('blogdescription', '');
flush_rewrite_rules(false);
foreach (get_posts(['post_type' => ['post', 'page'], 'post_status' => 'any',
                    'numberposts' => -1, 'fields' => 'ids']) as $id) {
    wp_delete_post($id, true);
}
foreach (get_comments(['fields' => 'ids']) as $id) {
    wp_delete_comment($id, true);
}
$user = get_user_by('login', %(username)s);
if (!$user) {
    fwrite(STDERR, "no such user\\n");
    exit(1);
}
$created = WP_Application_Passwords::create_new_application_password(
    $user->ID, ['name' => 'bientap-tests']
);
if (is_wp_error($created)) {
    fwrite(STDERR, $created->get_error_message() . "\\n");
    exit(1);
}
echo $created[0];
"""


def _php_string(value: str) -> str:
    """A single-quoted PHP string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _processes_mentioning(marker: str) -> list[int]:
    """Live processes whose command line contains ``marker``."""
    needle = marker.encode()
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if needle in cmdline and _pid_alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def _reap_stale_sites(base: Path | None) -> None:
    """Stop the MariaDB and PHP processes (PHP's workers included) left by a test process
    that died without cleaning up, and delete their work directory. Both name the work
    directory on their command line, which tells them apart from anything else."""
    root = base if base is not None else Path(tempfile.gettempdir())
    for workdir in root.glob(f"{WORKDIR_PREFIX}*"):
        owner = _read_pid(workdir / _OWNER_FILE)
        if owner is None or _pid_alive(owner):
            continue
        marker = f"{workdir}/"
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in _processes_mentioning(marker):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, sig)
            deadline = time.monotonic() + 5
            while _processes_mentioning(marker) and time.monotonic() < deadline:
                time.sleep(0.05)
        shutil.rmtree(workdir, ignore_errors=True)


class WordPress(_ServiceBase):
    """A throwaway WordPress site with an admin and an Application Password.

    ``url`` is the site address, ``rest_url(route)`` the address of a REST route and
    ``auth`` the ``(username, app_password)`` pair for ``requests``. ``stop_http()`` and
    ``start_http()`` take only the web server down and up again on the same port.
    As root, MariaDB runs as the ``mysql`` user; PHP runs as the calling user.
    """

    def __init__(
        self,
        tmpdir: str | os.PathLike[str] | None = None,
        *,
        username: str = "admin",
        title: str = "Cổng thông tin điện tử (thử nghiệm)",
        timezone: str = "Asia/Ho_Chi_Minh",
        workers: int = 4,
        start_timeout: float = 60.0,
    ) -> None:
        self._parent = Path(tmpdir) if tmpdir is not None else None
        self.host = LOCALHOST
        self.port = 0
        self.db_port = 0
        self.username = username
        self.password = secrets.token_urlsafe(12)  # the login password (admin pages)
        self.email = f"{username}@example.gov.vn"
        self.title = title
        self.timezone = timezone
        self.app_password = ""
        self.db_name = "wordpress"
        self.db_user = "wordpress"
        self.db_password = secrets.token_hex(12)
        self._workers = workers
        self._start_timeout = start_timeout
        self._db_proc: subprocess.Popen[bytes] | None = None
        self._http_proc: subprocess.Popen[bytes] | None = None
        self._salts = self._make_salts()
        self._root = self._make_root()
        _register(self)  # atexit: stop it and delete its files

    # -- paths -----------------------------------------------------------------
    @staticmethod
    def _db_owner() -> tuple[int, int]:
        if _is_root():
            try:
                entry = pwd.getpwnam(MYSQL_USER)
            except KeyError:
                raise RuntimeError(
                    "There is no `mysql` OS user: run `scripts/install-system-deps.sh`."
                ) from None
            return entry.pw_uid, entry.pw_gid
        return os.getuid(), os.getgid()

    def _make_root(self) -> Path:
        uid, gid = self._db_owner()
        _reap_stale_sites(None)
        if self._parent is not None:
            _reap_stale_sites(self._parent)
        root = _make_workdir(WORKDIR_PREFIX, self._parent, uid, gid)
        (root / "db").mkdir()
        if _is_root():
            os.chown(root / "db", uid, gid)
        return root

    @property
    def root(self) -> Path:
        """The working directory (database, document root, logs)."""
        return self._root

    @property
    def db_dir(self) -> Path:
        return self.root / "db"

    @property
    def db_socket(self) -> Path:
        return self.db_dir / "mysql.sock"

    @property
    def site_dir(self) -> Path:
        """The document root of the PHP server (and WordPress's ABSPATH)."""
        return self.root / "site"

    @property
    def content_dir(self) -> Path:
        """``WP_CONTENT_DIR``: uploads and mu-plugins."""
        return self.site_dir / "wp-content"

    @property
    def uploads_dir(self) -> Path:
        return self.content_dir / "uploads"

    @property
    def db_log_path(self) -> Path:
        return self.db_dir / "error.log"

    @property
    def http_log_path(self) -> Path:
        """PHP's server log: one line per request, PHP warnings and errors."""
        return self.root / "php.log"

    # -- addresses and credentials -----------------------------------------------
    @property
    def url(self) -> str:
        """The base address of the site, without a trailing slash."""
        return f"http://{self.host}:{self.port}"

    def rest_url(self, route: str) -> str:
        """The address of a REST route, e.g. ``rest_url("/wp/v2/posts")``.

        A query in ``route`` is kept: ``rest_url("/wp/v2/posts?context=edit")`` gives
        ``<url>/?rest_route=/wp/v2/posts&context=edit``; ``requests``' ``params=`` work too.
        """
        path, _, query = route.partition("?")
        address = f"{self.url}/?rest_route={quote('/' + path.lstrip('/'), safe='/')}"
        return f"{address}&{query}" if query else address

    @property
    def auth(self) -> tuple[str, str]:
        """``(username, app_password)`` for ``requests`` (HTTP Basic)."""
        return (self.username, self.app_password)

    @property
    def db_pid(self) -> int | None:
        proc = self._db_proc
        return proc.pid if proc is not None and proc.poll() is None else None

    @property
    def http_pid(self) -> int | None:
        proc = self._http_proc
        return proc.pid if proc is not None and proc.poll() is None else None

    # -- lifecycle ---------------------------------------------------------------
    def start(self) -> None:
        """Start MariaDB and PHP; install WordPress the first time."""
        if self._http_proc is not None:
            return
        for program in ("php", "mariadbd", "mariadb-install-db"):
            require_binary(program, [f"/usr/bin/{program}", f"/usr/sbin/{program}"])
        if not (WORDPRESS_DIR / "wp-settings.php").exists():
            raise RuntimeError(
                f"WordPress is not in {WORDPRESS_DIR}: run `scripts/install-system-deps.sh`."
            )
        _register(self)
        if not self._root.exists():  # started again after cleanup()
            self._root = self._make_root()
            self.app_password = ""
        self._start_db()
        self.port = self.port or free_port(self.host)
        self._write_site()
        self._start_http_on_free_port()
        if not self.app_password:
            self._install()

    def stop(self) -> None:
        """Stop PHP and MariaDB; the files stay until ``cleanup()``."""
        self.stop_http()
        proc, self._db_proc = self._db_proc, None
        if proc is not None:
            _kill_group(proc, timeout=20)

    def cleanup(self) -> None:
        """Stop, and delete the working directory (database and uploads included)."""
        self.stop()
        _unregister(self)
        shutil.rmtree(self._root, ignore_errors=True)

    def stop_http(self) -> None:
        """Stop only the web server: the site is down, the database keeps running."""
        proc, self._http_proc = self._http_proc, None
        if proc is not None:
            _kill_group(proc, timeout=10)
            # The workers are killed with the master but exit a moment later: wait until
            # the listening socket is gone, so that the site is down on return.
            deadline = time.monotonic() + 10
            while port_accepts(self.host, self.port) and time.monotonic() < deadline:
                time.sleep(0.02)

    def start_http(self) -> None:
        """Start the web server again on the same port (after ``stop_http()``)."""
        if self._http_proc is not None:
            return
        if self._db_proc is None:
            raise RuntimeError("WordPress.start() first: the database is not running")
        error = self._launch_http()
        if error is not None:
            raise RuntimeError(error)

    # -- MariaDB -----------------------------------------------------------------
    def _db_config(self) -> str:
        d = self.db_dir
        return f"""[mariadbd]
datadir = {d}/data
socket = {d}/mysql.sock
pid-file = {d}/mariadbd.pid
log-error = {d}/error.log
tmpdir = {d}
bind-address = {self.host}
port = {self.db_port}
skip-name-resolve
skip-log-bin
character-set-server = utf8mb4
collation-server = utf8mb4_unicode_ci
innodb_buffer_pool_size = 32M
innodb_log_file_size = 16M
innodb_flush_log_at_trx_commit = 0
innodb_doublewrite = 0
innodb_flush_method = nosync
max_connections = 100
"""

    def _db_init_sql(self) -> str:
        user = f"'{self.db_user}'@'localhost'"
        return (
            "FLUSH PRIVILEGES;\n"  # the bootstrap runs without grant tables until this
            f"CREATE DATABASE `{self.db_name}` CHARACTER SET utf8mb4 "
            "COLLATE utf8mb4_unicode_ci;\n"
            f"CREATE USER {user} IDENTIFIED BY '{self.db_password}';\n"
            f"GRANT ALL PRIVILEGES ON `{self.db_name}`.* TO {user};\n"
        )

    def _db_user_args(self) -> list[str]:
        return [f"--user={MYSQL_USER}"] if _is_root() else []

    def _init_db(self) -> None:
        config = self.db_dir / "my.cnf"
        config.write_text(self._db_config(), encoding="utf-8")
        init_sql = self.db_dir / "init.sql"
        init_sql.write_text(self._db_init_sql(), encoding="utf-8")
        done = subprocess.run(
            [require_binary("mariadb-install-db", ["/usr/bin/mariadb-install-db"])]
            + [f"--defaults-file={config}", *self._db_user_args()]
            + ["--auth-root-authentication-method=normal", "--skip-test-db"]
            + [f"--extra-file={init_sql}"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            cwd=self.db_dir,
            timeout=120,
            check=False,
        )
        init_sql.unlink()
        if done.returncode != 0:
            raise RuntimeError(
                f"mariadb-install-db failed ({done.returncode}):\n{done.stdout[-3000:]}"
                f"{done.stderr[-3000:]}\n{_logs(self.db_log_path)}"
            )

    def _start_db(self) -> None:
        if self._db_proc is not None:
            return
        if not (self.db_dir / "data").exists():
            self.db_port = free_port(self.host)
            self._init_db()
        mariadbd = require_binary("mariadbd", ["/usr/sbin/mariadbd"])
        for attempt in range(1, _START_ATTEMPTS + 1):
            config = self.db_dir / "my.cnf"
            config.write_text(self._db_config(), encoding="utf-8")
            log_start = self._db_log_size()
            stderr_path = self.db_dir / "mariadbd.stderr"
            with stderr_path.open("wb") as stderr:
                proc = subprocess.Popen(
                    [mariadbd, f"--defaults-file={config}", *self._db_user_args()],
                    stdin=subprocess.DEVNULL,
                    stdout=stderr,
                    stderr=subprocess.STDOUT,
                    cwd=self.db_dir,
                    start_new_session=True,
                )
            self._db_proc = proc
            if self._wait_db(proc):
                return
            new_log = self._db_log_since(log_start)
            _kill_group(proc, timeout=10)
            self._db_proc = None
            if "already in use" in new_log.lower() and attempt < _START_ATTEMPTS:
                self.db_port = free_port(self.host)
                continue
            raise RuntimeError(f"MariaDB did not start:\n{new_log[-4000:]}\n{_logs(stderr_path)}")

    def _db_log_size(self) -> int:
        try:
            return self.db_log_path.stat().st_size
        except OSError:
            return 0

    def _db_log_since(self, offset: int) -> str:
        try:
            with self.db_log_path.open("rb") as log:
                log.seek(offset)
                return log.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def _wait_db(self, proc: subprocess.Popen[bytes]) -> bool:
        """True once mariadbd accepts TCP connections; False if it exited or timed out."""
        deadline = time.monotonic() + self._start_timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return False
            if self.db_socket.exists() and port_accepts(self.host, self.db_port):
                return True
            time.sleep(0.05)
        return False

    # -- the site ----------------------------------------------------------------
    def _write_site(self) -> None:
        """Document root: our wp-config.php, symlinks to the core, a writable wp-content."""
        site = self.site_dir
        if not site.exists():
            site.mkdir()
            for entry in WORDPRESS_DIR.iterdir():
                if entry.name in ("wp-config.php", "wp-content") or entry.name.startswith("."):
                    continue
                (site / entry.name).symlink_to(entry)
            self._write_content_dir()
        (site / "wp-config.php").write_text(self._wp_config(), encoding="utf-8")
        (self.root / "prepend.php").write_text(
            f"<?php\nif (!defined('ABSPATH')) define('ABSPATH', {_php_string(f'{site}/')});\n",
            encoding="utf-8",
        )
        (self.root / "cli.php").write_text(self._cli_bootstrap(), encoding="utf-8")

    def _write_content_dir(self) -> None:
        content = self.content_dir
        content.mkdir()
        for name in ("uploads", "mu-plugins", "plugins", "themes", "upgrade"):
            (content / name).mkdir()
        shipped = WORDPRESS_DIR / "wp-content"
        for theme in (shipped / "themes").iterdir():
            (content / "themes" / theme.name).symlink_to(theme)
        if (shipped / "languages").is_dir():
            (content / "languages").symlink_to(shipped / "languages")
        (content / "index.php").write_text("<?php\n// Silence is golden.\n", encoding="utf-8")
        keys = ", ".join(_php_string(key) for key in META_KEYS)
        (content / "mu-plugins" / "bientap.php").write_text(
            _MU_PLUGIN % {"keys": keys}, encoding="utf-8"
        )

    def _wp_config(self) -> str:
        php = _php_string
        return f"""<?php
// Written by tests/wordpress.py for one test WordPress; Debian's /etc/wordpress is unused.
define('DB_NAME', {php(self.db_name)});
define('DB_USER', {php(self.db_user)});
define('DB_PASSWORD', {php(self.db_password)});
define('DB_HOST', {php(f"localhost:{self.db_socket}")});
define('DB_CHARSET', 'utf8mb4');
define('DB_COLLATE', '');
$table_prefix = 'wp_';
define('WP_HOME', {php(self.url)});
define('WP_SITEURL', {php(self.url)});
define('WP_CONTENT_DIR', {php(str(self.content_dir))});
define('WP_CONTENT_URL', {php(self.url + "/wp-content")});
define('WP_ENVIRONMENT_TYPE', 'local');
define('DISABLE_WP_CRON', true);
define('WP_HTTP_BLOCK_EXTERNAL', true);
define('AUTOMATIC_UPDATER_DISABLED', true);
define('WP_AUTO_UPDATE_CORE', false);
define('FS_METHOD', 'direct');
define('WP_DEBUG', false);
{self._salts}
if (!defined('ABSPATH')) {{
    define('ABSPATH', __DIR__ . '/');
}}
require_once ABSPATH . 'wp-settings.php';
"""

    @staticmethod
    def _make_salts() -> str:
        names = ("AUTH", "SECURE_AUTH", "LOGGED_IN", "NONCE")
        lines = []
        for name in names:
            for kind in ("KEY", "SALT"):
                lines.append(f"define('{name}_{kind}', '{secrets.token_hex(32)}');")
        return "\n".join(lines)

    def _cli_bootstrap(self) -> str:
        host = _php_string(f"{self.host}:{self.port}")
        return f"""<?php
define('ABSPATH', {_php_string(f"{self.site_dir}/")});
$_SERVER['HTTP_HOST'] = {host};
$_SERVER['SERVER_NAME'] = {_php_string(self.host)};
$_SERVER['SERVER_PORT'] = '{self.port}';
$_SERVER['REQUEST_URI'] = '/';
$_SERVER['REQUEST_METHOD'] = 'GET';
require ABSPATH . 'wp-load.php';
eval(stream_get_contents(STDIN));
"""

    # -- PHP's web server --------------------------------------------------------
    def _php_ini_args(self) -> list[str]:
        settings = {
            # as a production PHP (php-fpm) runs: compiled scripts cached in shared memory.
            # PHP's web server (SAPI cli-server) follows opcache.enable, which Debian's
            # php8.2-opcache (a dependency of php-cli) turns on; opcache.enable_cli is only
            # for command-line scripts. Said here so that a host's php.ini cannot turn it off.
            "opcache.enable": "1",
            "display_errors": "0",
            "log_errors": "1",
            "memory_limit": "256M",
            "upload_max_filesize": "64M",
            "post_max_size": "64M",
            "auto_prepend_file": str(self.root / "prepend.php"),
        }
        return [arg for key, value in settings.items() for arg in ("-d", f"{key}={value}")]

    def _start_http_on_free_port(self) -> None:
        for attempt in range(1, _START_ATTEMPTS + 1):
            error = self._launch_http()
            if error is None:
                return
            if "in use" in error and attempt < _START_ATTEMPTS:
                self.port = free_port(self.host)
                self._write_site()  # WP_HOME names the port
                continue
            raise RuntimeError(error)

    def _launch_http(self) -> str | None:
        """Start ``php -S`` on ``self.port``; None when it serves, else what went wrong."""
        php = require_binary("php", ["/usr/bin/php"])
        env = dict(os.environ, PHP_CLI_SERVER_WORKERS=str(self._workers))
        with self.http_log_path.open("ab") as log:
            log_start = log.tell()
            proc = subprocess.Popen(
                [php, *self._php_ini_args(), "-S", f"{self.host}:{self.port}"]
                + ["-t", str(self.site_dir)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.site_dir,
                env=env,
                start_new_session=True,
            )
        self._http_proc = proc
        deadline = time.monotonic() + self._start_timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            if port_accepts(self.host, self.port):
                return None
            time.sleep(0.05)
        self.stop_http()
        with self.http_log_path.open("rb") as log:
            log.seek(log_start)
            output = log.read().decode("utf-8", "replace")
        return f"PHP's web server did not start on port {self.port}:\n{output[-4000:]}"

    # -- installation ------------------------------------------------------------
    def _install(self) -> None:
        form = {
            "weblog_title": self.title,
            "user_name": self.username,
            "admin_password": self.password,
            "admin_password2": self.password,
            "pw_weak": "1",
            "admin_email": self.email,
            "blog_public": "0",
            "language": "",
        }
        response = requests.post(f"{self.url}/wp-admin/install.php?step=2", data=form, timeout=120)
        if response.status_code != 200:
            raise RuntimeError(
                f"WordPress install answered {response.status_code}:\n"
                f"{response.text[-2000:]}\n{_logs(self.http_log_path)}"
            )
        self.app_password = self.run_php(
            _SETUP_PHP
            % {"timezone": _php_string(self.timezone), "username": _php_string(self.username)}
        ).strip()
        if not self.app_password:
            raise RuntimeError("no Application Password was created")

    def run_php(self, code: str, *, timeout: float = 60.0) -> str:
        """Run PHP statements with WordPress loaded (as WP-CLI would); return stdout."""
        code = code.strip()
        code = code.removeprefix("<?php")
        done = subprocess.run(
            [require_binary("php", ["/usr/bin/php"]), "-d", "display_errors=stderr"]
            + [str(self.root / "cli.php")],
            input=code,
            capture_output=True,
            text=True,
            cwd=self.site_dir,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"PHP failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
            )
        return done.stdout

    # -- REST helpers ------------------------------------------------------------
    def request(self, method: str, route: str, **kwargs: Any) -> requests.Response:
        """An authenticated REST request (``requests`` keyword arguments)."""
        kwargs.setdefault("auth", self.auth)
        kwargs.setdefault("timeout", 60)
        return requests.request(method, self.rest_url(route), **kwargs)

    def rest(self, method: str, route: str, **kwargs: Any) -> Any:
        """An authenticated REST request; the decoded JSON, or an error for status >= 400."""
        response = self.request(method, route, **kwargs)
        if response.status_code >= 400:
            raise RuntimeError(
                f"{method} {route} answered {response.status_code}: {response.text[:2000]}"
            )
        return response.json()

    def _collect(self, route: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        page = 1
        while True:
            response = self.request("GET", route, params={"per_page": 100, **params, "page": page})
            if response.status_code >= 400:
                raise RuntimeError(f"GET {route} answered {response.status_code}: {response.text}")
            items.extend(response.json())
            if page >= int(response.headers.get("X-WP-TotalPages", "1") or 1):
                return items
            page += 1

    def posts(self, **params: Any) -> list[dict[str, Any]]:
        """Every post (any status but trash, ``context=edit``) matching REST ``params``,
        e.g. ``posts(bientap_key="k")`` or ``posts(status="publish")``."""
        return self._collect(
            "/wp/v2/posts", {"status": "any", "context": "edit", "orderby": "id", **params}
        )

    def post(self, post_id: int) -> dict[str, Any]:
        """One post (``context=edit``: raw title and content, meta)."""
        result: dict[str, Any] = self.rest(
            "GET", f"/wp/v2/posts/{post_id}", params={"context": "edit"}
        )
        return result

    def edit_post(self, post_id: int, **fields: Any) -> dict[str, Any]:
        """Change a post as an editor would by hand, e.g. ``edit_post(7, content="...")``."""
        result: dict[str, Any] = self.rest("POST", f"/wp/v2/posts/{post_id}", json=fields)
        return result

    def media(self, **params: Any) -> list[dict[str, Any]]:
        """Every media item (``context=edit``) matching REST ``params``."""
        return self._collect("/wp/v2/media", {"context": "edit", "orderby": "id", **params})
