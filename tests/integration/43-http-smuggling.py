"""43-http-smuggling: request framing that could hide a second request.

Every vector in the contract (Content-Length with Transfer-Encoding, differing
Content-Lengths, Transfer-Encoding not ending in chunked, bad chunk sizes,
obs-fold, whitespace before the colon) gets exactly one 400, then the
connection closes, and the request smuggled behind it is never answered
(neither on the wire nor in the access log). Valid framings of the same
shapes are the control: there the second request is answered.
"""

import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wktest  # noqa: E402
from wktest import request  # noqa: E402

HELLO = b"hello world\n"
SECRET = b"SMUGGLED-REQUEST-WAS-ANSWERED\n"
SMUGGLED = b"GET /secret.txt HTTP/1.1\r\nHost: x\r\n\r\n"
HEAD = b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n"

VECTORS = {
    # Content-Length and Transfer-Encoding together (RFC 9112 6.1, 6.3).
    "CL then TE": HEAD + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "TE then CL": HEAD + b"Transfer-Encoding: chunked\r\nContent-Length: 40\r\n\r\n0\r\n\r\n",
    "CL and TE identity": HEAD + b"Content-Length: 3\r\nTransfer-Encoding: identity\r\n\r\nabc",
    # Differing Content-Length values.
    "two CL lines": HEAD + b"Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    "CL list": HEAD + b"Content-Length: 5, 6\r\n\r\nhello!",
    "CL zero and five": HEAD + b"Content-Length: 0\r\nContent-Length: 5\r\n\r\nhello",
    # Malformed Content-Length values.
    "CL plus sign": HEAD + b"Content-Length: +5\r\n\r\nhello",
    "CL negative": HEAD + b"Content-Length: -1\r\n\r\n",
    "CL hex": HEAD + b"Content-Length: 0x5\r\n\r\nhello",
    "CL two numbers": HEAD + b"Content-Length: 5 5\r\n\r\nhello",
    # Transfer-Encoding whose final coding is not chunked.
    "TE gzip": HEAD + b"Transfer-Encoding: gzip\r\n\r\n",
    "TE chunked, identity": HEAD + b"Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
    "TE chunked then gzip lines": HEAD + b"Transfer-Encoding: chunked\r\n"
                                        b"Transfer-Encoding: gzip\r\n\r\n0\r\n\r\n",
    "TE xchunked": HEAD + b"Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
    # Bad chunk sizes and chunk framing.
    "chunk size zz": HEAD + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
    "chunk size negative": HEAD + b"Transfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n",
    "chunk size plus": HEAD + b"Transfer-Encoding: chunked\r\n\r\n+5\r\nhello\r\n0\r\n\r\n",
    "chunk size 0x": HEAD + b"Transfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n",
    "chunk size overflow": HEAD + b"Transfer-Encoding: chunked\r\n\r\n1" + b"0" * 20 +
                          b"\r\nhello\r\n0\r\n\r\n",
    "chunk size two numbers": HEAD + b"Transfer-Encoding: chunked\r\n\r\n5 5\r\nhello\r\n0\r\n\r\n",
    "chunk size empty": HEAD + b"Transfer-Encoding: chunked\r\n\r\n\r\nhello\r\n0\r\n\r\n",
    "chunk data too long": HEAD + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX\r\n0\r\n\r\n",
    # Two bytes after chunk data that are not CRLF, then a last chunk at once: a lax parser
    # skips them and answers what follows; a front end that reads the framing otherwise
    # would have passed a different second request.
    "chunk data then XX": HEAD + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",
    "chunk data then bare LF": HEAD + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n",
    "chunk size CR then X": HEAD + b"Transfer-Encoding: chunked\r\n\r\n5\rXhello\r\n0\r\n\r\n",
    "last chunk CR then X": HEAD + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\rX",
    # obs-fold (RFC 9112 5.2) and a first header line that starts with whitespace.
    "obs-fold space": HEAD + b"X-Foo: a\r\n b\r\n\r\n",
    "obs-fold tab": HEAD + b"X-Foo: a\r\n\tb\r\n\r\n",
    "obs-fold CL": HEAD + b"Content-Length:\r\n 5\r\n\r\nhello",
    "leading space line": b"GET /hello.txt HTTP/1.1\r\n Host: x\r\nHost: x\r\n\r\n",
    # Whitespace between the field name and the colon (RFC 9112 5.1).
    "space before colon CL": HEAD + b"Content-Length : 5\r\n\r\nhello",
    "space before colon TE": HEAD + b"Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
    "tab before colon": b"GET /hello.txt HTTP/1.1\r\nHost\t: x\r\n\r\n",
}

