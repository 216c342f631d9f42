"""The web dashboard in a real headless Chromium against the real daemon on
the simulated 8x8 chip, with tokens: the page draws one heater per phase,
follows a running training session live over Server-Sent Events, shows the
daemon's refusal when a reader presses Cancel, and asks for a token when it
has none. Chromium is driven over the DevTools protocol on a pipe
(--remote-debugging-pipe), so no WebSocket library is needed.

Env: PHOTONICD (the daemon), PHC_SOURCE_DIR (the repository), PYTHONPATH
with clients/python and the generated modules; DASHBOARD_SCREENSHOT_DIR
(optional) receives dashboard.png. Skipped without chromium."""
import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

SOURCE_DIR = os.environ.get("PHC_SOURCE_DIR",
                            os.path.dirname(os.path.dirname(os.path.dirname(
                                os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(SOURCE_DIR, "clients", "python", "tests"))
from daemon import Daemon, http_address  # noqa: E402

from photonic.v1 import training_pb2  # noqa: E402
from photonicd import Chip  # noqa: E402

READER = "reader-token-0123456789abcdef"
OPERATOR = "operator-token-0123456789abcdef"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
POLL_S = 0.2

# Runs in a child python before chromium: puts the DevTools pipe on the
# descriptors chromium expects (3: commands in, 4: replies out), then execs.
_EXEC_ON_FDS_3_4 = ("import os, sys\n"
                    "commands, replies = int(sys.argv[1]), int(sys.argv[2])\n"
                    "os.dup2(commands, 3)\nos.dup2(replies, 4)\n"
                    "os.close(commands)\nos.close(replies)\n"
                    "os.execv(sys.argv[3], sys.argv[3:])\n")


def find_chromium():
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


def high_fd(fd):
    """fd moved to a descriptor >= 10 (so that moving it to 3 or 4 in the
    child cannot overwrite the other pipe end)."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return moved


class DevToolsError(Exception):
    pass


class Browser:
    """Headless Chromium and its DevTools protocol over a pair of pipes:
    JSON messages, each ending with a NUL byte."""

    def __init__(self, chromium, directory, width=1400, height=1000):
        commands_read, commands_write = (high_fd(fd) for fd in os.pipe())
        replies_read, replies_write = (high_fd(fd) for fd in os.pipe())
        self.log_path = os.path.join(directory, "chromium.log")
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _EXEC_ON_FDS_3_4, str(commands_read), str(replies_write),
                 chromium, "--headless=new", "--no-sandbox", "--disable-gpu",
                 "--remote-debugging-pipe", f"--window-size={width},{height}",
                 f"--user-data-dir={os.path.join(directory, 'profile')}", "--no-first-run",
                 "--no-default-browser-check", "--disable-extensions", "--hide-scrollbars",
                 "--disable-background-networking", "--disable-background-timer-throttling",
                 "--disable-renderer-backgrounding", "--disable-backgrounding-occluded-windows",
                 "--disable-dev-shm-usage", "about:blank"],
                pass_fds=(commands_read, replies_write), stdin=subprocess.DEVNULL,
                stdout=log, stderr=log)
        os.close(commands_read)
        os.close(replies_write)
        self._commands, self._replies = commands_write, replies_read
        self._buffer = b""
        self._next_id = 0

    def log_tail(self, lines=20):
        with open(self.log_path, errors="replace") as log:
            return "".join(log.readlines()[-lines:])

    def _read_message(self, deadline):
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no DevTools reply in time")
            ready, _, _ = select.select([self._replies], [], [], remaining)
            if ready:
                chunk = os.read(self._replies, 1 << 20)
                if not chunk:
                    raise DevToolsError(
                        f"chromium closed its DevTools pipe; its log:\n{self.log_tail()}")
                self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(message)

    def send(self, method, params=None, session_id=None, timeout_s=30):
        """The result of one command; events read meanwhile are skipped."""
        self._next_id += 1
        command = {"id": self._next_id, "method": method, "params": params or {}}
        if session_id:
            command["sessionId"] = session_id
        data = json.dumps(command).encode() + b"\0"
        while data:
            data = data[os.write(self._commands, data):]
        deadline = time.monotonic() + timeout_s
        while True:
            message = self._read_message(deadline)
            if message.get("id") != self._next_id:
                continue
            if "error" in message:
                raise DevToolsError(f"{method}: {message['error']}")
            return message.get("result", {})

    def new_page(self):
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})
        return Page(self, session["sessionId"])

    def close(self):
        """Browser.close, then SIGKILL if chromium does not exit in time."""
        try:
            if self.process.poll() is None:
                self.send("Browser.close", timeout_s=10)
        except (OSError, DevToolsError, TimeoutError):
            pass
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=15)
        os.close(self._commands)
        os.close(self._replies)


class Page:
    """One tab, by its flattened DevTools session."""

    def __init__(self, browser, session_id):
        self.browser, self.session_id = browser, session_id

    def send(self, method, params=None, timeout_s=30):
        return self.browser.send(method, params, self.session_id, timeout_s)

    def navigate(self, url):
        """Loads url (from about:blank) and waits for its document."""
        result = self.send("Page.navigate", {"url": url})
        if result.get("errorText"):
            raise DevToolsError(f"navigating to {url}: {result['errorText']}")
        self.wait_for("location.href !== 'about:blank' && document.readyState === 'complete'",
                      what=f"loading {url}")

    def evaluate(self, expression):
        reply = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                               "awaitPromise": True})
        if "exceptionDetails" in reply:
            raise DevToolsError(f"{expression}: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    def wait_for(self, expression, timeout_s=30, what=None):
        """The first truthy value of `expression`, polled; fails after
        timeout_s with the page's own view of what went wrong."""
        deadline = time.monotonic() + timeout_s
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                diagnosis = self.evaluate(
                    "JSON.stringify({dashboard: window.photonicdDashboard, "
                    "status: document.getElementById('status-line')?.textContent})")
                raise AssertionError(f"{what or expression}: not within {timeout_s} s "
                                     f"(last value {value!r}; page: {diagnosis})")
            time.sleep(POLL_S)

    def click(self, selector):
        """A real mouse click (pressed and released) on the element's centre."""
        x, y = self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            " e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();"
            " return [r.x + r.width / 2, r.y + r.height / 2]; })()")
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent",
                      {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1})

    def screenshot_png(self):
        """The whole page, not only the viewport."""
        size = self.send("Page.getLayoutMetrics")["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        shot = self.send("Page.captureScreenshot",
                         {"format": "png", "clip": clip, "captureBeyondViewport": True})
        return base64.b64decode(shot["data"])


def write_config(directory):
    with open(os.path.join(directory, "tokens"), "w") as f:
        f.write(f"# role token\nreader {READER}\noperator {OPERATOR}\n")
    path = os.path.join(directory, "photonicd.textproto")
    with open(path, "w") as f:
        f.write('listen_address: "127.0.0.1:0"\n'
                f'chip_file: "{SOURCE_DIR}/deploy/chips/clements8.textproto"\n'
                'backend: BACKEND_SIM\nsim { seed: 1 }\n'
                'auth { tokens_file: "tokens" }\n')
    return path


class DashboardBrowserTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        chromium = find_chromium()
        if chromium is None:
            raise unittest.SkipTest("no chromium (apt-get install chromium)")
        cls.dir = tempfile.TemporaryDirectory(prefix="photonicd_web_")
        cls.addClassCleanup(cls.dir.cleanup)
        cls.daemon = Daemon(config=write_config(cls.dir.name), listen="127.0.0.1:0",
                            extra_args=("--http-listen", "127.0.0.1:0"))
        cls.addClassCleanup(cls.daemon.process.stdout.close)  # after the daemon stops
        cls.addClassCleanup(cls.daemon.stop)
        cls.url = f"http://{http_address(cls.daemon)}/"
        cls.operator = Chip(cls.daemon.address, token=OPERATOR, timeout_s=30)
        cls.addClassCleanup(cls.operator.close)
        cls.phase_count = cls.operator.info().phase_count
        # Runs for hours on the simulated chip: still running when we look.
        cls.session = cls.operator.train(
            [8, 8], algorithm="spsa", steps=1_000_000, dataset="synthetic", eval_every=10,
            train_samples=200, test_samples=50, label="browser test")
        cls.addClassCleanup(cls.cancel_session)
        cls.browser = Browser(chromium, cls.dir.name)
        cls.addClassCleanup(cls.browser.close)

    @classmethod
    def cancel_session(cls):
        if cls.session.refresh().state in (training_pb2.SESSION_STATE_RUNNING,
                                           training_pb2.SESSION_STATE_PAUSED):
            cls.session.cancel()

    def screenshot_dir(self):
        directory = os.environ.get("DASHBOARD_SCREENSHOT_DIR") or self.dir.name
        os.makedirs(directory, exist_ok=True)
        return directory

    def test_reader_sees_the_chip_and_a_live_session_but_cannot_cancel_it(self):
        page = self.browser.new_page()
        page.navigate(f"{self.url}#token={READER}")
        page.wait_for("window.photonicdDashboard && window.photonicdDashboard.ready",
                      what="the dashboard's first state")
        self.assertEqual(page.evaluate("location.hash"), "", "the token stays in the URL")
        self.assertEqual(page.evaluate("sessionStorage.getItem('photonicd-token')"), READER)

        self.assertEqual(page.evaluate("document.querySelectorAll('#circuits .heater').length"),
                         self.phase_count)
        self.assertRegex(page.evaluate(
            "document.querySelector('.heater[data-phase=\"0\"] title').textContent"),
            r"^phase 0: \d+\.\d\d mW$")
        self.assertEqual(page.evaluate("window.photonicdDashboard.selectedSession"),
                         self.session.id)

        points = "Number(document.getElementById('loss-chart').dataset.points)"
        first = page.wait_for(f"{points} >= 3 && {points}", what="3 points on the loss chart")
        grown = page.wait_for(f"{points} > {first} && {points}",
                              what=f"the loss chart growing past {first} points")
        self.assertGreater(grown, first)
        self.assertGreater(page.evaluate(
            "Number(document.getElementById('power-chart').dataset.points)"), 0)
        page.wait_for("Number(document.getElementById('accuracy-chart').dataset.points) > 0",
                      what="a test accuracy point")

        page.click("#cancel-button")
        error = page.wait_for(
            "(t => t.includes('PERMISSION_DENIED') && t)"
            "(document.getElementById('action-error').textContent)",
            timeout_s=15, what="the refusal in #action-error")
        self.assertIn("operator", error)
        self.assertEqual(self.session.refresh().state, training_pb2.SESSION_STATE_RUNNING)

        page.evaluate("window.scrollTo(0, 0)")
        png = page.screenshot_png()
        self.assertTrue(png.startswith(PNG_MAGIC))
        with open(os.path.join(self.screenshot_dir(), "dashboard.png"), "wb") as f:
            f.write(png)

        self.assertEqual(self.session.cancel().state, training_pb2.SESSION_STATE_CANCELLED)
        page.wait_for(
            "document.querySelector('#sessions-body tr.selected .badge')?.textContent"
            " === 'cancelled'", what="the cancelled state in the sessions table")

    def test_without_a_token_the_page_asks_for_one(self):
        page = self.browser.new_page()
        page.navigate(self.url)
        banner = page.wait_for(
            "(b => !b.hidden && b.textContent)(document.getElementById('auth-banner'))",
            what="the token banner")
        self.assertIn("This daemon needs a token", banner)
        self.assertIn("UNAUTHENTICATED", page.evaluate("window.photonicdDashboard.lastError"))
        self.assertFalse(page.evaluate("window.photonicdDashboard.ready"))


if __name__ == "__main__":
    unittest.main()
