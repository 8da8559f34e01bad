"""httpd over TLS: HTTPS with a self-signed certificate that curl verifies."""

import os
import socket
import subprocess

import wktest
from wktest import scaled

BIG = bytes(range(256)) * 4096  # 1 MiB: many records, and more than one write


class Https(wktest.TestCase):
    def setUp(self):
        self.root = self.make_root({"hello.txt": b"hello\n", "big.bin": BIG})
        self.cert = os.path.join(self.make_dir(), "cert.pem")
        self.srv = self.start_server(["--tls-listen", "127.0.0.1:0", "--self-signed",
                                      "--write-cert", self.cert, "--handshake-timeout", "1s"],
                                     root=self.root, nlisten=2)
        self.assertTrue(self.srv.find(r"^httpd listen addr=\S+ fd=\d+ tls$"))
        addr = [a for a, fd in self.srv.listeners][1]
        self.tls_port = wktest.port_of(addr)

    def curl(self, *args):
        p = subprocess.run(["curl", "-sS", "--cacert", self.cert] + list(args),
                           capture_output=True, timeout=scaled(30))
        return p

    def test_versions_forced_and_verified(self):
        for flags in (["--tlsv1.2", "--tls-max", "1.2"], ["--tlsv1.3"]):
            with self.subTest(flags=flags):
                p = self.curl(*flags, "-w", "%{http_code} %{ssl_verify_result}",
                              "-o", "/dev/null", "https://localhost:%d/hello.txt" % self.tls_port)
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(p.stdout, b"200 0")

    def test_old_versions_refused(self):
        p = self.curl("--tlsv1.1", "--tls-max", "1.1", "--ciphers", "DEFAULT@SECLEVEL=0",
                      "https://localhost:%d/hello.txt" % self.tls_port)
        self.assertNotEqual(p.returncode, 0)

    def test_alpn_keepalive_and_a_large_body(self):
        url = "https://127.0.0.1:%d/" % self.tls_port
        p = self.curl("-v", url + "hello.txt", url + "big.bin")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, b"hello\n" + BIG)
        err = p.stderr.decode()
        self.assertIn("ALPN: server accepted http/1.1", err)
        self.assertIn("Re-using existing connection", err)

    def test_garbage_instead_of_a_client_hello(self):
        with socket.create_connection(("127.0.0.1", self.tls_port), timeout=scaled(5)) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            s.settimeout(scaled(5))
            rest = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                rest += chunk
            self.assertNotIn(b"HTTP/1.1 200", rest)
        p = self.curl("https://localhost:%d/hello.txt" % self.tls_port)
        self.assertEqual(p.stdout, b"hello\n", p.stderr)

    def test_close_line_names_version_and_cipher(self):
        p = self.curl("--tlsv1.3", "https://localhost:%d/hello.txt" % self.tls_port)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.srv.wait_log(r"^httpd close fd=\d+ listener=127\.0\.0\.1:%d .* tls=TLSv1\.3 "
                          r"cipher=TLS_\w+ ktls=(on|off)$" % self.tls_port)

    def test_close_line_names_the_file_path(self):
        # ktls=on where the kernel's "tls" module is loaded (AES-GCM); else the bodies are
        # read and written by SSL_write, and the 1 MiB body still arrives whole.
        with open("/proc/sys/net/ipv4/tcp_available_ulp") as f:
            kernel_tls = "tls" in f.read().split()
        p = self.curl("--tlsv1.3", "--tls13-ciphers", "TLS_AES_128_GCM_SHA256",
                      "https://localhost:%d/big.bin" % self.tls_port)
        self.assertEqual(p.stdout, BIG, p.stderr)
        m = self.srv.wait_log(r"^httpd close .* out=\d{7,} .* ktls=(on|off)$")
        self.assertEqual(m.group(1), "on" if kernel_tls else "off", m.group(0))

    def test_records_together_in_one_segment(self):
        # Two requests in two TLS records in one TCP segment: the second must not wait in
        # OpenSSL's buffer for an edge that never comes.
        import ssl
        ctx = ssl.create_default_context(cafile=self.cert)
        raw = socket.create_connection(("127.0.0.1", self.tls_port), timeout=scaled(5))
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
            for path in ("/hello.txt", "/missing"):
                s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path.encode())
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)
            statuses = []
            with s.makefile("rb") as f:
                for _ in range(2):
                    statuses.append(f.readline().split()[1])
                    length = 0
                    for line in iter(f.readline, b"\r\n"):
                        if line.lower().startswith(b"content-length:"):
                            length = int(line.split(b":")[1])
                    f.read(length)
            self.assertEqual(statuses, [b"200", b"404"])

    def test_silent_client_is_dropped_at_the_handshake_timeout(self):
        with socket.create_connection(("127.0.0.1", self.tls_port), timeout=scaled(10)) as s:
            # Deferred accept hands the silent client over after about a second; then 1 s more.
            self.assertEqual(s.recv(1), b"")
        self.srv.wait_log(r"^httpd close .* reason=tls-handshake-timeout ")

    def test_wrong_sni_and_no_sni_are_served(self):
        import ssl
        for sni in ("wrong.example", None):
            with self.subTest(sni=sni):
                ctx = ssl.create_default_context(cafile=self.cert)
                ctx.check_hostname = False  # the name is wrong on purpose; the chain is checked
                raw = socket.create_connection(("127.0.0.1", self.tls_port), timeout=scaled(5))
                with ctx.wrap_socket(raw, server_hostname=sni) as s:
                    s.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    data = b""
                    while True:
                        chunk = s.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                self.assertTrue(data.startswith(b"HTTP/1.1 200 OK\r\n"), data[:100])
                self.assertTrue(data.endswith(b"\r\n\r\nhello\n"))

    def test_plain_listener_still_plain(self):
        resp = self.get(self.srv, "/hello.txt")
        self.assertEqual(resp.body, b"hello\n")


if __name__ == "__main__":
    wktest.main()
