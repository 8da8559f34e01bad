"""44-http-paths: no request target reaches a file outside --root.

Dot segments literal and percent-encoded, encoded slashes, NUL, double
encoding and symlinks that leave the root: the outside file's content is
never sent, and the status is the contract's (400 for ".." above the root
and NUL, 403 for a symlink out, 404 for a name that simply does not exist).
Dot segments and symlinks that stay inside the root still work.
"""

import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wktest  # noqa: E402
from wktest import request  # noqa: E402

SECRET = b"TOP-SECRET-OUTSIDE-THE-ROOT\n"
SECRET2 = b"ANOTHER-SECRET-IN-AN-OUTSIDE-DIR\n"
PUBLIC = b"public file\n"
INNER = b"inner file\n"

ESCAPES_400 = [
    "/../secret.txt",
    "/%2e%2e/secret.txt",
    "/%2E%2E/secret.txt",
    "/.%2e/secret.txt",
    "/%2e./secret.txt",
    "/..%2fsecret.txt",
    "/..%2Fsecret.txt",
    "/%2e%2e%2fsecret.txt",
    "/sub/../../secret.txt",
    "/sub/%2e%2e/%2e%2e/secret.txt",
    "/sub/..%2f..%2fsecret.txt",
    "/sub/./../../secret.txt",
    "/../../../../../../../../etc/passwd",
    "/..",
    "/../",
    "/public.txt%00",
    "/public.txt%00.html",
    "/sub%00/../../secret.txt",
]

NOT_FOUND = [
    "/%252e%252e/secret.txt",
    "/%252e%252e%252fsecret.txt",
    "/..\\secret.txt",
    "/%2fetc/passwd",
    "//etc/passwd",
    "/...",
    "/.../secret.txt",
]

SYMLINKS_403 = [
    "/link.txt",
    "/rel-link.txt",
    "/linkdir/secret2.txt",
    "/linkdir/",
    "/sub/deep-link.txt",
]

INSIDE = [
    ("/sub/../public.txt", PUBLIC),
    ("/./public.txt", PUBLIC),
    ("/sub/%2e%2e/public.txt", PUBLIC),
    ("/sub/./inner.txt", INNER),
    ("/sub//inner.txt", INNER),
    ("/sub/x/../inner.txt", INNER),
    ("/alias.txt", PUBLIC),
    ("/sub/up.txt", PUBLIC),
    ("/public.txt?../../secret.txt", PUBLIC),
]


class Paths(wktest.TestCase):
    def setUp(self):
        base = self.make_dir()
        self.root = os.path.join(base, "root")
        os.makedirs(os.path.join(self.root, "sub"))
        os.makedirs(os.path.join(base, "outdir"))
        for path, data in (("secret.txt", SECRET), ("outdir/secret2.txt", SECRET2),
                           ("root/public.txt", PUBLIC), ("root/sub/inner.txt", INNER)):
            with open(os.path.join(base, path), "wb") as f:
                f.write(data)
        os.symlink(os.path.join(base, "secret.txt"), os.path.join(self.root, "link.txt"))
        os.symlink("../secret.txt", os.path.join(self.root, "rel-link.txt"))
        os.symlink(os.path.join(base, "outdir"), os.path.join(self.root, "linkdir"))
        os.symlink("../../secret.txt", os.path.join(self.root, "sub", "deep-link.txt"))
        os.symlink("public.txt", os.path.join(self.root, "alias.txt"))
        os.symlink("../public.txt", os.path.join(self.root, "sub", "up.txt"))
        self.srv = self.start_server(root=self.root)

    def fetch(self, target):
        resp, c = self.exchange(self.srv, request(target))
        for s in (SECRET, SECRET2, b"root:x:0:0"):
            self.assertNotIn(s, resp.raw, "outside content served for %r" % target)
        c.close()
        return resp

    def test_dot_segments_above_root_400(self):
        for target in ESCAPES_400:
            with self.subTest(target=target):
                self.assertErrorPage(self.fetch(target), 400)

    def test_names_that_do_not_exist_404(self):
        for target in NOT_FOUND:
            with self.subTest(target=target):
                self.assertErrorPage(self.fetch(target), 404)

    def test_symlinks_out_of_root_403(self):
        for target in SYMLINKS_403:
            with self.subTest(target=target):
                self.assertErrorPage(self.fetch(target), 403)

    def test_inside_the_root_still_served(self):
        for target, body in INSIDE:
            with self.subTest(target=target):
                resp = self.fetch(target)
                self.assertEqual(resp.status, 200, resp)
                self.assertEqual(resp.body, body)

    def test_absolute_form_cannot_escape(self):
        resp = self.fetch("http://localhost/../secret.txt")
        self.assertErrorPage(resp, 400)
        resp = self.fetch("http://localhost/%2e%2e/secret.txt")
        self.assertErrorPage(resp, 400)

    def test_curl_path_as_is(self):
        url = "http://127.0.0.1:%d" % self.srv.port
        for path, code in (("/../secret.txt", b"400"), ("/sub/../../secret.txt", b"400"),
                           ("/link.txt", b"403"), ("/sub/../public.txt", b"200")):
            with self.subTest(path=path):
                p = self.curl("--path-as-is", "-o", "/dev/null", "-w", "%{http_code}", url + path)
                self.assertEqual(p.stdout, code)

    def test_root_listing_does_not_follow_links_out(self):
        resp = self.fetch("/")
        self.assertEqual(resp.status, 200)
        self.assertNotIn(b"secret2.txt", resp.body)


if __name__ == "__main__":
    wktest.main()
