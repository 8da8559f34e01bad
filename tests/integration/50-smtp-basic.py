"""smtpd: the conversation, delivery into Maildirs, and the refusals,
driven by python3's smtplib and by raw sockets."""

import os
import re
import smtplib
import threading

import wktest
from wktest import SmtpRaw as Raw, scaled, stored

HOST = "mx.test"


def body_of(message):
    """A stored message without the two trace fields the server put on top."""
    lines = message.split(b"\r\n")
    assert lines[0].startswith(b"Return-Path: <"), lines[0]
    assert lines[1].startswith(b"Received: from "), lines[1]
    i = 2
    while lines[i].startswith(b"\t"):
        i += 1
    return b"\r\n".join(lines[i:])


class Smtp(wktest.TestCase):
    def setUp(self):
        self.maildir = self.make_dir()
        self.srv = self.start_server(
            ["--maildir", self.maildir, "--hostname", HOST, "--domain", HOST,
             "--max-size", "64k", "--max-recipients", "3", "--max-errors", "5"],
            prog="smtpd")

    def raw(self):
        r = Raw(self.srv.port)
        self.addCleanup(r.close)
        code, lines = r.reply()
        self.assertEqual(code, 220)
        self.assertEqual(lines[0], "220 %s ESMTP wellknown" % HOST)
        return r

    def test_ehlo_announces_the_extensions(self):
        r = self.raw()
        r.send(b"EHLO client.test\r\n")
        code, lines = r.reply()
        self.assertEqual(code, 250)
        self.assertEqual(lines, ["250-" + HOST, "250-PIPELINING", "250-SIZE 65536", "250-8BITMIME",
                                 "250-ENHANCEDSTATUSCODES", "250-SMTPUTF8", "250 HELP"])

    def test_smtplib_delivers_byte_exact_with_trace_fields(self):
        body = (b"Subject: hello\r\n\r\nline one\r\n.starts with a dot\r\n..two dots\r\n"
                b"caf\xc3\xa9 8-bit\r\n")
        with smtplib.SMTP("127.0.0.1", self.srv.port, timeout=scaled(10)) as c:
            c.ehlo("client.test")
            code, msg = c.mail("sender@example.org", ["BODY=8BITMIME", "SIZE=%d" % len(body)])
            self.assertEqual(code, 250)
            code, _ = c.rcpt("User@MX.TEST")
            self.assertEqual(code, 250)
            code, msg = c.data(body)
            self.assertEqual(code, 250, msg)
            queue_id = re.search(rb"queued as (\S+)", msg).group(1).decode()
            port = c.sock.getsockname()[1]
        files = stored(self.maildir, "user@mx.test")
        self.assertEqual(len(files), 1)
        self.assertEqual(body_of(files[0]), body)
        self.assertTrue(files[0].startswith(b"Return-Path: <sender@example.org>\r\n"
                                            b"Received: from client.test ([127.0.0.1]:%d)\r\n"
                                            b"\tby mx.test (wellknown) with ESMTP id %s\r\n"
                                            b"\tfor <user@mx.test>; " % (port, queue_id.encode())),
                        files[0][:300])
        for sub in ("tmp", "cur"):
            self.assertTrue(os.path.isdir(os.path.join(self.maildir, "user@mx.test", sub)))
        self.assertEqual(os.listdir(os.path.join(self.maildir, "user@mx.test", "tmp")), [])
        self.srv.wait_log(r"^smtpd message id=%s from=<sender@example.org> to=<user@mx.test> "
                          r"size=%d client=127.0.0.1:%d fd=\d+ result=delivered status=250$"
                          % (queue_id, len(body), port))

    def test_pipelined_replies_come_in_order(self):
        r = self.raw()
        r.send(b"EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<x@mx.test>\r\nRCPT TO:<y@elsewhere.test>\r\n"
               b"RCPT TO:<postmaster>\r\nDATA\r\n")
        self.assertEqual(r.reply()[0], 250)
        self.assertEqual(r.reply(), (250, ["250 2.1.0 Ok"]))
        self.assertEqual(r.reply(), (250, ["250 2.1.5 Ok"]))
        self.assertEqual(r.reply(), (550, ["550 5.7.1 Relay access denied"]))
        self.assertEqual(r.reply(), (250, ["250 2.1.5 Ok"]))
        self.assertEqual(r.reply()[0], 354)
        r.send(b"one\r\n.\r\nNOOP\r\nQUIT\r\n")
        code, lines = r.reply()
        self.assertEqual(code, 250, lines)
        self.assertEqual(r.reply(), (250, ["250 2.0.0 Ok"]))
        self.assertEqual(r.reply(), (221, ["221 2.0.0 Bye"]))
        self.assertEqual(len(stored(self.maildir, "x@mx.test")), 1)
        self.assertEqual(len(stored(self.maildir, "postmaster@mx.test")), 1)

    def test_order_syntax_and_unknown_commands(self):
        r = self.raw()
        r.send(b"MAIL FROM:<a@b.test>\r\n")
        self.assertEqual(r.reply()[1][0][:9], "503 5.5.1")
        r.send(b"HELO c\r\nRCPT TO:<x@mx.test>\r\n")
        self.assertEqual(r.reply()[0], 250)
        self.assertEqual(r.reply()[1][0][:9], "503 5.5.1")
        r.send(b"FROB\r\n")
        self.assertEqual(r.reply()[1][0][:9], "500 5.5.2")
        r.send(b"mail from:<a@b.test> SIZE=10\r\n")  # no ESMTP after HELO: no parameters
        self.assertEqual(r.reply()[1][0][:9], "555 5.5.4")
        r.send(b"noop\r\n")
        self.assertEqual(r.reply(), (250, ["250 2.0.0 Ok"]))

    def test_too_many_errors_end_the_session(self):
        r = self.raw()
        r.send(b"FROB\r\n" * 5)
        for _ in range(5):
            self.assertEqual(r.reply()[0], 500)
        self.assertEqual(r.reply()[1][0][:9], "421 4.7.0")
        self.assertTrue(r.closed())

    def test_long_command_line_keeps_the_session_in_step(self):
        r = self.raw()
        r.send(b"HELO " + b"a" * 600 + b"\r\nNOOP\r\n")
        self.assertEqual(r.reply()[1][0][:9], "500 5.5.6")
        self.assertEqual(r.reply(), (250, ["250 2.0.0 Ok"]))

    def test_recipient_limit_and_unsafe_names(self):
        r = self.raw()
        r.send(b"EHLO c\r\nMAIL FROM:<>\r\n")
        r.reply()
        self.assertEqual(r.reply()[0], 250)
        for name in (b'"../x"', b'".hidden"', b'"a/b"'):
            r.send(b"RCPT TO:<" + name + b"@mx.test>\r\n")
            self.assertEqual(r.reply()[0] // 100, 5, name)
        for i in range(3):
            r.send(b"RCPT TO:<u%d@mx.test>\r\n" % i)
            self.assertEqual(r.reply()[0], 250)
        r.send(b"RCPT TO:<u9@mx.test>\r\n")
        self.assertEqual(r.reply()[1][0][:9], "452 4.5.3")
        self.assertFalse(os.path.exists(os.path.join(os.path.dirname(self.maildir), "x")))

    def test_oversized_message_is_drained_and_refused(self):
        r = self.raw()
        r.send(b"EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<big@mx.test>\r\nDATA\r\n")
        for _ in range(3):
            r.reply()
        self.assertEqual(r.reply()[0], 354)
        r.send((b"x" * 998 + b"\r\n") * 100 + b".\r\n")
        self.assertEqual(r.reply()[1][0][:9], "552 5.3.4")
        r.send(b"NOOP\r\n")
        self.assertEqual(r.reply(), (250, ["250 2.0.0 Ok"]))
        self.assertEqual(stored(self.maildir, "big@mx.test"), [])
        self.assertEqual(os.listdir(os.path.join(self.maildir, "big@mx.test", "tmp")), [])

    def test_smuggling_never_splits_a_message(self):
        for vector in (b"\n.\n", b"\r.\r", b"\n.\r\n", b"\r\n.\n"):
            with self.subTest(vector=vector):
                r = self.raw()
                r.send(b"EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<v@mx.test>\r\nDATA\r\n")
                for _ in range(3):
                    r.reply()
                self.assertEqual(r.reply()[0], 354)
                r.send(b"Subject: x\r\n\r\nhello" + vector +
                       b"MAIL FROM:<evil@b.test>\r\nRCPT TO:<smuggled@mx.test>\r\nDATA\r\n"
                       b"evil\r\n.\r\n")
                self.assertEqual(r.reply()[1][0][:9], "550 5.6.0")
                r.send(b"NOOP\r\n")
                self.assertEqual(r.reply(), (250, ["250 2.0.0 Ok"]))
        self.assertFalse(os.path.exists(os.path.join(self.maildir, "smuggled@mx.test")))
        self.assertEqual(stored(self.maildir, "v@mx.test"), [])

    def test_concurrent_sessions_deliver_every_message_once(self):
        errors = []

        def client(n):
            try:
                with smtplib.SMTP("127.0.0.1", self.srv.port, timeout=scaled(20)) as c:
                    for i in range(10):
                        c.sendmail("s@b.test", ["load@mx.test"],
                                   b"Subject: %d-%d\r\n\r\nbody %d-%d\r\n" % (n, i, n, i))
            except Exception as e:  # reported below
                errors.append(e)

        threads = [threading.Thread(target=client, args=(n,)) for n in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(scaled(60))
        self.assertEqual(errors, [])
        bodies = sorted(body_of(m) for m in stored(self.maildir, "load@mx.test"))
        want = sorted(b"Subject: %d-%d\r\n\r\nbody %d-%d\r\n" % (n, i, n, i)
                      for n in range(20) for i in range(10))
        self.assertEqual(bodies, want)


if __name__ == "__main__":
    wktest.main()
