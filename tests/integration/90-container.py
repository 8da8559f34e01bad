"""docker/: the image and the compose file, run by Podman and checked from the host.

scripts/container.sh makes Podman ready (packages, settings, Debian base images made with
debootstrap, since no registry is reached); the test builds docker/Dockerfile under a tag of
its own, starts docker/compose.yaml under a project name of its own with every port on a free
port of 127.0.0.1, and checks: a page over HTTP and over HTTPS (trusting the certificate that
httpd wrote into the run volume), a mail sent with swaks landing in the mail volume, both
health checks (the binaries' --probe) healthy, both servers running as the unprivileged user
with no capability but CAP_NET_BIND_SERVICE, httpd's socket view showing smtpd's listeners
from the other container, a graceful stop, and `podman-compose down` leaving no container,
volume or network of the project. Whatever happens, the cleanups remove all of it and the
image. Every step is bounded in time.

Needs root (rootful Podman). Python 3 standard library only.
"""

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

import wktest

SOURCE_DIR = wktest.SOURCE_DIR
COMPOSE_FILE = os.path.join(SOURCE_DIR, "docker", "compose.yaml")
UID = 10025
BUDGET = 250
CAP_NET_BIND_SERVICE = 1 << 10


def free_ports(n):
    """n distinct ports that are free on 127.0.0.1 now."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


class Container(wktest.TestCase):
    def setUp(self):
        if os.geteuid() != 0:
            self.fail("needs root: rootful Podman builds and runs the image (./test runs as root)")
        self.state = os.path.join(wktest.BUILD_DIR or tempfile.gettempdir(), "container")
        os.makedirs(self.state, exist_ok=True)
        unique = "%d-%d" % (os.getpid(), int(time.time()))
        self.tag = "localhost/wellknown-test:" + unique
        self.project = "wktest-" + unique
        self.env = dict(os.environ)
        self.started = time.monotonic()
        # Every step together stays within ctest's 300 s, leaving time for the cleanups.
        self.deadline = self.started + BUDGET

    def log(self, what):
        sys.stderr.write("[%5.1fs] %s\n" % (time.monotonic() - self.started, what))
        sys.stderr.flush()

    def run_cmd(self, argv, timeout, check=True, log=None):
        """Runs argv (its whole process group killed at timeout, or when the test's budget is
        spent unless check is False, as in cleanups); returns (status, output)."""
        if check:
            timeout = max(1, min(timeout, self.deadline - time.monotonic()))
        out = open(log, "w+b") if log else tempfile.TemporaryFile()
        with out:
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                 stderr=subprocess.STDOUT, env=self.env, cwd=SOURCE_DIR,
                                 start_new_session=True)
            try:
                rc = p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
                rc = None
            out.seek(0)
            text = out.read().decode("utf-8", "replace")
        if check and rc != 0:
            what = "timed out after %ss" % timeout if rc is None else "exited with %s" % rc
            raise AssertionError("%s %s:\n%s" % (shlex.join(argv), what, text[-6000:]))
        return rc, text

    def podman(self, *args, timeout=60, check=True):
        return self.run_cmd(["podman"] + list(args), timeout, check)[1]

    def compose(self, *args, timeout=90, check=True):
        return self.run_cmd(["podman-compose", "-p", self.project, "-f", COMPOSE_FILE]
                            + list(args), timeout, check)[1]

    def container(self, service):
        return "%s_%s_1" % (self.project, service)

    def project_filter(self):
        return "label=io.podman.compose.project=" + self.project

    # -- steps --

    def prepare_podman(self):
        _, out = self.run_cmd(["bash", os.path.join(SOURCE_DIR, "scripts", "container.sh"),
                               self.state], timeout=200)
        for line in out.splitlines():
            if line.startswith("export "):
                name, value = line[len("export "):].split("=", 1)
                self.env[name] = shlex.split(value)[0]
        self.assertIn("CONTAINERS_CONF", self.env, out)

    def sweep_leftovers(self):
        """Removes what an earlier run left when it was killed before its cleanups (a ctest
        timeout): the projects and images named after a process that is gone."""
        def gone(unique):
            pid = unique.split("-")[0]
            return pid.isdigit() and not os.path.exists("/proc/" + pid)
        labels = self.podman("ps", "-a", "--format",
                             '{{index .Labels "io.podman.compose.project"}}', check=False)
        labels += self.podman("volume", "ls", "--format",
                              '{{index .Labels "io.podman.compose.project"}}', check=False)
        for project in set(labels.split()):
            if project.startswith("wktest-") and gone(project[len("wktest-"):]):
                saved, self.project = self.project, project
                self.tear_down_project()
                self.project = saved
        images = self.podman("images", "--format", "{{.Repository}}:{{.Tag}}",
                             "localhost/wellknown-test", check=False)
        for image in images.split():
            if gone(image.rsplit(":", 1)[1]):
                self.podman("rmi", "-f", image, check=False)

    def build_image(self):
        self.addCleanup(self.podman, "rmi", "-f", self.tag, check=False)
        self.run_cmd(["podman", "build", "--format", "docker", "-f",
                      os.path.join(SOURCE_DIR, "docker", "Dockerfile"), "-t", self.tag,
                      SOURCE_DIR], timeout=200, log=os.path.join(self.state, "build.log"))

    def tear_down_project(self):
        """Removes whatever the project left, even after a failure half-way."""
        self.compose("down", "-v", timeout=60, check=False)
        names = self.podman("ps", "-a", "-q", "--filter", self.project_filter(), check=False)
        if names.split():
            self.podman("rm", "-f", "-v", *names.split(), check=False)
        vols = self.podman("volume", "ls", "-q", "--filter", self.project_filter(), check=False)
        if vols.split():
            self.podman("volume", "rm", "-f", *vols.split(), check=False)
        self.podman("network", "rm", "-f", self.project + "_default", check=False)

    def wait_for(self, what, fn, timeout):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                last = fn()
                if last:
                    return last
            except (OSError, AssertionError, subprocess.SubprocessError) as e:
                last = e
            time.sleep(0.5)
        self.fail("%s: not within %ss (last: %r)" % (what, timeout, last))

    def dump_logs(self):
        for service in ("smtpd", "httpd"):
            rc, text = self.run_cmd(["podman", "logs", self.container(service)], 30, check=False)
            sys.stderr.write("--- %s (podman logs, status %s) ---\n%s\n" % (service, rc, text))

    # -- the test --

    def test_image_and_compose(self):
        self.prepare_podman()
        self.sweep_leftovers()
        self.log("podman ready")
        self.build_image()
        self.log("image built: " + self.tag)
        http, https, smtp, smtps, submission = free_ports(5)
        self.env.update(WK_IMAGE=self.tag, WK_BIND="127.0.0.1", WK_HTTP_PORT=str(http),
                        WK_HTTPS_PORT=str(https), WK_SMTP_PORT=str(smtp),
                        WK_SMTPS_PORT=str(smtps), WK_SUBMISSION_PORT=str(submission))
        self.addCleanup(self.tear_down_project)
        volumes_before = set(self.podman("volume", "ls", "-q").split())
        try:
            self.compose("up", "-d", "--no-build")
            self.log("compose up")
            self.check_running(http, https, smtp, smtps, submission)
        except BaseException:
            self.dump_logs()
            raise
        self.check_down()
        # Nor an anonymous volume for a VOLUME of the image that compose.yaml did not mount.
        left = set(self.podman("volume", "ls", "-q").split()) - volumes_before
        self.assertEqual(left, set(), "volumes left")
        self.log("compose down")

    def check_running(self, http, https, smtp, smtps, submission):
        base = "http://127.0.0.1:%d" % http

        # A page over HTTP, from the host through the published port.
        def page():
            p = self.curl("-f", base + "/")
            return p.returncode == 0 and p.stdout
        body = self.wait_for("httpd's page", page, 60)
        self.assertIn(b"<title>", body)

        # A mail over SMTP, into the shared mail volume.
        def mail():
            p = subprocess.run(["swaks", "--to", "you@localhost", "--from", "test@localhost",
                                "--server", "127.0.0.1:%d" % smtp, "--timeout", "20",
                                "--header", "Subject: container test"],
                               stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
            return p.returncode == 0 and p.stdout.decode("utf-8", "replace")
        out = self.wait_for("a mail with swaks", mail, 60)
        self.assertRegex(out, r"<-  250 2\.0\.0 .*queued as (\S+)")
        queue_id = out.split("queued as ", 1)[1].split()[0]

        # Both health checks: the image's HEALTHCHECK, run now rather than by a timer (Podman
        # needs systemd for that), must pass and the state must read "healthy".
        for service in ("smtpd", "httpd"):
            name = self.container(service)
            self.wait_for("%s healthy" % service, lambda: self.run_cmd(
                ["podman", "healthcheck", "run", name], 30, check=False)[0] == 0, 60)
            status = self.podman("inspect", "--format", "{{.State.Health.Status}}", name)
            self.assertEqual(status.strip(), "healthy", service)
        self.log("page, mail and health checks")

        # The message is in the volume, owned by the servers' user.
        mail_dir = self.podman("volume", "inspect", "--format", "{{.Mountpoint}}",
                               self.project + "_mail").strip()
        new = os.path.join(mail_dir, "you@localhost", "new")
        names = os.listdir(new)
        self.assertEqual(len(names), 1, names)
        path = os.path.join(new, names[0])
        self.assertEqual(os.stat(path).st_uid, UID)
        with open(path, "rb") as f:
            message = f.read()
        self.assertIn(queue_id.encode(), message)
        self.assertIn(b"Subject: container test", message)

        # Neither server runs as root, and each holds only the capability to bind low ports.
        for service in ("smtpd", "httpd"):
            status = self.podman("exec", self.container(service), "cat", "/proc/1/status")
            fields = dict(l.split(":", 1) for l in status.splitlines() if ":" in l)
            self.assertIn("wellknown-" + service, fields["Name"])
            self.assertEqual(fields["Uid"].split(), [str(UID)] * 4, service)
            self.assertEqual(fields["Gid"].split(), [str(UID)] * 4, service)
            self.assertEqual(int(fields["CapEff"], 16), CAP_NET_BIND_SERVICE, service)

        # HTTPS with the self-signed certificate that httpd saved in the shared run volume.
        run_dir = self.podman("volume", "inspect", "--format", "{{.Mountpoint}}",
                              self.project + "_run").strip()
        p = self.curl("-f", "-o", "/dev/null", "-w", "%{http_code}", "--cacert",
                      os.path.join(run_dir, "httpd-cert.pem"), "https://127.0.0.1:%d/" % https)
        self.assertEqual(p.stdout, b"200", p.stderr)

        # The socket view: httpd's part, and smtpd's from its status socket in the run volume
        # (smtpd reads its own sockets from the kernel, in its own network namespace).
        p = self.curl("-f", base + "/-/sockets.json")
        self.assertEqual(p.returncode, 0, p.stderr)
        view = json.loads(p.stdout)
        servers = {s["name"]: s for s in view["servers"]}
        self.assertEqual(sorted(servers), ["httpd", "smtpd"])
        for name, ports in (("httpd", [80, 443]), ("smtpd", [25, 465, 587])):
            self.assertTrue(servers[name]["running"], servers[name])
            self.assertIsNone(servers[name]["kernel_error"], servers[name])
            listeners = servers[name]["listeners"]
            self.assertEqual(sorted(l["port"] for l in listeners), ports, listeners)
            self.assertTrue(all(l["state"] == "LISTEN" for l in listeners), listeners)
        self.log("mail file, users, HTTPS and socket view")

        # A reload through the container engine: SIGHUP to the container reaches the server
        # (its first process), which starts new workers and keeps its self-signed certificate.
        name = self.container("httpd")
        self.podman("kill", "--signal", "HUP", name)
        self.wait_for("httpd's reload", lambda: "httpd reload config=new" in self.run_cmd(
            ["podman", "logs", name], 30, check=False)[1], 30)
        p = self.curl("-f", "-o", "/dev/null", "-w", "%{http_code}", "--cacert",
                      os.path.join(run_dir, "httpd-cert.pem"), "https://127.0.0.1:%d/" % https)
        self.assertEqual(p.stdout, b"200", p.stderr)
        self.log("reload")

        # A graceful stop: SIGTERM, and each server exits 0 well before Podman would kill it.
        names = [self.container("httpd"), self.container("smtpd")]
        self.podman("stop", "-t", "20", *names, timeout=60)
        for name in names:
            code = self.podman("inspect", "--format", "{{.State.ExitCode}}", name).strip()
            self.assertEqual(code, "0", name)

    def check_down(self):
        self.compose("down", "-v")
        # podman-compose 1.0.3 leaves the project's network behind.
        self.podman("network", "rm", "-f", self.project + "_default")
        left = self.podman("ps", "-a", "--format", "{{.Names}}", "--filter",
                           self.project_filter())
        self.assertEqual(left.strip(), "", "containers left")
        left = self.podman("volume", "ls", "--format", "{{.Name}}", "--filter",
                           self.project_filter())
        self.assertEqual(left.strip(), "", "volumes left")
        left = self.podman("network", "ls", "--format", "{{.Name}}")
        self.assertNotIn(self.project, left)


if __name__ == "__main__":
    wktest.main()
