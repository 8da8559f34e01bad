"""--workers: a parent and N worker processes on the same listening sockets.
The socket view and the metrics cover every worker; a worker that dies is
started again, its connections counted closed; the per-client limit of smtpd
holds across workers; SIGTERM stops them all."""

import json
import os
import re
import signal
import socket
import time

import promtext
import wktest
from wktest import scaled


def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


class Workers(wktest.TestCase):
    def test_view_restart_and_stop(self):
        srv = self.start_server(["--workers", "2"], root=self.make_root({"a.txt": b"a\n"}),
                                access_log="off")
        for wid in (0, 1):
            srv.wait_log(r"^httpd worker id=%d pid=\d+ start$" % wid)
        self.assertEqual(len(children(srv.pid)), 2)
        conns = []
        for _ in range(8):
            c = self.connect(srv)
            c.send(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertEqual(c.read_response().body, b"a\n")
            conns.append(c)
        peers = {"127.0.0.1:%d" % c.local_port: c for c in conns}
        # Each worker marks its connection idle once its response is written: wait for all.
        deadline = time.monotonic() + scaled(10)
        while True:
            doc = json.loads(self.get(srv, "/-/sockets.json").body)
            rows = {s["peer"]: s for s in doc["servers"][0]["listeners"][0]["sockets"]}
            if set(peers) <= set(rows) and all(rows[p]["phase"] == "idle" for p in peers):
                break
            self.assertLess(time.monotonic(), deadline,
                            [(p, rows.get(p, {}).get("phase")) for p in peers])
            time.sleep(0.05)
        for p in peers:
            self.assertIn(rows[p]["worker"], (0, 1))
        # The worker holding the first connection dies: it comes back, its connections are gone.
        victim = rows[next(iter(peers))]["worker"]
        pid = int(srv.wait_log(r"^httpd worker id=%d pid=(\d+) start$" % victim).group(1))
        lost = [p for p in peers if rows[p]["worker"] == victim]
        os.kill(pid, signal.SIGKILL)
        srv.wait_log(r"^httpd worker id=%d pid=%d exit signal=9" % (victim, pid))
        m = srv.wait_log(r"^httpd worker id=%d pid=%d connections-lost=(\d+)$" % (victim, pid))
        self.assertGreaterEqual(int(m.group(1)), len(lost))
        srv.wait_log(r"^httpd worker id=%d pid=(?!%d\b)\d+ start$" % (victim, pid))
        for p in lost:
            peers[p].sock.settimeout(scaled(5))
            self.assertEqual(peers[p].sock.recv(1), b"")  # the kernel closed it with the worker
        doc = json.loads(self.get(srv, "/-/sockets.json").body)
        held = {s["peer"] for s in doc["servers"][0]["listeners"][0]["sockets"]
                if s["fd"] is not None}
        self.assertFalse(set(lost) & held)
        self.assertTrue((set(peers) - set(lost)) <= held)
        fam = promtext.parse(self.get(srv, "/-/metrics").body)
        closed = next(v for n, l, v in fam["httpd_connections_closed_total"]["samples"])
        self.assertGreaterEqual(closed, len(lost))
        # SIGTERM: the parent passes it on, every worker finishes, all exit 0.
        workers = children(srv.pid)
        srv.stop()
        for w in workers:
            self.assertFalse(os.path.exists("/proc/%d/status" % w) and
                             "zombie" not in open("/proc/%d/status" % w).read(), w)

    def test_per_client_limit_across_workers(self):
        srv = self.start_server(["--workers", "2", "--max-per-client", "3",
                                 "--maildir", self.make_dir()], prog="smtpd")
        for wid in (0, 1):
            srv.wait_log(r"^smtpd worker id=%d pid=\d+ start$" % wid)
        held = []
        for _ in range(3):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=scaled(5))
            self.addCleanup(s.close)
            self.assertTrue(s.recv(512).startswith(b"220 "))
            held.append(s)
        fourth = socket.create_connection(("127.0.0.1", srv.port), timeout=scaled(5))
        self.addCleanup(fourth.close)
        self.assertTrue(fourth.recv(512).startswith(b"421 4.7.0"))


if __name__ == "__main__":
    wktest.main()
