"""40-http-basic: the everyday HTTP/1.1 conversation.

GET/HEAD/OPTIONS and the headers every response carries, keep-alive (one
accept, one client port, several requests), HTTP/1.0 with and without
keep-alive, Connection: close, pipelining answered byte for byte in order,
301 for a directory without its slash, index files, and the directory
listing's escaping.
"""

import html.parser
import http.client
import os
import sys
import urllib.parse

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wktest  # noqa: E402
from wktest import normalize_date, request  # noqa: E402

HELLO = b"hello world\n"
PAGE = b"<!doctype html><title>page</title><p>a page</p>\n"
ROOT_INDEX = b"<!doctype html><title>root</title><p>root index</p>\n"
SITE_INDEX = b"<!doctype html><title>site</title><p>site index</p>\n"
BIG = bytes((i * 7 + (i >> 8)) & 0xFF for i in range(300 * 1024))
LISTED = {
    "a&b<c>.txt": b"ampersand and angle brackets\n",
    "space name.txt": b"a space\n",
    'quote".txt': b"a quote\n",
    "pct%41.txt": b"a percent sign\n",
    "caf\u00e9.txt": b"non-ascii\n",
    "plain.txt": b"plain\n",
}


class Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.hrefs = []
        self.text = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.hrefs += [v for k, v in attrs if k == "href" and v is not None]

    def handle_data(self, data):
        self.text.append(data)


