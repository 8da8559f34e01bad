"""--user: started as root, both servers bind and read their keys, then run as
an ordinary user for good: every id is that user's, no capability is left,
and the mail store, the access log (reopened on SIGUSR1) and the status
sockets still work. Without root, the switch is refused with a reason."""

import json
import os
import pwd
import re
import signal
import smtplib
import subprocess
import time

import wktest
from wktest import scaled

USER = "nobody"


def read(path):
    with open(path, "rb") as f:
        return f.read()


def ids(pid):
    """The Uid, Gid, Groups and CapEff lines of /proc/PID/status."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("Uid", "Gid", "Groups", "CapEff", "CapPrm"):
                out[key] = value.split()
    return out


class User(wktest.TestCase):
    def setUp(self):
        if os.geteuid() != 0:
            self.fail("these tests start the servers as root (./test runs as root)")
        self.pw = pwd.getpwnam(USER)
        self.logs = self.make_dir()
        os.chown(self.logs, self.pw.pw_uid, self.pw.pw_gid)  # as /var/log/wellknown would be
        self.maildir = os.path.join(self.make_dir(), "mail")
        self.cert = os.path.join(self.make_dir(), "cert.pem")
        self.smtpd = self.start_server(
            ["--user", USER, "--maildir", self.maildir, "--domain", "mx.test", "--self-signed",
             "--tls-listen", "127.0.0.1:0", "--submission", "127.0.0.1:0"],
            prog="smtpd", nlisten=3)
        self.smtpd.wait_log(r"^smtpd user name=nobody uid=%d gid=%d$"
                            % (self.pw.pw_uid, self.pw.pw_gid))
        self.alog = os.path.join(self.logs, "access.log")
        root = self.make_root({"a.txt": b"a\n"})
        os.chmod(root, 0o755)  # a docroot the user may read
        self.httpd = self.start_server(
            ["--user", USER, "--smtpd-status", self.smtpd.status_socket, "--self-signed",
             "--tls-listen", "127.0.0.1:0", "--workers", "2"],
            root=root, access_log=self.alog, nlisten=2)
        self.httpd.wait_log(r"^httpd user name=nobody uid=%d " % self.pw.pw_uid)

    def test_no_root_left(self):
        procs = []
        for srv in (self.httpd, self.smtpd):
            srv.wait_log(r"^%s worker id=0 pid=\d+ start$" % srv.prog)
            with open("/proc/%d/task/%d/children" % (srv.pid, srv.pid)) as f:
                workers = [int(p) for p in f.read().split()]
            self.assertTrue(workers, srv.prog)
            procs += [(srv.prog, pid) for pid in [srv.pid] + workers]
        for prog, pid in procs:
            got = ids(pid)
            self.assertEqual(got["Uid"], [str(self.pw.pw_uid)] * 4, (prog, pid))
            self.assertEqual(got["Gid"], [str(self.pw.pw_gid)] * 4, (prog, pid))
            self.assertNotIn("0", got["Groups"], (prog, pid))
            self.assertEqual(int(got["CapEff"][0], 16), 0, (prog, pid))
            self.assertEqual(int(got["CapPrm"][0], 16), 0, (prog, pid))

    def test_serving_as_the_user(self):
        # HTTP and HTTPS (the key was read as root), and the socket view across both servers.
        self.assertEqual(self.get(self.httpd, "/a.txt").body, b"a\n")
        tls_port = wktest.port_of(self.httpd.listeners[1][0])
        p = subprocess.run(["curl", "-sk", "https://127.0.0.1:%d/a.txt" % tls_port],
                           capture_output=True, timeout=scaled(20))
        self.assertEqual(p.stdout, b"a\n", p.stderr)
        doc = json.loads(self.get(self.httpd, "/-/sockets.json").body)
        self.assertTrue(all(s["running"] for s in doc["servers"]), doc["servers"][1])
        # Mail lands in a store the user owns.
        with smtplib.SMTP("127.0.0.1", self.smtpd.port, timeout=scaled(10)) as s:
            s.sendmail("a@b.test", ["x@mx.test"], b"Subject: hi\r\n\r\nhello\r\n")
        st = os.stat(self.maildir)
        self.assertEqual((st.st_uid, st.st_gid), (self.pw.pw_uid, self.pw.pw_gid))
        new = os.path.join(self.maildir, "x@mx.test", "new")
        (name,) = os.listdir(new)
        self.assertEqual(os.stat(os.path.join(new, name)).st_uid, self.pw.pw_uid)
        for srv in (self.httpd, self.smtpd):
            self.assertEqual(os.stat(srv.status_socket).st_uid, self.pw.pw_uid, srv.prog)

    def test_access_log_reopened_after_rotation(self):
        self.get(self.httpd, "/a.txt")
        self.httpd.wait_log(r"^httpd close ")
        os.rename(self.alog, self.alog + ".1")
        self.httpd.send_signal(signal.SIGUSR1)
        self.httpd.wait_log(r"^httpd reopen access-log=", count=2)  # each worker
        self.get(self.httpd, "/a.txt?after")
        deadline = time.monotonic() + scaled(5)
        while not (os.path.exists(self.alog) and b"?after" in read(self.alog)):
            self.assertLess(time.monotonic(), deadline, "nothing written to the new access log")
            time.sleep(0.05)
        self.assertEqual(os.stat(self.alog).st_uid, self.pw.pw_uid)
        self.assertNotIn(b"?after", read(self.alog + ".1"))
        # smtpd has no log file, and says so rather than dying of the signal.
        self.smtpd.send_signal(signal.SIGUSR1)
        self.smtpd.wait_log(r"^smtpd reopen: the log is standard error")


class Refused(wktest.TestCase):
    def run_as_nobody(self, binary, *args):
        pw = pwd.getpwnam(USER)

        def demote():
            os.setgroups([])
            os.setgid(pw.pw_gid)
            os.setuid(pw.pw_uid)
        return subprocess.run([binary, "--listen", "127.0.0.1:0", "--status-socket", "off"]
                              + list(args), capture_output=True, text=True,
                              timeout=scaled(20), preexec_fn=demote if os.geteuid() == 0 else None)

    def test_without_root_another_user_is_refused(self):
        p = self.run_as_nobody(wktest.HTTPD, "--user", "daemon")
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("--user daemon: only root can switch users", p.stderr)

    def test_unknown_user_and_root_refused(self):
        for user, why in (("no-such-user-wk", "no such user"), ("root", "name an unprivileged")):
            p = subprocess.run([wktest.SMTPD, "--listen", "127.0.0.1:0", "--user", user,
                                "--maildir", os.path.join(self.make_dir(), "m"),
                                "--status-socket", "off"],
                               capture_output=True, text=True, timeout=scaled(20))
            self.assertEqual(p.returncode, 1, p.stderr)
            self.assertIn(why, p.stderr)

    def test_low_port_without_root_explains(self):
        p = self.run_as_nobody(wktest.HTTPD, "--listen", "127.0.0.1:80")
        self.assertEqual(p.returncode, 1, p.stderr)
        for way in ("--user NAME", "setcap cap_net_bind_service=+ep", "pick a port >= 1024"):
            self.assertIn(way, p.stderr)
        self.assertNotRegex(p.stderr, r"^[^\n]*: Permission denied$")


if __name__ == "__main__":
    wktest.main()
