"""The socket view: /-/sockets.json agrees with ss, shows each connection's
phase for httpd and smtpd alike, follows closes (and TIME-WAIT), streams live
snapshots, serves strict Prometheus metrics, and answers only allowed clients."""

import http.client
import json
import os
import re
import resource
import signal
import socket
import stat
import subprocess
import time

import promtext
import wktest
from wktest import scaled


def ss_tuples(ports):
    """{(local, peer): state} of the TCP sockets whose local port is in ports, as ss prints them."""
    expr = " or ".join("sport = :%d" % p for p in ports)
    out = subprocess.run(["ss", "-Htn", "state", "all", "( %s )" % expr], capture_output=True,
                         text=True, timeout=10, check=True).stdout
    found = {}
    for line in out.splitlines():
        f = line.split()
        if f and f[0] != "LISTEN":
            found[(f[3], f[4])] = f[0]
    return found


def view_tuples(doc):
    """{(local, peer): state} of every socket under every listener in a sockets.json document."""
    return {(s["local"], s["peer"]): s["state"]
            for srv in doc["servers"] for l in srv["listeners"] for s in l["sockets"]}


def sockets_by_peer(doc, name):
    srv = next(s for s in doc["servers"] if s["name"] == name)
    return {s["peer"]: s for l in srv["listeners"] for s in l["sockets"]}


