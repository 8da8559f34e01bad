"""10-listener: where httpd listens and how it is started.

Port 0 read back from the listen line, IPv4, [::1], unix:PATH through curl,
--check/--help/--version, a config file with flags overriding it, and clear
messages with exit status 1 for a bad address or docroot.
"""

import os
import re
import socket
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wktest  # noqa: E402
from wktest import Conn, request  # noqa: E402

HELLO = b"hello from the listener test\n"


class Listener(wktest.TestCase):
    def setUp(self):
        self.root = self.make_root({"hello.txt": HELLO})

    def test_port0_ipv4_readback(self):
        srv = self.start_server(root=self.root)
        self.assertRegex(srv.addr, r"^127\.0\.0\.1:\d+$")
        self.assertNotEqual(srv.port, 0)
        self.assertGreater(srv.listeners[0][1], 2, "listener fd must not be stdio")
        p = self.curl("http://127.0.0.1:%d/hello.txt" % srv.port)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, HELLO)
        m = srv.wait_log(r"^httpd accept fd=(\d+) listener=127\.0\.0\.1:%d "
                         r"client=127\.0\.0\.1:(\d+) open=1$" % srv.port)
        self.assertNotEqual(int(m.group(1)), srv.listeners[0][1])
        srv.wait_log(r"^httpd close fd=%s listener=127\.0\.0\.1:%d client=127\.0\.0\.1:%s "
                     r"reason=\S+ in=\d+ out=\d+ ms=\d+ open=0$"
                     % (m.group(1), srv.port, m.group(2)))

    def test_two_servers_get_different_ports(self):
        a = self.start_server(root=self.root)
        b = self.start_server(root=self.root)
        self.assertNotEqual(a.port, b.port)
        for s in (a, b):
            self.assertEqual(self.get(s, "/hello.txt").body, HELLO)

    def test_ipv6_loopback(self):
        self.assertTrue(wktest.have_ipv6(), "this test needs the IPv6 loopback address ::1")
        srv = self.start_server(root=self.root, listen=["[::1]:0"])
        self.assertRegex(srv.addr, r"^\[::1\]:\d+$")
        p = self.curl("-g", "http://[::1]:%d/hello.txt" % srv.port)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, HELLO)
        c = self.connect(srv, host="::1")
        c.send(request("/hello.txt"))
        self.assertEqual(c.read_response().body, HELLO)
        srv.wait_log(r"^httpd accept fd=\d+ listener=\[::1\]:%d client=\[::1\]:%d open=\d+$"
                     % (srv.port, c.local_port))

    def test_ipv4_and_ipv6_listeners_together(self):
        self.assertTrue(wktest.have_ipv6(), "this test needs the IPv6 loopback address ::1")
        srv = self.start_server(root=self.root, listen=["127.0.0.1:0", "[::1]:0"])
        self.assertEqual(len(srv.listeners), 2)
        (a4, fd4), (a6, fd6) = sorted(srv.listeners, key=lambda x: x[0].startswith("["))
        self.assertNotEqual(fd4, fd6)
        for host, addr in (("127.0.0.1", a4), ("::1", a6)):
            c = self.connect(wktest.port_of(addr), host=host)
            c.send(request("/hello.txt"))
            self.assertEqual(c.read_response().body, HELLO)
            srv.wait_log(r"^httpd accept fd=\d+ listener=%s client=\S+:%d open=\d+$"
                         % (re.escape(addr), c.local_port))

    def test_unix_socket(self):
        d = self.make_dir()
        path = os.path.join(d, "httpd.sock")
        srv = self.start_server(root=self.root, listen=["unix:" + path])
        self.assertEqual(srv.addr, "unix:" + path)
        p = self.curl("--unix-socket", path, "http://localhost/hello.txt")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, HELLO)
        srv.wait_log(r"^httpd accept fd=\d+ listener=unix:%s client=unix open=\d+$"
                     % re.escape(path))
        # And a raw client on the same socket: keep-alive works there too.
        with Conn(unix=path) as c:
            c.send(request("/hello.txt") * 2)
            self.assertEqual(c.read_response().body, HELLO)
            self.assertEqual(c.read_response().body, HELLO)

    def test_help(self):
        p = self.run_httpd(["--help"])
        self.assertEqual(p.returncode, 0, p.stderr)
        for opt in ("--listen", "--root", "--access-log", "--max-size", "--header-timeout",
                    "--idle-timeout", "--check", "--version", "--config"):
            self.assertIn(opt, p.stdout)

    def test_version_matches_server_header(self):
        p = self.run_httpd(["--version"])
        self.assertEqual(p.returncode, 0, p.stderr)
        m = re.search(r"(\d+\.\d+(?:\.\d+)?)", p.stdout)
        self.assertTrue(m, p.stdout)
        srv = self.start_server(root=self.root)
        resp = self.get(srv, "/hello.txt")
        self.assertEqual(resp.get("Server"), "wellknown/" + m.group(1))

    def test_check_binds_nothing(self):
        # A port we hold ourselves: --check must not try to bind it.
        with socket.socket() as held:
            held.bind(("127.0.0.1", 0))
            held.listen(1)
            port = held.getsockname()[1]
            p = self.run_httpd(["--check", "--listen", "127.0.0.1:%d" % port, "--root", self.root])
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertNotRegex(p.stderr, r"httpd listen addr=")
            # The same config really starting fails: the port is taken.
            p = self.run_httpd(["--listen", "127.0.0.1:%d" % port, "--root", self.root])
            self.assertEqual(p.returncode, 1, p.stderr)
            self.assertIn("127.0.0.1:%d" % port, p.stderr)
            self.assertRegex(p.stderr.lower(), r"in use")

    def test_check_accepts_units(self):
        p = self.run_httpd(["--check", "--listen", "127.0.0.1:0", "--root", self.root,
                            "--max-size", "2M", "--max-request-line", "4k",
                            "--max-header-size", "32k", "--header-timeout", "500ms",
                            "--idle-timeout", "1m", "--body-timeout", "30",
                            "--shutdown-timeout", "1h", "--log-level", "debug"])
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_check_rejects_bad_values(self):
        cases = [
            (["--max-size", "lots"], "--max-size"),
            (["--header-timeout", "5x"], "--header-timeout"),
            (["--log-level", "loud"], "loud"),
            (["--no-such-option"], "--no-such-option"),
            (["--listen", "127.0.0.1:99999"], "127.0.0.1:99999"),
            (["--listen", "127.0.0.1"], "127.0.0.1"),
            (["--listen", "[::1:80"], "[::1:80"),
        ]
        for extra, needle in cases:
            with self.subTest(args=extra):
                p = self.run_httpd(["--check", "--root", self.root] + extra)
                self.assertEqual(p.returncode, 1, (p.stdout, p.stderr))
                self.assertIn(needle, p.stderr)
                self.assertLess(len(p.stderr.splitlines()), 5, "a short message, not a dump")

    def test_bad_root(self):
        missing = os.path.join(self.root, "no-such-dir")
        afile = os.path.join(self.root, "hello.txt")
        for root in (missing, afile):
            for mode in (["--check"], []):
                with self.subTest(root=root, mode=mode):
                    p = self.run_httpd(mode + ["--listen", "127.0.0.1:0", "--root", root])
                    self.assertEqual(p.returncode, 1, (p.stdout, p.stderr))
                    self.assertIn(root, p.stderr)
                    self.assertNotIn("httpd listen", p.stderr)

    def test_config_file_and_flags_override(self):
        other = self.make_root({"hello.txt": b"from the flag's root\n"})
        cfgdir = self.make_dir()
        cfg = os.path.join(cfgdir, "httpd.conf")
        with open(cfg, "w") as f:
            f.write("# wellknown-httpd test config\n"
                    "\n"
                    "listen = 127.0.0.1:0\n"
                    "root = %s\n"
                    "access-log = off\n"
                    "max-request-line = 1k\n" % self.root)
        srv = self.start_server(["-c", cfg], listen=None, nlisten=1)
        self.assertEqual(self.get(srv, "/hello.txt").body, HELLO)
        # max-request-line from the file applies.
        resp = self.get(srv, "/" + "a" * 2000)
        self.assertEqual(resp.status, 414)
        srv.stop()
        self.assertEqual(srv.stdout_text(), "", "access-log = off in the file")
        # A flag overrides the file's value.
        srv = self.start_server(["-c", cfg, "--root", other, "--access-log", "-"],
                                listen=None, nlisten=1)
        self.assertEqual(self.get(srv, "/hello.txt").body, b"from the flag's root\n")
        srv.wait_log(r'"GET /hello.txt HTTP/1.1" 200', stdout=True)
        # --check reads the file too.
        p = self.run_httpd(["--check", "--config", cfg])
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_config_file_errors(self):
        cfgdir = self.make_dir()
        bad = os.path.join(cfgdir, "bad.conf")
        with open(bad, "w") as f:
            f.write("root = %s\nfrobnicate = yes\n" % self.root)
        p = self.run_httpd(["--check", "-c", bad])
        self.assertEqual(p.returncode, 1)
        self.assertIn("frobnicate", p.stderr)
        self.assertIn("bad.conf", p.stderr)
        missing = os.path.join(cfgdir, "missing.conf")
        p = self.run_httpd(["--check", "-c", missing])
        self.assertEqual(p.returncode, 1)
        self.assertIn("missing.conf", p.stderr)


if __name__ == "__main__":
    wktest.main()
