"""Fixtures for the agent's integration tests: a real local world engine on loopback, and a recorder seam."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

import pytest
from procedura_devserver import DEMO_EMAIL, DEMO_PASSWORD, WorldEngine
from procedura_sdk import AsyncRemoteAgent, RemoteAgent, TokenStore

DEMO_CREDENTIAL = f"{DEMO_EMAIL}:{DEMO_PASSWORD}"


class CollectingRecorder:
    """The recorder interface (record / note_login / close), keeping what it is given."""

    def __init__(self) -> None:
        self.records: list = []
        self.logins: list[dict] = []
        self.closed = False

    def record(self, record) -> None:
        self.records.append(record)

    def note_login(self, **fields) -> None:
        self.logins.append(fields)

    def close(self) -> None:
        self.closed = True

    @property
    def only(self):
        """The one record there must be."""
        assert len(self.records) == 1, [r.to_dict() for r in self.records]
        return self.records[0]


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path, monkeypatch):
    # Never touch the user's token or data root, whatever a test forgets to pass.
    monkeypatch.setenv("PROCEDURA_TOKEN_FILE", str(tmp_path / "home" / ".procedura" / "token"))
    monkeypatch.setenv("PROCEDURA_DATA_ROOT", str(tmp_path / "data"))
    monkeypatch.delenv("PROCEDURA_CA_FILE", raising=False)


@pytest.fixture(scope="module")
def engine() -> Iterator[WorldEngine]:
    with WorldEngine().running() as running:
        yield running


@pytest.fixture
def world(engine) -> Iterator[WorldEngine]:
    """The shared engine with no faults in force, before and after the test."""
    engine.faults.clear()
    yield engine
    engine.faults.clear()


@pytest.fixture
def token(world) -> str:
    return world.issue_session(DEMO_EMAIL)


@pytest.fixture
def recorder() -> CollectingRecorder:
    return CollectingRecorder()


@pytest.fixture
def token_store(tmp_path) -> TokenStore:
    return TokenStore(tmp_path / "tokens" / "token")


@pytest.fixture
def make_agent(world, recorder, token_store):
    """``make_agent(**options)``: a RemoteAgent on the shared engine, closed after the test."""
    made: list[RemoteAgent] = []

    def make(*, url: str | None = None, **options) -> RemoteAgent:
        options.setdefault("recorder", recorder)
        options.setdefault("token_store", token_store)
        agent = RemoteAgent(url or world.url, **options)
        made.append(agent)
        return agent

    yield make
    for agent in made:
        agent.close()


@pytest.fixture
def agent(make_agent, token) -> RemoteAgent:
    return make_agent(token=token)


@pytest.fixture
def make_async_agent(world, recorder, token_store):
    def make(**options) -> AsyncRemoteAgent:
        options.setdefault("recorder", recorder)
        options.setdefault("token_store", token_store)
        return AsyncRemoteAgent(world.url, **options)

    return make


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def raw_tcp_server(reply: bytes | None) -> Iterator[int]:
    """A loopback TCP server that answers each connection with ``reply`` and closes it,
    or (``reply=None``) accepts and says nothing until the test ends."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    stop = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            if reply is None:
                held.append(conn)
                continue
            with conn:
                conn.settimeout(2)
                with contextlib.suppress(OSError):
                    conn.recv(65536)
                    conn.sendall(reply)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        listener.close()
        for conn in held:
            conn.close()


@pytest.fixture
def unused_port() -> int:
    """A loopback port nothing listens on."""
    return free_port()


@pytest.fixture
def tcp_server():
    """``with tcp_server(reply) as port``: see :func:`raw_tcp_server`."""
    return raw_tcp_server


@pytest.fixture
def demo_credential() -> str:
    return DEMO_CREDENTIAL
