"""The report in a real headless Chromium: every image decodes, no console errors.

Chromium is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``:
no port, no extra Python package). Set ``TRUSTLAB_SCREENSHOT_DIR`` to keep the
full-page screenshots for a look.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from _report_folders import make_folder
from _require import missing

from trustlab.reporting import write_report

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio")  # fmt: skip


def find_chromium() -> str | None:
    """``$TRUSTLAB_CHROMIUM`` or the first Chromium-like browser on ``PATH``."""
    env = os.environ.get("TRUSTLAB_CHROMIUM")
    if env:
        return shutil.which(env)
    return next((p for p in map(shutil.which, CHROMIUM_NAMES) if p), None)


class Browser:
    """A headless Chromium driven over the DevTools protocol on fds 3 and 4."""

    def __init__(self, exe: str, profile: Path, timeout: float = 30.0) -> None:
        self.timeout = timeout
        to_chrome_r, self._w = os.pipe()
        self._r, from_chrome_w = os.pipe()

        def _fds() -> None:  # in the child: chromium reads commands on 3, answers on 4
            os.dup2(to_chrome_r, 3)
            os.dup2(from_chrome_w, 4)

        self.proc = subprocess.Popen(
            [exe, *FLAGS, "--remote-debugging-pipe", f"--user-data-dir={profile}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            pass_fds=(3, 4), preexec_fn=_fds,
        )  # fmt: skip
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buf = b""
        self._id = 0
        self.events: list[dict[str, Any]] = []

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except (OSError, TimeoutError, RuntimeError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._w)
        os.close(self._r)

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._r], [], [], left)[0]:
                raise TimeoutError("no answer from chromium")
            chunk = os.read(self._r, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def send(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        """Call one DevTools method and return its result; events met meanwhile are kept."""
        self._id += 1
        msg: dict[str, Any] = {"id": self._id, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, session: str) -> None:
        """Wait for an event (``Page.loadEventFired`` ...) of one page."""
        deadline = time.monotonic() + self.timeout
        if any(e.get("method") == method and e.get("sessionId") == session for e in self.events):
            return
        while True:
            event = self._read(deadline)
            self.events.append(event)
            if event.get("method") == method and event.get("sessionId") == session:
                return

    def open(self, url: str, width: int = 1200) -> str:
        """Open ``url`` in a new tab with logging on; return its session id once loaded."""
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable", session)
        self.send("Emulation.setDeviceMetricsOverride", session, width=width, height=900,
                  deviceScaleFactor=1, mobile=False)  # fmt: skip
        self.send("Page.navigate", session, url=url)
        self.wait_for("Page.loadEventFired", session)
        return session

    def evaluate(self, session: str, expression: str) -> Any:
        res = self.send("Runtime.evaluate", session, expression=expression, awaitPromise=True,
                        returnByValue=True)  # fmt: skip
        if "exceptionDetails" in res:
            raise RuntimeError(f"page script failed: {res['exceptionDetails']}")
        return res["result"].get("value")

    def errors(self, session: str) -> list[str]:
        """Console errors, uncaught exceptions and failed loads logged by one page."""
        out = []
        for e in self.events:
            if e.get("sessionId") != session:
                continue
            p = e.get("params", {})
            if e["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append("console: " + " ".join(str(a.get("value", a.get("description"))) for a in p["args"]))
            elif e["method"] == "Runtime.exceptionThrown":
                out.append("exception: " + p["exceptionDetails"].get("text", ""))
            elif e["method"] == "Log.entryAdded" and p["entry"].get("level") == "error":
                out.append(f"log: {p['entry'].get('text')} {p['entry'].get('url', '')}")
        return out

    def screenshot(self, session: str, path: Path) -> Path:
        """Full-page PNG screenshot."""
        size = self.send("Page.getLayoutMetrics", session)["cssContentSize"]
        self.send("Emulation.setDeviceMetricsOverride", session, width=int(size["width"]),
                  height=int(size["height"]), deviceScaleFactor=1, mobile=False)  # fmt: skip
        data = self.send("Page.captureScreenshot", session, format="png")["data"]
        path.write_bytes(base64.b64decode(data))
        return path


IMAGES_JS = """
Promise.all([...document.images].map(img => img.decode().then(() => true, () => false)
  .then(decoded => ({src: img.getAttribute('src').slice(0, 22), decoded,
                     width: img.naturalWidth, height: img.naturalHeight,
                     shown: img.getBoundingClientRect().width}))))
