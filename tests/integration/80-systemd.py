"""80-systemd: both servers under a service manager, played by the test.

Socket activation as systemd does it: the test binds and listens on
127.0.0.1 port 0, and starts the server with that socket as fd 3 and
LISTEN_PID / LISTEN_FDS set (through sh -c '... exec', so that LISTEN_PID
is the server's own pid), with --listen naming the same address. The
server must serve that socket (an HTTP GET, an SMTP greeting) and say
"inherited" in its listen line; given no --listen at all, it serves the
inherited socket in place of its default address. A datagram socket of the test, named by NOTIFY_SOCKET (a path, or an
abstract '@' name), receives READY=1 once it serves, RELOADING=1 and READY=1
around SIGHUP, and STOPPING=1 on SIGTERM. With LISTEN_PID of another
process nothing is inherited; an inherited socket that no --listen names
stops the server at startup with a message naming both.

No systemd is needed. Every wait is bounded.
"""

import os
import signal
import socket
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wktest  # noqa: E402
from wktest import scaled  # noqa: E402

HELLO = b"hello from an inherited socket\n"
# Sets the variables with the shell's own pid (exec keeps it) and runs the server.
WRAPPER = 'LISTEN_PID=%s LISTEN_FDS=1 exec "$0" "$@"'


class Activated(wktest.Server):
    """A server started the way a service manager starts it (see WRAPPER)."""

    def __init__(self, prog, args, sock, notify=None, listen_pid="$$", nlisten=1):
        self.sock = sock
        self.notify = notify
        self.listen_pid = listen_pid
        super().__init__(args=args, listen=(), prog=prog, nlisten=nlisten)

    def _start(self, preexec_fn, start_timeout):
        env = {k: v for k, v in os.environ.items()
               if k not in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES", "NOTIFY_SOCKET")}
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        if self.notify is not None:
            env["NOTIFY_SOCKET"] = self.notify
        fd = self.sock.fileno()

        def socket_as_fd3():
            # In the child only: fd 3 becomes the socket. Every other fd of this
            # process is close-on-exec (PEP 446), so 0-2 and 3 are all it keeps.
            if fd == 3:
                os.set_inheritable(3, True)  # dup2 onto itself would leave it close-on-exec
            else:
                os.dup2(fd, 3, inheritable=True)

        argv = ["sh", "-c", WRAPPER % self.listen_pid] + self.argv
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env, close_fds=False,
                                     preexec_fn=socket_as_fd3)
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
        m = self.wait_log(self.LISTEN_RE.pattern, timeout=start_timeout, count=self.nlisten)
        self.listeners = [(x.group(1), int(x.group(2))) for x in self.find(self.LISTEN_RE.pattern)]
        self.addr = m.group(1)
        self.port = wktest.port_of(self.addr)


def listening_socket():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    return s


def greeting(port):
    """An SMTP server's first line, after which the client says QUIT."""
    with socket.create_connection(("127.0.0.1", port), timeout=scaled(5)) as c:
        c.settimeout(scaled(5))
        line = b""
        while not line.endswith(b"\r\n"):
            chunk = c.recv(4096)
            if not chunk:
                raise AssertionError("closed before the greeting: %r" % line)
            line += chunk
        c.sendall(b"QUIT\r\n")
        reply = c.recv(4096)
        if not reply.startswith(b"221 "):
            raise AssertionError("QUIT answered %r" % reply)
        return line


class Manager:
    """The service manager's end of NOTIFY_SOCKET: a datagram socket at a path or '@name'."""

    def __init__(self, name):
        self.name = name
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + name[1:] if name.startswith("@") else name)

    def recv(self, timeout=5):
        self.sock.settimeout(scaled(timeout))
        try:
            return self.sock.recv(4096).decode()
        except socket.timeout:
            raise AssertionError("no notification on %s within %ss" % (self.name, timeout))

    def fields(self, timeout=5):
        """One datagram as a dict of its VAR=value lines."""
        text = self.recv(timeout)
        return dict(line.split("=", 1) for line in text.split("\n")), text

    def close(self):
        self.sock.close()


