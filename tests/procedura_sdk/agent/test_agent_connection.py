"""Opening the connection: what is sent at the handshake, failures by reason, TLS, keepalive, recording seams."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import socket
import subprocess
import sys
import threading
import time
import warnings

import pytest
from procedura_devserver import DEMO_EMAIL, WorldEngine
from procedura_sdk import AuthenticationError, ConnectionFailedError, RemoteAgent


def failure(make_agent, url, recorder, **options) -> ConnectionFailedError:
    agent = make_agent(url=url, token="", **options)
    with pytest.raises(ConnectionFailedError) as caught:
        agent.run("echo")
    record = recorder.only
    assert record.status == "error" and record.result_code == "CONNECTION_FAILED"
    assert record.error["type"] == "ConnectionFailedError"
    assert record.msg_id is None and record.ack_ts is None
    return caught.value


def test_refused(make_agent, recorder, unused_port):
    err = failure(make_agent, f"ws://127.0.0.1:{unused_port}", recorder)
    assert err.reason == "refused"
    assert "running" in str(err)


def test_dns(make_agent, recorder):
    err = failure(make_agent, "ws://no-such-host.invalid:9", recorder)
    assert err.reason in ("dns", "timeout")


def test_not_a_websocket_server(make_agent, recorder, tcp_server):
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi"
    with tcp_server(reply) as port:
        err = failure(make_agent, f"ws://127.0.0.1:{port}", recorder)
    assert err.reason == "handshake"


def test_other_http_status_is_a_handshake_failure(make_agent, recorder, tcp_server):
    reply = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    with tcp_server(reply) as port:
        err = failure(make_agent, f"ws://127.0.0.1:{port}", recorder)
    assert err.reason == "handshake" and "404" in str(err)


def test_open_timeout(make_agent, recorder, tcp_server):
    with tcp_server(None) as port:
        err = failure(make_agent, f"ws://127.0.0.1:{port}", recorder, open_timeout=0.3)
    assert err.reason == "timeout"


def test_url_must_be_websocket(token_store):
    for url in ("http://127.0.0.1:1", "127.0.0.1:1", "ws://"):
        with pytest.raises(ValueError):
            RemoteAgent(url, token="", token_store=token_store, record=False)


def test_url_password_never_shown(token_store, unused_port, recorder):
    url = f"ws://user:hunter2@127.0.0.1:{unused_port}"
    agent = RemoteAgent(url, token="", token_store=token_store, recorder=recorder)
    with agent, pytest.raises(ConnectionFailedError) as caught:
        agent.run("echo")
    assert "hunter2" not in str(caught.value) and "hunter2" not in repr(agent)
    assert "hunter2" not in json.dumps(recorder.only.to_dict(), default=str)


# -- what the handshake carries -----------------------------------------------------------


@contextlib.contextmanager
def handshake_spy():
    """A real websockets server that notes each handshake's headers and answers any request."""
    import websockets.server

    seen: list = []
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    box: dict = {}

    async def process_request(path, headers):
        seen.append(headers)
        return None

    async def handler(ws):
        async for message in ws:
            request = json.loads(message)
            await ws.send(json.dumps({"id": request["id"], "status": "finished", "result": 1}))

    async def start():
        box["server"] = await websockets.server.serve(
            handler, "127.0.0.1", 0, process_request=process_request,
            select_subprotocol=lambda offered, _: offered[0] if offered else None,
        )

    def serve():
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        ready.set()
        loop.run_forever()

        async def stop():
            box["server"].close()
            await box["server"].wait_closed()

        loop.run_until_complete(stop())
        loop.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    ready.wait(10)
    port = box["server"].sockets[0].getsockname()[1]
    try:
        yield f"ws://127.0.0.1:{port}", seen
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def test_token_sent_as_subprotocol_and_bearer(token_store):
    with handshake_spy() as (url, seen):
        with RemoteAgent(url, token="tok-abc", token_store=token_store, record=False) as agent:
            assert agent.run("anything") == 1
    (headers,) = seen
    assert headers.get_all("Sec-WebSocket-Protocol") == ["tok-abc"]
    assert headers["Authorization"] == "Bearer tok-abc"


def test_no_token_sends_neither(token_store):
    with handshake_spy() as (url, seen):
        with RemoteAgent(url, token="", token_store=token_store, record=False) as agent:
            agent.run("anything")
    (headers,) = seen
    assert "Sec-WebSocket-Protocol" not in headers
    assert "Authorization" not in headers


# -- TLS ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not available")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    command = [
        openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert),
        "-addext", "subjectAltName=IP:127.0.0.1",
    ]
    done = subprocess.run(command, capture_output=True, timeout=60)
    if done.returncode != 0:
        pytest.skip(f"openssl could not make a certificate: {done.stderr.decode()[:200]}")
    return cert, key


@pytest.fixture(scope="module")
def tls_engine(certificate):
    cert, key = certificate
    with WorldEngine(certfile=str(cert), keyfile=str(key)).running() as engine:
        yield engine


def test_wss_verifies_by_default(tls_engine, make_agent, recorder):
    token = tls_engine.issue_session(DEMO_EMAIL)
    agent = make_agent(url=tls_engine.url, token=token)
    assert tls_engine.url.startswith("wss://")
    with pytest.raises(ConnectionFailedError) as caught:
        agent.run("echo")
    assert caught.value.reason == "tls"
    assert "ca_file" in str(caught.value)
    assert recorder.only.result_code == "CONNECTION_FAILED"


