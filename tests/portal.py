"""A small portal with its own JSON API, for the publishing tests: a real HTTP server
(threads, loopback port) that stores posts and can misbehave on purpose — answer 500,
accept a post and then stall past the client's timeout, take its time before it makes a
post, refuse credentials, or be stopped for a while and started again on the same port."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.services import free_port

TOKEN = "Bearer portal-secret-token"


@dataclass
class Faults:
    errors: int = 0  # answer this many requests with 500
    stall_after_create: float = 0.0  # store a post, then wait this long before answering
    slow_create: float = 0.0  # work this long on a create before the post is made
    refuse: bool = False  # answer 401 to everything


@dataclass
class Portal:
    port: int = field(default_factory=free_port)
    posts: dict[int, dict[str, Any]] = field(default_factory=dict)
    faults: Faults = field(default_factory=Faults)
    creates: int = 0  # create requests received
    lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/posts"

    def start(self) -> None:
        portal = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:
                pass

            def _send(self, status: int, body: Any) -> None:
                data = json.dumps(body, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _guard(self) -> bool:
                if portal.faults.refuse or self.headers.get("Authorization") != TOKEN:
                    self._send(401, {"message": "Sai thông tin xác thực"})
                    return False
                if portal.faults.errors > 0:
                    portal.faults.errors -= 1
                    self._send(500, {"message": "Lỗi máy chủ"})
                    return False
                return True

            def _body(self) -> dict[str, Any]:
                length = int(self.headers.get("Content-Length") or 0)
                return dict(json.loads(self.rfile.read(length) or b"{}"))

            def _id(self) -> int | None:
                tail = urlsplit(self.path).path.rpartition("/posts/")[2]
                return int(tail) if tail.isdigit() else None

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                if not self._guard():
                    return
                post = self._body()
                with portal.lock:  # several daemons publish at once
                    portal.creates += 1
                time.sleep(portal.faults.slow_create)  # a slow CMS: no post made yet
                with portal.lock:
                    post_id = max(portal.posts, default=0) + 1
                    post.update(id=post_id, url=f"http://127.0.0.1:{portal.port}/tin/{post_id}")
                    portal.posts[post_id] = post
                if portal.faults.stall_after_create:
                    time.sleep(portal.faults.stall_after_create)
                self._send(201, {"data": post})

            def do_GET(self) -> None:  # noqa: N802
                if not self._guard():
                    return
                post_id = self._id()
                if post_id is None:
                    key = parse_qs(urlsplit(self.path).query).get("key", [""])[0]
                    self._send(
                        200, {"items": [p for p in portal.posts.values() if p["key"] == key]}
                    )
                elif post_id in portal.posts:
                    self._send(200, portal.posts[post_id])
                else:
                    self._send(404, {"message": "Không có bài này"})

            def do_PUT(self) -> None:  # noqa: N802
                post_id = self._id()
                if not self._guard() or post_id is None:
                    return
                post = self._body()
                post.update(id=post_id, url=f"http://127.0.0.1:{portal.port}/tin/{post_id}")
                portal.posts[post_id] = post
                self._send(200, {"data": post})

            def do_DELETE(self) -> None:  # noqa: N802
                post_id = self._id()
                if self._guard() and post_id is not None:
                    portal.posts.pop(post_id, None)
                    self._send(200, {})

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def rest_settings(self) -> dict[str, Any]:
        """``[publish.rest]`` for this portal (the token from TEST_PORTAL_TOKEN)."""
        return {
            "url": self.url,
            "item_url": "{url}/{id}",
            "find_url": "{url}?key={key}",
            "auth_value": "env:TEST_PORTAL_TOKEN",
            "body": {
                "title": "{title}",
                "content": "{body_html}",
                "key": "{key}",
                "section": "{section}",
                "media": "{media}",
                "number": "{document_number}",
            },
            "id_path": "data.id",
            "url_path": "data.url",
            "read_paths": {
                "remote_id": "id",
                "url": "url",
                "title": "title",
                "body_html": "content",
                "section": "section",
                "media": "media",
                "meta.document_number": "number",
            },
            "timeout_seconds": 1,
        }
