"""46-http-lifecycle: stopping cleanly, and the access log.

SIGTERM or SIGINT during a download that is still in flight: the download
completes byte for byte, new clients are not served, and the exit status is
0; idle keep-alive connections do not delay the exit; --shutdown-timeout
bounds a client that never reads. The access log is Combined Log Format plus
port=N fd=N, where the port is the client's real port and the fd the one in
the accept line.
"""

import calendar
import os
import re
import signal
import socket
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wktest  # noqa: E402
from wktest import Conn, request, scaled  # noqa: E402

HELLO = b"hello world\n"
BIG = bytes(range(256)) * (64 * 1024)        # 16 MB
CLF = re.compile(r'^(\S+) (\S+) (\S+) \[([^\]]+)\] "((?:[^"\\]|\\.)*)" (\d{3}) (\d+|-) '
                 r'"((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)" port=(\d+) fd=(\d+)$')


def slow_socket(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    s.settimeout(scaled(10))
    s.connect(("127.0.0.1", port))
    return s


class Lifecycle(wktest.TestCase):
    def setUp(self):
        self.root = self.make_root({"hello.txt": HELLO, "big.bin": BIG})

    def download_survives(self, signo):
        # A bound far above the download's time even on a loaded machine: the bound
        # itself is tested with a stuck client below.
        srv = self.start_server(["--shutdown-timeout", "%ds" % int(scaled(60)), "--workers", "2"],
                                root=self.root)
        s = slow_socket(srv.port)
        self.addCleanup(s.close)
        s.sendall(request("/big.bin"))
        c = Conn(sock=s, timeout=10)
        head = c.read_until(b"\r\n\r\n")
        self.assertIn(b" 200 ", head.split(b"\r\n")[0])
        self.assertIn(b"Content-Length: %d\r\n" % len(BIG), head)
        first = c.read_exact(65536)
        srv.send_signal(signo)
        # The parent passes the signal on; each worker stops accepting when it gets it.
        srv.wait_log(r"^httpd stopping signal=\w+ open=\d+$", count=2)
        self.assertTrue(srv.running(), "exited with a download in flight")
        # A newcomer is not served while the server drains.
        try:
            with Conn(srv.port, timeout=1) as late:
                late.send(request("/hello.txt"))
                closed, extra = late.wait_closed(1)
            self.assertNotIn(b"HTTP/", extra, "served a new client after the signal")
        except (ConnectionRefusedError, ConnectionResetError, BrokenPipeError):
            pass
        try:
            rest = c.read_exact(len(BIG) - len(first), timeout=30)
        except wktest.Closed:
            got = len(first) + len(c.buf)
            srv.wait_exit(10)
            raise AssertionError("download cut off at %d of %d bytes after the signal:\n%s"
                                 % (got, len(BIG), srv.stderr_text())) from None
        self.assertTrue(first + rest == BIG, "download corrupted")
        closed, extra = c.wait_closed(10)
        self.assertTrue(closed)
        self.assertEqual(extra, b"")
        rc = srv.wait_exit(15)
        self.assertEqual(rc, 0, srv.stderr_text())
        srv.wait_log(r"^httpd exit\b")

    def test_sigterm_lets_download_finish(self):
        self.download_survives(signal.SIGTERM)

    def test_sigint_lets_download_finish(self):
        self.download_survives(signal.SIGINT)

    def test_idle_connections_do_not_delay_exit(self):
        srv = self.start_server(["--shutdown-timeout", "10s", "--idle-timeout", "60s"],
                                root=self.root)
        idle = [self.connect(srv) for _ in range(3)]
        for c in idle:
            c.send(request("/hello.txt"))
            self.assertEqual(c.read_response().body, HELLO)
        never_spoke = self.connect(srv)
        srv.accept_for(never_spoke.local_port)
        t0 = time.monotonic()
        srv.send_signal(signal.SIGTERM)
        rc = srv.wait_exit(scaled(3))
        self.assertEqual(rc, 0, "exit took longer than 3 s or failed:\n" + srv.stderr_text())
        self.assertLess(time.monotonic() - t0, scaled(3))
        for c in idle + [never_spoke]:
            self.assertClosed(c)

    def test_shutdown_timeout_bounds_a_stuck_client(self):
        srv = self.start_server(["--shutdown-timeout", "1s"], root=self.root)
        s = slow_socket(srv.port)
        self.addCleanup(s.close)
        s.sendall(request("/big.bin"))
        s.recv(1024)
        t0 = time.monotonic()
        srv.send_signal(signal.SIGTERM)
        rc = srv.wait_exit(scaled(1) + 4)
        took = time.monotonic() - t0
        self.assertEqual(rc, 0, "did not exit 0 within the shutdown timeout:\n"
                         + srv.stderr_text())
        self.assertGreater(took, 0.7, "gave up on the download before the shutdown timeout")

    # -- access log --

    def parse(self, line):
        m = CLF.match(line)
        self.assertTrue(m, "not Combined Log Format + port= fd=: %r" % line)
        return m.groups()

    def test_access_log_format(self):
        srv = self.start_server(root=self.root)
        c = self.connect(srv)
        c.send(request("/hello.txt", headers=["Referer: http://ref.example/page",
                                              "User-Agent: wk-test/1.0"]))
        self.assertEqual(c.read_response().body, HELLO)
        c.send(request("/hello.txt", "HEAD"))
        c.read_response("HEAD")
        c.send(request("/missing"))
        missing = c.read_response()
        c.send(request("/big.bin", headers=["Range: bytes=10-109"]))
        c.read_response()
        fd, _ = srv.accept_for(c.local_port)
        srv.wait_log(r"/big\.bin", stdout=True)
        lines = srv.out_lines[:]
        self.assertEqual(len(lines), 4, lines)
        now = time.time()
        want = [
            ("GET /hello.txt HTTP/1.1", "200", str(len(HELLO)), "http://ref.example/page",
             "wk-test/1.0"),
            ("HEAD /hello.txt HTTP/1.1", "200", "-", "-", "-"),
            ("GET /missing HTTP/1.1", "404", str(len(missing.body)), "-", "-"),
            ("GET /big.bin HTTP/1.1", "206", "100", "-", "-"),
        ]
        for line, (req, status, size, ref, ua) in zip(lines, want):
            with self.subTest(line=line):
                host, ident, user, when, r, st, sz, rf, u, port, lfd = self.parse(line)
                self.assertEqual((host, ident, user), ("127.0.0.1", "-", "-"))
                t = time.strptime(when, "%d/%b/%Y:%H:%M:%S %z")
                self.assertLess(abs(calendar.timegm(t) - t.tm_gmtoff - now), 120, when)
                self.assertEqual((r, st, sz, rf, u), (req, status, size, ref, ua))
                self.assertEqual(int(port), c.local_port)
                self.assertEqual(int(lfd), fd)

    def test_access_log_escapes_client_text(self):
        srv = self.start_server(root=self.root)
        raw = (b'GET /hello.txt HTTP/1.1\r\nHost: x\r\nUser-Agent: evil"agent\x01\x7f\xff end\r\n'
               b'Referer: a\\b\r\n\r\n')
        resp, c = self.exchange(srv, raw)
        self.assertIn(resp.status, (200, 400))
        srv.wait_log(r"port=%d" % c.local_port, stdout=True)
        lines = srv.find(r"port=%d" % c.local_port, stdout=True)
        self.assertEqual(len(lines), 1)
        line = lines[0].string
        for ch in "\x01\x7f\x1b\n\r":
            self.assertNotIn(ch, line)
        if resp.status == 200:
            g = self.parse(line)
            self.assertTrue(g[8].startswith('evil\\"agent'), g[8])
            self.assertEqual(g[7], "a\\\\b")

    def test_access_log_curl_and_ipv6(self):
        srv = self.start_server(root=self.root, listen=["127.0.0.1:0"] + (
            ["[::1]:0"] if wktest.have_ipv6() else []))
        p = self.curl("http://127.0.0.1:%d/hello.txt" % srv.port)
        self.assertEqual(p.stdout, HELLO)
        g = self.parse(srv.wait_log(r"curl/", stdout=True).string)
        self.assertRegex(g[8], r"^curl/\d")
        if len(srv.listeners) > 1:
            port6 = wktest.port_of([a for a, _ in srv.listeners if a.startswith("[")][0])
            with Conn(port6, host="::1") as c:
                c.send(request("/hello.txt"))
                c.read_response()
                g = self.parse(srv.wait_log(r"port=%d" % c.local_port, stdout=True).string)
                self.assertEqual(g[0], "::1")

    def test_access_log_to_file(self):
        d = self.make_dir()
        path = os.path.join(d, "access.log")
        srv = self.start_server(root=self.root, access_log=path)
        resp, c = self.exchange(srv, request("/hello.txt"))
        self.assertEqual(resp.body, HELLO)
        port = c.local_port
        c.close()
        srv.stop()
        with open(path) as f:
            lines = f.read().splitlines()
        self.assertEqual(len(lines), 1, lines)
        self.assertEqual(int(self.parse(lines[0])[9]), port)
        self.assertEqual(srv.stdout_text(), "")


if __name__ == "__main__":
    wktest.main()