class SocketView(wktest.TestCase):
    def setUp(self):
        self.smtpd = self.start_server(["--maildir", self.make_dir(), "--hostname", "mx.test",
                                        "--domain", "mx.test"], prog="smtpd")
        self.smtpd.wait_log(r"^smtpd status path=")
        self.httpd = self.start_server(["--smtpd-status", self.smtpd.status_socket],
                                       root=self.make_root({"a.txt": b"a\n"}), access_log="off")
        self.hport, self.sport = self.httpd.port, self.smtpd.port
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            p.kill()
            p.wait(timeout=10)

    def idle_curl(self):
        """A curl that makes one request and then holds its connection idle (keep-alive)."""
        url = "http://127.0.0.1:%d/a.txt" % self.hport
        p = subprocess.Popen(["curl", "-s", "-o", "/dev/null", "--rate", "1/h", url, url],
                             stdin=subprocess.DEVNULL)
        self.procs.append(p)
        return p

    def smtp(self, *lines):
        s = socket.create_connection(("127.0.0.1", self.sport), timeout=scaled(5))
        self.addCleanup(s.close)
        f = s.makefile("rb")
        self.addCleanup(f.close)
        assert f.readline().startswith(b"220 ")
        for line in lines:
            s.sendall(line)
            if line.endswith(b"\r\n") and not line.startswith(b"DATA") or line == b"DATA\r\n":
                reply = f.readline()
                while reply[3:4] == b"-":
                    reply = f.readline()
                self.assertIn(reply[:1], (b"2", b"3"), reply)
        return s

    def fetch(self, conn, path="/-/sockets.json"):
        conn.request("GET", path)
        r = conn.getresponse()
        body = r.read()
        self.assertEqual(r.status, 200, body)
        return r, body

    def wait_for_view(self, conn, pred, what, timeout=10):
        deadline = time.monotonic() + scaled(timeout)
        while True:
            _, body = self.fetch(conn)
            doc = json.loads(body)
            if pred(doc):
                return doc
            if time.monotonic() > deadline:
                self.fail("%s not seen within %ss:\n%s" % (what, timeout,
                                                            json.dumps([(s["peer"], s["state"], s["phase"], s["progress"]) for srv in doc["servers"] for l in srv["listeners"] for s in l["sockets"]])))
            time.sleep(0.1)

    def test_the_view_agrees_with_ss(self):
        curls = [self.idle_curl() for _ in range(5)]
        self.smtp(b"EHLO c.test\r\n", b"MAIL FROM:<a@b.test>\r\n")
        self.smtp(b"EHLO c.test\r\n", b"MAIL FROM:<a@b.test>\r\n", b"RCPT TO:<x@mx.test>\r\n",
                  b"RCPT TO:<y@mx.test>\r\n")
        data = self.smtp(b"EHLO c.test\r\n", b"MAIL FROM:<a@b.test>\r\n",
                         b"RCPT TO:<x@mx.test>\r\n", b"DATA\r\n", b"Subject: half\r\n\r\nso far")
        viewer = http.client.HTTPConnection("127.0.0.1", self.hport, timeout=scaled(10))
        self.addCleanup(viewer.close)
        # Everyone in place: 5 idle curls (plus the viewer), 3 sessions, 23 bytes of DATA.
        doc = self.wait_for_view(viewer, lambda d: (
            sum(s["phase"] == "idle" for s in sockets_by_peer(d, "httpd").values()) == 5 and
            sum(s["phase"] in ("mail", "rcpt", "data") for s in
                sockets_by_peer(d, "smtpd").values()) == 3 and
            any(s["progress"] == 23 for s in sockets_by_peer(d, "smtpd").values())),
            "5 idle HTTP connections and 3 SMTP sessions")
        ss = ss_tuples([self.hport, self.sport])
        _, body = self.fetch(viewer)
        doc = json.loads(body)
        self.assertEqual(view_tuples(doc), ss)
        self.assertEqual(len(ss), 5 + 1 + 3)

        # The viewer: named, and its own row; everyone's fd is the server's, not a port.
        me = doc["viewer"]
        self.assertEqual(me["local"], "127.0.0.1:%d" % self.hport)
        mine = sockets_by_peer(doc, "httpd")[me["peer"]]
        self.assertEqual(mine["fd"], me["fd"])
        self.assertEqual(mine["phase"], "reading-request")
        for srv in doc["servers"]:
            self.assertTrue(srv["running"], srv)
            (l,) = srv["listeners"]
            self.assertEqual(l["state"], "LISTEN")
            self.assertEqual(l["service"], "http" if srv["name"] == "httpd" else "smtp")
            self.assertEqual(l["open"], len(l["sockets"]))
            # Each connection its own fd within its worker; workers may reuse a number.
            held = [(s["worker"], s["fd"]) for s in l["sockets"]]
            self.assertEqual(len(set(held)), len(held))
            self.assertTrue(all(0 <= w < 64 for w, _ in held), held)
            for s in l["sockets"]:
                self.assertEqual(s["state"], "ESTAB")
                self.assertTrue(s["local"].endswith(":%d" % l["port"]), s)
                self.assertIsNotNone(s["tcp"], s)
                self.assertGreater(s["tcp"]["rtt_us"], 0, s)
        phases = sorted((s["phase"], s["progress"]) for s in sockets_by_peer(doc, "smtpd").values())
        self.assertEqual(phases, [("data", 23), ("mail", 0), ("rcpt", 2)])

        # One curl leaves: its row goes (the client closed first: no TIME-WAIT on our side).
        gone = curls[0]
        gone.kill()
        gone.wait(timeout=10)
        before = set(sockets_by_peer(doc, "httpd"))
        doc = self.wait_for_view(viewer, lambda d: len(sockets_by_peer(d, "httpd")) == 5,
                                 "the closed connection gone")
        self.assertEqual(len(before - set(sockets_by_peer(doc, "httpd"))), 1)
        self.assertEqual(view_tuples(doc), ss_tuples([self.hport, self.sport]))

    def test_time_wait_after_the_server_closes(self):
        viewer = http.client.HTTPConnection("127.0.0.1", self.hport, timeout=scaled(10))
        self.addCleanup(viewer.close)
        # The server closes first after "Connection: close": its socket lingers in TIME-WAIT.
        with socket.create_connection(("127.0.0.1", self.hport), timeout=scaled(5)) as s:
            peer = "%s:%d" % s.getsockname()
            s.sendall(b"GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            while s.recv(4096):
                pass
        doc = self.wait_for_view(viewer, lambda d: peer in sockets_by_peer(d, "httpd"),
                                 "the TIME-WAIT socket")
        row = sockets_by_peer(doc, "httpd")[peer]
        self.assertEqual(row["state"], "TIME-WAIT")
        self.assertIsNone(row["fd"])
        self.assertIsNone(row["phase"])
        self.assertEqual(ss_tuples([self.hport])[(row["local"], peer)], "TIME-WAIT")

    def test_events_stream_a_new_connection(self):
        s = socket.create_connection(("127.0.0.1", self.hport), timeout=scaled(10))
        self.addCleanup(s.close)
        s.sendall(b"GET /-/sockets/events HTTP/1.1\r\nHost: x\r\n\r\n")
        f = s.makefile("rb")
        self.addCleanup(f.close)
        head = []
        for line in iter(f.readline, b"\r\n"):
            head.append(line.decode().strip())
        self.assertEqual(head[0], "HTTP/1.1 200 OK")
        self.assertIn("Content-Type: text/event-stream", head)
        self.assertFalse([h for h in head if h.lower().startswith("content-length")], head)

        def event():
            name, data = None, None
            for line in iter(f.readline, b"\n"):
                line = line.decode().rstrip("\n")
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    data = json.loads(line[6:])
            return name, data

        self.assertEqual(event(), (None, None))  # "retry: 2000" alone
        name, me = event()
        self.assertEqual(name, "viewer")
        self.assertEqual(me["peer"], "%s:%d" % s.getsockname())
        name, first = event()
        self.assertEqual(name, "snapshot")
        self.assertIsNone(first["viewer"])
        self.assertIn(me["peer"], sockets_by_peer(first, "httpd"))
        # A new connection shows up in a snapshot soon after (not only at the next second).
        new = self.connect(self.httpd)
        new.sock.sendall(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        new.read_response()
        peer = "%s:%d" % new.sock.getsockname()
        t0 = time.monotonic()
        for _ in range(20):
            name, snap = event()
            if peer in sockets_by_peer(snap, "httpd"):
                break
        else:
            self.fail("the new connection never appeared in the stream")
        self.assertLess(time.monotonic() - t0, scaled(3))
        # Idle once its response is written (a snapshot of that moment may say "sending").
        for _ in range(20):
            if sockets_by_peer(snap, "httpd")[peer]["phase"] == "idle":
                break
            name, snap = event()
        self.assertEqual(sockets_by_peer(snap, "httpd")[peer]["phase"], "idle")

    def test_metrics_are_strict_prometheus(self):
        self.smtp(b"EHLO c.test\r\n", b"MAIL FROM:<a@b.test>\r\n", b"RCPT TO:<x@mx.test>\r\n",
                  b"DATA\r\n", b"Subject: hi\r\n\r\nhello\r\n.\r\n", b"QUIT\r\n")
        self.get(self.httpd, "/a.txt")
        self.get(self.httpd, "/missing")
        # Their workers may see the clients leave after the next one arrives: wait for it.
        self.httpd.wait_log(r"^httpd close ", count=2)
        self.smtpd.wait_log(r"^smtpd close ")
        r = self.get(self.httpd, "/-/metrics")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.get("Content-Type").startswith("text/plain; version=0.0.4"))
        fam = promtext.parse(r.body)
        value = lambda f, **labels: next(v for n, l, v in fam[f]["samples"] if l == labels)
        hl = {"listener": "127.0.0.1:%d" % self.hport}
        sl = {"listener": "127.0.0.1:%d" % self.sport}
        self.assertEqual(fam["httpd_requests_total"]["type"], "counter")
        self.assertEqual(value("httpd_requests_total", code="2xx"), 1)
        self.assertEqual(value("httpd_requests_total", code="4xx"), 1)
        self.assertEqual(value("httpd_connections_accepted_total", **hl), 3)
        self.assertEqual(value("httpd_connections_open", **hl), 1)
        self.assertEqual(value("httpd_smtpd_status_up"), 1)
        self.assertEqual(value("smtpd_messages_total", result="delivered"), 1)
        self.assertEqual(value("smtpd_delivered_recipients_total"), 1)
        self.assertEqual(value("smtpd_connections_accepted_total", **sl), 1)
        self.assertGreater(value("smtpd_received_bytes_total", **sl), 40)
        self.assertEqual(value("httpd_tls_handshakes_total", **hl), 0)

    def test_healthy(self):
        r = self.get(self.httpd, "/-/healthy")
        self.assertEqual((r.status, r.body), (200, b"OK\n"))

    def test_page_and_assets(self):
        for path, kind in (("/-/sockets", "text/html"), ("/-/sockets.css", "text/css"),
                           ("/-/sockets.js", "text/javascript")):
            r = self.get(self.httpd, path)
            self.assertEqual(r.status, 200, path)
            self.assertTrue(r.get("Content-Type").startswith(kind), path)
            self.assertTrue(re.fullmatch(r'"[0-9a-f]{16}"', r.get("ETag")), path)
        page = self.get(self.httpd, "/-/sockets").body
        self.assertIn(b"/-/sockets.js", page)
        self.assertNotIn(b"http://", page.replace(b"http://www.w3.org", b""))  # nothing remote
        self.assertEqual(self.get(self.httpd, "/-/nothing").status, 404)
        self.assertEqual(self.get(self.httpd, "/-/../-/healthy").status, 200)

    def test_smtpd_not_running(self):
        self.smtpd.stop()
        doc = json.loads(self.get(self.httpd, "/-/sockets.json").body)
        smtpd = next(s for s in doc["servers"] if s["name"] == "smtpd")
        self.assertFalse(smtpd["running"])
        self.assertIn("not running", smtpd["error"])
        self.assertEqual(smtpd["listeners"], [])
        fam = promtext.parse(self.get(self.httpd, "/-/metrics").body)
        self.assertEqual(fam["httpd_smtpd_status_up"]["samples"][0][2], 0)
        self.assertFalse([f for f in fam if f.startswith("smtpd_")])

    def test_status_sockets_are_private(self):
        for srv in (self.httpd, self.smtpd):
            srv.wait_log(r"^%s status path=" % srv.prog)  # opened after the listeners
            st = os.stat(srv.status_socket)
            self.assertTrue(stat.S_ISSOCK(st.st_mode))
            self.assertEqual(stat.S_IMODE(st.st_mode), 0o600, srv.status_socket)
        # By hand, as the README shows: one command line, the answer, the close.
        with socket.socket(socket.AF_UNIX) as u:
            u.settimeout(scaled(5))
            u.connect(self.smtpd.status_socket)
            u.sendall(b"sockets\n")
            answer = b""
            while chunk := u.recv(65536):
                answer += chunk
        self.assertEqual(json.loads(answer)["name"], "smtpd")


class Hostile(wktest.TestCase):
    """Viewers that send more than they should, leave while waiting, or meet an smtpd that
    does not answer."""

    def setUp(self):
        self.smtpd = self.start_server(["--maildir", self.make_dir()], prog="smtpd")
        self.smtpd.wait_log(r"^smtpd status path=")
        self.httpd = self.start_server(["--smtpd-status", self.smtpd.status_socket],
                                       access_log="off")

    def stream(self):
        s = socket.socket()
        s.settimeout(scaled(10))
        s.connect(("127.0.0.1", self.httpd.port))
        self.addCleanup(s.close)
        s.sendall(b"GET /-/sockets/events HTTP/1.1\r\nHost: x\r\n\r\n")
        return s

    def test_a_view_larger_than_the_output_buffer(self):
        # 1000 connections make a view of some 300 KB: it leaves from a memory file, whole,
        # as the answer and as an event.
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(soft, 2048), hard), hard))
        conns = []
        try:
            for _ in range(1000):
                s = socket.create_connection(("127.0.0.1", self.httpd.port), timeout=scaled(10))
                s.sendall(b"GET / HTTP/1.1\r\n")  # a head begun: held in reading-request
                conns.append(s)
            peers = {"127.0.0.1:%d" % s.getsockname()[1] for s in conns}
            deadline = time.monotonic() + scaled(20)
            while True:
                r = self.get(self.httpd, "/-/sockets.json")
                doc = json.loads(r.body)
                held = set(sockets_by_peer(doc, "httpd"))
                if peers <= held:
                    break
                self.assertLess(time.monotonic(), deadline, "%d of 1000 seen" % len(peers & held))
                time.sleep(0.2)
            self.assertGreater(len(r.body), 256 * 1024)
            ev = self.stream()
            got = b""
            while got.count(b"event: snapshot") < 1 or not got.endswith(b"\n\n"):
                chunk = ev.recv(1 << 20)
                self.assertTrue(chunk, got[-200:])
                got += chunk
            data = got.split(b"event: snapshot\ndata: ", 1)[1].split(b"\n\n", 1)[0]
            self.assertTrue(peers <= set(sockets_by_peer(json.loads(data), "httpd")))
        finally:
            for s in conns:
                s.close()

    def test_requests_behind_a_stream_are_not_answered(self):
        s = socket.create_connection(("127.0.0.1", self.httpd.port), timeout=scaled(5))
        self.addCleanup(s.close)
        s.sendall(b"GET /-/sockets/events HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
        got = b""
        deadline = time.monotonic() + scaled(3)
        while got.count(b"event: snapshot") < 2 and time.monotonic() < deadline:
            got += s.recv(65536)
        self.assertEqual(got.count(b"HTTP/1.1 "), 1, got[:300])
        self.assertNotIn(b"OK\n", got)

    def test_smtpd_that_does_not_answer(self):
        os.kill(self.smtpd.pid, signal.SIGSTOP)
        self.addCleanup(os.kill, self.smtpd.pid, signal.SIGCONT)
        # One viewer leaves while it waits; the other gets httpd's part within the bound.
        gone = socket.create_connection(("127.0.0.1", self.httpd.port), timeout=scaled(5))
        gone.sendall(b"GET /-/sockets.json HTTP/1.1\r\nHost: x\r\n\r\n")
        gone.close()
        t0 = time.monotonic()
        r = self.get(self.httpd, "/-/sockets.json")
        self.assertLess(time.monotonic() - t0, scaled(3))
        doc = json.loads(r.body)
        smtpd = next(x for x in doc["servers"] if x["name"] == "smtpd")
        self.assertFalse(smtpd["running"])
        self.assertIn("timed out", smtpd["error"])
        self.assertTrue(doc["servers"][0]["running"])
        self.httpd.wait_log(r"^httpd smtpd-status path=\S+ command=sockets error=")
        os.kill(self.smtpd.pid, signal.SIGCONT)
        doc = json.loads(self.get(self.httpd, "/-/sockets.json").body)
        self.assertTrue(all(x["running"] for x in doc["servers"]), doc["servers"][1])

    def test_streams_end_at_shutdown(self):
        s = self.stream()
        s.recv(65536)
        t0 = time.monotonic()
        self.httpd.stop()
        self.assertLess(time.monotonic() - t0, scaled(5))
        rest = b""
        while chunk := s.recv(65536):
            rest += chunk


class Access(wktest.TestCase):
    def test_clients_outside_the_allowed_networks_get_403(self):
        srv = self.start_server(["--dashboard-allow", "10.0.0.0/8",
                                 "--dashboard-allow", "fd00::/8"],
                                root=self.make_root({"a.txt": b"a\n"}))
        for path in ("/-/sockets", "/-/sockets.json", "/-/metrics", "/-/sockets/events"):
            self.assertEqual(self.get(srv, path).status, 403, path)
        srv.wait_log(r"^httpd dashboard-denied fd=\d+ client=127\.0\.0\.1:\d+$")
        self.assertEqual(self.get(srv, "/a.txt").status, 200)

    def test_bad_network_is_refused_at_startup(self):
        p = self.run_httpd(["--dashboard-allow", "10.0.0.1/8", "--check"])
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("10.0.0.1/8", p.stderr)

    def test_no_dashboard(self):
        root = self.make_root({"-/healthy": b"a file\n"})
        srv = self.start_server(["--no-dashboard"], root=root)
        self.assertEqual(self.get(srv, "/-/sockets.json").status, 404)
        self.assertEqual(self.get(srv, "/-/healthy").body, b"a file\n")


if __name__ == "__main__":
    wktest.main()
