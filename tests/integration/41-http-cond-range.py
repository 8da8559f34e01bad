"""41-http-cond-range: conditional requests and byte ranges (RFC 9110 13, 14).

304 via ETag and date, 412 via If-Match and If-Unmodified-Since, 206 for a
single, suffix or open range, 416 with "bytes */size", several ranges -> the
whole file, and If-Range.
"""

import email.utils
import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wktest  # noqa: E402
from wktest import request  # noqa: E402

SIZE = 1000
DATA = bytes((i * 31 + 7) % 251 for i in range(SIZE))
MTIME = 1577836800  # 2020-01-01 00:00:00 UTC
LAST_MODIFIED = "Wed, 01 Jan 2020 00:00:00 GMT"
EARLIER = "Tue, 31 Dec 2019 23:59:59 GMT"
LATER = "Fri, 01 Jan 2021 00:00:00 GMT"


class CondRange(wktest.TestCase):
    def setUp(self):
        self.root = self.make_root({"data.bin": DATA, "other.txt": b"other\n"}, mtime=MTIME)
        self.srv = self.start_server(root=self.root)
        first = self.get(self.srv, "/data.bin")
        self.assertEqual(first.status, 200)
        self.assertEqual(first.body, DATA)
        self.etag = first.get("ETag")
        self.assertRegex(self.etag or "", r'^"[!#-~]+"$')

    def ask(self, *headers, method="GET", path="/data.bin"):
        """One request on a fresh connection; also proves the connection stays usable."""
        resp, c = self.exchange(self.srv, request(path, method, headers=list(headers)), method)
        self.assertCommonHeaders(resp)
        follow = self.assertOpen(c, "/other.txt", 200)
        self.assertEqual(follow.body, b"other\n", "stray bytes after the %d" % resp.status)
        return resp

    def assert304(self, resp):
        self.assertEqual(resp.status, 304, resp)
        self.assertEqual(resp.body, b"")
        self.assertIsNone(resp.get("Content-Length"), "304 must not carry Content-Length here")
        self.assertEqual(resp.get("ETag"), self.etag)

    def assertWhole(self, resp):
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.body, DATA)
        self.assertIsNone(resp.get("Content-Range"))

    def assertPartial(self, resp, first, last):
        self.assertEqual(resp.status, 206, resp)
        self.assertEqual(resp.get("Content-Range"), "bytes %d-%d/%d" % (first, last, SIZE))
        self.assertEqual(resp.get("Content-Length"), str(last - first + 1))
        self.assertEqual(resp.body, DATA[first:last + 1])
        self.assertEqual(resp.get("ETag"), self.etag)

    def test_last_modified_is_the_mtime(self):
        self.assertEqual(self.get(self.srv, "/data.bin").get("Last-Modified"), LAST_MODIFIED)

    def test_future_mtime_is_sent_as_now(self):
        # RFC 9110 8.8.2.1: never a Last-Modified later than the Date; conditions use the same.
        wktest.populate(self.root, "future.txt", b"soon\n", mtime=time.time() + 86400 * 365)
        resp = self.get(self.srv, "/future.txt")
        self.assertEqual(resp.status, 200)
        date = email.utils.parsedate_to_datetime(resp.get("Date"))
        last = email.utils.parsedate_to_datetime(resp.get("Last-Modified"))
        self.assertLessEqual(last, date)
        self.assertLess((date - last).total_seconds(), 5)
        resp = self.get(self.srv, "/future.txt",
                        headers=[("If-Modified-Since", resp.get("Last-Modified"))])
        self.assertEqual(resp.status, 304)

    def test_etag_is_stable_and_per_file(self):
        self.assertEqual(self.get(self.srv, "/data.bin").get("ETag"), self.etag)
        self.assertNotEqual(self.get(self.srv, "/other.txt").get("ETag"), self.etag)

    def test_if_none_match_304(self):
        for value in (self.etag, "*", '"nope", ' + self.etag, "W/" + self.etag,
                      '"a","b" , %s' % self.etag):
            with self.subTest(inm=value):
                self.assert304(self.ask(("If-None-Match", value)))
        self.assert304(self.ask(("If-None-Match", self.etag), method="HEAD"))

    def test_if_none_match_miss_200(self):
        self.assertWhole(self.ask(("If-None-Match", '"nope"')))
        self.assertWhole(self.ask(("If-None-Match", '"%s"' % self.etag.strip('"')[:-1])))

    def test_if_modified_since(self):
        self.assert304(self.ask(("If-Modified-Since", LAST_MODIFIED)))
        self.assert304(self.ask(("If-Modified-Since", LATER)))
        self.assertWhole(self.ask(("If-Modified-Since", EARLIER)))
        self.assertWhole(self.ask(("If-Modified-Since", "not a date")))

    def test_if_none_match_wins_over_if_modified_since(self):
        # RFC 9110 13.2.2: If-Modified-Since is ignored when If-None-Match is present.
        self.assertWhole(self.ask(("If-None-Match", '"nope"'), ("If-Modified-Since", LATER)))
        self.assert304(self.ask(("If-None-Match", self.etag), ("If-Modified-Since", EARLIER)))

    def test_if_match(self):
        self.assertWhole(self.ask(("If-Match", self.etag)))
        self.assertWhole(self.ask(("If-Match", "*")))
        self.assertWhole(self.ask(("If-Match", '"x", ' + self.etag)))
        for value in ('"nope"', "W/" + self.etag):  # If-Match compares strongly
            with self.subTest(im=value):
                resp = self.ask(("If-Match", value))
                self.assertErrorPage(resp, 412)

    def test_repeated_list_fields_make_one_list(self):
        # RFC 9110 5.3: "If-None-Match: a" and "If-None-Match: b" mean "a, b".
        self.assert304(self.ask(("If-None-Match", '"nope"'), ("X-Between", "x"),
                                ("If-None-Match", ' %s ' % self.etag)))
        self.assertWhole(self.ask(("If-None-Match", '"a"'), ("if-none-match", '"b"')))
        self.assertWhole(self.ask(("If-Match", '"nope"'), ("If-Match", self.etag)))
        self.assertErrorPage(self.ask(("If-Match", '"a"'), ("X-Between", self.etag),
                                      ("If-Match", '"b"')), 412)

    def test_if_unmodified_since(self):
        self.assertErrorPage(self.ask(("If-Unmodified-Since", EARLIER)), 412)
        self.assertWhole(self.ask(("If-Unmodified-Since", LAST_MODIFIED)))
        self.assertWhole(self.ask(("If-Unmodified-Since", LATER)))
        # If-Match present: If-Unmodified-Since is not evaluated.
        self.assertWhole(self.ask(("If-Match", self.etag), ("If-Unmodified-Since", EARLIER)))

    def test_single_ranges(self):
        cases = [
            ("bytes=0-99", 0, 99),
            ("bytes=0-0", 0, 0),
            ("bytes=999-999", 999, 999),
            ("bytes=500-", 500, 999),
            ("bytes=0-", 0, 999),
            ("bytes=-100", 900, 999),
            ("bytes=-1", 999, 999),
            ("bytes=-5000", 0, 999),
            ("bytes=990-5000", 990, 999),
        ]
        for spec, first, last in cases:
            with self.subTest(range=spec):
                self.assertPartial(self.ask(("Range", spec)), first, last)

    def test_unsatisfiable(self):
        for spec in ("bytes=1000-", "bytes=1000-1010", "bytes=5000-6000", "bytes=-0"):
            with self.subTest(range=spec):
                resp = self.ask(("Range", spec))
                self.assertErrorPage(resp, 416)
                self.assertEqual(resp.get("Content-Range"), "bytes */%d" % SIZE)

    def test_several_ranges_give_whole(self):
        for spec in ("bytes=0-1,5-6", "bytes=0-9,-10", "bytes=0-99, 200-299"):
            with self.subTest(range=spec):
                self.assertWhole(self.ask(("Range", spec)))

    def test_other_units_ignored(self):
        self.assertWhole(self.ask(("Range", "items=0-5")))

    def test_if_range(self):
        self.assertPartial(self.ask(("Range", "bytes=10-19"), ("If-Range", self.etag)), 10, 19)
        self.assertPartial(self.ask(("Range", "bytes=10-19"), ("If-Range", LAST_MODIFIED)), 10, 19)
        for value in ('"nope"', "W/" + self.etag, EARLIER, LATER):
            with self.subTest(if_range=value):
                self.assertWhole(self.ask(("Range", "bytes=10-19"), ("If-Range", value)))

    def test_conditional_before_range(self):
        self.assert304(self.ask(("Range", "bytes=0-9"), ("If-None-Match", self.etag)))
        self.assertErrorPage(self.ask(("Range", "bytes=0-9"), ("If-Match", '"nope"')), 412)

    def test_head_ignores_range(self):
        # RFC 9110 14.2: range handling is defined for GET only.
        resp = self.ask(("Range", "bytes=0-9"), method="HEAD")
        self.assertEqual(resp.status, 200)
        self.assertIsNone(resp.get("Content-Range"))
        self.assertEqual(resp.get("Content-Length"), str(SIZE))
        self.assertEqual(resp.body, b"")

    def test_curl_range(self):
        url = "http://127.0.0.1:%d/data.bin" % self.srv.port
        p = self.curl("-r", "100-199", "-w", "%{http_code}", "-o", "-", url)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, DATA[100:200] + b"206")
        p = self.curl("-H", "If-None-Match: " + self.etag, "-w", "%{http_code}", url)
        self.assertEqual(p.stdout, b"304")


if __name__ == "__main__":
    wktest.main()
