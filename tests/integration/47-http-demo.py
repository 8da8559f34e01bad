"""47-http-demo: the demo site shows each visitor its own connection.

GET / on the demo site (the default root, and --root $WK_SOURCE_DIR/httpd/www)
shows, inside the HTML, the client's port as the test's own socket sees it
and the server's fd from the matching accept line; two clients at once each
see their own. A small template of our own checks the values exactly.
"""

import html
import os
import re
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wktest  # noqa: E402
from wktest import request  # noqa: E402

WWW = os.path.join(wktest.SOURCE_DIR, "httpd", "www")
TEMPLATE = (b'<p>port=<!--#echo var="client_port" -->;fd=<!--#echo var="server_fd" -->;</p>\n')


def page_text(body):
    text = re.sub(r"<[^>]*>", " ", body.decode("utf-8", "replace"))
    return html.unescape(text)


class Demo(wktest.TestCase):
    def visit(self, srv, *conns):
        """GET / on each connection (all open at once); checks each page shows its own socket."""
        for c in conns:
            c.send(request("/"))
        for c in conns:
            resp = c.read_response()
            self.assertEqual(resp.status, 200, resp)
            self.assertRegex(resp.get("Content-Type", ""), r"^text/html\b")
            self.assertEqual(int(resp.get("Content-Length")), len(resp.body))
            fd, listener = srv.accept_for(c.local_port)
            self.assertEqual(listener, srv.addr)
            text = page_text(resp.body)
            self.assertRegex(text, r"(?<![\d.])%d(?![\d])" % c.local_port,
                             "the page does not show the client's port %d" % c.local_port)
            fds = re.findall(r"(?i)(?:\bfd\b|descriptor)\D{0,40}?(\d+)", text)
            self.assertIn(str(fd), fds, "the page does not show server fd %d (found %r)"
                          % (fd, fds))
            self.assertNotIn("<!--#", resp.body.decode("utf-8", "replace"),
                             "template directive left unexpanded")

    def test_demo_default_root(self):
        srv = self.start_server()
        self.visit(srv, self.connect(srv))

    def test_demo_source_root_two_clients(self):
        if not os.path.isdir(WWW):
            self.fail("no demo site at %s" % WWW)
        srv = self.start_server(root=WWW)
        a, b = self.connect(srv), self.connect(srv)
        self.visit(srv, a, b)
        self.assertNotEqual(a.local_port, b.local_port)
        # The same connection asked again still sees the same values.
        self.visit(srv, a)

    def test_template_values_exact(self):
        root = self.make_root({"t.shtml": TEMPLATE, "t.html": TEMPLATE})
        srv = self.start_server(root=root)
        a, b = self.connect(srv), self.connect(srv)
        for c in (a, b):
            c.send(request("/t.shtml"))
            resp = c.read_response()
            fd, _ = srv.accept_for(c.local_port)
            self.assertEqual(resp.status, 200)
            self.assertEqual(resp.body, b"<p>port=%d;fd=%d;</p>\n" % (c.local_port, fd))
            self.assertEqual(int(resp.get("Content-Length")), len(resp.body))
        plain = self.get(srv, "/t.html")
        self.assertEqual(plain.body, TEMPLATE, "only .shtml files are templates")

    def test_index_shtml_is_the_directory_index(self):
        root = self.make_root({"d/index.shtml": TEMPLATE})
        srv = self.start_server(root=root)
        c = self.connect(srv)
        c.send(request("/d/"))
        resp = c.read_response()
        fd, _ = srv.accept_for(c.local_port)
        self.assertEqual(resp.status, 200)
        self.assertRegex(resp.get("Content-Type", ""), r"^text/html\b")
        self.assertEqual(resp.body, b"<p>port=%d;fd=%d;</p>\n" % (c.local_port, fd))

    def test_template_escapes_client_text(self):
        root = self.make_root({"u.shtml": b'<p><!--#echo var="request_uri" --></p>\n'})
        srv = self.start_server(root=root)
        resp, _ = self.exchange(srv, b"GET /u.shtml?<b>x</b>&\"q\" HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertIn(resp.status, (200, 400))
        self.assertNotIn(b"<b>x</b>", resp.body, "client text echoed as markup")
        self.assertNotIn(b'"q"', resp.body)


if __name__ == "__main__":
    wktest.main()
