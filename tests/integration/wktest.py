"""wktest: the harness the integration tests share.

Starts wellknown-httpd (env WK_HTTPD) on 127.0.0.1 port 0, reads the real
port back from its "httpd listen addr=..." line, keeps every line it writes
on stderr (log) and stdout (access log), and stops it with SIGTERM expecting
exit status 0. Gives raw-socket clients that send exact bytes and parse
exact responses, and a curl wrapper. Every wait is bounded; every server and
temporary directory a test makes is removed by the test's cleanups, and a
test fails if the server printed a sanitizer report.

Python 3 standard library only.
"""

import glob
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

SOURCE_DIR = os.environ.get(
    "WK_SOURCE_DIR",
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BUILD_DIR = os.environ.get("WK_BUILD_DIR", "")
SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "runtime error:")
CRLF = b"\r\n"


def _find_binary():
    path = os.environ.get("WK_HTTPD")
    if path:
        return path
    for d in (BUILD_DIR, os.path.join(SOURCE_DIR, "build")):
        cand = os.path.join(d, "wellknown-httpd") if d else ""
        if cand and os.access(cand, os.X_OK):
            return cand
    return ""


HTTPD = _find_binary()
SMTPD = os.environ.get("WK_SMTPD") or os.path.join(os.path.dirname(HTTPD), "wellknown-smtpd")