"""
PAGE_JS = """({title: document.title, h1: document.querySelector('h1')?.textContent,
  tables: document.querySelectorAll('table').length,
  resources: performance.getEntriesByType('resource').map(r => r.name),
  overflow: document.documentElement.scrollWidth > document.documentElement.clientWidth})"""


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Browser:
    exe = find_chromium()
    if exe is None:
        missing("no Chromium on PATH (Debian: apt-get install chromium; .ci/run installs it)")
    b = Browser(exe, tmp_path_factory.mktemp("chromium-profile"))
    try:
        b.send("Browser.getVersion")
    except (TimeoutError, RuntimeError) as exc:
        b.close()
        missing(f"{exe} does not start headless here: {exc}")
    yield b
    b.close()


def _check_page(browser: Browser, html: Path, shot: Path) -> dict[str, Any]:
    session = browser.open(html.as_uri())
    images = browser.evaluate(session, IMAGES_JS)
    page = browser.evaluate(session, PAGE_JS)
    browser.screenshot(session, shot)
    keep = os.environ.get("TRUSTLAB_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / shot.name)
    return {"images": images, "page": page, "errors": browser.errors(session)}


def _document() -> dict[str, Any]:
    """A result document (schema 1.0) with a three-valued attribute, rendered generically."""
    from trustlab.results import result_document

    def block(spd: float) -> dict[str, Any]:
        g = {"n": 40, "selection_rate": 0.4, "accuracy": 0.8, "tpr": 0.7, "fpr": 0.1, "fnr": 0.3}
        return {"overall": {"accuracy": 0.8, "balanced_accuracy": 0.75},
                "fairness": {"statistical_parity_difference": spd, "disparate_impact": 1 - spd,
                             "equalized_odds_difference": abs(spd), "equal_opportunity_difference": spd,
                             "fpr_difference": spd, "fnr_difference": -spd},
                "by_group": {"a": g, "not a": g},
                "groups": {"reference": "a", "by_value": {"a": g, "b": g, "c": dict(g, n=12)},
                           "worst_pair": {"selection_rate": {"gap": 0.1, "groups": ["a", "c"]}}},
                "warnings": ["group 'c' has 12 rows here (fewer than 30): its rates are unreliable"]}  # fmt: skip

    return result_document(
        "mitigate", seed=0, positive={"value": "1", "rule": "given (--positive)"},
        privileged={"attribute": "g", "value": "a", "rule": "given (--privileged)"},
        data={"dataset": "d", "sensitive": "g", "n_train": 100, "n_val": 30, "n_test": 50},
        cost={"wall_seconds": 3.0, "trainings": 3}, method="massaging",
        arms={"baseline": {"validation": block(0.2), "test": block(0.2)},
              "intervention": {"validation": block(0.05), "test": block(0.04)}},
        details={"method": "massaging", "changes": {"rows_relabelled": 12}},
    )  # fmt: skip


def test_reports_render_in_chromium(browser: Browser, tmp_path: Path, mitigate_dir: Path) -> None:
    from _report_folders import POISON, PRIVACY, SCAN

    folders = [
        mitigate_dir,
        make_folder(tmp_path / "poison", "poison", {"summary.json": POISON}, pngs=2, trainings=61),
        make_folder(tmp_path / "privacy", "privacy", {"summary.json": PRIVACY}, pngs=1),
        make_folder(tmp_path / "scan", "backdoor-scan", {"scan.json": SCAN}, pngs=1),
        make_folder(tmp_path / "other", "something-new", {"x.json": {"a": {"b": [1, 2]}}}, pngs=0),
        make_folder(tmp_path / "document", "mitigate", {"mitigate.json": _document()}, pngs=1),
    ]
    for folder in folders:
        html = write_report(folder)
        got = _check_page(browser, html, tmp_path / f"report-{folder.name}.png")
        pngs = sorted(folder.glob("*.png"))
        assert len(got["images"]) == len(pngs), got["images"]
        for img in got["images"]:
            assert img["src"] == "data:image/png;base64,"
            assert img["decoded"] and img["width"] > 0 and img["height"] > 0, img
            assert img["shown"] > 0, f"image laid out with zero width: {img}"
        assert got["errors"] == [], got["errors"]
        page = got["page"]
        assert page["h1"].startswith("trustlab ") and page["tables"] >= 2
        assert page["resources"] == [], f"the page loaded external resources: {page['resources']}"
        assert not page["overflow"], "the page scrolls sideways at 1200 px"
        assert (tmp_path / f"report-{folder.name}.png").stat().st_size > 10_000


def test_the_check_catches_a_broken_page(browser: Browser, tmp_path: Path) -> None:
    """The harness itself: a broken image and a console error are both seen."""
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><head><link rel="icon" href="data:,"></head><body><h1>x</h1>'
                   '<img src="data:image/png;base64,iVBORw0KGgoAAAA=">'
                   '<script>console.error("boom")</script></body></html>')  # fmt: skip
    got = _check_page(browser, bad, tmp_path / "bad.png")
    assert [img["decoded"] for img in got["images"]] == [False]
    assert got["images"][0]["width"] == 0
    assert any("boom" in e for e in got["errors"]), got["errors"]
