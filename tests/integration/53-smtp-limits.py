"""smtpd's bounds and goodbyes: sessions per client address, the command
timeout, the graceful stop, and the small commands."""

import os
import signal
import subprocess

import wktest
from wktest import SmtpRaw as Raw, stored

HOST = "mx.test"


class Limits(wktest.TestCase):
    def start(self, *extra):
        self.maildir = self.make_dir()
        self.srv = self.start_server(["--maildir", self.maildir, "--hostname", HOST,
                                      "--domain", HOST] + list(extra), prog="smtpd")
        return self.srv

    def raw(self, greeting=220):
        r = Raw(self.srv.port)
        self.addCleanup(r.close)
        self.assertEqual(r.reply()[0], greeting)
        return r

    def test_sessions_per_client_address(self):
        self.start("--max-per-client", "2")
        a, b = self.raw(), self.raw()
        c = Raw(self.srv.port)
        self.addCleanup(c.close)
        code, lines = c.reply()
        self.assertEqual(lines[0][:9], "421 4.7.0")
        self.assertTrue(c.closed())
        a.send(b"QUIT\r\n")
        self.assertEqual(a.reply()[0], 221)
        self.srv.wait_log(r"^smtpd close .* reason=quit ")
        d = self.raw()  # a place is free again
        d.send(b"NOOP\r\n")
        self.assertEqual(d.reply()[0], 250)
        b.send(b"NOOP\r\n")
        self.assertEqual(b.reply()[0], 250)

    def test_command_timeout(self):
        self.start("--command-timeout", "1s")
        r = self.raw()
        code, lines = r.reply()
        self.assertEqual(lines[0], "421 4.4.2 %s Error: timeout exceeded" % HOST)
        self.assertTrue(r.closed())
        self.srv.wait_log(r"^smtpd close .* reason=timeout ")

    def test_graceful_stop_between_transactions_and_after_data(self):
        self.start()
        idle = self.raw()
        busy = self.raw()
        busy.send(b"EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<late@mx.test>\r\nDATA\r\n")
        for _ in range(3):
            busy.reply()
        self.assertEqual(busy.reply()[0], 354)
        busy.send(b"Subject: in flight\r\n\r\nfirst half\r\n")
        self.srv.send_signal(signal.SIGTERM)
        self.srv.wait_log(r"^smtpd stopping")
        self.assertEqual(idle.reply()[1][0][:9], "421 4.3.2")
        busy.send(b"second half\r\n.\r\n")
        self.assertEqual(busy.reply()[0], 250)            # the message in flight is finished
        self.assertEqual(busy.reply()[1][0][:9], "421 4.3.2")  # then the goodbye
        self.assertEqual(self.srv.wait_exit(15), 0)
        [msg] = stored(self.maildir, "late@mx.test")
        self.assertTrue(msg.endswith(b"first half\r\nsecond half\r\n"))

    def test_small_commands(self):
        self.start()
        r = self.raw()
        r.send(b"HELO c\r\nVRFY someone\r\nHELP\r\nRSET\r\nEXPN list\r\nQUIT\r\n")
        self.assertEqual(r.reply()[0], 250)
        self.assertEqual(r.reply()[1][0][:9], "252 2.5.2")
        code, lines = r.reply()
        self.assertEqual(code, 214)
        self.assertTrue(all(l.startswith("214") for l in lines))
        self.assertEqual(r.reply(), (250, ["250 2.0.0 Ok"]))
        self.assertEqual(r.reply()[1][0][:9], "502 5.5.1")
        self.assertEqual(r.reply(), (221, ["221 2.0.0 Bye"]))
        self.assertTrue(r.closed())

    def test_smtputf8_and_null_sender(self):
        self.start()
        r = self.raw()
        r.send("EHLO c\r\nMAIL FROM:<> SMTPUTF8\r\nRCPT TO:<josé@mx.test>\r\nDATA\r\n".encode())
        for _ in range(3):
            self.assertEqual(r.reply()[0], 250)
        self.assertEqual(r.reply()[0], 354)
        r.send(b"Subject: utf8\r\n\r\nol\xc3\xa9\r\n.\r\n")
        self.assertEqual(r.reply()[0], 250)
        [msg] = stored(self.maildir, "josé@mx.test")
        self.assertTrue(msg.startswith(b"Return-Path: <>\r\n"))
        self.assertIn(b" with UTF8SMTP id ", msg)
        self.assertIn("\tfor <josé@mx.test>;".encode(), msg)
        # A UTF-8 sender and a quoted one come back as they were given (RFC 5321 4.4).
        for sender, want in (("jöran@b.test", "<jöran@b.test>"),
                             ('"a b"@b.test', '<"a b"@b.test>')):
            r.send(("MAIL FROM:<%s> SMTPUTF8\r\nRCPT TO:<josé@mx.test>\r\nDATA\r\n"
                    % sender).encode())
            self.assertEqual([r.reply()[0] for _ in range(3)], [250, 250, 354])
            r.send(b"Subject: back\r\n\r\nx\r\n.\r\n")
            self.assertEqual(r.reply()[0], 250)
            msgs = stored(self.maildir, "josé@mx.test")
            self.assertTrue(any(m.startswith(("Return-Path: %s\r\n" % want).encode())
                                for m in msgs), [m[:60] for m in msgs])
        # Without SMTPUTF8 the same address is refused.
        r.send("MAIL FROM:<a@b.test>\r\nRCPT TO:<josé@mx.test>\r\n".encode())
        self.assertEqual(r.reply()[0], 250)
        self.assertEqual(r.reply()[1][0][:9], "501 5.1.3")

    def test_check_changes_nothing(self):
        d = self.make_dir()
        store = os.path.join(d, "not", "yet")
        p = subprocess.run([wktest.SMTPD, "--check", "--maildir", store, "--listen", ":0"],
                           capture_output=True, timeout=wktest.scaled(10))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertFalse(os.path.exists(os.path.join(d, "not")))
        blocker = os.path.join(d, "file")
        open(blocker, "w").close()
        p = subprocess.run([wktest.SMTPD, "--check", "--maildir", os.path.join(blocker, "m")],
                           capture_output=True, timeout=wktest.scaled(10))
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"not a writable directory", p.stderr)


if __name__ == "__main__":
    wktest.main()