class Systemd(wktest.TestCase):
    def activated(self, prog, args, sock, **kw):
        srv = Activated(prog, args, sock, **kw)
        self.addCleanup(self._finish_server, srv)
        return srv

    def manager(self, abstract=False):
        if abstract:
            name = "@wk-80-systemd-%d-%d" % (os.getpid(), time.monotonic_ns())
        else:
            name = os.path.join(self.make_dir(), "notify")
        m = Manager(name)
        self.addCleanup(m.close)
        return m

    def expect_ready(self, mgr, srv):
        f, text = mgr.fields()
        self.assertEqual(f.get("READY"), "1", text)
        self.assertEqual(f.get("MAINPID"), str(srv.pid), text)
        self.assertRegex(f.get("STATUS", ""), r"^listening on \d+ sockets \(\d+ inherited\)$")
        return f

    def expect_stopping(self, mgr, srv):
        srv.send_signal(signal.SIGTERM)
        f, text = mgr.fields()
        self.assertEqual(f.get("STOPPING"), "1", text)
        # One SIGTERM, as systemd sends (a second one may land after the loop is gone).
        self.assertEqual(srv.wait_exit(15), 0, srv.stderr_text())

    def test_httpd_serves_inherited_socket(self):
        root = self.make_root({"hello.txt": HELLO})
        sock = listening_socket()
        self.addCleanup(sock.close)
        here = "127.0.0.1:%d" % sock.getsockname()[1]
        mgr = self.manager()
        srv = self.activated("httpd", ["--listen", here, "--root", root], sock, notify=mgr.name)
        self.assertEqual(srv.listeners, [(here, 3)])
        srv.wait_log(r"^httpd listen addr=%s fd=3 inherited$" % here)
        f = self.expect_ready(mgr, srv)
        self.assertEqual(f["STATUS"], "listening on 1 sockets (1 inherited)")
        sock.close()  # the server's copy is the one that serves
        resp = self.get(srv, "/hello.txt")
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.body, HELLO)
        srv.wait_log(r"^httpd accept fd=\d+ listener=%s client=127\.0\.0\.1:\d+ open=1$" % here)
        # A reload is announced, and READY=1 follows it.
        srv.send_signal(signal.SIGHUP)
        f, text = mgr.fields()
        self.assertEqual(f.get("RELOADING"), "1", text)
        self.assertRegex(f.get("MONOTONIC_USEC", ""), r"^\d+$")
        self.expect_ready(mgr, srv)
        self.assertEqual(self.get(srv, "/hello.txt").status, 200)
        self.expect_stopping(mgr, srv)

    def test_smtpd_serves_inherited_socket(self):
        maildir = self.make_dir()
        sock = listening_socket()
        self.addCleanup(sock.close)
        here = "127.0.0.1:%d" % sock.getsockname()[1]
        mgr = self.manager(abstract=True)
        srv = self.activated("smtpd", ["--listen", here, "--maildir", maildir,
                                       "--hostname", "mx.test"], sock, notify=mgr.name)
        srv.wait_log(r"^smtpd listen addr=%s fd=3 inherited$" % here)
        self.expect_ready(mgr, srv)
        sock.close()
        self.assertRegex(greeting(srv.port), rb"^220 mx\.test ")
        srv.wait_log(r"^smtpd accept fd=\d+ listener=%s client=127\.0\.0\.1:\d+ " % here)
        self.expect_stopping(mgr, srv)

    def test_other_pid_inherits_nothing(self):
        sock = listening_socket()
        self.addCleanup(sock.close)
        mgr = self.manager()
        # LISTEN_PID names the test process, as if the variables were left for a child.
        srv = self.activated("httpd", ["--listen", "127.0.0.1:0"], sock, notify=mgr.name,
                             listen_pid=str(os.getpid()))
        self.assertNotIn("inherited", srv.stderr_text())
        self.assertNotEqual(srv.listeners[0][1], 3)
        self.assertNotEqual(srv.port, sock.getsockname()[1])
        f = self.expect_ready(mgr, srv)
        self.assertEqual(f["STATUS"], "listening on 1 sockets (0 inherited)")
        self.assertEqual(self.get(srv, "/").status, 200)
        srv.wait_log(r"^httpd accept ")  # the log line may trail the response
        # A client of the test's socket waits there: the server does not accept it.
        with socket.create_connection(sock.getsockname(), timeout=scaled(5)):
            sock.settimeout(scaled(5))
            conn, _ = sock.accept()
            conn.close()
        self.assertEqual(len(srv.find(r"^httpd accept ")), 1)
        self.expect_stopping(mgr, srv)

    def test_unnamed_inherited_socket_refused(self):
        sock = listening_socket()
        self.addCleanup(sock.close)
        there = "127.0.0.1:%d" % sock.getsockname()[1]
        for prog, args in (("httpd", []), ("smtpd", ["--maildir", self.make_dir()])):
            with self.subTest(prog=prog):
                srv = self.activated(prog, ["--listen", "127.0.0.1:0"] + args, sock, nlisten=0)
                self.assertEqual(srv.wait_exit(10), 1, srv.stderr_text())
                self.assertIn("inherited socket fd 3 (%s) matches no listen address (127.0.0.1:0)"
                              % there, srv.stderr_text())
                self.assertEqual(srv.find(r"^%s listen " % prog), [])

    def test_no_listen_serves_every_inherited_socket(self):
        root = self.make_root({"hello.txt": HELLO})
        for prog, args in (("httpd", ["--root", root]),
                           ("smtpd", ["--maildir", self.make_dir(), "--hostname", "mx.test"])):
            with self.subTest(prog=prog):
                sock = listening_socket()
                self.addCleanup(sock.close)
                here = "127.0.0.1:%d" % sock.getsockname()[1]
                # No --listen: the inherited socket takes the place of [::]:80 or [::]:25.
                srv = self.activated(prog, args, sock, nlisten=0)
                srv.wait_log(r"^%s listen addr=%s fd=3 inherited$" % (prog, here), timeout=10)
                self.assertEqual(len(srv.find(r"^%s listen " % prog)), 1, srv.stderr_text())
                srv.port = sock.getsockname()[1]
                if prog == "httpd":
                    self.assertEqual(self.get(srv, "/hello.txt").body, HELLO)
                else:
                    self.assertRegex(greeting(srv.port), rb"^220 mx\.test ")
                srv.stop()


if __name__ == "__main__":
    wktest.main()