CONTROLS = {
    "no body": HEAD + b"\r\n",
    "content-length body": HEAD + b"Content-Length: 5\r\n\r\nhello",
    "chunked body": HEAD + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    "chunked, case": HEAD + b"Transfer-Encoding: Chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    "chunk extension": HEAD + b"Transfer-Encoding: chunked\r\n\r\n5;name=value\r\nhello\r\n"
                              b"0\r\n\r\n",
    "chunk trailer": HEAD + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n"
                            b"X-Trailer: 1\r\n\r\n",
    "upper-case hex": HEAD + b"Transfer-Encoding: chunked\r\n\r\nA\r\nhellohello\r\n0\r\n\r\n",
}


class Smuggling(wktest.TestCase):
    def setUp(self):
        self.root = self.make_root({"hello.txt": HELLO, "secret.txt": SECRET})
        self.srv = self.start_server(root=self.root)

    def assertSecretNeverServed(self, marker):
        # Flush the access log up to a marker request, then look for the smuggled one.
        self.assertEqual(self.get(self.srv, "/hello.txt?" + marker).body, HELLO)
        self.srv.wait_log(r'"GET /hello.txt\?%s HTTP/1.1"' % marker, stdout=True)
        self.assertEqual(self.srv.find(r"/secret\.txt", stdout=True), [])

    def test_vectors_get_400_and_close(self):
        for name, raw in VECTORS.items():
            with self.subTest(vector=name):
                c = self.connect(self.srv)
                c.send(raw + SMUGGLED)
                resp = c.read_response()
                self.assertErrorPage(resp, 400)
                self.assertEqual(resp.get("Connection", "").lower(), "close")
                closed, extra = c.wait_closed(3)
                self.assertNotIn(SECRET, extra)
                self.assertEqual(extra, b"", "a second response: %r" % extra[:200])
                self.assertTrue(closed, "connection left open")
        self.assertSecretNeverServed("after-vectors")

    def test_vectors_in_two_writes(self):
        # The same vectors with the head and body in separate writes.
        for name in ("CL then TE", "two CL lines", "TE gzip", "chunk size zz", "obs-fold tab"):
            with self.subTest(vector=name):
                raw = VECTORS[name] + SMUGGLED
                cut = raw.index(b"\r\n\r\n") + 2
                c = self.connect(self.srv)
                c.send(raw[:cut])
                time.sleep(0.05)
                c.send(raw[cut:])
                resp = c.read_response()
                self.assertEqual(resp.status, 400, resp)
                self.assertClosed(c)
        self.assertSecretNeverServed("after-split")

    def test_http10_with_transfer_encoding(self):
        # RFC 9112 6.1: the framing is faulty; the connection closes after this message.
        c = self.connect(self.srv)
        c.send(b"GET /hello.txt HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
               b"Connection: keep-alive\r\n\r\n0\r\n\r\n" + SMUGGLED)
        resp = c.read_response()
        self.assertIn(resp.status, (200, 400))
        self.assertClosed(c)
        self.assertSecretNeverServed("after-http10")

    def test_controls_answer_the_second_request(self):
        for name, raw in CONTROLS.items():
            with self.subTest(control=name):
                c = self.connect(self.srv)
                c.send(raw + SMUGGLED)
                first = c.read_response()
                self.assertEqual(first.status, 200, first)
                self.assertEqual(first.body, HELLO)
                second = c.read_response()
                self.assertEqual(second.status, 200, second)
                self.assertEqual(second.body, SECRET)
                c.close()


if __name__ == "__main__":
    wktest.main()
