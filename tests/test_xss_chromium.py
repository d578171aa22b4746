"""Sanitised XSS vectors rendered in real headless Chromium must execute nothing.

Every vector of the DOMPurify test corpus is sanitised with :func:`sanitize_html` and
rendered as its own document. Script execution is detected on several independent
channels, so a broken sanitiser cannot slip through because one of them missed it:

* CDP ``Debugger.scriptParsed``: the rendered page has no scripts of its own, so any
  parsed script (inline handler, ``javascript:`` URL, ``<script>``...) is an execution.
  Our instrumentation is registered through CDP and tagged with a random ``sourceURL``;
  it and Playwright's isolated utility world are the only scripts not counted.
* ``alert``/``confirm``/``prompt``/``print`` are wrapped (reported through a CDP binding)
  and real dialogs are counted with ``page.on("dialog")``.
* After ``load`` every element receives the events attackers rely on, is focused and
  clicked; timers get a moment to run before the page reports it is done.
* Every request other than the document itself is blocked and counted (a remote image
  would leak the reviewer's address), as are navigations, popups, workers, websockets.

Control tests render raw vectors that are known to execute and assert the detector sees
them, so this file fails if sanitising stops working or the detector goes blind.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, CDPSession, Dialog, Page, Request, Route

from pipeline.sanitize import sanitize_html

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
VECTORS_FILE = CORPUS / "xss" / "dompurify-vectors.json"
EXPECTED_VECTORS = 223

ORIGIN = "http://xss-render.test"
POOL_SIZE = 6  # pages rendering concurrently
DONE_TIMEOUT_S = 20.0  # upper bound only; never asserted on
SETTLE_MS = 250  # time given to timers after the events were fired

_TOKEN = secrets.token_hex(8)
BINDING = f"__bientapProbe_{_TOKEN}"
INSTRUMENTATION_URL = f"bientap-instrumentation-{_TOKEN}.js"

EVENT_TYPES: tuple[str, ...] = (
    "load",
    "error",
    "abort",
    "mouseover",
    "mouseenter",
    "mousemove",
    "mouseout",
    "mouseleave",
    "mousedown",
    "mouseup",
    "click",
    "dblclick",
    "auxclick",
    "contextmenu",
    "pointerover",
    "pointerenter",
    "pointerdown",
    "pointerup",
    "pointermove",
    "focus",
    "focusin",
    "blur",
    "focusout",
    "keydown",
    "keypress",
    "keyup",
    "input",
    "beforeinput",
    "change",
    "select",
    "submit",
    "reset",
    "invalid",
    "search",
    "toggle",
    "beforetoggle",
    "animationstart",
    "animationiteration",
    "animationend",
    "transitionstart",
    "transitionrun",
    "transitionend",
    "scroll",
    "scrollend",
    "wheel",
    "copy",
    "cut",
    "paste",
    "drag",
    "dragstart",
    "dragend",
    "dragenter",
    "dragover",
    "drop",
    "loadstart",
    "loadeddata",
    "loadedmetadata",
    "canplay",
    "play",
    "playing",
    "pause",
    "ended",
    "timeupdate",
    "volumechange",
    "begin",
    "end",
    "repeat",
    "pageshow",
    "pagehide",
    "hashchange",
    "popstate",
    "resize",
    "message",
    "beforeprint",
    "afterprint",
    "beforeunload",
    "unload",
    "readystatechange",
    "visibilitychange",
    "securitypolicyviolation",
    "webkitanimationstart",
    "webkittransitionend",
)


def _instrumentation_source() -> str:
    events = json.dumps(list(EVENT_TYPES))
    return f"""
