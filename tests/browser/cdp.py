"""A small client of the Chrome DevTools protocol: open a page in headless Chromium at a given
viewport, evaluate JavaScript in it and take a full-page screenshot.

It talks to one Chromium process over ``--remote-debugging-port`` with tornado's websocket
client (tornado ships with Jupyter), so the browser test needs no extra package.
"""
from __future__ import annotations

import base64
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from tornado.ioloop import IOLoop
from tornado.websocket import websocket_connect

STARTUP_S = 30


class Browser:
    """One headless Chromium; ``page(url, width, height)`` opens a tab at that viewport."""

    def __init__(self, chromium: str, flags: list[str]):
        self._profile = tempfile.TemporaryDirectory(prefix="dreg-cdp-")
        self._process = subprocess.Popen(
            [chromium, *flags, "--remote-debugging-port=0", f"--user-data-dir={self._profile.name}",
             "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = Path(self._profile.name) / "DevToolsActivePort"
        deadline = time.monotonic() + STARTUP_S
        while not (port_file.is_file() and port_file.read_text().strip()):
            if time.monotonic() > deadline or self._process.poll() is not None:
                self.close()
                raise RuntimeError(f"Chromium did not open its DevTools port within {STARTUP_S} s")
            time.sleep(0.1)
        self.port = int(port_file.read_text().split()[0])
        self._loop = IOLoop()

    def close(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
        if hasattr(self, "_loop"):
            self._loop.close()
        # Chromium's helper processes can write to the profile for a moment after the browser exits
        # (seen on a loaded machine: "Directory not empty: 'Default'"); retry, then leave the rest.
        for _ in range(20):
            try:
                self._profile.cleanup()
                return
            except OSError:
                time.sleep(0.25)
        shutil.rmtree(self._profile.name, ignore_errors=True)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _http(self, path: str, method: str = "GET") -> dict:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method=method)
        with urllib.request.urlopen(request, timeout=STARTUP_S) as response:
            return json.loads(response.read())

    def page(self, url: str, width: int, height: int, timeout_s: float = 60) -> Page:
        target = self._http("/json/new?about:blank", method="PUT")
        return Page(self, target, url, width, height, timeout_s)


class Page:
    """One tab, loaded at ``url`` with a ``width`` x ``height`` viewport (device scale 1)."""

    def __init__(self, browser: Browser, target: dict, url: str, width: int, height: int, timeout_s: float):
        self._browser, self._target, self._timeout = browser, target, timeout_s
        self._next_id = 0
        self._ws = self._run(websocket_connect(target["webSocketDebuggerUrl"], max_message_size=1 << 28))
        self.send("Page.enable")
        self.send("Emulation.setDeviceMetricsOverride", width=width, height=height,
                  deviceScaleFactor=1, mobile=width < 600)
        self.send("Page.navigate", url=url)
        self._wait_for_event("Page.loadEventFired")
        # MathJax and fonts settle after load; wait until the document stops changing height.
        self.evaluate("new Promise(done => { let last = -1, same = 0; const tick = () => {"
                      " const h = document.documentElement.scrollHeight;"
                      " same = h === last ? same + 1 : 0; last = h;"
                      " if (same >= 3) done(h); else setTimeout(tick, 250); }; tick(); })")

    def _run(self, awaitable):
        return self._browser._loop.run_sync(lambda: awaitable, timeout=self._timeout)

    def _receive(self) -> dict:
        message = self._run(self._ws.read_message())
        if message is None:
            raise RuntimeError("Chromium closed the DevTools connection")
        return json.loads(message)

    def _wait_for_event(self, name: str) -> None:
        while self._receive().get("method") != name:
            pass

    def send(self, method: str, **params) -> dict:
        self._next_id += 1
        self._ws.write_message(json.dumps({"id": self._next_id, "method": method, "params": params}))
        while True:
            reply = self._receive()
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def evaluate(self, expression: str):
        """The JSON value of a JavaScript expression (promises are awaited)."""
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"JavaScript failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, path: Path) -> None:
        """A PNG of the whole page, top to bottom, at the viewport's width."""
        metrics = self.send("Page.getLayoutMetrics")["cssContentSize"]
        shot = self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                         clip={"x": 0, "y": 0, "width": metrics["width"], "height": metrics["height"],
                               "scale": 1})
        path.write_bytes(base64.b64decode(shot["data"]))

    def close(self) -> None:
        self._ws.close()
        try:
            self._browser._http(f"/json/close/{self._target['id']}")
        except (OSError, ValueError):
            pass
