"""42-http-errors: every error status in the contract, over raw sockets.

Each error has a short HTML body whose Content-Length is exact, and the
connection is closed after 400, 413, 414, 431, 501 and 505 (and after a
refused request that carried a body). Also the Expect: 100-continue rules.
"""

import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wktest  # noqa: E402
from wktest import request  # noqa: E402

HELLO = b"hello world\n"
ALLOW = "GET, HEAD, OPTIONS"


class Errors(wktest.TestCase):
    def setUp(self):
        self.root = self.make_root({"hello.txt": HELLO, "dir/index.html": b"<p>dir</p>\n"})
        self.outside = self.make_root({"secret.txt": b"outside the root\n"})
        os.symlink(os.path.join(self.outside, "secret.txt"), os.path.join(self.root, "out.txt"))
        self.srv = self.start_server(["--max-size", "1k", "--max-request-line", "1k",
                                      "--max-header-size", "2k", "--max-headers", "20"],
                                     root=self.root)

    def tearDown(self):
        # Whatever happened, the server still answers.
        if self.srv.running():
            self.assertEqual(self.get(self.srv, "/hello.txt").body, HELLO)

    def closes(self, raw, status, method="GET"):
        resp, c = self.exchange(self.srv, raw, method)
        self.assertErrorPage(resp, status, head=(method == "HEAD"))
        self.assertEqual(resp.get("Connection", "").lower(), "close", resp)
        self.assertClosed(c)
        return resp

    def stays_open(self, raw, status, method="GET"):
        resp, c = self.exchange(self.srv, raw, method)
        self.assertErrorPage(resp, status, head=(method == "HEAD"))
        self.assertNotEqual(resp.get("Connection", "").lower(), "close", resp)
        self.assertEqual(self.assertOpen(c, "/hello.txt", 200).body, HELLO)
        return resp

    def test_404(self):
        get = self.stays_open(request("/missing.txt"), 404)
        head = self.stays_open(request("/missing.txt", "HEAD"), 404, "HEAD")
        self.assertEqual(head.body, b"")
        self.assertEqual(head.get("Content-Length"), get.get("Content-Length"))
        self.stays_open(request("/dir/missing/"), 404)

    def test_400_malformed(self):
        cases = {
            "garbage line": b"GARBAGE\r\n\r\n",
            "no target": b"GET\r\n\r\n",
            "space in target": b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n",
            "no host in 1.1": b"GET /hello.txt HTTP/1.1\r\n\r\n",
            "two hosts": b"GET /hello.txt HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            "header without colon": b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n",
            "bad content-length": b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: ab\r\n\r\n",
            "bad percent %zz": request("/%zz"),
            "truncated percent %4": request("/hello.txt%4"),
            "lone percent": request("/%"),
            "encoded NUL": request("/hello.txt%00.html"),
            "raw NUL": b"GET /hello\x00.txt HTTP/1.1\r\nHost: x\r\n\r\n",
            "dotdot above root": request("/../hello.txt"),
        }
        for name, raw in cases.items():
            with self.subTest(case=name):
                self.closes(raw, 400)

    def test_http10_needs_no_host(self):
        resp, c = self.exchange(self.srv, b"GET /hello.txt HTTP/1.0\r\n\r\n")
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.body, HELLO)

    def test_403_symlink_out_of_root(self):
        resp = self.stays_open(request("/out.txt"), 403)
        self.assertNotIn(b"outside the root", resp.body)

    def test_403_unreadable(self):
        path = os.path.join(self.root, "locked.txt")
        with open(path, "wb") as f:
            f.write(b"locked\n")
        os.chmod(path, 0)
        srv = self.srv
        if os.geteuid() == 0:
            # Root reads files whatever their mode: serve as nobody, for whom the mode counts.
            os.chmod(self.root, 0o755)

            def as_nobody():
                os.setgroups([])
                os.setgid(65534)
                os.setuid(65534)
            srv = self.start_server(root=self.root, preexec_fn=as_nobody)
        resp, c = self.exchange(srv, request("/locked.txt"))
        self.assertErrorPage(resp, 403)
        self.assertOpen(c, "/hello.txt", 200)

    def test_405_known_methods(self):
        for method in ("POST", "PUT", "DELETE", "PATCH", "TRACE"):
            with self.subTest(method=method):
                resp = self.stays_open(request("/hello.txt", method), 405)
                self.assertEqual(resp.get("Allow"), ALLOW)
        resp, c = self.exchange(self.srv, b"CONNECT localhost:80 HTTP/1.1\r\nHost: localhost:80"
                                          b"\r\n\r\n")
        self.assertErrorPage(resp, 405)
        self.assertEqual(resp.get("Allow"), ALLOW)

    def test_405_with_body_closes(self):
        resp = self.closes(request("/hello.txt", "POST", headers=["Content-Length: 5"],
                                   body=b"hello"), 405)
        self.assertEqual(resp.get("Allow"), ALLOW)
        resp = self.closes(request("/hello.txt", "PUT", headers=["Transfer-Encoding: chunked"],
                                   body=b"5\r\nhello\r\n0\r\n\r\n"), 405)
        self.assertEqual(resp.get("Allow"), ALLOW)

    def test_501_unknown_methods(self):
        for method in ("FOO", "PROPFIND", "BREW"):
            with self.subTest(method=method):
                self.closes(request("/hello.txt", method), 501)

    def test_505_versions(self):
        for version in ("HTTP/1.2", "HTTP/2.0", "HTTP/3.0"):
            with self.subTest(version=version):
                self.closes(request("/hello.txt", version=version), 505)

    def test_413_body_too_large(self):
        self.closes(request("/hello.txt", headers=["Content-Length: 2000"]), 413)
        # Chunked: the limit holds while the chunks arrive.
        body = b"".join(b"200\r\n" + b"x" * 0x200 + b"\r\n" for _ in range(3)) + b"0\r\n\r\n"
        self.closes(request("/hello.txt", headers=["Transfer-Encoding: chunked"], body=body), 413)
        # A body within the limit is read and the request served.
        resp, c = self.exchange(self.srv, request("/hello.txt", headers=["Content-Length: 1000"],
                                                  body=b"y" * 1000))
        self.assertEqual(resp.status, 200)
        self.assertEqual(self.assertOpen(c, "/hello.txt", 200).body, HELLO)

    def test_413_endless_chunk_extensions(self):
        # 100 body bytes under the 1k limit, in 100 KB of chunk extensions: the framing has a
        # bound of its own (twice --max-size and 64 KiB), else it could go on for ever.
        body = b"".join(b"1;" + b"e" * 1000 + b"\r\nx\r\n" for _ in range(100)) + b"0\r\n\r\n"
        self.closes(request("/hello.txt", headers=["Transfer-Encoding: chunked"], body=body), 413)
        self.srv.wait_log(r"^httpd close .* reason=body-framing-too-large ")
        # Some extensions, well within the bound: served.
        body = b"".join(b"1;" + b"e" * 100 + b"\r\nx\r\n" for _ in range(100)) + b"0\r\n\r\n"
        resp, c = self.exchange(self.srv, request("/hello.txt", headers=[
            "Transfer-Encoding: chunked"], body=body))
        self.assertEqual(resp.status, 200, resp)

    def test_413_or_400_huge_content_length(self):
        resp, c = self.exchange(self.srv, request("/hello.txt", headers=[
            "Content-Length: 99999999999999999999999"]))
        self.assertIn(resp.status, (400, 413))
        self.assertErrorPage(resp, resp.status)
        self.assertClosed(c)

    def test_414_request_line(self):
        self.closes(request("/" + "a" * 2000), 414)
        self.closes(request("/hello.txt?" + "q" * 2000), 414)
        # Just under the limit is fine (404: no such file).
        self.stays_open(request("/" + "a" * 900), 404)

    def test_431_header_fields(self):
        self.closes(request("/hello.txt", headers=[("X-Big", "b" * 3000)]), 431)
        many = ["X-H%d: %d" % (i, i) for i in range(30)]
        self.closes(request("/hello.txt", headers=many), 431)
        few = ["X-H%d: %d" % (i, i) for i in range(10)]
        resp, c = self.exchange(self.srv, request("/hello.txt", headers=few))
        self.assertEqual(resp.status, 200)

    def test_412_and_416(self):
        self.stays_open(request("/hello.txt", headers=["If-Match: \"nope\""]), 412)
        resp = self.stays_open(request("/hello.txt", headers=["Range: bytes=5000-"]), 416)
        self.assertEqual(resp.get("Content-Range"), "bytes */%d" % len(HELLO))

    def test_417_unknown_expectation(self):
        resp, c = self.exchange(self.srv, request("/hello.txt", headers=["Expect: something"]))
        self.assertErrorPage(resp, 417)

    def test_100_continue_accepted(self):
        c = self.connect(self.srv)
        c.send(request("/hello.txt", headers=["Content-Length: 5", "Expect: 100-continue"]))
        self.assertEqual(c.read_exact(len(b"HTTP/1.1 100 Continue\r\n\r\n")),
                         b"HTTP/1.1 100 Continue\r\n\r\n")
        c.send(b"hello")
        resp = c.read_response()
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.body, HELLO)
        self.assertEqual(self.assertOpen(c, "/hello.txt", 200).body, HELLO)

    def test_no_100_for_http10(self):
        # RFC 9110 10.1.1 and 15.2: an HTTP/1.0 client's expectation is ignored, no 1xx is sent.
        c = self.connect(self.srv)
        c.send(request("/hello.txt", version="HTTP/1.0",
                       headers=["Content-Length: 5", "Expect: 100-continue"]))
        c.send(b"hello")
        resp = c.read_response()
        self.assertEqual((resp.status, resp.body), (200, HELLO), resp)
        self.assertNotIn(b"100 Continue", resp.raw)

    def test_100_continue_refused(self):
        for raw, status in (
                (request("/hello.txt", "POST", headers=["Content-Length: 5",
                                                        "Expect: 100-continue"]), 405),
                (request("/hello.txt", headers=["Content-Length: 5000",
                                                "Expect: 100-continue"]), 413)):
            with self.subTest(status=status):
                c = self.connect(self.srv)
                c.send(raw)  # the body is never sent: the server must not wait for it
                resp = c.read_response()
                self.assertErrorPage(resp, status)
                self.assertClosed(c)


if __name__ == "__main__":
    wktest.main()