def _is_sanitized(path):
    try:
        with open(path, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


# Sanitizer builds run about three times slower: stretch every deadline.
SCALE = float(os.environ.get("WK_TIME_SCALE") or (3 if _is_sanitized(HTTPD) else 1))


def scaled(seconds):
    return seconds * SCALE


def have_ipv6():
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


# ---------------------------------------------------------------- server --

class Server:
    """One wellknown-httpd process with its output collected line by line."""


    def __init__(self, args=(), listen=("127.0.0.1:0",), root=None, access_log=None,
                 nlisten=None, preexec_fn=None, binary=None, start_timeout=10, prog="httpd"):
        """prog: "httpd" or "smtpd", the name that starts the server's log lines."""
        self.prog = prog
        self.LISTEN_RE = re.compile(r"^%s listen addr=(\S+) fd=(\d+)" % prog)
        self.binary = binary or (SMTPD if prog == "smtpd" else HTTPD)
        argv = [self.binary]
        for a in listen or ():
            argv += ["--listen", a]
        if root is not None:
            argv += ["--root", root]
        if access_log is not None:
            argv += ["--access-log", access_log]
        argv += list(args)
        # Each server its own status socket (and httpd no stray smtpd's), so tests run in parallel.
        self.run_dir = tempfile.mkdtemp(prefix="wk-run-")
        os.chmod(self.run_dir, 0o1777)  # for a server that runs as another user
        self.status_socket = os.path.join(self.run_dir, "%s.sock" % prog)
        if "--status-socket" not in argv:
            argv += ["--status-socket", self.status_socket]
        if prog == "httpd" and "--smtpd-status" not in argv:
            argv += ["--smtpd-status", os.path.join(self.run_dir, "no-smtpd.sock")]
        self.argv = argv
        self.nlisten = len(listen or ()) if nlisten is None else nlisten
        self.lines = []        # stderr: the server's log
        self.out_lines = []    # stdout: the access log by default
        self.cond = threading.Condition()
        self.proc = None
        self.returncode = None
        self.listeners = []    # [(addr text, fd)]
        self._start(preexec_fn, start_timeout)

    # -- process --

    def _start(self, preexec_fn, start_timeout):
        if not self.binary or not os.access(self.binary, os.X_OK):
            raise AssertionError("wellknown-%s not found (got %r)" % (self.prog, self.binary))
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env, preexec_fn=preexec_fn)
        self.pid = self.proc.pid
        self._readers = [
            threading.Thread(target=self._reader, args=(self.proc.stderr, self.lines), daemon=True),
            threading.Thread(target=self._reader, args=(self.proc.stdout, self.out_lines),
                             daemon=True),
        ]
        for t in self._readers:
            t.start()
        if self.nlisten == 0:
            return
        deadline = time.monotonic() + scaled(start_timeout)
        with self.cond:
            while True:
                found = [self.LISTEN_RE.match(l) for l in self.lines]
                found = [m for m in found if m]
                if len(found) >= self.nlisten:
                    break
                if self.proc.poll() is not None and not self._readers[0].is_alive():
                    raise AssertionError("httpd exited with %s before listening:\n%s"
                                         % (self.proc.returncode, self.stderr_text()))
                left = deadline - time.monotonic()
                if left <= 0:
                    self.kill()
                    raise AssertionError("httpd did not log %d listen line(s) in time:\n%s"
                                         % (self.nlisten, self.stderr_text()))
                self.cond.wait(min(left, 0.1))
        self.listeners = [(m.group(1), int(m.group(2))) for m in found]
        self.addr = self.listeners[0][0]
        self.port = None if self.addr.startswith("unix:") else port_of(self.addr)

    def _reader(self, stream, into):
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self.cond:
                into.append(line)
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def send_signal(self, signo):
        if self.running():
            os.kill(self.pid, signo)

    def wait_exit(self, timeout=15):
        """Waits for the process to exit; returns its status or None if it still runs."""
        try:
            self.returncode = self.proc.wait(timeout=scaled(timeout))
        except subprocess.TimeoutExpired:
            return None
        self._close_pipes()
        return self.returncode

    def _close_pipes(self):
        for t in self._readers:
            t.join(timeout=5)
        for f in (self.proc.stdout, self.proc.stderr):
            if not any(t.is_alive() for t in self._readers):
                f.close()
        shutil.rmtree(self.run_dir, True)

    def stop(self, signo=signal.SIGTERM, timeout=15):
        """SIGTERM (or signo), wait; asserts exit status 0; kills -9 and fails if hung."""
        if self.proc.poll() is None:
            os.kill(self.pid, signo)
        rc = self.wait_exit(timeout)
        if rc is None:
            self.kill()
            raise AssertionError("httpd did not exit within %ss of signal %d:\n%s"
                                 % (timeout, signo, self.stderr_text()))
        if rc != 0:
            raise AssertionError("httpd exited with status %d:\n%s" % (rc, self.stderr_text()))
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        self._close_pipes()
        self.returncode = self.proc.returncode

    def cpu_seconds(self):
        """utime + stime of the server: the process and its workers, from /proc."""
        def tree(pid):
            try:
                with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
                    kids = [int(k) for k in f.read().split()]
            except OSError:
                kids = []
            return [pid] + [p for k in kids for p in tree(k)]
        ticks = 0
        for pid in tree(self.pid):
            try:
                with open("/proc/%d/stat" % pid) as f:
                    data = f.read()
            except OSError:
                continue
            fields = data[data.rindex(")") + 2:].split()
            ticks += int(fields[11]) + int(fields[12])
        return ticks / os.sysconf("SC_CLK_TCK")

    # -- log lines --

    def stderr_text(self):
        with self.cond:
            return "\n".join(self.lines)

    def stdout_text(self):
        with self.cond:
            return "\n".join(self.out_lines)

    def sanitizer_report(self):
        text = self.stderr_text()
        for mark in SANITIZER_MARKS:
            if mark in text:
                return text
        return None

    def find(self, regex, stdout=False):
        """All matches of regex (searched from the start of each line) so far."""
        r = re.compile(regex)
        with self.cond:
            src = list(self.out_lines if stdout else self.lines)
        return [m for m in (r.search(l) for l in src) if m]

    def wait_log(self, regex, timeout=5, stdout=False, count=1):
        """Waits for count lines matching regex; returns the last match (or fails)."""
        r = re.compile(regex)
        src = self.out_lines if stdout else self.lines
        deadline = time.monotonic() + scaled(timeout)
        with self.cond:
            while True:
                found = [m for m in (r.search(l) for l in src) if m]
                if len(found) >= count:
                    return found[count - 1]
                left = deadline - time.monotonic()
                if left <= 0:
                    tail = "\n".join(src[-40:])
                    raise AssertionError("no %d line(s) matching %r within %ss; last lines:\n%s"
                                         % (count, regex, timeout, tail))
                self.cond.wait(min(left, 0.1))

    def accept_for(self, client_port, timeout=5):
        """The accept line of the client whose local port is client_port: (fd, listener)."""
        m = self.wait_log(r"^%s accept fd=(\d+) listener=(\S+) client=\S+:%d open=(\d+)$"
                          % (self.prog, client_port), timeout)
        return int(m.group(1)), m.group(2)