def test_wss_with_ca_file_option(tls_engine, make_agent, certificate):
    token = tls_engine.issue_session(DEMO_EMAIL)
    agent = make_agent(url=tls_engine.url, token=token, ca_file=str(certificate[0]))
    assert agent.run("echo", ["tls"]) == {"args": ["tls"]}


def test_wss_with_ca_file_environment(tls_engine, make_agent, certificate, monkeypatch):
    monkeypatch.setenv("PROCEDURA_CA_FILE", str(certificate[0]))
    token = tls_engine.issue_session(DEMO_EMAIL)
    assert make_agent(url=tls_engine.url, token=token).run("echo", ["env"]) == {"args": ["env"]}


def test_wss_with_ssl_cert_file(tls_engine, make_agent, certificate, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    token = tls_engine.issue_session(DEMO_EMAIL)
    assert make_agent(url=tls_engine.url, token=token).run("echo", ["std"]) == {"args": ["std"]}


def test_missing_ca_file(tls_engine, make_agent, recorder, tmp_path):
    agent = make_agent(url=tls_engine.url, token="", ca_file=str(tmp_path / "missing.pem"))
    with pytest.raises(ConnectionFailedError) as caught:
        agent.run("echo")
    assert caught.value.reason == "tls" and "CA bundle" in str(caught.value)


def test_login_over_wss(tls_engine, make_agent, certificate, demo_credential):
    agent = make_agent(url=tls_engine.url, token="", ca_file=str(certificate[0]))
    agent.login_password(demo_credential)
    assert agent.run("echo", ["x"]) == {"args": ["x"]}


# -- keepalive ---------------------------------------------------------------------------


def test_keepalive_pings_do_not_break_a_long_wait(make_agent, token):
    agent = make_agent(token=token, ping_interval=0.05, ping_timeout=1.0)
    result = agent.run("long_job", ["--steps", "6", "--interval", "0.1"])
    assert result == {"steps": 6, "interval": 0.1}


def test_default_keepalive_covers_a_600_second_wait():
    from procedura_sdk.agent.connection import ConnectionOptions

    options = ConnectionOptions()
    assert options.max_size >= 8 * 1024 * 1024
    assert options.open_timeout == 5.0
    # Pings well inside common 60-second idle timeouts; a dead peer noticed long before 600 s.
    assert options.ping_interval is not None and options.ping_interval < 60
    assert options.ping_timeout is not None and options.ping_interval + options.ping_timeout < 600


# -- recording seams ------------------------------------------------------------------------


def test_record_false_records_nothing(make_agent, token, recorder):
    agent = make_agent(token=token, record=False)
    agent.run("echo")
    assert recorder.records == []


def test_default_recorder_uses_the_default_data_root(world, token, token_store, tmp_path):
    from procedura_sdk.observability import Recorder

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with RemoteAgent(world.url, token=token, token_store=token_store) as agent:
            assert agent.run("echo", ["x"]) == {"args": ["x"]}
            recorder = agent._recorder
            assert isinstance(recorder, Recorder)
            assert str(recorder.paths.base) == str(tmp_path / "data")


def test_a_recorder_that_raises_does_not_hide_the_result(make_agent, token):
    class Broken:
        def record(self, record):
            raise OSError("disk full")

        def note_login(self, **fields):
            raise OSError("disk full")

    agent = make_agent(token=token, recorder=Broken())
    with pytest.warns(UserWarning, match="disk full"):
        assert agent.run("echo", ["x"]) == {"args": ["x"]}


def test_importing_the_package_does_not_import_websockets():
    code = (
        "import sys, procedura_sdk\n"
        "from procedura_sdk import errors, TokenStore\n"
        "assert 'websockets' not in sys.modules, 'websockets imported'\n"
        "assert 'procedura_sdk.agent' not in sys.modules, 'agent imported'\n"
        "procedura_sdk.RemoteAgent\n"
        "assert 'websockets' not in sys.modules, 'websockets imported by agent import'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode()


def test_authentication_error_for_401_names_no_token(world, make_agent, recorder):
    agent = make_agent(token="abc.def-secret")
    with pytest.raises(AuthenticationError) as caught:
        agent.run("echo")
    assert "abc.def-secret" not in str(caught.value)


def test_idle_connection_that_died_is_replaced_before_sending(make_agent, token, recorder):
    agent = make_agent(token=token, ping_interval=0.05)
    assert agent.run("echo", ["one"]) == {"args": ["one"]}
    first = agent._channel._sock
    # The connection dies while the blocking face is idle (nothing reads it then).
    first.shutdown(socket.SHUT_RDWR)
    time.sleep(0.1)
    assert agent.run("echo", ["two"]) == {"args": ["two"]}
    assert agent._channel._sock is not first
    assert [r.result_code for r in recorder.records] == ["OK", "OK"]


def test_idle_connection_that_lives_is_kept(make_agent, token):
    agent = make_agent(token=token, ping_interval=0.05)
    agent.run("echo")
    first = agent._channel._sock
    time.sleep(0.1)
    agent.run("echo")
    assert agent._channel._sock is first
