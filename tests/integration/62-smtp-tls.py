"""smtpd with TLS: STARTTLS (RFC 3207) on 25 and the submission port,
implicit TLS (RFC 8314), and the STARTTLS command-injection class."""

import os
import signal
import socket
import ssl
import subprocess
import time

import wktest
from wktest import scaled

HOST = "mx.test"


class SmtpTls(wktest.TestCase):
    def setUp(self):
        self.maildir = self.make_dir()
        self.cert = os.path.join(self.make_dir(), "cert.pem")
        self.srv = self.start_server(
            ["--maildir", self.maildir, "--hostname", HOST, "--domain", HOST,
             "--tls-listen", "127.0.0.1:0", "--submission", "127.0.0.1:0", "--self-signed",
             "--write-cert", self.cert], prog="smtpd", nlisten=3)
        ports = [wktest.port_of(a) for a, fd in self.srv.listeners]
        self.plain, self.submission, self.smtps = ports  # plain, then submission, then TLS

    def swaks(self, port, *args):
        p = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % port, "--from", "s@b.test",
                            "--helo", "c.test", "--timeout", "20"] + list(args),
                           capture_output=True, timeout=scaled(60), stdin=subprocess.DEVNULL)
        return p.returncode, p.stdout.decode("utf-8", "replace")

    def stored(self, folder):
        return wktest.stored(self.maildir, folder)

    def test_starttls_with_swaks(self):
        rc, out = self.swaks(self.plain, "--to", "a@mx.test", "--tls")
        self.assertEqual(rc, 0, out)
        self.assertIn("=== TLS started with cipher TLSv1.3", out)
        self.assertIn("<~  250 2.0.0 Ok: queued as", out)
        [msg] = self.stored("a@mx.test")
        self.assertIn(b" with ESMTPS (TLSv1.3 TLS_", msg)

    def test_implicit_tls_with_swaks(self):
        rc, out = self.swaks(self.smtps, "--to", "b@mx.test", "--tlsc")
        self.assertEqual(rc, 0, out)
        self.assertIn("<~  220 %s ESMTP wellknown" % HOST, out)
        self.assertEqual(len(self.stored("b@mx.test")), 1)

    def test_submission_requires_tls(self):
        rc, out = self.swaks(self.submission, "--to", "c@mx.test")
        self.assertNotEqual(rc, 0)
        self.assertIn("530 5.7.0", out)
        rc, out = self.swaks(self.submission, "--to", "c@mx.test", "--tls")
        self.assertEqual(rc, 0, out)
        self.assertEqual(len(self.stored("c@mx.test")), 1)

    def test_require_tls_on_port_25(self):
        srv = self.start_server(["--maildir", self.maildir, "--hostname", HOST, "--domain", HOST,
                                 "--self-signed", "--tls-listen", "127.0.0.1:0",
                                 "--submission", "127.0.0.1:0", "--require-tls"],
                                prog="smtpd", nlisten=3)
        port = wktest.port_of(srv.listeners[0][0])
        rc, out = self.swaks(port, "--to", "d@mx.test")
        self.assertIn("530 5.7.0", out)
        rc, out = self.swaks(port, "--to", "d@mx.test", "--tls")
        self.assertEqual(rc, 0, out)
        self.assertEqual(len(self.stored("d@mx.test")), 1)

    def test_openssl_s_client_verifies_the_certificate(self):
        p = subprocess.run(["openssl", "s_client", "-starttls", "smtp", "-connect",
                            "127.0.0.1:%d" % self.plain, "-CAfile", self.cert,
                            "-verify_hostname", "localhost", "-verify_return_error"],
                           input=b"QUIT\r\n", capture_output=True, timeout=scaled(30))
        out = p.stdout.decode("utf-8", "replace")
        self.assertIn("Verify return code: 0 (ok)", out)

    def s_client(self, port, cafile):
        p = subprocess.run(["openssl", "s_client", "-starttls", "smtp", "-connect",
                            "127.0.0.1:%d" % port, "-CAfile", cafile,
                            "-verify_hostname", "localhost", "-verify_return_error"],
                           input=b"QUIT\r\n", capture_output=True, timeout=scaled(30))
        return p.stdout.decode("utf-8", "replace")

    def test_sighup_rereads_the_certificate(self):
        d = self.make_dir()
        cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
        for name in ("old", "new"):
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                            "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj",
                            "/CN=%s" % name, "-addext", "subjectAltName=DNS:localhost",
                            "-keyout", os.path.join(d, name + ".key"),
                            "-out", os.path.join(d, name + ".pem")],
                           check=True, capture_output=True, timeout=scaled(30))
        os.link(os.path.join(d, "old.pem"), cert)
        os.link(os.path.join(d, "old.key"), key)
        srv = self.start_server(["--maildir", self.maildir, "--cert", cert, "--key", key,
                                 "--tls-listen", "127.0.0.1:0", "--submission", "127.0.0.1:0",
                                 "--workers", "2"], prog="smtpd", nlisten=3)
        port = srv.listeners[0][0]
        port = wktest.port_of(port)
        # A session opened before the reload stays up; new ones get the new certificate.
        old_session = socket.create_connection(("127.0.0.1", port), timeout=scaled(5))
        self.addCleanup(old_session.close)
        self.assertTrue(old_session.recv(512).startswith(b"220 "))
        self.assertIn("Verify return code: 0 (ok)", self.s_client(port, os.path.join(d, "old.pem")))
        os.replace(os.path.join(d, "new.pem"), cert)
        os.replace(os.path.join(d, "new.key"), key)
        srv.send_signal(signal.SIGHUP)
        srv.wait_log(r"^smtpd reload config=new ")
        self.assertIn("Verify return code: 0 (ok)", self.s_client(port, cert))
        old_session.sendall(b"NOOP\r\n")
        self.assertTrue(old_session.recv(512).startswith(b"250 "))

    def test_sighup_keeps_a_self_signed_certificate(self):
        # Made once: the new generation of workers must show the same one.
        with open(self.cert, "rb") as f:
            before = f.read()
        self.srv.send_signal(signal.SIGHUP)
        self.srv.wait_log(r"^smtpd reload config=new ")
        with open(self.cert, "rb") as f:
            self.assertEqual(f.read(), before)
        self.assertIn("Verify return code: 0 (ok)", self.s_client(self.plain, self.cert))

    def test_silence_after_starttls_times_out(self):
        # The command timeout holds on after the handshake STARTTLS began, as before it.
        srv = self.start_server(["--maildir", self.make_dir(), "--hostname", HOST,
                                 "--self-signed", "--command-timeout", "1s", "--tls-listen",
                                 "127.0.0.1:0", "--submission", "127.0.0.1:0"],
                                prog="smtpd", nlisten=3)
        port = wktest.port_of(srv.listeners[0][0])
        raw = socket.create_connection(("127.0.0.1", port), timeout=scaled(10))
        self.addCleanup(raw.close)
        f = raw.makefile("rb")
        self.assertTrue(f.readline().startswith(b"220 "))
        raw.sendall(b"EHLO c\r\n")
        while f.readline()[3:4] != b" ":
            pass
        raw.sendall(b"STARTTLS\r\n")
        self.assertEqual(f.readline(), b"220 2.0.0 Ready to start TLS\r\n")
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        s = ctx.wrap_socket(raw, server_hostname="localhost")
        started = time.monotonic()
        # Say nothing: 421 after the command timeout, then the close.
        self.assertEqual(s.makefile("rb").readline()[:9], b"421 4.4.2")
        self.assertLess(time.monotonic() - started, scaled(5))
        srv.wait_log(r"^smtpd close .* reason=timeout ")

    def test_injection_after_starttls_is_dropped(self):
        raw = socket.create_connection(("127.0.0.1", self.plain), timeout=scaled(5))
        self.addCleanup(raw.close)
        f = raw.makefile("rb")
        self.assertTrue(f.readline().startswith(b"220 "))
        raw.sendall(b"EHLO c\r\n")
        lines = []
        while not lines or lines[-1][3:4] != b" ":
            lines.append(f.readline())
        self.assertIn(b"250-STARTTLS\r\n", lines)
        # STARTTLS and a command in one write: the command must never run.
        raw.sendall(b"STARTTLS\r\nEHLO evil\r\nMAIL FROM:<evil@b.test>\r\n")
        self.assertEqual(f.readline(), b"220 2.0.0 Ready to start TLS\r\n")
        ctx = ssl.create_default_context(cafile=self.cert)
        s = ctx.wrap_socket(raw, server_hostname="localhost")
        tf = s.makefile("rb")
        # Had the smuggled EHLO and MAIL been run, their 250s would come first, and RCPT be taken.
        s.sendall(b"RCPT TO:<x@mx.test>\r\n")
        self.assertEqual(tf.readline()[:9], b"503 5.5.1")
        s.sendall(b"EHLO c\r\n")
        lines = []
        while not lines or lines[-1][3:4] != b" ":
            lines.append(tf.readline())
        self.assertEqual(lines[0], b"250-%s\r\n" % HOST.encode())
        self.assertNotIn(b"250-STARTTLS\r\n", lines)  # no second STARTTLS
        s.sendall(b"STARTTLS\r\n")
        self.assertEqual(tf.readline()[:9], b"503 5.5.1")


if __name__ == "__main__":
    wktest.main()