def port_of(addr):
    return int(addr.rsplit(":", 1)[1])


# -------------------------------------------------------------- responses --

class Response:
    def __init__(self, version, status, reason, headers, body, raw):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers     # [(name, value)] in order
        self.body = body
        self.raw = raw             # every byte of this response

    def get(self, name, default=None):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return default

    def get_all(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    def has(self, name):
        return self.get(name) is not None

    def __repr__(self):
        return "<Response %s %r headers=%r body=%r>" % (self.status, self.reason, self.headers,
                                                         self.body[:200])


class Closed(Exception):
    """The peer closed (or reset) before a whole response arrived."""


class Conn:
    """A raw client connection with a receive buffer (for pipelined responses)."""

    def __init__(self, port=None, host="127.0.0.1", timeout=5, unix=None, sock=None):
        self.timeout = scaled(timeout)
        if sock is not None:
            self.sock = sock
        elif unix is not None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(self.timeout)
            self.sock.connect(unix)
        else:
            fam = socket.AF_INET6 if ":" in host else socket.AF_INET
            self.sock = socket.socket(fam, socket.SOCK_STREAM)
            self.sock.settimeout(self.timeout)
            try:
                self.sock.connect((host, port))
            except OSError:
                self.sock.close()
                raise
        self.buf = b""
        self.eof = False

    @property
    def local_port(self):
        return self.sock.getsockname()[1]

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("latin-1")
        self.sock.sendall(data)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _fill(self, deadline):
        if self.eof:
            raise Closed("connection closed; have %r" % self.buf[:300])
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("timed out; have %r" % self.buf[:300])
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
            raise Closed("connection closed; have %r" % self.buf[:300])
        self.buf += data

    def read_until(self, delim, limit=1 << 20, timeout=None):
        deadline = time.monotonic() + (self.timeout if timeout is None else scaled(timeout))
        while delim not in self.buf:
            if len(self.buf) > limit:
                raise AssertionError("no %r in the first %d bytes" % (delim, limit))
            self._fill(deadline)
        i = self.buf.index(delim) + len(delim)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def read_exact(self, n, timeout=None):
        deadline = time.monotonic() + (self.timeout if timeout is None else scaled(timeout))
        while len(self.buf) < n:
            self._fill(deadline)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_all(self, timeout=None, limit=64 << 20):
        """Everything until the peer closes (fails if it does not close in time)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else scaled(timeout))
        while not self.eof:
            if len(self.buf) > limit:
                raise AssertionError("more than %d bytes without a close" % limit)
            try:
                self._fill(deadline)
            except Closed:
                break
        out, self.buf = self.buf, b""
        return out

    def read_response(self, method="GET", timeout=None):
        """Reads one response: status line, headers, body framed as RFC 9112 section 6.3."""
        tmo = self.timeout / SCALE if timeout is None else timeout   # unscaled, per phase
        head = self.read_until(b"\r\n\r\n", limit=256 * 1024, timeout=tmo)
        lines = head[:-4].split(b"\r\n")
        m = re.match(rb"^(HTTP/\d\.\d) (\d{3}) ?(.*)$", lines[0])
        if not m:
            raise AssertionError("bad status line %r" % lines[0])
        version, status, reason = m.group(1).decode(), int(m.group(2)), m.group(3).decode("latin-1")
        headers = []
        for l in lines[1:]:
            if b":" not in l:
                raise AssertionError("bad header line %r in %r" % (l, head))
            k, v = l.split(b":", 1)
            if k != k.strip() or not k:
                raise AssertionError("bad header name %r" % k)
            headers.append((k.decode("latin-1"), v.strip(b" \t").decode("latin-1")))
        resp = Response(version, status, reason, headers, b"", head)
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            return resp
        te = resp.get("Transfer-Encoding")
        cl = resp.get("Content-Length")
        if te is not None:
            if te.lower() != "chunked":
                raise AssertionError("unexpected Transfer-Encoding %r" % te)
            body, raw = b"", b""
            while True:
                sl = self.read_until(b"\r\n", timeout=tmo)
                raw += sl
                size = int(sl.split(b";")[0].strip(), 16)
                if size == 0:
                    while True:
                        tl = self.read_until(b"\r\n", timeout=tmo)
                        raw += tl
                        if tl == b"\r\n":
                            break
                    break
                chunk = self.read_exact(size + 2, timeout=tmo)
                raw += chunk
                body += chunk[:-2]
            resp.body, resp.raw = body, head + raw
        elif cl is not None:
            if not re.fullmatch(r"\d+", cl):
                raise AssertionError("bad Content-Length %r" % cl)
            resp.body = self.read_exact(int(cl), timeout=tmo)
            resp.raw = head + resp.body
        else:
            resp.body = self.read_all(timeout=tmo)
            resp.raw = head + resp.body
        return resp

    def wait_closed(self, timeout=3):
        """Waits for EOF or RST; returns (closed, extra bytes received before it)."""
        deadline = time.monotonic() + scaled(timeout)
        extra = self.buf
        self.buf = b""
        while not self.eof:
            left = deadline - time.monotonic()
            if left <= 0:
                return False, extra
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                return False, extra
            except ConnectionResetError:
                data = b""
            if not data:
                self.eof = True
                break
            extra += data
        return True, extra


def request(path="/", method="GET", version="HTTP/1.1", host="localhost", headers=(),
            body=b""):
    """Bytes of one request; headers is a list of (name, value) or raw 'Name: value' strings."""
    lines = ["%s %s %s" % (method, path, version)]
    if host is not None:
        lines.append("Host: %s" % host)
    for h in headers:
        lines.append(h if isinstance(h, str) else "%s: %s" % h)
    data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return data + (body.encode("latin-1") if isinstance(body, str) else body)


def normalize_date(raw):
    """A response's bytes with the Date header's value blanked (it changes every second)."""
    return re.sub(rb"(?im)^(Date:)[^\r\n]*", rb"\1 X", raw)


# --------------------------------------------------------------- testcase --

class TestCase(unittest.TestCase):
    """Base class: servers and temp dirs it makes are cleaned up and checked."""

    maxDiff = 4000

    def start_server(self, *args, **kw):
        srv = Server(*args, **kw)
        self.addCleanup(self._finish_server, srv)
        return srv

    def _finish_server(self, srv):
        try:
            if srv.running():
                srv.stop()
        finally:
            if srv.running():
                srv.kill()
            report = srv.sanitizer_report()
            if report:
                self.fail("sanitizer report on httpd's stderr:\n" + report)
            if os.environ.get("WK_TEST_VERBOSE"):
                sys.stderr.write("\n--- httpd stderr (%s) ---\n%s\n--- stdout ---\n%s\n"
                                 % (self.id(), srv.stderr_text(), srv.stdout_text()))

    def make_dir(self):
        d = tempfile.mkdtemp(prefix="wk-it-")
        self.addCleanup(shutil.rmtree, d, True)
        return d

    def make_root(self, files=None, mtime=None):
        """A temporary docroot; files maps relative path -> bytes/str (dirs end in '/')."""
        root = self.make_dir()
        for name, data in (files or {}).items():
            populate(root, name, data, mtime)
        return root

    def connect(self, srv_or_port, **kw):
        port = srv_or_port if isinstance(srv_or_port, int) else srv_or_port.port
        c = Conn(port, **kw)
        self.addCleanup(c.close)
        return c

    def exchange(self, srv_or_port, data, method="GET", **kw):
        """New connection, send data, read one response; returns (response, conn)."""
        c = self.connect(srv_or_port, **kw)
        c.send(data)
        return c.read_response(method), c

    def get(self, srv, path, method="GET", headers=(), version="HTTP/1.1"):
        resp, c = self.exchange(srv, request(path, method, version, headers=headers), method)
        c.close()
        return resp

    def run_httpd(self, args, timeout=10):
        """Runs the binary to completion (e.g. --help); returns CompletedProcess with text."""
        p = subprocess.run([HTTPD] + list(args), stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=scaled(timeout))
        p.stdout = p.stdout.decode("utf-8", "replace")
        p.stderr = p.stderr.decode("utf-8", "replace")
        for mark in SANITIZER_MARKS:
            self.assertNotIn(mark, p.stderr)
        return p

    def curl(self, *args, timeout=10):
        p = subprocess.run(["curl", "-sS", "--max-time", str(scaled(timeout))] + list(args),
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=scaled(timeout) + 5)
        return p

    # -- assertions shared by the files --

    def assertCommonHeaders(self, resp):
        self.assertRegex(resp.get("Date", ""),
                         r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep"
                         r"|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT$")
        self.assertRegex(resp.get("Server", ""), r"^wellknown/\S+")

    def assertErrorPage(self, resp, status, head=False):
        self.assertEqual(resp.status, status, resp)
        self.assertCommonHeaders(resp)
        self.assertEqual(resp.get("Content-Type"), "text/html; charset=utf-8", resp)
        self.assertEqual(len(resp.get_all("Content-Length")), 1, resp)
        if not head:
            self.assertEqual(int(resp.get("Content-Length")), len(resp.body), resp)
            self.assertGreater(len(resp.body), 0)
            self.assertIn(str(status).encode(), resp.body)

    def assertClosed(self, conn, timeout=3):
        closed, extra = conn.wait_closed(timeout)
        self.assertEqual(extra, b"", "bytes after the response: %r" % extra[:300])
        self.assertTrue(closed, "connection still open after %ss" % timeout)

    def assertOpen(self, conn, path="/", expect=None):
        """Proves the connection still serves: a second request on it gets an answer."""
        conn.send(request(path))
        resp = conn.read_response()
        if expect is not None:
            self.assertEqual(resp.status, expect, resp)
        return resp


def populate(root, name, data, mtime=None):
    path = os.path.join(root, name)
    if name.endswith("/"):
        os.makedirs(path, exist_ok=True)
        return path
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def main():
    unittest.main(verbosity=int(os.environ.get("WK_TEST_VERBOSITY", "2")))


def stored(maildir, folder):
    """The messages in MAILDIR/folder/new, as bytes, in name order."""
    out = []
    for path in sorted(glob.glob(os.path.join(maildir, folder, "new", "*"))):
        with open(path, "rb") as f:
            out.append(f.read())
    return out


class SmtpRaw:
    """A raw SMTP client: exact bytes out, whole replies in."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=scaled(5))
        self.buf = b""

    @property
    def local_port(self):
        return self.s.getsockname()[1]

    def send(self, data):
        self.s.sendall(data)

    def reply(self):
        """One whole reply (all its lines): (code, [text lines])."""
        lines = []
        while True:
            while b"\r\n" not in self.buf:
                chunk = self.s.recv(65536)
                if not chunk:
                    raise EOFError("closed after %r" % lines)
                self.buf += chunk
            line, self.buf = self.buf.split(b"\r\n", 1)
            lines.append(line.decode("latin-1"))
            if len(line) < 4 or line[3:4] != b"-":
                return int(line[:3]), lines

    def closed(self):
        try:
            return self.s.recv(1) == b""
        except (ConnectionResetError, socket.timeout):
            return False

    def close(self):
        self.s.close()

