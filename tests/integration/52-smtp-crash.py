"""smtpd killed with SIGKILL in the middle of a load: every message the
clients saw 250 for is complete in new/, and new/ holds nothing partial."""

import glob
import os
import signal
import smtplib
import threading
import time

import wktest
from wktest import scaled

HOST = "mx.test"
BODY_LINES = 200  # about 16 KB a message, so that the kill often lands mid-DATA


def body(n, i):
    head = b"Subject: %d-%d\r\n\r\n" % (n, i)
    return head + b"".join(b"%d-%d line %04d %s\r\n" % (n, i, k, b"x" * 60)
                           for k in range(BODY_LINES))


class Crash(wktest.TestCase):
    def test_stale_tmp_files_are_swept_at_startup(self):
        # What a crash leaves in tmp/: gone once 36 hours old (the Maildir rule), kept before.
        maildir = self.make_dir()
        tmp = os.path.join(maildir, "left@mx.test", "tmp")
        os.makedirs(tmp)
        now = time.time()
        for name, age in (("stale", 37 * 3600), ("young", 35 * 3600)):
            path = os.path.join(tmp, name)
            with open(path, "wb") as f:
                f.write(b"Subject: partial\r\n")
            os.utime(path, (now - age, now - age))
        srv = self.start_server(["--maildir", maildir, "--hostname", HOST, "--domain", HOST],
                                prog="smtpd")
        srv.wait_log(r"^smtpd maildir sweep removed=1 stale-after=36h$")
        self.assertEqual(sorted(os.listdir(tmp)), ["young"])


    def test_kill_9_loses_nothing_acknowledged(self):
        maildir = self.make_dir()
        srv = self.start_server(["--maildir", maildir, "--hostname", HOST, "--domain", HOST],
                                prog="smtpd")
        acked, lock, stop = set(), threading.Lock(), threading.Event()

        def client(n):
            try:
                with smtplib.SMTP("127.0.0.1", srv.port, timeout=scaled(10)) as c:
                    for i in range(1000):
                        if stop.is_set():
                            return
                        c.sendmail("s@b.test", ["crash@mx.test"], body(n, i))
                        with lock:
                            acked.add((n, i))
            except (smtplib.SMTPException, OSError):
                pass  # the server died under it: expected

        threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + scaled(10)
        while time.monotonic() < deadline:
            with lock:
                if len(acked) >= 40:
                    break
            time.sleep(0.01)
        srv.send_signal(signal.SIGKILL)
        srv.wait_exit(10)
        stop.set()
        for t in threads:
            t.join(scaled(20))
        self.assertGreaterEqual(len(acked), 40)

        found = {}
        for path in glob.glob(os.path.join(maildir, "crash@mx.test", "new", "*")):
            with open(path, "rb") as f:
                data = f.read()
            head, sep, rest = data.partition(b"\r\n\r\n")
            subject = [l for l in head.split(b"\r\n") if l.startswith(b"Subject: ")]
            self.assertEqual(len(subject), 1, path)
            n, i = (int(x) for x in subject[0][9:].split(b"-"))
            # Whole: exactly the bytes that were sent after the trace fields.
            self.assertTrue(data.endswith(body(n, i)), "partial message in new/: %s" % path)
            self.assertNotIn((n, i), found, "delivered twice")
            found[(n, i)] = path
        missing = sorted(acked - set(found))
        self.assertEqual(missing, [], "acknowledged with 250 but not in new/")


if __name__ == "__main__":
    wktest.main()