(() => {{
  const report = window[{json.dumps(BINDING)}];
  if (typeof report !== "function") return;
  // Overridden and counted. The first call of each per document still opens the real
  // dialog, so page.on("dialog") is exercised too; later calls do not block the page.
  for (const name of ["alert", "confirm", "prompt", "print"]) {{
    const original = window[name];
    let passed = name === "print";
    window[name] = function (...args) {{
      report("hook:" + name);
      if (passed) return undefined;
      passed = true;
      return original.apply(window, args);
    }};
  }}
  // Following a legitimate link is not an attack; keep the page where it is. Anything else
  // (javascript:, vbscript:, data: ...) is deliberately allowed to proceed and be caught.
  document.addEventListener("click", (ev) => {{
    const link = ev.target && ev.target.closest ? ev.target.closest("a[href], area[href]") : null;
    if (link && /^(https?|mailto|tel):$/.test(link.protocol)) ev.preventDefault();
  }}, true);
  const make = (type) => {{
    const init = {{ bubbles: true, cancelable: true, composed: true }};
    if (type.includes("animation")) return new AnimationEvent(type, init);
    if (type.includes("transition")) return new TransitionEvent(type, init);
    if (/^(focus|blur)/.test(type)) return new FocusEvent(type, init);
    if (/^(mouse|click|dblclick|auxclick|contextmenu)/.test(type)) {{
      return new MouseEvent(type, init);
    }}
    if (type.startsWith("pointer")) return new PointerEvent(type, init);
    if (type.startsWith("key")) return new KeyboardEvent(type, init);
    return new Event(type, init);
  }};
  const fire = () => {{
    const elements = Array.from(document.querySelectorAll("*"));
    for (const target of [window, document, ...elements]) {{
      for (const type of {events}) {{
        try {{ target.dispatchEvent(make(type)); }} catch (e) {{}}
      }}
    }}
    for (const el of elements) {{
      try {{ if (el.focus) el.focus(); }} catch (e) {{}}
      try {{ if (el.click) el.click(); }} catch (e) {{}}
    }}
    setTimeout(() => report("done " + location.href), {SETTLE_MS});
  }};
  let fired = false;
  window.addEventListener("load", (ev) => {{
    // Our own synthetic "load" must not start another round.
    if (!ev.isTrusted || fired) return;
    fired = true;
    setTimeout(fire, 0);
  }});
}})();
//# sourceURL={INSTRUMENTATION_URL}
"""


def _document(body: str) -> str:
    return (
        '<!DOCTYPE html><html lang="vi"><head><meta charset="utf-8">'
        '<link rel="icon" href="data:,"><title>render</title></head>'
        f"<body><article>{body}</article></body></html>"
    )


@dataclass
class RenderReport:
    url: str
    scripts: list[str] = field(default_factory=list)
    hooks: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    navigations: list[str] = field(default_factory=list)
    others: list[str] = field(default_factory=list)  # popups, workers, websockets, frames
    finished: bool = False

    @property
    def executions(self) -> int:
        return len(self.scripts) + len(self.hooks) + len(self.dialogs)

    @property
    def clean(self) -> bool:
        channels = (self.scripts, self.hooks, self.dialogs, self.requests, self.navigations)
        return self.finished and not any(channels) and not self.others

    def summary(self) -> str:
        return (
            f"finished={self.finished} scripts={self.scripts} hooks={self.hooks} "
            f"dialogs={self.dialogs} requests={self.requests} "
            f"navigations={self.navigations} others={self.others}"
        )


class _RenderSlot:
    """A page with every detector attached before its first navigation.

    The page is reused: each document is loaded by navigating the same page to a new URL
    (same origin, so the renderer process and the CDP session survive), which avoids a
    renderer start per vector. Detectors report into the current document's report; an
    event of the previous document arriving late (e.g. an ``unload`` handler) would be
    counted for the next one, so it can be misattributed but never lost.
    """

    def __init__(self, context: BrowserContext) -> None:
        self.report = RenderReport(url="about:blank", finished=True)
        self._html = ""
        self._utility_contexts: set[int] = set()
        self.page: Page = context.new_page()
        self._attach(self.page)
        self.cdp: CDPSession = context.new_cdp_session(self.page)
        self._instrument(self.cdp)

    def load(self, key: str, body: str) -> RenderReport:
        self.report = RenderReport(url=f"{ORIGIN}/render/{key}")
        self._html = _document(body)
        self.page.goto(self.report.url, wait_until="commit")
        return self.report

    def _attach(self, page: Page) -> None:
        page.route("**/*", self._route)
        page.on("request", self._on_request)
        page.on("dialog", self._on_dialog)
        page.on("popup", lambda popup: self._other(f"popup:{popup.url}"))
        page.on("worker", lambda worker: self._other(f"worker:{worker.url}"))
        page.on("websocket", lambda ws: self._other(f"websocket:{ws.url}"))
        page.on("frameattached", lambda frame: self._other(f"frame:{frame.url}"))
        page.on("framenavigated", self._on_navigated)

    def _instrument(self, cdp: CDPSession) -> None:
        cdp.on("Runtime.executionContextCreated", self._on_context)
        cdp.on("Runtime.bindingCalled", self._on_binding)
        cdp.on("Debugger.scriptParsed", self._on_script)
        cdp.on("Page.frameRequestedNavigation", self._on_requested_navigation)
        cdp.send("Runtime.enable")
        cdp.send("Runtime.addBinding", {"name": BINDING})
        cdp.send("Page.enable")
        cdp.send("Page.addScriptToEvaluateOnNewDocument", {"source": _instrumentation_source()})
        cdp.send("Debugger.enable")

    # -- handlers ---------------------------------------------------------------------
    def _other(self, what: str) -> None:
        self.report.others.append(what)

    def _route(self, route: Route) -> None:
        request = route.request
        if request.url == self.report.url and request.is_navigation_request():
            route.fulfill(status=200, content_type="text/html; charset=utf-8", body=self._html)
        else:
            route.abort()

    def _on_request(self, request: Request) -> None:
        if request.url == self.report.url and request.is_navigation_request():
            return
        # cid: (inline images, rewritten by the portal later) cannot reach any network.
        if request.url.startswith(("data:", "about:", "cid:")):
            return
        self.report.requests.append(f"{request.resource_type}:{request.url}")

    def _on_dialog(self, dialog: Dialog) -> None:
        self.report.dialogs.append(f"{dialog.type}:{dialog.message}")
        dialog.dismiss()

    def _on_navigated(self, frame: Any) -> None:
        if frame.url not in (self.report.url, "about:blank"):
            self.report.navigations.append(frame.url)

    def _on_requested_navigation(self, event: dict[str, Any]) -> None:
        url = str(event.get("url", ""))
        if url != self.report.url:
            self.report.navigations.append(f"requested:{url}")

    def _on_context(self, event: dict[str, Any]) -> None:
        context = event["context"]
        aux = context.get("auxData") or {}
        name = str(context.get("name", ""))
        if aux.get("type") == "isolated" and name.startswith("__playwright_utility_world"):
            self._utility_contexts.add(int(context["id"]))

    def _on_script(self, event: dict[str, Any]) -> None:
        if event.get("url") == INSTRUMENTATION_URL:
            return
        if int(event.get("executionContextId", -1)) in self._utility_contexts:
            return
        self.report.scripts.append(f"{event.get('url') or '<anonymous>'}:{event.get('scriptId')}")

    def _on_binding(self, event: dict[str, Any]) -> None:
        if event.get("name") != BINDING:
            return
        payload = str(event.get("payload", ""))
        if payload == f"done {self.report.url}":
            self.report.finished = True
        elif payload.startswith("done "):
            return  # a previous document of this page
        else:
            self.report.hooks.append(payload)


def render_all(browser: Browser, bodies: Sequence[str]) -> list[RenderReport]:
    """Render each body as its own document, on ``POOL_SIZE`` pages concurrently."""
    reports: list[RenderReport] = []
    context = browser.new_context()
    try:
        slots = [_RenderSlot(context) for _ in range(min(POOL_SIZE, len(bodies)))]
        for start in range(0, len(bodies), len(slots)):
            chunk = bodies[start : start + len(slots)]
            round_reports = [
                slot.load(str(start + offset), body)
                for offset, (slot, body) in enumerate(zip(slots, chunk, strict=False))
            ]
            deadline = time.monotonic() + DONE_TIMEOUT_S
            while time.monotonic() < deadline and not all(r.finished for r in round_reports):
                slots[0].page.wait_for_timeout(20)
            # Let late CDP events (scripts parsed by the last timers) arrive.
            slots[0].page.wait_for_timeout(50)
            reports.extend(round_reports)
            # A page that never reported back is in an unknown state: replace it.
            for i, report in enumerate(round_reports):
                if not report.finished:
                    slots[i].page.close()
                    slots[i] = _RenderSlot(context)
    finally:
        context.close()
    return reports


def _load_vectors() -> list[dict[str, str]]:
    data = json.loads(VECTORS_FILE.read_text(encoding="utf-8"))
    return [{"title": str(v["title"]), "payload": str(v["payload"])} for v in data]


VECTORS = _load_vectors()


def _vector_id(index: int) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", VECTORS[index]["title"]).strip("-")[:40]
    return f"{index:03d}-{slug}"


@pytest.fixture(scope="module")
def sanitized_renders(browser: Browser) -> Iterator[list[RenderReport]]:
    bodies = [sanitize_html(vector["payload"]).html for vector in VECTORS]
    yield render_all(browser, bodies)


def test_corpus_is_complete() -> None:
    assert len(VECTORS) == EXPECTED_VECTORS
    assert all(vector["payload"] for vector in VECTORS)


@pytest.mark.parametrize("index", range(len(VECTORS)), ids=_vector_id)
def test_sanitized_vector_executes_nothing(
    sanitized_renders: list[RenderReport], index: int
) -> None:
    report = sanitized_renders[index]
    assert report.clean, f"{VECTORS[index]['title']!r}: {report.summary()}"
    assert report.executions == 0


# -- controls: the detector must see raw vectors that really execute --------------------

RAW_CONTROLS: dict[str, str] = {
    "img-onerror": "<img src=x onerror=alert(1)>",
    "script-tag": "<script>alert(1)</script>",
    "javascript-link": '<a href="javascript:alert(1)">klik</a>',
    "mouseover-handler": '<div onmouseover="confirm(1)">di chuột</div>',
    "details-ontoggle-print": "<details open ontoggle=print()><summary>x</summary></details>",
    "focus-handler": "<input onfocus=prompt(1)>",
    "animationstart-silent": "<b onanimationstart=\"document.title='x'\">x</b>",
    "svg-onload-silent": "<svg onload=\"window.name='x'\"></svg>",
    "remote-image": '<img src="http://tracker.example/pixel.gif" alt="">',
    "css-background": '<div style="background:url(http://tracker.example/bg.png)">x</div>',
}


@pytest.fixture(scope="module")
def raw_renders(browser: Browser) -> dict[str, RenderReport]:
    names = list(RAW_CONTROLS)
    reports = render_all(browser, [RAW_CONTROLS[name] for name in names])
    return dict(zip(names, reports, strict=True))


@pytest.mark.parametrize(
    "name",
    [
        "img-onerror",
        "script-tag",
        "javascript-link",
        "mouseover-handler",
        "details-ontoggle-print",
        "focus-handler",
        "animationstart-silent",
        "svg-onload-silent",
    ],
)
def test_detector_sees_raw_script_execution(
    raw_renders: dict[str, RenderReport], name: str
) -> None:
    report = raw_renders[name]
    assert report.finished, report.summary()
    assert report.scripts, f"no scriptParsed for {name}: {report.summary()}"
    assert report.executions > 0
    assert not report.clean


@pytest.mark.parametrize(
    ("name", "hook"),
    [
        ("img-onerror", "hook:alert"),
        ("javascript-link", "hook:alert"),
        ("mouseover-handler", "hook:confirm"),
        ("details-ontoggle-print", "hook:print"),
        ("focus-handler", "hook:prompt"),
    ],
)
def test_detector_sees_dialog_calls(
    raw_renders: dict[str, RenderReport], name: str, hook: str
) -> None:
    report = raw_renders[name]
    assert hook in report.hooks, report.summary()
    if hook != "hook:print":  # print() opens no dialog
        assert report.dialogs, report.summary()


@pytest.mark.parametrize("name", ["remote-image", "css-background"])
def test_detector_sees_remote_fetch(raw_renders: dict[str, RenderReport], name: str) -> None:
    report = raw_renders[name]
    assert any("tracker.example" in request for request in report.requests), report.summary()
    assert not report.clean


@pytest.fixture(scope="module")
def sanitized_control_renders(browser: Browser) -> dict[str, RenderReport]:
    names = list(RAW_CONTROLS)
    reports = render_all(browser, [sanitize_html(RAW_CONTROLS[name]).html for name in names])
    return dict(zip(names, reports, strict=True))


@pytest.mark.parametrize("name", sorted(RAW_CONTROLS))
def test_sanitized_controls_are_clean(
    sanitized_control_renders: dict[str, RenderReport], name: str
) -> None:
    report = sanitized_control_renders[name]
    assert report.clean, report.summary()


def test_clean_article_renders_without_events(browser: Browser) -> None:
    article = sanitize_html(
        '<h1>Thông báo</h1><p>Nội dung <a href="https://example.vn/a">liên kết</a> '
        '<img src="cid:anh1@example" alt="ảnh"></p>'
        "<table><tr><td colspan=2>ô</td></tr></table>"
    ).html
    (report,) = render_all(browser, [article])
    assert report.finished
    assert report.clean, report.summary()


def test_page_fixture_shows_sanitized_article(page: Page) -> None:
    blocked: list[str] = []

    def block(route: Route) -> None:
        blocked.append(route.request.url)
        route.abort()

    page.route("**/*", block)
    article = sanitize_html(
        "<h1 onclick=alert(1)>Thông báo</h1><p>Nội dung <b>chính</b>"
        '<img src="https://tracker.example/p.gif" alt="ảnh"></p>'
    ).html
    page.set_content(_document(article))
    assert page.inner_text("h1") == "Thông báo"
    assert page.inner_text("p") == "Nội dung chính[ảnh]"
    assert page.locator("img").count() == 0
    assert blocked == []
