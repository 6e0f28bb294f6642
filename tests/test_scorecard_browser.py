"""The scorecard in a real browser: headless Chromium (Debian's `chromium`) driven over the
DevTools protocol. No console errors, no request leaving the file, no horizontal overflow at
390 px, readable at 1,280 px, printable; screenshots (and the PDF) saved to the test's tmp dir.
Skips, saying why, only where Chromium is not installed (`.ci/run` installs it)."""
import base64
import itertools
import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from baton.kpi import compute_kpis, render_html
from tests.test_kpi_scorecard import JAN, SETTINGS, timeline

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

if CHROMIUM is None:
    print("SKIP test_scorecard_browser: /usr/bin/chromium is not installed "
          "(apt-get install -y chromium; .ci/run does this)")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed "
                                "(apt-get install -y chromium; .ci/run does this)")
websocket = pytest.importorskip("websocket", reason="websocket-client (a dev dependency) missing")


class DevTools:
    """A minimal Chrome DevTools protocol client: one page session over the browser socket."""

    def __init__(self, url: str) -> None:
        self.ws = websocket.create_connection(url, timeout=30, suppress_origin=True)
        self.ids = itertools.count(1)
        self.events: list[dict] = []
        self.session = ""

    def send(self, method: str, **params):
        message = {"id": next(self.ids), "method": method, "params": params}
        if self.session:
            message["sessionId"] = self.session
        self.ws.send(json.dumps(message))
        while True:
            reply = json.loads(self.ws.recv())
            if reply.get("id") == message["id"]:
                if "error" in reply:
                    raise AssertionError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float = 30.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.events:
                if event.get("method") == method:
                    self.events.remove(event)
                    return event
            self.events.append(json.loads(self.ws.recv()))
        raise AssertionError(f"no {method} within {timeout} s")


@pytest.fixture()
def browser(tmp_path):
    profile = tmp_path / "profile"
    process = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={profile}",
                                "--remote-debugging-port=0", "about:blank"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = profile / "DevToolsActivePort"
        for _ in range(300):
            if port_file.exists() and len(port_file.read_text().splitlines()) >= 2:
                break
            time.sleep(0.1)
        else:
            raise AssertionError("Chromium did not open its DevTools port")
        port, path = port_file.read_text().splitlines()[:2]
        tools = DevTools(f"ws://127.0.0.1:{port}{path}")
        target = tools.send("Target.createTarget", url="about:blank")["targetId"]
        tools.session = tools.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            tools.send(f"{domain}.enable")
        yield tools
        tools.ws.close()
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def open_at(tools: DevTools, page: Path, width: int) -> None:
    tools.send("Emulation.setDeviceMetricsOverride", width=width, height=900,
               deviceScaleFactor=1, mobile=width < 500)
    tools.send("Page.navigate", url=page.as_uri())
    tools.wait_for("Page.loadEventFired")


def evaluate(tools: DevTools, expression: str):
    return tools.send("Runtime.evaluate", expression=expression, returnByValue=True)["result"]["value"]


def test_the_scorecard_in_headless_chromium(browser, tmp_path):
    page = tmp_path / "scorecard.html"
    page.write_text(render_html(compute_kpis(timeline(), JAN, SETTINGS)), encoding="utf-8")
    for width in (390, 1280):
        open_at(browser, page, width)
        overflow = evaluate(browser, "[document.documentElement.scrollWidth, window.innerWidth,"
                                     " document.querySelectorAll('svg').length]")
        assert overflow[0] <= overflow[1], f"horizontal overflow at {width} px: {overflow}"
        assert overflow[2] >= 10
        shot = browser.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        (tmp_path / f"scorecard-{width}.png").write_bytes(base64.b64decode(shot["data"]))
        assert (tmp_path / f"scorecard-{width}.png").stat().st_size > 10_000
    browser.send("Emulation.setEmulatedMedia", media="print")
    pdf = browser.send("Page.printToPDF", printBackground=False)
    (tmp_path / "scorecard.pdf").write_bytes(base64.b64decode(pdf["data"]))
    assert (tmp_path / "scorecard.pdf").read_bytes().startswith(b"%PDF")

    errors = [e for e in browser.events if e.get("method") == "Runtime.exceptionThrown"
              or (e.get("method") == "Runtime.consoleAPICalled"
                  and e["params"].get("type") in ("error", "assert"))
              or (e.get("method") == "Log.entryAdded"
                  and e["params"]["entry"].get("level") == "error")]
    assert errors == [], errors
    requests = [e["params"]["request"]["url"] for e in browser.events
                if e.get("method") == "Network.requestWillBeSent"]
    assert requests and all(url == page.as_uri() for url in requests), requests
    print(f"screenshots and PDF in {tmp_path}")
