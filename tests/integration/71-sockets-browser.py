"""The socket view in headless Chromium: the page draws both servers' listeners
and connections, marks the viewer's own, and adds a row for a new connection
from a live update. Screenshots go to the build directory."""

import json
import os
import socket

import cdp
import wktest
from wktest import scaled

SHOTS = os.path.join(os.environ.get("WK_BUILD_DIR", "."), "screenshots")


class Browser(wktest.TestCase):
    def setUp(self):
        if cdp.find_chromium() is None:
            self.fail("chromium is not installed (./test installs it: apt-get install chromium)")
        self.smtpd = self.start_server(["--maildir", self.make_dir(), "--hostname", "mx.test",
                                        "--domain", "mx.test"], prog="smtpd")
        self.smtpd.wait_log(r"^smtpd status path=")
        self.httpd = self.start_server(["--smtpd-status", self.smtpd.status_socket],
                                       root=self.make_root({"a.txt": b"a\n"}), access_log="off")
        self.url = "http://127.0.0.1:%d/-/sockets" % self.httpd.port
        os.makedirs(SHOTS, exist_ok=True)

    def smtp_session(self):
        s = socket.create_connection(("127.0.0.1", self.smtpd.port), timeout=scaled(5))
        self.addCleanup(s.close)
        s.recv(512)
        s.sendall(b"EHLO c.test\r\n")
        s.recv(512)
        return "%s:%d" % s.getsockname()

    def row(self, peer):
        return "document.querySelector('[data-peer=\"%s\"]')" % peer

    def test_live_page(self):
        smtp_peer = self.smtp_session()
        with cdp.Browser(self.make_dir()) as b:
            page = b.new_page(width=1280, height=900)
            page.goto(self.url, timeout=scaled(20))
            page.wait_for("Number(document.body.dataset.snapshots) >= 1", timeout=scaled(10))
            # Both servers drawn, each listener with its address; the smtpd session in place.
            for srv in (self.httpd, self.smtpd):
                addr = srv.listeners[0][0]
                self.assertTrue(page.evaluate("!!document.querySelector('[data-addr=\"%s\"]')"
                                              % addr), addr)
            page.wait_for(self.row(smtp_peer), timeout=scaled(5))
            self.assertEqual(page.evaluate(self.row(smtp_peer) + ".dataset.phase"), "ehlo")
            # The page's own event stream is marked as the viewer's.
            page.wait_for("document.querySelector('.viewer')", timeout=scaled(10))
            # A new connection: a live update brings its row, without a reload.
            before = page.evaluate("Number(document.body.dataset.snapshots)")
            new = self.connect(self.httpd)
            new.send(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
            new.read_response()
            peer = "127.0.0.1:%d" % new.local_port
            page.wait_for(self.row(peer), timeout=scaled(10))
            self.assertGreater(page.evaluate("Number(document.body.dataset.snapshots)"), before)
            self.assertEqual(page.evaluate(self.row(peer) + ".dataset.fd"),
                             str(self.httpd_fd_of(peer)))
            # And the worker that holds that fd, as the view names it.
            doc = json.loads(self.get(self.httpd, "/-/sockets.json").body)
            worker = [s["worker"] for l in doc["servers"][0]["listeners"] for s in l["sockets"]
                      if s["peer"] == peer]
            self.assertEqual(len(worker), 1, doc)
            page.wait_for(self.row(peer) + ".dataset.worker === '%d'" % worker[0],
                          timeout=scaled(5))
            self.assertEqual(page.evaluate(self.row(peer) + ".querySelector('.worker').textContent"),
                             "worker %d" % worker[0])
            page.screenshot(os.path.join(SHOTS, "sockets.png"))
            # Phone width: nothing wider than the screen.
            phone = b.new_page(width=375, height=800)
            phone.goto(self.url, timeout=scaled(20))
            phone.wait_for(self.row(peer), timeout=scaled(10))
            self.assertLessEqual(phone.evaluate("document.documentElement.scrollWidth"), 375)
            phone.screenshot(os.path.join(SHOTS, "sockets-phone.png"))
            self.assertEqual(page.errors + phone.errors, [])

    def httpd_fd_of(self, peer):
        m = self.httpd.wait_log(r"^httpd accept fd=(\d+) listener=\S+ client=%s " % peer)
        return int(m.group(1))


if __name__ == "__main__":
    wktest.main()
