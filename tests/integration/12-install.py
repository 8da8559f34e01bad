"""cmake --install puts the binary and the demo site where the binary finds
them: the installed httpd, started without --root, serves the demo page."""

import os
import re
import subprocess

import wktest


class Install(wktest.TestCase):
    def test_installed_binary_serves_the_demo_site(self):
        self.assertTrue(wktest.BUILD_DIR, "WK_BUILD_DIR is not set")
        dest = self.make_dir()
        subprocess.run(["cmake", "--install", wktest.BUILD_DIR, "--prefix", "/usr/local"],
                       env=dict(os.environ, DESTDIR=dest), check=True, capture_output=True,
                       timeout=120)
        binary = os.path.join(dest, "usr/local/sbin/wellknown-httpd")
        www = os.path.join(dest, "usr/local/share/wellknown/www")
        self.assertTrue(os.access(binary, os.X_OK), binary)
        self.assertTrue(os.path.isfile(os.path.join(www, "index.shtml")), www)
        self.assertTrue(os.path.isfile(os.path.join(www, "style.css")), www)

        # Without --root it finds the site installed beside it, not the source tree's.
        srv = self.start_server(binary=binary, access_log="off")
        srv.wait_log(r"^httpd start pid=\d+ root=\S*usr/local/sbin/\.\./share/wellknown/www ")
        c = self.connect(srv)
        c.send(wktest.request("/"))
        resp = c.read_response()
        self.assertEqual(resp.status, 200, resp)
        page = resp.body.decode()
        # The template was filled in with this very connection's port.
        self.assertIn(str(c.local_port), page)
        self.assertNotIn("<!--#echo", page)
        self.assertIsNotNone(re.search(r"<title>[^<]+</title>", page))


if __name__ == "__main__":
    wktest.main()
