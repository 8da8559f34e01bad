"""--probe: the health check a container engine runs: exit 0 for a healthy
server (httpd's /-/healthy answers 200, smtpd greets with 220), 1 with a
reason for anything else."""

import os
import subprocess

import wktest
from wktest import scaled


def probe(binary, addr):
    return subprocess.run([binary, "--probe", addr], capture_output=True, text=True,
                          timeout=scaled(20))


class Probe(wktest.TestCase):
    def test_healthy_servers(self):
        httpd = self.start_server()
        smtpd = self.start_server(["--maildir", self.make_dir()], prog="smtpd")
        for binary, srv in ((wktest.HTTPD, httpd), (wktest.SMTPD, smtpd)):
            p = probe(binary, "127.0.0.1:%d" % srv.port)
            self.assertEqual((p.returncode, p.stderr), (0, ""), binary)
        httpd.wait_log(r"^httpd accept fd=\d+ listener=\S+ client=127\.0\.0\.1:\d+ ")
        smtpd.wait_log(r"^smtpd close fd=\d+ .* reason=quit ")

    def test_unhealthy_answers(self):
        httpd = self.start_server(["--no-dashboard"], root=self.make_root({}))
        smtpd = self.start_server(["--maildir", self.make_dir()], prog="smtpd")
        cases = (
            (wktest.HTTPD, httpd.port, 'answered "HTTP/1.1 404 Not Found"'),  # no /-/ here
            (wktest.HTTPD, smtpd.port, 'answered "220 '),                      # not HTTP at all
            (wktest.SMTPD, httpd.port, "Connection timed out"),  # httpd waits for a request
        )
        for binary, port, why in cases:
            with self.subTest(binary=binary, port=port):
                p = probe(binary, "127.0.0.1:%d" % port)
                self.assertEqual(p.returncode, 1, p.stderr)
                self.assertIn(why, p.stderr)

    def test_nothing_there(self):
        s = wktest.socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()  # a port nobody listens on
        p = probe(wktest.HTTPD, "127.0.0.1:%d" % port)
        self.assertEqual(p.returncode, 1)
        self.assertIn("Connection refused", p.stderr)
        p = probe(wktest.SMTPD, "no:such:address")
        self.assertEqual(p.returncode, 1)

    def test_not_from_a_file(self):
        # A file that says "probe" would turn a server into a health check: refused.
        conf = os.path.join(self.make_dir(), "x.conf")
        with open(conf, "w") as f:
            f.write("probe = 127.0.0.1:1\n")
        for binary in (wktest.HTTPD, wktest.SMTPD):
            p = subprocess.run([binary, "-c", conf, "--check"], capture_output=True, text=True,
                               timeout=scaled(20))
            self.assertEqual(p.returncode, 1, p.stdout)
            self.assertIn("%s:1: probe belongs on the command line (--probe)" % conf, p.stderr)


if __name__ == "__main__":
    wktest.main()
