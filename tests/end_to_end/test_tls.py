"""wss:// with a private CA: refused without the bundle (and told how to fix it), fine with it."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

DEMO = "demo@procedura.dev:demo-password"


@pytest.fixture
def tls_server(workspace, devserver, tmp_path):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not on this machine: cannot make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    server = devserver(extra=["--certfile", str(cert), "--keyfile", str(key)])
    assert server.url.startswith("wss://")
    return cert


def test_an_unknown_ca_is_a_connection_failure_that_names_ca_file(workspace, tls_server):
    done = workspace.procedura("login", "-", input=DEMO)
    assert done.returncode == 5
    assert "TLS" in done.stderr and "--ca-file" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_ca_file_by_option_and_by_environment(workspace, tls_server):
    done = workspace.procedura("--ca-file", str(tls_server), "login", "-", input=DEMO)
    assert done.returncode == 0, done.stderr
    workspace.env["PROCEDURA_CA_FILE"] = str(tls_server)
    done = workspace.procedura("run", "echo", "secure")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"args": ["secure"]}


def test_a_missing_ca_file_is_bad_usage(workspace, tls_server):
    done = workspace.procedura("--ca-file", str(workspace.root / "nope.pem"), "run", "echo")
    assert done.returncode == 2
    assert "--ca-file" in done.stderr
