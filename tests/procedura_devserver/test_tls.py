"""wss:// with a throwaway self-signed certificate, verified through a CA file."""

from __future__ import annotations

import shutil
import ssl
import subprocess

import pytest
from procedura_devserver import DEMO_EMAIL, WorldEngine


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not on this machine: cannot make a test certificate")
    where = tmp_path_factory.mktemp("tls")
    cert, key = where / "cert.pem", where / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


def test_wss_with_the_ca_file(certificate, wire, arun):
    cert, key = certificate
    with WorldEngine(certfile=str(cert), keyfile=str(key)).running() as engine:
        assert engine.url.startswith("wss://127.0.0.1:")
        token = engine.issue_session(DEMO_EMAIL)
        trusting = ssl.create_default_context(cafile=str(cert))
        frames = arun(wire.call(engine.url, "echo", ["secure"], token=token, ssl=trusting))
        assert frames[-1]["result"] == {"args": ["secure"]}
        with pytest.raises(ssl.SSLCertVerificationError):
            arun(wire.call(engine.url, "echo", token=token, ssl=ssl.create_default_context()))


def test_command_line_serves_wss(certificate, wire, arun, start_server):
    cert, key = certificate
    server = start_server("--certfile", str(cert), "--keyfile", str(key))
    assert server.url.startswith("wss://")
    trusting = ssl.create_default_context(cafile=str(cert))
    (frame,) = arun(wire.call(server.url, "echo", ssl=trusting))
    assert frame["code"] == "AUTH_REQUIRED"
    assert server.stop()[0] == 0
