"""45-http-load: many clients, slow clients, timeouts and running out of fds.

200 clients connected at once all answered; a half-sent request and a client
that never reads a large response do not hold up a fast client; two clients
at once are told apart by port on one listener; --header-timeout cuts off a
dribbled head; --idle-timeout closes an idle keep-alive connection; with
RLIMIT_NOFILE at 40 and 60 clients the server neither dies nor spins, and
serves again once the clients go.
"""

import http.client
import os
import resource
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wktest  # noqa: E402
from wktest import Conn, request, scaled  # noqa: E402

HELLO = b"hello world\n"
FILES = {"f%d.txt" % i: (b"file number %d\n" % i) * (i + 1) for i in range(10)}
BIG_SIZE = 32 << 20


class Load(wktest.TestCase):
    def server(self, *args, **kw):
        files = dict(FILES)
        files["hello.txt"] = HELLO
        root = self.make_root(files)
        with open(os.path.join(root, "big.bin"), "wb") as f:
            f.truncate(BIG_SIZE)  # sparse: cheap to make, still 32 MB to send
        return self.start_server(list(args), root=root, **kw)

    def timed_get(self, srv, path="/hello.txt"):
        t0 = time.monotonic()
        with Conn(srv.port) as c:
            c.send(request(path))
            resp = c.read_response()
        return resp, time.monotonic() - t0

    def test_200_concurrent_clients(self):
        srv = self.server("--workers", "1")  # one process: its open= counts all 200
        n = 200
        conns = []
        try:
            for i in range(n):
                conns.append(Conn(srv.port, timeout=10))
            for i, c in enumerate(conns):
                c.send(request("/f%d.txt" % (i % 10)))
            for i, c in enumerate(conns):
                resp = c.read_response()
                self.assertEqual(resp.status, 200, "client %d" % i)
                self.assertEqual(resp.body, FILES["f%d.txt" % (i % 10)], "client %d" % i)
            ports = {c.local_port for c in conns}
            self.assertEqual(len(ports), n)
            srv.wait_log(r"^httpd accept .* open=%d$" % n)
        finally:
            for c in conns:
                c.close()
        srv.wait_log(r"^httpd close .* open=0$")

    def test_threads_with_keepalive(self):
        srv = self.server()
        errors = []

        def client(k):
            try:
                hc = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=scaled(10))
                for j in range(5):
                    name = "f%d.txt" % ((k + j) % 10)
                    hc.request("GET", "/" + name)
                    r = hc.getresponse()
                    body = r.read()
                    if r.status != 200 or body != FILES[name]:
                        errors.append((k, j, r.status, body[:40]))
                hc.close()
            except Exception as e:  # reported below
                errors.append((k, repr(e)))

        threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(50)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(scaled(20))
        self.assertFalse(any(t.is_alive() for t in threads), "client threads hung")
        self.assertEqual(errors, [])

    def test_slow_and_stuck_clients_do_not_block_others(self):
        srv = self.server("--header-timeout", "10s")
        slow = self.connect(srv)
        slow.send(b"GET /hello.txt HTTP/1.1\r\nHo")        # half a request, then nothing
        stuck = socket.socket()
        self.addCleanup(stuck.close)
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck.connect(("127.0.0.1", srv.port))
        stuck.sendall(request("/big.bin"))                  # 32 MB it never reads
        time.sleep(0.3)
        for _ in range(5):
            resp, took = self.timed_get(srv)
            self.assertEqual(resp.body, HELLO)
            self.assertLess(took, scaled(1.0), "a fast client waited %.2fs" % took)
        # The slow client was only slow: finishing its request gets it served.
        slow.send(b"st: x\r\n\r\n")
        self.assertEqual(slow.read_response().body, HELLO)
        stuck.close()

    def test_two_clients_one_listener(self):
        srv = self.server("--workers", "1")  # one process's fd table: two fds
        a, b = self.connect(srv), self.connect(srv)
        a.send(request("/f1.txt"))
        b.send(request("/f2.txt"))
        self.assertEqual(b.read_response().body, FILES["f2.txt"])
        self.assertEqual(a.read_response().body, FILES["f1.txt"])
        fd_a, lis_a = srv.accept_for(a.local_port)
        fd_b, lis_b = srv.accept_for(b.local_port)
        self.assertEqual(lis_a, srv.addr)
        self.assertEqual(lis_b, srv.addr)
        self.assertNotEqual(a.local_port, b.local_port)
        self.assertNotEqual(fd_a, fd_b)
        self.assertNotIn(srv.listeners[0][1], (fd_a, fd_b))
        port_a, port_b = a.local_port, b.local_port
        a.close()
        b.close()
        for fd, port in ((fd_a, port_a), (fd_b, port_b)):
            srv.wait_log(r"^httpd close fd=%d listener=%s client=127\.0\.0\.1:%d reason=\S+ "
                         r"in=\d+ out=\d+ ms=\d+ open=\d+$"
                         % (fd, srv.addr.replace(".", r"\."), port))

    def test_header_timeout_cuts_off_dribbling(self):
        srv = self.server("--header-timeout", "1s", "--idle-timeout", "30s")
        c = self.connect(srv)
        t0 = time.monotonic()
        c.send(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        got, closed = b"", False
        for _ in range(80):                                  # at most ~8 s of dribbling
            try:
                c.send(b"a")
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            closed, extra = c.wait_closed(0.1 / wktest.SCALE)
            got += extra
            if closed:
                break
        took = time.monotonic() - t0
        self.assertTrue(closed, "still open after %.1fs of dribbling" % took)
        self.assertGreater(took, 0.8, "cut off before the header timeout")
        self.assertLess(took, scaled(1.0) + 1.5, "cut off late")
        self.assertTrue(got == b"" or got.startswith(b"HTTP/1.1 408 "), got[:100])
        if got:
            self.assertNotIn(HELLO, got)

    def test_idle_timeout(self):
        srv = self.server("--idle-timeout", "1s", "--header-timeout", "10s")
        c = self.connect(srv)
        c.send(request("/hello.txt"))
        self.assertEqual(c.read_response().body, HELLO)
        t0 = time.monotonic()
        closed, extra = c.wait_closed(1.0 + 3 / wktest.SCALE)
        took = time.monotonic() - t0
        why = srv.find(r"^httpd close .*client=127\.0\.0\.1:%d " % c.local_port)
        why = why[0].string if why else "no close line"
        self.assertTrue(closed, "idle connection still open")
        self.assertEqual(extra, b"")
        self.assertGreater(took, 0.7, "closed before the idle timeout: " + why)
        self.assertLess(took, scaled(1.0) + 1.5, why)
        # Activity resets the timer: requests every 0.4 s keep a connection for 2 s.
        c = self.connect(srv)
        for _ in range(5):
            c.send(request("/hello.txt"))
            self.assertEqual(c.read_response().body, HELLO)
            time.sleep(0.4)

    def test_fd_exhaustion(self):
        def low_nofile():
            resource.setrlimit(resource.RLIMIT_NOFILE, (40, 40))

        srv = self.server("--idle-timeout", "60s", "--header-timeout", "60s", "--workers", "1",
                          preexec_fn=low_nofile)  # one process's 40 fds
        conns = []
        try:
            for _ in range(60):
                conns.append(Conn(srv.port))
            time.sleep(scaled(0.5))
            accepted = len(srv.find(r"^httpd accept "))
            self.assertLess(accepted, 60, "with 40 fds the server cannot hold 60 clients")
            self.assertTrue(srv.running())
            cpu0, wall0 = srv.cpu_seconds(), time.monotonic()
            time.sleep(1.0)
            cpu1, wall1 = srv.cpu_seconds(), time.monotonic()
            self.assertTrue(srv.running(), "server died out of fds:\n" + srv.stderr_text())
            self.assertLess(cpu1 - cpu0, 0.3, "server spins: %.2fs CPU in %.2fs"
                            % (cpu1 - cpu0, wall1 - wall0))
        finally:
            for c in conns:
                c.close()
        deadline = time.monotonic() + scaled(5)
        resp = None
        while time.monotonic() < deadline:
            try:
                with Conn(srv.port, timeout=1) as c:
                    c.send(request("/hello.txt"))
                    resp = c.read_response()
                    break
            except (OSError, wktest.Closed):
                time.sleep(0.1)
        self.assertIsNotNone(resp, "no answer after the clients left")
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.body, HELLO)
        self.assertTrue(srv.running())


if __name__ == "__main__":
    wktest.main()
