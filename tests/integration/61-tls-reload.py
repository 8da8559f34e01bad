"""SIGHUP gives httpd new certificates: the next client sees the new one
(served by the new generation of workers), while a connection made before
is still answered, with the old one, by a retiring worker."""

import os
import shutil
import signal
import socket
import ssl
import subprocess

import wktest
from wktest import scaled


def make_cert(d, name):
    cert, key = os.path.join(d, name + ".pem"), os.path.join(d, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost", "-keyout", key, "-out", cert],
                   check=True, capture_output=True, timeout=scaled(30))
    return cert, key


class Reload(wktest.TestCase):
    def client(self, port, cafile):
        ctx = ssl.create_default_context(cafile=cafile)
        raw = socket.create_connection(("127.0.0.1", port), timeout=scaled(5))
        s = ctx.wrap_socket(raw, server_hostname="localhost")
        self.addCleanup(s.close)
        return s

    def get(self, s):
        s.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
        data = b""
        while not data.endswith(b"hello\n"):
            chunk = s.recv(4096)
            self.assertTrue(chunk, "closed: %r" % data)
            data += chunk
        return data

    def test_sighup_swaps_the_certificate(self):
        d = self.make_dir()
        old_cert, old_key = make_cert(d, "old")
        new_cert, new_key = make_cert(d, "new")
        cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "cert.key")
        shutil.copy(old_cert, cert)
        shutil.copy(old_key, key)
        root = self.make_root({"hello.txt": b"hello\n"})
        srv = self.start_server(["--tls-listen", "127.0.0.1:0", "--cert", cert, "--key", key,
                                 "--workers", "2"], nlisten=2, root=root)
        port = wktest.port_of(srv.listeners[1][0])
        before = self.client(port, old_cert)
        self.assertIn(b" 200 ", self.get(before))

        shutil.copy(new_cert, cert)
        shutil.copy(new_key, key)
        srv.send_signal(signal.SIGHUP)
        srv.wait_log(r"^httpd reload config=new ")

        after = self.client(port, new_cert)
        self.assertIn(b" 200 ", self.get(after))
        with self.assertRaises(ssl.SSLCertVerificationError):
            self.client(port, old_cert)
        # The connection made before the reload is still served, with its old certificate;
        # its worker retires, so that answer closes it.
        answer = self.get(before)
        self.assertIn(b" 200 ", answer)
        self.assertIn(b"\r\nConnection: close\r\n", answer)
        srv.wait_log(r"^httpd close .* reason=retire ")

        # A broken certificate on reload: the one in use stays.
        with open(cert, "w") as f:
            f.write("not a certificate\n")
        srv.send_signal(signal.SIGHUP)
        srv.wait_log(r"^httpd reload error=.*cert\.pem.* config=unchanged$")
        self.assertIn(b" 200 ", self.get(self.client(port, new_cert)))


if __name__ == "__main__":
    wktest.main()
