"""smtpd driven by swaks, the way people will use it."""

import os
import subprocess

import wktest
from wktest import scaled, stored

HOST = "mx.test"


def after_trace(message):
    """The message as the client sent it: what follows the Received: field."""
    head, sep, rest = message.partition(b"\r\n\tby " + HOST.encode())
    assert sep, message[:200]
    return rest.split(b"\r\n", 2)[2] if b"\r\n\tfor <" in rest[:200] else rest.split(b"\r\n", 1)[1]


class Swaks(wktest.TestCase):
    def setUp(self):
        self.maildir = self.make_dir()
        self.srv = self.start_server(
            ["--maildir", self.maildir, "--hostname", HOST, "--domain", HOST,
             "--max-size", "200k"], prog="smtpd")

    def swaks(self, *args, ok=True):
        p = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % self.srv.port,
                            "--helo", "client.test", "--from", "sender@example.org",
                            "--timeout", "20"] + list(args),
                           capture_output=True, timeout=scaled(60), stdin=subprocess.DEVNULL)
        out = p.stdout.decode("utf-8", "replace")
        if ok:
            self.assertEqual(p.returncode, 0, out + p.stderr.decode("utf-8", "replace"))
        return p.returncode, out

    def test_plain(self):
        _, out = self.swaks("--to", "alice@mx.test")
        self.assertIn("<-  250 2.0.0 Ok: queued as ", out)
        self.assertIn("<-  220 mx.test ESMTP wellknown", out)
        self.assertEqual(len(stored(self.maildir, "alice@mx.test")), 1)

    def test_pipeline(self):
        _, out = self.swaks("--to", "bob@mx.test", "--pipeline")
        self.assertIn("250 2.0.0 Ok: queued as", out)
        self.assertEqual(len(stored(self.maildir, "bob@mx.test")), 1)

    def test_data_file_with_dot_lines_is_stored_as_sent(self):
        # swaks ends the data with CRLF "." CRLF itself: the file has no final CRLF.
        data = b"Subject: dots\r\n\r\n.\r\n..\r\n.leading\r\n...three\r\nend"
        path = os.path.join(self.make_dir(), "msg.eml")
        with open(path, "wb") as f:
            f.write(data)
        self.swaks("--to", "dots@mx.test", "--data", path)
        [msg] = stored(self.maildir, "dots@mx.test")
        self.assertEqual(after_trace(msg), data + b"\r\n")

    def test_8bit_attachment(self):
        blob = bytes(range(128, 256)) * 64
        path = os.path.join(self.make_dir(), "blob.bin")
        with open(path, "wb") as f:
            f.write(blob)
        self.swaks("--to", "att@mx.test", "--attach", "@" + path, "--attach-type",
                   "application/octet-stream")
        [msg] = stored(self.maildir, "att@mx.test")
        self.assertIn(b"Content-Type: application/octet-stream", msg)

    def test_hundred_recipients_each_get_the_message(self):
        rcpts = ",".join("r%d@mx.test" % i for i in range(100))
        # One To: line naming all 100 would pass the 1000-octet line limit.
        self.swaks("--to", rcpts, "--pipeline", "--header", "To: team@mx.test")
        for i in range(100):
            self.assertEqual(len(stored(self.maildir, "r%d@mx.test" % i)), 1, i)
        first = stored(self.maildir, "r0@mx.test")[0]
        self.assertEqual(stored(self.maildir, "r99@mx.test")[0], first)

    def test_oversized_is_refused_and_nothing_stored(self):
        path = os.path.join(self.make_dir(), "big.eml")
        with open(path, "wb") as f:
            f.write(b"Subject: big\r\n\r\n" + (b"x" * 70 + b"\r\n") * 4000)
        rc, out = self.swaks("--to", "big@mx.test", "--data", path, ok=False)
        self.assertNotEqual(rc, 0)
        self.assertIn("552 5.3.4", out)
        self.assertEqual(stored(self.maildir, "big@mx.test"), [])

    def test_relay_is_refused(self):
        rc, out = self.swaks("--to", "someone@elsewhere.example", ok=False)
        self.assertNotEqual(rc, 0)
        self.assertIn("550 5.7.1", out)


if __name__ == "__main__":
    wktest.main()
