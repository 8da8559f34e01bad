"""cdp: a small driver for headless Chromium over the DevTools protocol.

Chromium runs with --remote-debugging-pipe: each command is a JSON object
followed by a NUL byte, written to the browser's fd 3; replies and events come
back the same way on its fd 4. A Browser owns one Chromium process group and a
profile under the caller's directory, where Chromium's stderr goes too
(chromium.log). Every wait has a deadline; events that arrive while a command
waits for its reply are kept; if Chromium dies, the next call raises
BrowserDied with the tail of its stderr; the whole process group is stopped
on exit, also when the body raised (this process becomes the child subreaper
of Chromium's helpers so that none is left behind, not even as a zombie).
Only loopback names and addresses resolve: a page cannot reach the network.

    with Browser(tmpdir) as b:
        page = b.new_page(width=1280, height=900)
        page.goto("http://127.0.0.1:8080/", timeout=10)
        page.wait_for("document.querySelectorAll('.row').length >= 3")
        page.screenshot(os.path.join(tmpdir, "page.png"))
        assert not page.errors, page.console

Python 3 standard library only. `python3 cdp.py` runs a self-test against a
throwaway HTTP server on 127.0.0.1 (CDP_KEEP_PNG=path keeps its screenshot).
"""

import base64
import collections
import fcntl
import json
import os
import select
import shutil
import signal
import time


class CDPError(Exception):
    """A command returned an error or no reply in time, or a navigation failed."""


class JSError(CDPError):
    """Page JavaScript threw; the message is the exception's description."""


class BrowserDied(CDPError):
    """Chromium exited or closed its pipe; the message ends with its stderr tail."""


def find_chromium():
    """Path of the Chromium binary ($WK_CHROMIUM first), or None if there is none."""
    # The real binary, not Debian's /usr/bin/chromium wrapper, which adds flags of its own.
    for path in (os.environ.get("WK_CHROMIUM"), "/usr/lib/chromium/chromium"):
        if path and os.access(path, os.X_OK):
            return path
    return shutil.which("chromium") or shutil.which("chromium-browser")


FLAGS = ["--headless=new", "--remote-debugging-pipe", "--disable-gpu", "--no-first-run",
         "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--metrics-recording-only",
         "--mute-audio", "--disable-default-apps", "--disable-dev-shm-usage",
         "--disable-breakpad", "--disable-crash-reporter", "--no-pings", "--no-proxy-server",
         "--disable-domain-reliability", "--password-store=basic",
         "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication",
         # Even so it looks up Google hosts: nothing resolves or connects but loopback (this
         # applies to IP literals too).
         "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.*, EXCLUDE ::1"]


def _text(details):
    exc = details.get("exception") or {}
    return exc.get("description") or details.get("text", "?")


def _arg(obj):
    if "value" in obj:
        return obj["value"] if isinstance(obj["value"], str) else json.dumps(obj["value"])
    return obj.get("description") or obj.get("unserializableValue") or obj.get("type", "?")


