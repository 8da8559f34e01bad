"""SIGHUP to the parent of --workers: the configuration (-c FILE and argv)
is read again and a new generation of workers serves it on the same
listening sockets, while the old workers retire: they accept no more, finish
what they hold with the old configuration (httpd: each answer closes its
connection, a download in flight completes; smtpd: a session goes on under
the old hostname) and exit. No connection is refused during a reload; the
counters carry over. A configuration that is wrong, or that changes what
only a restart can (the listen addresses, the user, max-connections above
its start value), changes nothing. SIGHUP sent to a worker is ignored."""

import hashlib
import json
import os
import re
import signal
import socket
import threading
import time

import promtext
import wktest
from wktest import SmtpRaw as Smtp, scaled, stored

MIB = 1 << 20


def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def write_conf(path, lines):
    """Writes the config file whole (a rename), so a reload never reads half of it."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("".join(l + "\n" for l in lines))
    os.replace(tmp, path)


def started(srv):
    """{worker id: pid} of every "worker id=N pid=P start" line so far."""
    return {int(m.group(1)): int(m.group(2))
            for m in srv.find(r"^%s worker id=(\d+) pid=(\d+) start$" % srv.prog)}


class ReloadCase(wktest.TestCase):
    def wait_for(self, what, pred, timeout=10):
        """Polls pred() until it returns something true (returned), or fails naming what."""
        deadline = time.monotonic() + scaled(timeout)
        while True:
            v = pred()
            if v:
                return v
            self.assertLess(time.monotonic(), deadline, "not within %ss: %s" % (timeout, what))
            time.sleep(0.05)

    def wait_children(self, srv, pred, what, timeout=10):
        """Waits until pred(the server's child pids) holds; returns those pids."""
        def check():
            kids = children(srv.pid)
            return kids if pred(kids) else None
        return self.wait_for(what, check, timeout)

    def accepted(self, srv):
        fam = promtext.parse(self.get(srv, "/-/metrics").body)
        return sum(v for n, l, v in fam["httpd_connections_accepted_total"]["samples"])

    def reloads(self, srv):
        """(good, refused, last one good) from /-/metrics."""
        fam = promtext.parse(self.get(srv, "/-/metrics").body)
        by = {l["result"]: v for n, l, v in fam["httpd_reloads_total"]["samples"]}
        [(_, _, last)] = fam["httpd_config_last_reload_successful"]["samples"]
        return int(by["ok"]), int(by["failed"]), int(last)

    def worker_of(self, srv, conns):
        """{local port: worker id} of the connections, from /-/sockets.json."""
        ports = {"127.0.0.1:%d" % c.local_port: c.local_port for c in conns}
        doc = json.loads(self.get(srv, "/-/sockets.json").body)
        rows = {s["peer"]: s for l in doc["servers"][0]["listeners"] for s in l["sockets"]}
        missing = set(ports) - set(rows)
        self.assertFalse(missing, "not in the socket view: %s" % missing)
        return {ports[p]: rows[p]["worker"] for p in ports}

    def wait_retiring(self, srv, ids, timeout=5):
        """Each old worker stopped accepting (it logs that before closing its listeners)."""
        for wid in ids:
            srv.wait_log(r"^%s retiring worker=%d open=\d+$" % (srv.prog, wid), timeout)

    def wait_retired(self, srv, old, timeout=10):
        """Each old worker exited, and cleanly: status 0, not killed (by a signal, say)."""
        for wid, pid in old.items():
            m = srv.wait_log(r"^%s worker id=%d pid=%d exit (.*) retired$" % (srv.prog, wid, pid),
                             timeout)
            self.assertEqual(m.group(1), "status=0", "%s\n%s" % (m.group(0), srv.stderr_text()))


class HttpReload(ReloadCase):
    def setUp(self):
        self.dir = self.make_dir()
        self.conf = os.path.join(self.dir, "h.conf")

    def start(self, lines, **kw):
        write_conf(self.conf, lines)
        srv = self.start_server(["-c", self.conf], **kw)
        for wid in range(2):
            srv.wait_log(r"^httpd worker id=%d pid=\d+ start$" % wid)
        return srv

    def test_new_root_for_new_connections_old_ones_finish_with_the_old(self):
        big_a, big_b = os.urandom(16 * MIB), os.urandom(MIB)
        a = self.make_root({"x.txt": b"from A\n", "big.bin": big_a})
        b = self.make_root({"x.txt": b"from B\n", "big.bin": big_b})
        common = ["workers = 2", "access-log = off", "shutdown-timeout = %ds" % scaled(30)]
        srv = self.start(["root = " + a] + common)
        old = started(srv)
        self.assertEqual(sorted(old), [0, 1])
        self.assertEqual(sorted(children(srv.pid)), sorted(old.values()))

        # A download in flight: a small receive buffer keeps most of it in the server.
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        s.settimeout(scaled(5))
        s.connect(("127.0.0.1", srv.port))
        down = wktest.Conn(sock=s, timeout=5)
        self.addCleanup(down.close)
        down.send(wktest.request("/big.bin"))
        head = down.read_until(b"\r\n\r\n").decode("latin-1")
        self.assertTrue(head.startswith("HTTP/1.1 200 "), head)
        self.assertRegex(head, r"(?i)\r\ncontent-length: %d\r\n" % len(big_a))
        first = down.read_exact(64 * 1024)
        # An idle keep-alive connection that already got one answer.
        idle = self.connect(srv)
        idle.send(wktest.request("/x.txt"))
        resp = idle.read_response()
        self.assertEqual((resp.status, resp.body), (200, b"from A\n"), resp)
        self.assertNotEqual((resp.get("Connection") or "").lower(), "close", resp)
        holders = self.worker_of(srv, [down, idle])
        self.assertTrue(set(holders.values()) <= set(old), holders)
        before = self.accepted(srv)

        write_conf(self.conf, ["root = " + b] + common)
        srv.send_signal(signal.SIGHUP)
        srv.wait_log(r"^httpd reload signal=HUP$")
        srv.wait_log(r"^httpd generation=2 workers=2$")
        srv.wait_log(r"^httpd reload config=new root=%s workers=2$" % re.escape(b))
        new = {w: p for w, p in started(srv).items() if p not in old.values()}
        self.assertEqual(len(new), 2, srv.stderr_text())
        self.assertFalse(set(new) & set(old), (old, new))
        for wid, pid in old.items():
            srv.wait_log(r"^httpd worker id=%d pid=%d retire$" % (wid, pid))
        self.wait_retiring(srv, old)
        # The worker with the download held it when it retired.
        m = srv.wait_log(r"^httpd retiring worker=%d open=(\d+)$" % holders[down.local_port])
        self.assertGreaterEqual(int(m.group(1)), 1)

        # New connections: the new root, from the new workers.
        for _ in range(10):
            r = self.get(srv, "/x.txt")
            self.assertEqual((r.status, r.body), (200, b"from B\n"), r)
        self.assertEqual(self.get(srv, "/big.bin").body, big_b)
        view = self.connect(srv)
        view.send(wktest.request("/x.txt"))
        self.assertEqual(view.read_response().body, b"from B\n")
        self.assertIn(self.worker_of(srv, [view])[view.local_port], set(new))
        view.close()

        # The idle connection: its next answer comes from A and closes it.
        idle.send(wktest.request("/x.txt"))
        resp = idle.read_response()
        self.assertEqual((resp.status, resp.body), (200, b"from A\n"), resp)
        self.assertEqual((resp.get("Connection") or "").lower(), "close", resp)
        self.assertClosed(idle)
        srv.wait_log(r"^httpd close fd=\d+ listener=\S+ client=127\.0\.0\.1:%d reason=retire "
                     % idle.local_port)

        # The download: still held by its retiring worker, then every byte, then the close.
        dpid = old[holders[down.local_port]]
        self.assertEqual(srv.find(r"^httpd worker id=\d+ pid=%d exit " % dpid), [],
                         "the download's worker exited before the download ended")
        rest = down.read_exact(len(big_a) - len(first), timeout=30)
        self.assertEqual(hashlib.sha256(first + rest).hexdigest(),
                         hashlib.sha256(big_a).hexdigest())
        # It was promised keep-alive before the reload: it stays open for its next request,
        # which the old configuration answers with "Connection: close".
        down.send(wktest.request("/x.txt"))
        resp = down.read_response()
        self.assertEqual((resp.status, resp.body), (200, b"from A\n"), resp)
        self.assertEqual((resp.get("Connection") or "").lower(), "close", resp)
        self.assertClosed(down, timeout=5)
        srv.wait_log(r"^httpd close fd=\d+ listener=\S+ client=127\.0\.0\.1:%d reason=retire "
                     % down.local_port)

        self.wait_retired(srv, old)
        kids = self.wait_children(srv, lambda k: len(k) == 2 and not set(k) & set(old.values()),
                                  "two children, none of the old ones")
        self.assertEqual(sorted(kids), sorted(new.values()))
        # The new workers let go of the old state's files (inherited from the parent): root A.
        for pid in kids:
            held = []
            for fd in os.listdir("/proc/%d/fd" % pid):
                try:
                    held.append(os.readlink("/proc/%d/fd/%s" % (pid, fd)))
                except OSError:
                    pass
            self.assertIn(b, held, "worker %d: %s" % (pid, held))
            self.assertNotIn(a, held, "worker %d: %s" % (pid, held))
        self.assertEqual(len(srv.find(r"^httpd listen addr=")), 1, srv.stderr_text())
        self.assertGreaterEqual(self.accepted(srv), before + 10 + 2)
        # Neither old worker came back.
        self.assertEqual(started(srv), {**old, **new})

    def test_no_connection_is_refused_during_reloads(self):
        root = self.make_root({"x.txt": b"x\n"})
        srv = self.start(["root = " + root, "workers = 2", "access-log = off"])
        results, errors = [], []
        stop = threading.Event()

        def client():
            deadline = time.monotonic() + scaled(40)
            while not stop.is_set() and len(results) < 5000 and time.monotonic() < deadline:
                try:
                    with wktest.Conn(srv.port, timeout=5) as c:
                        c.send(wktest.request("/x.txt"))
                        r = c.read_response()
                        results.append((r.status, r.body))
                except Exception as e:  # reported below
                    errors.append(repr(e))
                    if len(errors) > 20:
                        return

        # Keep-alive clients too: a connection a retiring worker holds is never closed under a
        # request; its answer says "Connection: close", and the client connects again.
        closes, kept = [], []

        def keepalive():
            deadline = time.monotonic() + scaled(40)
            n = 0
            c = wktest.Conn(srv.port, timeout=5)
            try:
                while not stop.is_set() and n < 20000 and time.monotonic() < deadline:
                    c.send(wktest.request("/x.txt"))
                    r = c.read_response()
                    kept.append((r.status, r.body))
                    n += 1
                    if (r.get("Connection") or "").lower() == "close":
                        closes.append(1)
                        c.close()
                        c = wktest.Conn(srv.port, timeout=5)
            except Exception as e:  # reported below
                errors.append("keep-alive: %r" % e)
            finally:
                c.close()

        threads = [threading.Thread(target=client, daemon=True)]
        threads += [threading.Thread(target=keepalive, daemon=True) for _ in range(4)]
        for t in threads:
            t.start()
            self.addCleanup(t.join, scaled(45))
        self.addCleanup(stop.set)
        t = threads[0]
        self.wait_for("20 answers before the reloads", lambda: len(results) >= 20 or errors)
        gen1 = started(srv)
        srv.send_signal(signal.SIGHUP)
        srv.wait_log(r"^httpd generation=2 workers=2$", timeout=10)
        srv.wait_log(r"^httpd reload config=new ")
        gen2 = {w: p for w, p in started(srv).items() if p not in gen1.values()}
        srv.send_signal(signal.SIGHUP)
        srv.wait_log(r"^httpd generation=3 workers=2$", timeout=10)
        srv.wait_log(r"^httpd reload config=new ", count=2)
        self.assertEqual(len(gen2), 2, srv.stderr_text())
        mark = len(results)
        self.wait_for("50 answers after the reloads", lambda: len(results) >= mark + 50 or errors)
        stop.set()
        # Both older generations are gone, each worker with status 0 (the second one was told
        # to retire right after it was forked).
        self.wait_retired(srv, gen1)
        self.wait_retired(srv, gen2)
        new = set(started(srv).values()) - set(gen1.values()) - set(gen2.values())
        self.assertEqual(len(new), 2, srv.stderr_text())
        self.wait_children(srv, lambda k: set(k) == new, "the third generation alone")
        for t in threads:
            t.join(scaled(45))
            self.assertFalse(t.is_alive())
        self.assertEqual(errors, [])
        self.assertGreaterEqual(len(results), 70)
        self.assertEqual([r for r in results + kept if r != (200, b"x\n")], [])
        self.assertGreaterEqual(len(closes), 4, "each reload closes the kept connections")
        self.assertEqual(len(srv.find(r"^httpd reload error=")), 0, srv.stderr_text())
        self.assertEqual(sorted(children(srv.pid)), sorted(new))

    def test_refused_reloads_change_nothing(self):
        root = self.make_root({"x.txt": b"x\n"})
        good = ["listen = 127.0.0.1:0", "root = " + root, "workers = 2", "access-log = off",
                "max-connections = 50"]
        srv = self.start(good, listen=(), nlisten=1)
        old = started(srv)
        pids = sorted(children(srv.pid))
        self.assertEqual(pids, sorted(old.values()))
        refusals = [
            (good + ["bogus = 1"],
             r"%s:6: unknown option \\x22bogus\\x22" % re.escape(self.conf)),
            ([l.replace("127.0.0.1:0", "127.0.0.2:0") for l in good],
             re.escape("--listen changed: listening sockets are kept across a reload, so new "
                       "addresses take a restart")),
            ([l.replace("= 50", "= 51") for l in good],
             re.escape("--max-connections 51 is above the 50 this server started with: a "
                       "restart raises it")),
            (good + ["user = nobody"],
             re.escape("--user changed (from none to nobody): that takes a restart")),
        ]
        for n, (lines, message) in enumerate(refusals, 1):
            with self.subTest(message=message):
                write_conf(self.conf, lines)
                srv.send_signal(signal.SIGHUP)
                srv.wait_log(r"^httpd reload error=", count=n)
                self.assertEqual(len(srv.find(r"^httpd reload signal=HUP$")), n)
                self.assertRegex(srv.find(r"^httpd reload error=.*")[n - 1].group(0),
                                 r"^httpd reload error=\"%s\" config=unchanged$" % message)
                self.assertEqual(srv.find(r"^httpd (generation=|reload config=new|worker id=\d+ "
                                          r"pid=\d+ retire)"), [])
                self.assertEqual(started(srv), old)
                self.assertEqual(sorted(children(srv.pid)), pids)
                for _ in range(4):
                    r = self.get(srv, "/x.txt")
                    self.assertEqual((r.status, r.body), (200, b"x\n"), r)
        self.assertEqual(len(srv.find(r"^httpd listen addr=")), 1)
        self.assertEqual(self.reloads(srv), (0, len(refusals), 0))

        # Fewer workers and fewer connections: that applies.
        fewer = [l.replace("= 50", "= 40").replace("workers = 2", "workers = 1") for l in good]
        write_conf(self.conf, fewer)
        srv.send_signal(signal.SIGHUP)
        srv.wait_log(r"^httpd generation=2 workers=1$")
        srv.wait_log(r"^httpd reload config=new root=%s workers=1$" % re.escape(root))
        self.wait_retired(srv, old)
        [kid] = self.wait_children(srv, lambda k: len(k) == 1 and k[0] not in pids,
                                   "one child, a new one")
        self.assertEqual(set(started(srv).values()), set(pids) | {kid})
        for _ in range(4):
            r = self.get(srv, "/x.txt")
            self.assertEqual((r.status, r.body), (200, b"x\n"), r)
        self.assertEqual(len(srv.find(r"^httpd listen addr=")), 1)
        self.assertEqual(self.reloads(srv), (1, len(refusals), 1))

        # A quieter log: the parent and the new worker log at the new level from the reload on.
        write_conf(self.conf, fewer + ["log-level = warn"])
        srv.send_signal(signal.SIGHUP)
        self.wait_children(srv, lambda k: len(k) == 1 and k[0] != kid, "the old child gone")
        accepts = len(srv.find(r"^httpd accept "))
        for _ in range(4):
            r = self.get(srv, "/x.txt")
            self.assertEqual((r.status, r.body), (200, b"x\n"), r)
        self.assertEqual(len(srv.find(r"^httpd accept ")), accepts, srv.stderr_text())
        self.assertEqual(srv.find(r"^httpd generation=3"), [], srv.stderr_text())
        # The signal was logged before the new level took effect; what followed was not.
        self.assertEqual(len(srv.find(r"^httpd reload signal=HUP$")), len(refusals) + 2)

    def test_sighup_to_a_worker_is_ignored(self):
        root = self.make_root({"x.txt": b"x\n"})
        srv = self.start(["root = " + root, "workers = 2", "access-log = off"])
        old = started(srv)
        conns = []
        for _ in range(6):
            c = self.connect(srv)
            c.send(wktest.request("/x.txt"))
            self.assertEqual(c.read_response().body, b"x\n")
            conns.append(c)
        wid = self.worker_of(srv, conns[:1])[conns[0].local_port]
        os.kill(old[wid], signal.SIGHUP)
        srv.wait_log(r"^httpd reload ignored: send SIGHUP to the parent, pid %d$" % srv.pid)
        # Its connection is still served, kept alive: the worker is not retiring.
        resp = self.assertOpen(conns[0], "/x.txt", expect=200)
        self.assertEqual(resp.body, b"x\n")
        self.assertNotEqual((resp.get("Connection") or "").lower(), "close", resp)
        self.assertEqual(self.worker_of(srv, conns[:1])[conns[0].local_port], wid)
        for _ in range(4):
            self.assertEqual(self.get(srv, "/x.txt").body, b"x\n")
        self.assertEqual(srv.find(r"^httpd (reload signal|generation=|retiring|worker id=\d+ "
                                  r"pid=\d+ (retire|exit))"), [])
        self.assertEqual(started(srv), old)
        self.assertEqual(sorted(children(srv.pid)), sorted(old.values()))


class SmtpReload(ReloadCase):
    def session(self, port, host):
        r = Smtp(port)
        self.addCleanup(r.close)
        self.assertEqual(r.reply(), (220, ["220 %s ESMTP wellknown" % host]))
        r.send(b"EHLO client.test\r\n")
        code, lines = r.reply()
        self.assertEqual((code, lines[0]), (250, "250-" + host), lines)
        return r, lines

    def deliver(self, r, to):
        r.send(b"MAIL FROM:<s@b.test>\r\n")
        self.assertEqual(r.reply(), (250, ["250 2.1.0 Ok"]))
        r.send(b"RCPT TO:<%s>\r\n" % to.encode())
        self.assertEqual(r.reply(), (250, ["250 2.1.5 Ok"]))
        r.send(b"DATA\r\n")
        self.assertEqual(r.reply()[0], 354)
        r.send(b"Subject: reload\r\n\r\nbody\r\n.\r\n")
        code, lines = r.reply()
        self.assertEqual(code, 250, lines)

    def test_old_session_keeps_old_hostname_new_sessions_get_new_config(self):
        d = self.make_dir()
        maildir = os.path.join(d, "mail")
        os.mkdir(maildir)
        conf = os.path.join(d, "s.conf")
        common = ["workers = 2", "maildir = " + maildir, "domain = mx.test"]
        write_conf(conf, ["hostname = old.example", "max-size = 1M"] + common)
        srv = self.start_server(["-c", conf], prog="smtpd")
        for wid in range(2):
            srv.wait_log(r"^smtpd worker id=%d pid=\d+ start$" % wid)
        old = started(srv)
        before, lines = self.session(srv.port, "old.example")
        self.assertIn("250-SIZE %d" % MIB, lines)

        write_conf(conf, ["hostname = new.example", "max-size = 2M"] + common)
        srv.send_signal(signal.SIGHUP)
        srv.wait_log(r"^smtpd generation=2 workers=2$")
        srv.wait_log(r"^smtpd reload config=new hostname=new\.example maildir=%s workers=2$"
                     % re.escape(maildir))
        self.wait_retiring(srv, old)

        # The session opened before: a whole transaction, under the old hostname.
        self.deliver(before, "old@mx.test")
        [msg] = stored(maildir, "old@mx.test")
        self.assertRegex(msg, rb"^Return-Path: <s@b\.test>\r\nReceived: from client\.test "
                              rb"\(\[127\.0\.0\.1\]:%d\)\r\n\tby old\.example \(wellknown\) with "
                              rb"ESMTP id " % before.local_port)
        # New sessions: the new hostname and size.
        after, lines = self.session(srv.port, "new.example")
        self.assertIn("250-SIZE %d" % (2 * MIB), lines)
        self.assertNotIn("250-SIZE %d" % MIB, lines)
        self.deliver(after, "new@mx.test")
        [msg] = stored(maildir, "new@mx.test")
        self.assertIn(b"\r\n\tby new.example (wellknown) with ESMTP id ", msg)
        self.assertNotIn(b"old.example", msg)
        # The old session ends when its client quits; then the old workers are gone.
        before.send(b"QUIT\r\n")
        self.assertEqual(before.reply(), (221, ["221 2.0.0 Bye"]))
        self.wait_retired(srv, old)
        new = set(started(srv).values()) - set(old.values())
        self.wait_children(srv, lambda k: set(k) == new, "the two new workers alone")
        self.assertEqual(len(srv.find(r"^smtpd listen addr=")), 1)


if __name__ == "__main__":
    wktest.main()
