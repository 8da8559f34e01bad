"""cmake --install, into a temporary DESTDIR, puts everything under the usual
prefixes: the binaries in sbin/, the manuals in share/man/man8 and man5, the
demo site in share/wellknown/www, the example configurations in
share/doc/wellknown/examples/ and, unless a file of that name is there
already, in etc/wellknown/ (/etc for the prefix /usr), and the systemd units
of dist/systemd/ in lib/systemd/system/. Nothing lands outside the prefix.
The installed binaries run: httpd, started without --root, serves the demo
page it finds beside it; smtpd delivers a message; each takes its installed
configuration and answers the other's --probe."""

import filecmp
import glob
import os
import re
import shutil
import smtplib
import subprocess

import wktest
from wktest import scaled

PROGRAMS = ("wellknown-httpd", "wellknown-smtpd")
PAGES = ("man8/wellknown-httpd.8", "man8/wellknown-smtpd.8", "man5/wellknown.conf.5")
CONFIGS = ("httpd.conf", "smtpd.conf")


def source(*parts):
    return os.path.join(wktest.SOURCE_DIR, *parts)


def units_in_tree():
    """The unit files dist/systemd/ holds (none until that folder has them)."""
    return sorted(os.path.basename(p) for pattern in ("*.service", "*.socket")
                  for p in glob.glob(source("dist", "systemd", pattern)))