class Basic(wktest.TestCase):
    def setUp(self):
        files = {
            "hello.txt": HELLO,
            "index.html": ROOT_INDEX,
            "page.html": PAGE,
            "style.css": b"p { color: red }\n",
            "img.png": b"\x89PNG\r\n\x1a\n" + b"\0" * 24,
            "empty.txt": b"",
            "big.bin": BIG,
            "site/index.html": SITE_INDEX,
            "sub/.hidden": b"hidden\n",
            "sub/inner/": None,
            "a b&c/": None,
        }
        for name, data in LISTED.items():
            files["sub/" + name] = data
        self.root = self.make_root(files)
        self.srv = self.start_server(root=self.root)

    def test_get_file_headers(self):
        resp = self.get(self.srv, "/hello.txt")
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.version, "HTTP/1.1")
        self.assertEqual(resp.body, HELLO)
        self.assertCommonHeaders(resp)
        self.assertEqual(resp.get_all("Content-Length"), [str(len(HELLO))])
        self.assertRegex(resp.get("Content-Type", ""), r"^text/plain\b")
        self.assertRegex(resp.get("Last-Modified", ""), r"^\w{3}, \d\d \w{3} \d{4} [\d:]{8} GMT$")
        self.assertRegex(resp.get("ETag", ""), r'^"[!#-~]+"$', "a strong ETag")
        self.assertEqual(resp.get("Accept-Ranges"), "bytes")
        self.assertIsNone(resp.get("Transfer-Encoding"))

    def test_empty_file(self):
        resp = self.get(self.srv, "/empty.txt")
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.get("Content-Length"), "0")
        self.assertEqual(resp.body, b"")

    def test_head_has_get_headers_and_no_body(self):
        get = self.get(self.srv, "/page.html")
        c = self.connect(self.srv)
        # HEAD then GET on one connection: if HEAD sent a body, the GET parse breaks.
        c.send(request("/page.html", "HEAD") + request("/hello.txt"))
        head = c.read_response("HEAD")
        self.assertEqual(head.status, 200)
        self.assertEqual(head.body, b"")
        skip = ("date",)
        self.assertEqual([(k.lower(), v) for k, v in head.headers if k.lower() not in skip],
                         [(k.lower(), v) for k, v in get.headers if k.lower() not in skip])
        nxt = c.read_response()
        self.assertEqual(nxt.status, 200)
        self.assertEqual(nxt.body, HELLO)

    def test_options(self):
        for target in ("/hello.txt", "*", "/"):
            with self.subTest(target=target):
                resp = self.get(self.srv, target, "OPTIONS")
                self.assertEqual(resp.status, 200, resp)
                self.assertEqual(resp.get("Allow"), "GET, HEAD, OPTIONS")
                self.assertEqual(resp.get("Content-Length"), "0")
                self.assertEqual(resp.body, b"")
                self.assertCommonHeaders(resp)

    def test_keepalive_reuse_one_accept(self):
        hc = http.client.HTTPConnection("127.0.0.1", self.srv.port, timeout=wktest.scaled(5))
        self.addCleanup(hc.close)
        ports = []
        for path, body in (("/hello.txt", HELLO), ("/page.html", PAGE), ("/hello.txt", HELLO)):
            hc.request("GET", path)
            r = hc.getresponse()
            self.assertEqual(r.status, 200)
            self.assertEqual(r.read(), body)
            ports.append(hc.sock.getsockname()[1])
        self.assertEqual(len(set(ports)), 1, "one TCP connection for three requests")
        port = ports[0]
        fd, listener = self.srv.accept_for(port)
        self.assertEqual(listener, self.srv.addr)
        hc.close()
        self.srv.wait_log(r"^httpd close fd=%d listener=\S+ client=127\.0\.0\.1:%d " % (fd, port))
        accepts = self.srv.find(r"^httpd accept fd=\d+ listener=\S+ client=127\.0\.0\.1:%d "
                                % port)
        self.assertEqual(len(accepts), 1)

    def test_http10_closes_by_default(self):
        resp, c = self.exchange(self.srv, request("/hello.txt", version="HTTP/1.0", host=None))
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.body, HELLO)
        self.assertNotEqual((resp.get("Connection") or "").lower(), "keep-alive")
        self.assertClosed(c)

    def test_http10_keepalive(self):
        c = self.connect(self.srv)
        req = request("/hello.txt", version="HTTP/1.0", headers=["Connection: keep-alive"])
        for _ in range(3):
            c.send(req)
            resp = c.read_response()
            self.assertEqual(resp.status, 200)
            self.assertEqual(resp.body, HELLO)
            self.assertEqual(resp.get("Connection", "").lower(), "keep-alive")
        # A 1.0 request without keep-alive on the same connection ends it.
        c.send(request("/hello.txt", version="HTTP/1.0"))
        self.assertEqual(c.read_response().body, HELLO)
        self.assertClosed(c)

    def test_connection_close(self):
        for value in ("close", "Close", "keep-alive, close"):
            with self.subTest(value=value):
                resp, c = self.exchange(self.srv, request("/hello.txt",
                                                          headers=[("Connection", value)]))
                self.assertEqual(resp.status, 200)
                self.assertEqual(resp.body, HELLO)
                self.assertEqual(resp.get("Connection", "").lower(), "close")
                self.assertClosed(c)

    def test_lowercase_header_names(self):
        raw = b"GET /hello.txt HTTP/1.1\r\nhost: x\r\nCONNECTION: close\r\n\r\n"
        resp, c = self.exchange(self.srv, raw)
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.body, HELLO)
        self.assertClosed(c)

    def test_pipelining_byte_exact(self):
        reqs = [
            ("GET", request("/hello.txt")),
            ("HEAD", request("/page.html", "HEAD")),
            ("GET", request("/site")),
            ("OPTIONS", request("*", "OPTIONS")),
            ("GET", request("/missing.txt")),
            ("GET", request("/empty.txt")),
            ("GET", request("/style.css", headers=["Connection: close"])),
        ]
        alone = []
        for method, raw in reqs:
            resp, c = self.exchange(self.srv, raw, method)
            alone.append(resp)
            c.close()
        c = self.connect(self.srv)
        c.send(b"".join(raw for _, raw in reqs))
        for (method, raw), want in zip(reqs, alone):
            got = c.read_response(method)
            self.assertEqual(normalize_date(got.raw), normalize_date(want.raw),
                             "response to %r" % raw)
        self.assertClosed(c)

    def test_pipelining_large_responses(self):
        n = 8
        c = self.connect(self.srv)
        c.send(request("/big.bin") * n + request("/hello.txt"))
        for i in range(n):
            resp = c.read_response(timeout=10)
            self.assertEqual(resp.status, 200)
            self.assertEqual(len(resp.body), len(BIG), "response %d" % i)
            self.assertTrue(resp.body == BIG, "response %d differs" % i)
        self.assertEqual(c.read_response().body, HELLO)

    def test_large_file(self):
        # Larger than any single write or sendfile batch the server might use.
        size = 12 << 20
        data = bytes(range(256)) * (size // 256)
        with open(os.path.join(self.root, "large.bin"), "wb") as f:
            f.write(data)
        c = self.connect(self.srv, timeout=8)
        c.send(request("/large.bin") + request("/hello.txt"))
        resp = c.read_response()
        self.assertEqual(resp.status, 200)
        self.assertEqual(int(resp.get("Content-Length")), size)
        self.assertTrue(resp.body == data, "large body differs")
        self.assertEqual(c.read_response().body, HELLO)
        p = self.curl("-o", "/dev/null", "-w", "%{http_code} %{size_download}",
                      "http://127.0.0.1:%d/large.bin" % self.srv.port, timeout=8)
        self.assertEqual(p.stdout, b"200 %d" % size, p.stderr)

    def test_directory_redirect(self):
        # The Location is the normalized path, encoded again: never the raw target, which a
        # browser could read as another host ("//evil.example/..//site").
        for path, loc in (("/site", "/site/"), ("/sub/inner", "/sub/inner/"),
                          ("/site?x=1&y=2", "/site/?x=1&y=2"),
                          ("//evil.example/..//site", "/site/"),
                          ("/%5Cevil.example/../site", "/site/"),
                          ("/sub/./inner", "/sub/inner/"), ("/%73ite", "/site/"),
                          ("/a%20b%26c", "/a%20b%26c/")):
            with self.subTest(path=path):
                resp, c = self.exchange(self.srv, request(path))
                self.assertEqual(resp.status, 301)
                self.assertEqual(resp.get("Location"), loc)
                self.assertEqual(int(resp.get("Content-Length")), len(resp.body))
                self.assertCommonHeaders(resp)
                self.assertOpen(c, "/hello.txt", 200)

    def test_index(self):
        resp = self.get(self.srv, "/")
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.body, ROOT_INDEX)
        self.assertRegex(resp.get("Content-Type", ""), r"^text/html\b")
        resp = self.get(self.srv, "/site/")
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.body, SITE_INDEX)
        resp = self.get(self.srv, "/site/?q=1")
        self.assertEqual(resp.body, SITE_INDEX)

    def test_listing_escapes_names(self):
        resp = self.get(self.srv, "/sub/")
        self.assertEqual(resp.status, 200)
        self.assertRegex(resp.get("Content-Type", ""), r"^text/html\b")
        self.assertEqual(int(resp.get("Content-Length")), len(resp.body))
        body = resp.body
        self.assertNotIn(b"<c>", body, "raw file name in HTML")
        self.assertIn(b"a&amp;b&lt;c&gt;.txt", body)
        self.assertNotIn(b".hidden", body)
        p = Links()
        p.feed(body.decode("utf-8"))
        text = "".join(p.text)
        for name in LISTED:
            self.assertIn(name, text)
        for h in p.hrefs:
            for ch in ' <>"':
                self.assertNotIn(ch, h, "unencoded %r in link %r" % (ch, h))
        targets = {}
        for h in p.hrefs:
            path = urllib.parse.urljoin("/sub/", h)
            targets[urllib.parse.unquote(path)] = path
        self.assertIn("/sub/inner/", targets)
        for name, data in LISTED.items():
            with self.subTest(name=name):
                self.assertIn("/sub/" + name, targets, "no link to %r in %r" % (name, p.hrefs))
                got = self.get(self.srv, targets["/sub/" + name])
                self.assertEqual(got.status, 200)
                self.assertEqual(got.body, data)

    def test_content_types(self):
        for path, ctype in (("/page.html", "text/html"), ("/style.css", "text/css"),
                            ("/img.png", "image/png"), ("/hello.txt", "text/plain")):
            with self.subTest(path=path):
                self.assertRegex(self.get(self.srv, path).get("Content-Type", ""),
                                 r"^%s\b" % ctype)

    def test_percent_encoded_and_query(self):
        self.assertEqual(self.get(self.srv, "/sub/space%20name.txt").body, LISTED["space name.txt"])
        self.assertEqual(self.get(self.srv, "/sub/pct%2541.txt").body, LISTED["pct%41.txt"])
        self.assertEqual(self.get(self.srv, "/%68ello.txt").body, HELLO)
        self.assertEqual(self.get(self.srv, "/hello.txt?a=1&b=%2F").body, HELLO)

    def test_absolute_form_target(self):
        # RFC 9112 section 3.2.2: a server MUST accept the absolute-form.
        resp = self.get(self.srv, "http://localhost/hello.txt")
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.body, HELLO)

    def test_curl(self):
        url = "http://127.0.0.1:%d/" % self.srv.port
        p = self.curl(url + "hello.txt", url + "page.html")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, HELLO + PAGE)
        p = self.curl("-I", url + "big.bin")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b"Content-Length: %d" % len(BIG), p.stdout)
        p = self.curl("-o", "/dev/null", "-w", "%{http_code} %{size_download}", url + "big.bin")
        self.assertEqual(p.stdout, b"200 %d" % len(BIG))
        p = self.curl("--http1.0", url + "hello.txt")
        self.assertEqual(p.stdout, HELLO)


if __name__ == "__main__":
    wktest.main()