class Browser:
    """One headless Chromium; a context manager that starts and always stops it."""

    def __init__(self, tmpdir, width=1280, height=900, executable=None, args=(), timeout=30):
        self.tmpdir, self.size, self.timeout = tmpdir, (width, height), timeout
        self.executable = executable or find_chromium()
        self.args = list(args)
        self.log_path = os.path.join(tmpdir, "chromium.log")
        # Its crash database goes under $XDG_CONFIG_HOME, not under --user-data-dir.
        self.config_dir = os.path.join(tmpdir, "chromium-config")
        self.pid = None
        self._to = self._from = None
        self._id, self._buf, self._dead = 0, b"", None
        self._replies, self._pages = {}, {}
        self._events = collections.deque(maxlen=2000)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.close()

    def start(self):
        """Launch Chromium and check that it answers; stops it again if that fails."""
        if not self.executable:
            raise CDPError("no chromium binary (apt-get install chromium, or set WK_CHROMIUM)")
        argv = [self.executable, *FLAGS, "--window-size=%d,%d" % self.size,
                "--user-data-dir=" + os.path.join(self.tmpdir, "chromium-profile"), *self.args]
        if os.geteuid() == 0:
            argv.append("--no-sandbox")  # the sandbox refuses to run as root
        argv.append("about:blank")
        try:
            # Chromium's helpers outlive its main process by a moment; as their subreaper
            # this process reaps them in close() instead of leaving zombies to init.
            import ctypes
            ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
        except (ImportError, OSError, AttributeError):
            pass
        # The child's pipe ends are moved to 5 and up, so the dup2 to 3 and 4 cannot clobber them.
        to_r, self._to = os.pipe()
        self._from, from_w = os.pipe()
        ends = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 5) for fd in (to_r, from_w)]
        os.close(to_r)
        os.close(from_w)
        actions = [(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                   (os.POSIX_SPAWN_OPEN, 1, self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND,
                    0o644),
                   (os.POSIX_SPAWN_DUP2, 1, 2),
                   (os.POSIX_SPAWN_DUP2, ends[0], 3), (os.POSIX_SPAWN_DUP2, ends[1], 4)]
        try:
            # posix_spawn rather than Popen(preexec_fn=...): no Python runs in a forked child,
            # so a test's threads cannot deadlock it. setsid: one process group to kill.
            env = dict(os.environ, XDG_CONFIG_HOME=self.config_dir)
            self.pid = os.posix_spawn(argv[0], argv, env, file_actions=actions,
                                      setsid=True, setsigdef=(signal.SIGPIPE,))
        except OSError:
            os.close(self._to)
            os.close(self._from)
            raise
        finally:
            for fd in ends:
                os.close(fd)
        os.set_blocking(self._to, False)
        os.set_blocking(self._from, False)
        try:
            self.command("Browser.getVersion", timeout=self.timeout)
        except BaseException:
            self.close()
            raise

    def close(self):
        """Stop Chromium and every process in its group, then reap it; safe to call twice."""
        if self.pid is None:
            return
        handlers = self._crash_handlers()
        if not self._dead:
            try:
                self.command("Browser.close", timeout=2)
            except CDPError:
                pass
        for sig, grace in ((signal.SIGTERM, 3), (signal.SIGKILL, 2)):
            deadline = time.monotonic() + grace
            while not self._exited() and time.monotonic() < deadline:
                time.sleep(0.02)
            try:
                # The unreaped leader keeps the group id alive: this also reaches stragglers.
                os.killpg(self.pid, sig)
            except ProcessLookupError:
                pass
        os.waitpid(self.pid, 0)
        # The rest of the group died with or after the leader: wait until it is gone, reaping
        # the members that were handed to us as their subreaper.
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            try:
                os.killpg(self.pid, 0)
                os.waitpid(-self.pid, os.WNOHANG)
            except (ProcessLookupError, ChildProcessError):
                break
            time.sleep(0.01)
        for pid in handlers:  # they leave by themselves once the browser is gone
            deadline = time.monotonic() + 2
            try:
                while os.waitpid(pid, os.WNOHANG)[0] == 0:
                    if time.monotonic() > deadline:
                        os.kill(pid, signal.SIGKILL)  # still our unreaped child: pid is safe
                    time.sleep(0.01)
            except ChildProcessError:
                pass  # not our child (no subreaper): init reaps it
        self.pid = None
        for fd in (self._to, self._from):
            os.close(fd)
        self._dead = self._dead or "browser was closed"

    def command(self, method, params=None, session=None, timeout=None):
        """Send one command and wait for its reply; returns its result, raises CDPError."""
        timeout = timeout or self.timeout
        deadline = time.monotonic() + timeout
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self._send(json.dumps(msg).encode() + b"\0", deadline)
        while msg["id"] not in self._replies:
            if time.monotonic() >= deadline:
                raise CDPError("%s: no reply within %g s" % (method, timeout))
            self._pump(deadline)
        reply = self._replies.pop(msg["id"])
        if "error" in reply:
            err = reply["error"]
            raise CDPError("%s: %s %s" % (method, err.get("message"), err.get("data", "")))
        return reply.get("result", {})

    def new_page(self, width=None, height=None):
        """Open a tab with a viewport of width x height CSS pixels; returns a Page."""
        w, h = width or self.size[0], height or self.size[1]
        # The viewport is set by emulation below: createTarget's width and height are only
        # for new windows.
        target = self.command("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.command("Target.attachToTarget",
                               {"targetId": target, "flatten": True})["sessionId"]
        page = self._pages[session] = Page(self, target, session)
        for method, params in (("Page.enable", {}), ("Runtime.enable", {}), ("Log.enable", {}),
                               ("Page.setLifecycleEventsEnabled", {"enabled": True}),
                               ("Emulation.setDeviceMetricsOverride",
                                {"width": w, "height": h, "deviceScaleFactor": 1,
                                 "mobile": False})):
            page.command(method, params)
        return page

    def wait_event(self, session, match, timeout, what):
        """Take the first queued or coming event of session for which match(event) is true."""
        deadline = time.monotonic() + timeout
        while True:
            for ev in self._events:
                if ev.get("sessionId") == session and match(ev):
                    self._events.remove(ev)
                    return ev
            if time.monotonic() >= deadline:
                raise CDPError("no %s within %g s" % (what, timeout))
            self._pump(deadline)

    def pump(self, seconds):
        """Keep reading events (console messages among them) for this long."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self._pump(deadline)

    def _send(self, data, deadline):
        while data:
            self._check()
            if not select.select([], [self._to], [], max(0, deadline - time.monotonic()))[1]:
                raise CDPError("chromium is not reading its pipe")
            try:
                data = data[os.write(self._to, data):]
            except BlockingIOError:
                pass
            except BrokenPipeError:
                self._die("closed its pipe")

    def _pump(self, deadline):
        """Read and dispatch what has arrived, waiting at most until deadline."""
        self._check()
        # Short slices, so a browser that died without closing the pipe is seen in time.
        wait = min(0.2, max(0, deadline - time.monotonic()))
        if not select.select([self._from], [], [], wait)[0]:
            if self._exited():
                self._die("exited")
            return
        try:
            data = os.read(self._from, 1 << 20)
        except BlockingIOError:
            return
        if not data:
            self._die("closed its pipe")
        *msgs, self._buf = (self._buf + data).split(b"\0")
        for msg in map(json.loads, msgs):
            if "id" in msg:
                self._replies[msg["id"]] = msg
            else:
                page = self._pages.get(msg.get("sessionId"))
                if page:
                    page._note(msg)
                self._events.append(msg)

    def _crash_handlers(self):
        # chrome_crashpad_handler double-forks out of the process group. Ours name our config
        # directory while they run; exited ones (zombies) have only their name left.
        found = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open("/proc/%s/stat" % pid, "rb") as f:
                    name, rest = f.read().rsplit(b")", 1)
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    cmdline = f.read()
            except OSError:
                continue
            state, ppid = rest.split()[:2]
            if os.fsencode(self.config_dir) in cmdline or (
                    state == b"Z" and int(ppid) == os.getpid()
                    and name.endswith(b"(chrome_crashpad")):
                found.append(int(pid))
        return found

    def _exited(self):
        # WNOWAIT: look without reaping, so the group id stays valid for killpg.
        return os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None

    def _check(self):
        if self._dead:
            raise BrowserDied(self._dead)

    def _die(self, why):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(max(0, os.fstat(f.fileno()).st_size - 3000))
                tail = f.read().decode(errors="replace")
        except OSError as e:
            tail = str(e)
        self._dead = "chromium %s; stderr tail (%s):\n%s" % (why, self.log_path, tail)
        raise BrowserDied(self._dead)


class Page:
    """One tab, driven through its flat session. console: what the page logged and threw."""

    def __init__(self, browser, target_id, session):
        self.browser, self.target_id, self.session = browser, target_id, session
        self.console = []  # dicts: type (log, warning, error, exception...), source, text

    @property
    def errors(self):
        """The console entries that are errors, assertions or uncaught exceptions.

        Leaves out a failed /favicon.ico: the browser asks for it, not the page.
        """
        return [m for m in self.console if m["type"] in ("error", "assert", "exception")
                and not (m["source"] == "network" and "/favicon.ico)" in m["text"])]

    def command(self, method, params=None, timeout=None):
        return self.browser.command(method, params, self.session, timeout)

    def goto(self, url, timeout=10):
        """Navigate and wait for the load event; raises CDPError if the navigation failed."""
        deadline = time.monotonic() + timeout
        res = self.command("Page.navigate", {"url": url}, timeout)
        if res.get("errorText"):
            raise CDPError("goto %s: %s" % (url, res["errorText"]))
        if "loaderId" not in res:
            return  # same-document navigation (#fragment): there is no load to wait for
        self.browser.wait_event(
            self.session, lambda ev: ev["method"] == "Page.lifecycleEvent"
            and ev["params"]["name"] == "load" and ev["params"]["loaderId"] == res["loaderId"],
            max(0, deadline - time.monotonic()), "load event for " + url)

    def evaluate(self, expression, timeout=10):
        """The value of expression (promises awaited) as JSON-like Python; raises JSError."""
        res = self.command("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True}, timeout)
        if "exceptionDetails" in res:
            raise JSError("%s: %s" % (expression, _text(res["exceptionDetails"])))
        return res["result"].get("value")

    def wait_for(self, expression, timeout=10):
        """Poll expression every 100 ms until truthy (in JS); returns its value.

        expression must be an expression (no statements); it is awaited if a promise.
        Raises AssertionError with the last value or exception when timeout runs out.
        """
        deadline = time.monotonic() + timeout
        probe = "(async () => { const v = await (%s\n); return [!!v, v]; })()" % expression
        while True:
            try:
                ok, last = self.evaluate(probe, max(1, deadline - time.monotonic()))
                if ok:
                    return last
            except BrowserDied:
                raise
            except CDPError as e:  # thrown, or no context yet while a navigation commits
                last = e
            if time.monotonic() >= deadline:
                raise AssertionError("wait_for(%r): still false after %g s; last value: %r"
                                     % (expression, timeout, last))
            self.browser.pump(min(0.1, max(0, deadline - time.monotonic())))

    def screenshot(self, path, timeout=10):
        """Write a PNG of the viewport to path; returns path."""
        data = self.command("Page.captureScreenshot", {"format": "png"}, timeout)["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))
        return path

    def close(self):
        self.browser.command("Target.closeTarget", {"targetId": self.target_id})
        self.browser._pages.pop(self.session, None)

    def _note(self, ev):
        p = ev["params"]
        if ev["method"] == "Runtime.consoleAPICalled":
            text = " ".join(_arg(a) for a in p.get("args", []))
            self.console.append({"type": p["type"], "source": "console", "text": text})
        elif ev["method"] == "Runtime.exceptionThrown":
            text = _text(p["exceptionDetails"])
            self.console.append({"type": "exception", "source": "exception", "text": text})
        elif ev["method"] == "Log.entryAdded":
            e = p["entry"]
            text = e["text"] + (" (%s)" % e["url"] if e.get("url") else "")
            self.console.append({"type": e["level"], "source": e["source"], "text": text})


def _self_test():
    """Drive a page on a throwaway loopback server; prints timings, raises on failure."""
    t_start = time.monotonic()
    import functools
    import http.server
    import socket
    import struct
    import subprocess
    import tempfile
    import threading

    html = """<!doctype html><title>cdp self-test</title>
<style>body { font: 32px sans-serif; background: #ddeeff; margin: 40px }
.row { background: #2a7; color: white; padding: 20px; margin-top: 20px }</style>
<h1>cdp self-test</h1><div id="list"></div>
<script>
console.log("page loaded", 42, {a: 1});
setTimeout(() => {
    const d = document.createElement("div");
    d.className = "row";
    d.textContent = "row added after 1 s";
    document.getElementById("list").append(d);
    console.warn("row added");
}, 1000);
</script>
"""
    with tempfile.TemporaryDirectory(prefix="cdp-test-") as tmp:
        docroot = os.path.join(tmp, "www")
        os.mkdir(docroot)
        with open(os.path.join(docroot, "index.html"), "w") as f:
            f.write(html)

        class Quiet(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(Quiet, directory=docroot))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = "http://127.0.0.1:%d/index.html" % server.server_address[1]
        closed = socket.socket()  # bound, never listening: connections to it are refused
        closed.bind(("127.0.0.1", 0))
        png = os.path.join(tmp, "page.png")

        def left_behind(pid):  # nothing in the group, nothing naming tmp, no zombie children
            for argv in (["-g", str(pid)], ["-f", tmp], ["-P", str(os.getpid())]):
                out = subprocess.run(["pgrep", "-l", *argv], capture_output=True, text=True)
                assert out.stdout == "", (argv, out.stdout)
        t0 = time.monotonic()
        try:
            with Browser(tmp) as b:
                t_launch = time.monotonic() - t0
                page = b.new_page(width=1280, height=900)
                page.goto(url, timeout=10)
                t_goto = time.monotonic() - t0
                page.screenshot(png)
                t_shot = time.monotonic() - t0
                pid = b.pid
                t = time.monotonic()
                n = page.wait_for("document.querySelectorAll('.row').length", timeout=10)
                t_wait = time.monotonic() - t
                assert n == 1, n
                page.screenshot(png)
                if os.environ.get("CDP_KEEP_PNG"):
                    shutil.copy(png, os.environ["CDP_KEEP_PNG"])
                with open(png, "rb") as f:
                    head = f.read(24)
                assert head[:8] == b"\x89PNG\r\n\x1a\n", head
                assert struct.unpack(">II", head[16:24]) == (1280, 900), head[16:24]
                assert page.evaluate("document.title") == "cdp self-test"
                assert page.evaluate("new Promise(r => setTimeout(() => r({x: [1, 2]}), 50))") \
                    == {"x": [1, 2]}
                assert page.evaluate("undefined") is None
                texts = [(m["type"], m["text"]) for m in page.console]
                assert ("log", 'page loaded 42 Object') in texts, texts
                assert ("warning", "row added") in texts, texts
                assert not page.errors, page.errors
                try:
                    page.evaluate("null.foo")
                    raise AssertionError("evaluate of null.foo did not raise")
                except JSError as e:
                    assert "TypeError" in str(e), e
                page.evaluate("setTimeout(() => { throw new Error('late boom'); }, 0); 1")
                page.wait_for("true")
                b.pump(0.3)
                assert any("late boom" in m["text"] for m in page.errors), page.console
                t = time.monotonic()
                try:
                    page.wait_for("document.querySelector('.never')", timeout=0.5)
                    raise AssertionError("wait_for did not time out")
                except AssertionError as e:
                    t_timeout = time.monotonic() - t
                    assert "last value: None" in str(e) and t_timeout < 1.0, (e, t_timeout)
                try:
                    page.goto("http://127.0.0.1:%d/" % closed.getsockname()[1], timeout=5)
                    raise AssertionError("goto a closed port did not raise")
                except CDPError as e:
                    assert "ERR_CONNECTION_REFUSED" in str(e), e
                try:
                    page.command("No.suchMethod")
                    raise AssertionError("unknown method did not raise")
                except CDPError as e:
                    assert "No.suchMethod" in str(e), e
                page.goto(url + "#frag", timeout=5)
                page.goto(url, timeout=5)
            t_all = time.monotonic() - t0
            t = time.monotonic()
            left_behind(pid)

            # A browser that dies under a page: the next call raises promptly with stderr.
            with Browser(tmp) as b:
                page = b.new_page()
                os.kill(b.pid, signal.SIGKILL)
                t = time.monotonic()
                try:
                    page.evaluate("1", timeout=10)
                    raise AssertionError("evaluate on a dead browser did not raise")
                except BrowserDied as e:
                    t_dead = time.monotonic() - t
                    assert t_dead < 1.0 and "stderr tail" in str(e), (t_dead, e)
                pid = b.pid
            t_second = time.monotonic() - t
            left_behind(pid)
        finally:
            server.shutdown()
            server.server_close()
            closed.close()
    print("launch %.2f s, +goto %.2f s, +screenshot %.2f s; wait_for row %.2f s; "
          "wait_for timeout 0.5 -> %.2f s; first browser %.2f s; death seen in %.2f s, "
          "second browser %.2f s; self-test %.2f s"
          % (t_launch, t_goto, t_shot, t_wait, t_timeout, t_all, t_dead, t_second,
             time.monotonic() - t_start))
    print("cdp self-test: ok")


if __name__ == "__main__":
    _self_test()