class Install(wktest.TestCase):
    def install(self, prefix="/usr/local", dest=None):
        """Runs cmake --install into dest (a new directory by default); returns dest."""
        self.assertTrue(wktest.BUILD_DIR, "WK_BUILD_DIR is not set")
        dest = dest or self.make_dir()
        p = subprocess.run(["cmake", "--install", wktest.BUILD_DIR, "--prefix", prefix],
                           env=dict(os.environ, DESTDIR=dest), capture_output=True, text=True,
                           timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        return dest

    def assertSameFile(self, installed, original):
        self.assertTrue(os.path.isfile(installed), installed)
        self.assertTrue(filecmp.cmp(installed, original, shallow=False),
                        "%s differs from %s" % (installed, original))

    def assertAllUnder(self, dest, roots):
        """Every file installed is under one of roots (paths relative to dest)."""
        stray = []
        for d, _, files in os.walk(dest):
            for f in files:
                rel = os.path.relpath(os.path.join(d, f), dest)
                if not any(rel.startswith(r + "/") for r in roots):
                    stray.append(rel)
        if stray:
            self.fail("installed outside %s: %s" % (", ".join(roots), stray[:10]))

    def check_layout(self, dest, prefix, etc):
        """The files of one installation: prefix and etc relative to dest."""
        top = os.path.join(dest, prefix)
        for prog in PROGRAMS:
            self.assertTrue(os.access(os.path.join(top, "sbin", prog), os.X_OK), prog)
        for page in PAGES:
            self.assertSameFile(os.path.join(top, "share/man", page),
                                source("man", os.path.basename(page)))
        www = os.path.join(top, "share/wellknown/www")
        for name in ("index.shtml", "style.css"):
            self.assertSameFile(os.path.join(www, name), source("httpd", "www", name))
        for conf in CONFIGS:
            self.assertSameFile(os.path.join(top, "share/doc/wellknown/examples", conf),
                                source("dist", "config", conf))
            self.assertSameFile(os.path.join(dest, etc, "wellknown", conf),
                                source("dist", "config", conf))
        for unit in units_in_tree():
            self.assertSameFile(os.path.join(top, "lib/systemd/system", unit),
                                source("dist", "systemd", unit))

    def test_layout_under_usr_local(self):
        dest = self.install()
        self.assertAllUnder(dest, ["usr/local"])
        self.check_layout(dest, "usr/local", "usr/local/etc")
        man = shutil.which("man")
        if man:  # man finds the pages by name in the installed tree
            mandir = os.path.join(dest, "usr/local/share/man")
            for args, page in ((["8", "wellknown-httpd"], PAGES[0]),
                               (["8", "wellknown-smtpd"], PAGES[1]),
                               (["5", "wellknown.conf"], PAGES[2])):
                p = subprocess.run([man, "-M", mandir, "-w"] + args, capture_output=True,
                                   text=True, timeout=30,
                                   env=dict(os.environ, MAN_DISABLE_SECCOMP="1"))
                self.assertEqual(p.stdout.strip(), os.path.join(mandir, page), p.stderr)

    def test_layout_under_usr(self):
        """A package's prefix: the configuration goes to /etc, all else under /usr."""
        dest = self.install(prefix="/usr")
        # (An install() rule with an absolute DESTINATION would ignore --prefix.)
        self.assertAllUnder(dest, ["usr/sbin", "usr/share", "usr/lib", "etc"])
        self.check_layout(dest, "usr", "etc")

    def test_installing_again_keeps_an_edited_configuration(self):
        dest = self.install()
        etc = os.path.join(dest, "usr/local/etc/wellknown")
        edited = os.path.join(etc, "httpd.conf")
        with open(edited, "a") as f:
            f.write("listen = [::]:8080\n")
        with open(edited) as f:
            mine = f.read()
        os.remove(os.path.join(etc, "smtpd.conf"))
        self.install(dest=dest)
        with open(edited) as f:
            self.assertEqual(f.read(), mine)
        # A configuration that is missing is put back; the examples are the shipped ones.
        self.assertSameFile(os.path.join(etc, "smtpd.conf"), source("dist", "config", "smtpd.conf"))
        self.assertSameFile(os.path.join(dest, "usr/local/share/doc/wellknown/examples/httpd.conf"),
                            source("dist", "config", "httpd.conf"))

    def test_installed_binary_serves_the_demo_site(self):
        dest = self.install()
        binary = os.path.join(dest, "usr/local/sbin/wellknown-httpd")
        conf = os.path.join(dest, "usr/local/etc/wellknown/httpd.conf")

        # Without --root it finds the site installed beside it, not the source tree's.
        srv = self.start_server(binary=binary, access_log="off", args=["-c", conf])
        srv.wait_log(r"^httpd start pid=\d+ root=\S*usr/local/sbin/\.\./share/wellknown/www ")
        c = self.connect(srv)
        c.send(wktest.request("/"))
        resp = c.read_response()
        self.assertEqual(resp.status, 200, resp)
        page = resp.body.decode()
        # The template was filled in with this very connection's port.
        self.assertIn(str(c.local_port), page)
        self.assertNotIn("<!--#echo", page)
        self.assertIsNotNone(re.search(r"<title>[^<]+</title>", page))

        # The health check of a container: the installed binary asks the running one.
        p = subprocess.run([binary, "--probe", "127.0.0.1:%d" % srv.port], capture_output=True,
                           text=True, timeout=scaled(15))
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_installed_smtpd_delivers(self):
        dest = self.install()
        binary = os.path.join(dest, "usr/local/sbin/wellknown-smtpd")
        conf = os.path.join(dest, "usr/local/etc/wellknown/smtpd.conf")
        maildir = self.make_dir()
        srv = self.start_server(["-c", conf, "--maildir", maildir, "--hostname", "mx.test"],
                                binary=binary, prog="smtpd")
        with smtplib.SMTP("127.0.0.1", srv.port, timeout=scaled(10)) as c:
            c.sendmail("sender@example.org", ["you@localhost"], b"Subject: installed\r\n\r\nhi\r\n")
        self.assertEqual(len(os.listdir(os.path.join(maildir, "you@localhost", "new"))), 1)
        p = subprocess.run([binary, "--probe", "127.0.0.1:%d" % srv.port], capture_output=True,
                           text=True, timeout=scaled(15))
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_installed_binaries_check_their_configuration(self):
        dest = self.install()
        work = self.make_dir()  # smtpd's default mail store is relative to it
        for prog, conf in zip(PROGRAMS, CONFIGS):
            binary = os.path.join(dest, "usr/local/sbin", prog)
            p = subprocess.run([binary, "-c", os.path.join(dest, "usr/local/etc/wellknown", conf),
                                "--check"], capture_output=True, text=True, cwd=work,
                               timeout=scaled(10))
            self.assertEqual((p.returncode, p.stdout), (0, "%s: configuration ok\n" % prog),
                             p.stderr)
            p = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10)
            self.assertRegex(p.stdout, r"^%s \d+\.\d+\.\d+\n$" % prog)


if __name__ == "__main__":
    wktest.main()
