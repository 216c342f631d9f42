"""Access control against the real daemon over TLS: the auth matrix (no
token, wrong token, reader token on reads and writes, operator token), a
plaintext client refused by a TLS server, and mutual TLS; the same for the
/metrics HTTP port (HTTPS with the gRPC certificate, bearer tokens).
Certificates are made for the test with openssl."""
import http.client
import math
import os
import ssl
import subprocess
import sys
import tempfile
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from daemon import Daemon, http_address  # noqa: E402

import photonicd  # noqa: E402
from photonicd import Chip  # noqa: E402

READER = "reader-token-0123456789abcdef"
OPERATOR = "operator-token-0123456789abcdef"


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_pki(directory):
    """A CA, a server certificate for localhost/127.0.0.1 and a client one."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=photonicd test CA", cwd=directory)
    with open(os.path.join(directory, "san.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    for name, cn in (("server", "localhost"), ("client", "lab-client")):
        openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn}",
                cwd=directory)
        extra = ["-extfile", "san.ext"] if name == "server" else []
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", *extra, cwd=directory)


def write_config(directory, name, require_client_certificate=False):
    source = os.environ["PHC_SOURCE_DIR"]
    with open(os.path.join(directory, "tokens"), "w") as f:
        f.write(f"# role token\nreader {READER}\noperator {OPERATOR}\n")
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        f.write(f'listen_address: "127.0.0.1:0"\n'
                f'chip_file: "{source}/deploy/chips/clements8.textproto"\n'
                f'backend: BACKEND_SIM\nsim {{ seed: 1 }}\n'
                f'tls {{ certificate_file: "server.pem" private_key_file: "server.key"'
                f' client_ca_file: "ca.pem"'
                f' require_client_certificate: {"true" if require_client_certificate else "false"} }}\n'
                f'auth {{ tokens_file: "tokens" }}\n')
    return path


HTTP_LISTEN = ("--http-listen", "127.0.0.1:0")


def https_context(directory, client_certificate=False):
    """Trusts only the test CA; presents the test client certificate if asked."""
    context = ssl.create_default_context(cafile=os.path.join(directory, "ca.pem"))
    if client_certificate:
        context.load_cert_chain(os.path.join(directory, "client.pem"),
                                os.path.join(directory, "client.key"))
    return context


def get(url, token=None, context=None):
    """GET url within 10 s: (status, headers, body). An HTTP error status is
    returned too (from urllib's HTTPError); no HTTP response at all raises."""
    request = urllib.request.Request(url)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers, error.read().decode()


def plaintext_get(address, path="/metrics", token=READER):
    """GET over plain HTTP (no TLS) within 10 s: the status, if any."""
    host, port = address.rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        return connection.getresponse().status
    finally:
        connection.close()


class AuthMatrixTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pki = tempfile.TemporaryDirectory(prefix="photonicd_pki_")
        make_pki(cls.pki.name)
        cls.daemon = Daemon(config=write_config(cls.pki.name, "tls.textproto"),
                            listen="127.0.0.1:0")
        cls.port = cls.daemon.address.rsplit(":", 1)[1]
        with open(os.path.join(cls.pki.name, "ca.pem"), "rb") as f:
            cls.ca = f.read()

    @classmethod
    def tearDownClass(cls):
        assert cls.daemon.stop() == 0
        cls.pki.cleanup()

    def chip(self, token=None, **tls):
        return Chip(f"localhost:{self.port}", token=token, root_certificates=self.ca,
                    timeout_s=10, **tls)

    def test_no_token_is_unauthenticated(self):
        with self.chip() as chip, self.assertRaises(photonicd.Unauthenticated):
            chip.info()

    def test_wrong_token_is_unauthenticated(self):
        with self.chip("not-a-token-0123456789") as chip:
            with self.assertRaises(photonicd.Unauthenticated):
                chip.info()
            with self.assertRaises(photonicd.Unauthenticated):
                chip.set_phases([0.0] * 56)

    def test_reader_reads_but_may_not_write_and_changes_nothing(self):
        with self.chip(OPERATOR) as operator:
            operator.set_phases([0.5] * 56)
        with self.chip(READER) as reader:
            self.assertEqual(reader.info().phase_count, 56)
            self.assertEqual(len(reader.read().photocurrent_ua), 8)
            before = list(reader.phases().phases_rad)
            for write in (lambda: reader.set_phases([math.pi] * 56),
                          lambda: reader.set_inputs([1.0] * 8),
                          lambda: reader.set_power_budget(10.0),
                          lambda: list(reader.calibrate()),
                          lambda: reader.train([8, 8], steps=5, dataset="synthetic")):
                with self.assertRaises(photonicd.PermissionDenied) as raised:
                    write()
                self.assertIn("operator", raised.exception.message)
            self.assertEqual(list(reader.phases().phases_rad), before)
            self.assertEqual(reader.sessions(), [])

    def test_reader_lists_models_but_only_an_operator_trains_deploys_evaluates_deletes(self):
        from photonic.v1 import model_pb2
        spec = model_pb2.ModelSpec(name="auth", core_size=4)
        spec.input.dataset, spec.input.image_size, spec.input.classes = "synthetic", 4, 3
        spec.layers.add().linear.outputs = 3
        with self.chip(READER) as reader:
            self.assertEqual(reader.models(), [])
            for write in (lambda: list(reader.train_model("auth", spec, epochs=1)),
                          lambda: reader.deploy_model("auth"),
                          lambda: list(reader.evaluate_model("auth")),
                          lambda: reader.delete_model("auth")):
                with self.assertRaises(photonicd.PermissionDenied):
                    write()
            self.assertEqual(reader.models(), [])
        with self.chip(OPERATOR) as operator:
            self.assertTrue(list(operator.train_model("auth", spec, epochs=1))[-1].done)
        with self.chip(READER) as reader:
            self.assertEqual(reader.model("auth").spec_name, "auth")
            with self.assertRaises(photonicd.PermissionDenied):
                reader.delete_model("auth")
        with self.chip(OPERATOR) as operator:
            operator.delete_model("auth")

    def test_operator_writes(self):
        with self.chip(OPERATOR) as chip:
            chip.set_phases([1.0], indices=[5])
            self.assertAlmostEqual(chip.phases().phases_rad[5], 1.0, places=6)

    def test_photonctl_sends_its_token_over_tls(self):
        def photonctl(token, *command):
            return subprocess.run(
                [os.environ["PHOTONCTL"], "--address", f"localhost:{self.port}", "--ca",
                 os.path.join(self.pki.name, "ca.pem"), "--token", token, *command],
                capture_output=True, text=True, timeout=30)
        info = photonctl(READER, "info")
        self.assertEqual(info.returncode, 0, info.stderr)
        self.assertIn("clements8", info.stdout)
        refused = photonctl(READER, "set-inputs", *["0"] * 8)
        self.assertEqual(refused.returncode, 1)
        self.assertIn("PERMISSION_DENIED", refused.stderr)
        self.assertEqual(photonctl(OPERATOR, "set-inputs", *["0"] * 8).returncode, 0)

    def test_plaintext_client_cannot_talk_to_a_tls_server(self):
        with Chip(f"127.0.0.1:{self.port}", token=OPERATOR, timeout_s=5) as chip:
            with self.assertRaises(photonicd.Unavailable):
                chip.info()


class MetricsHttpsTest(unittest.TestCase):
    """/metrics on the HTTP port of a daemon with tls and auth: HTTPS only,
    a reader or operator token needed."""

    @classmethod
    def setUpClass(cls):
        cls.pki = tempfile.TemporaryDirectory(prefix="photonicd_pki_")
        make_pki(cls.pki.name)
        cls.daemon = Daemon(config=write_config(cls.pki.name, "tls.textproto"),
                            listen="127.0.0.1:0", extra_args=HTTP_LISTEN)
        try:
            cls.http = http_address(cls.daemon)
        except Exception:
            cls.daemon.stop()
            cls.pki.cleanup()
            raise
        cls.context = https_context(cls.pki.name)

    @classmethod
    def tearDownClass(cls):
        assert cls.daemon.stop() == 0
        cls.pki.cleanup()

    def get(self, path="/metrics", token=None):
        return get(f"https://{self.http}{path}", token=token, context=self.context)

    def assertUnauthorized(self, status, headers):
        self.assertEqual(status, 401)
        self.assertEqual(headers["WWW-Authenticate"], "Bearer")

    def test_http_address_is_a_local_port_apart_from_grpc(self):
        host, port = self.http.rsplit(":", 1)
        self.assertEqual(host, "127.0.0.1")
        self.assertNotEqual(int(port), 0)
        self.assertNotEqual(port, self.daemon.address.rsplit(":", 1)[1])

    def test_reader_and_operator_get_metrics_over_https(self):
        for token in (READER, OPERATOR):
            status, headers, body = self.get(token=token)
            self.assertEqual(status, 200, body)
            self.assertTrue(headers["Content-Type"].startswith("text/plain"),
                            headers["Content-Type"])
            self.assertIn("# TYPE photonicd_info gauge", body)
            self.assertIn("photonicd_heater_power_total_watts", body)

    def test_no_token_or_a_wrong_token_is_401(self):
        self.assertUnauthorized(*self.get()[:2])
        self.assertUnauthorized(*self.get(token="not-a-token-0123456789")[:2])

    def test_unknown_path_is_404(self):
        status, _, body = self.get("/no-such-path", token=READER)
        self.assertEqual(status, 404, body)

    def test_plain_http_gets_no_response(self):
        try:
            status = plaintext_get(self.http)
        except (OSError, http.client.HTTPException):
            return  # reset, closed, a TLS alert read as a bad status line, ...
        self.fail(f"plain HTTP to the HTTPS port got HTTP {status}")

    def test_a_client_that_does_not_trust_the_ca_is_refused(self):
        with self.assertRaises(urllib.error.URLError) as raised:
            get(f"https://{self.http}/metrics", token=READER, context=ssl.create_default_context())
        self.assertIsInstance(raised.exception.reason, ssl.SSLCertVerificationError)


class MutualTlsTest(unittest.TestCase):
    def test_client_certificate_required(self):
        with tempfile.TemporaryDirectory(prefix="photonicd_mtls_") as directory:
            make_pki(directory)
            daemon = Daemon(config=write_config(directory, "mtls.textproto",
                                                require_client_certificate=True),
                            listen="127.0.0.1:0")
            try:
                port = daemon.address.rsplit(":", 1)[1]

                def read(name):
                    with open(os.path.join(directory, name), "rb") as f:
                        return f.read()

                with Chip(f"localhost:{port}", token=READER, root_certificates=read("ca.pem"),
                          timeout_s=5) as anonymous:
                    with self.assertRaises(photonicd.Unavailable):
                        anonymous.info()
                with Chip(f"localhost:{port}", token=READER, root_certificates=read("ca.pem"),
                          client_key=read("client.key"), client_certificate=read("client.pem"),
                          timeout_s=5) as known:
                    self.assertEqual(known.info().name, "clements8")
            finally:
                self.assertEqual(daemon.stop(), 0)

    def test_metrics_port_requires_the_client_certificate(self):
        with tempfile.TemporaryDirectory(prefix="photonicd_mtls_") as directory:
            make_pki(directory)
            daemon = Daemon(config=write_config(directory, "mtls.textproto",
                                                require_client_certificate=True),
                            listen="127.0.0.1:0", extra_args=HTTP_LISTEN)
            try:
                url = f"https://{http_address(daemon)}/metrics"
                try:
                    status = get(url, token=READER, context=https_context(directory))[0]
                except (OSError, http.client.HTTPException):
                    pass  # handshake refused, or (TLS 1.3) an alert on the first read
                else:
                    self.fail(f"no client certificate, yet HTTP {status}")
                known = https_context(directory, client_certificate=True)
                status, _, body = get(url, token=READER, context=known)
                self.assertEqual(status, 200, body)
                self.assertIn("# TYPE photonicd_info gauge", body)
                self.assertEqual(get(url, context=known)[0], 401)
            finally:
                self.assertEqual(daemon.stop(), 0)


if __name__ == "__main__":
    unittest.main()
