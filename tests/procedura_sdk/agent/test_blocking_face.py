"""The blocking face's own connection: keepalive against a silent peer, fragmented answers,
one command at a time, and no asyncio agent on its path."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator

import pytest
from procedura_sdk import AsyncRemoteAgent, ConnectionFailedError, ConnectionLostError, RemoteAgent


@contextlib.contextmanager
def websocket_peer(behaviour: Callable[[socket.socket, object], None]) -> Iterator[str]:
    """A loopback WebSocket server built on websockets' sans-I/O server protocol.

    It accepts one connection, completes the handshake, then hands the socket and
    the protocol to ``behaviour``; unlike a full server it answers nothing on its own
    (not even pings) unless ``behaviour`` does.
    """
    from websockets.server import ServerProtocol

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    done = threading.Event()

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            protocol = ServerProtocol()
            events: list = []
            while not events:  # until the handshake request is parsed
                protocol.receive_data(conn.recv(65536))
                events = protocol.events_received()
            (request,) = events
            response = protocol.accept(request)
            protocol.send_response(response)
            conn.sendall(b"".join(protocol.data_to_send()))
            behaviour(conn, protocol)
            done.wait(30)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"ws://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        done.set()
        listener.close()
        thread.join(10)


def read_request(conn: socket.socket, protocol) -> dict:
    while True:
        for frame in protocol.events_received():
            if frame.opcode.name == "TEXT":
                return json.loads(frame.data)
        protocol.receive_data(conn.recv(65536))


def test_a_peer_that_stops_answering_pings_ends_a_long_wait(token_store, recorder):
    def silent(conn, protocol):
        read_request(conn, protocol)  # then say nothing, and answer no ping

    with websocket_peer(silent) as url:
        agent = RemoteAgent(
            url, token="", token_store=token_store, recorder=recorder,
            ping_interval=0.1, ping_timeout=0.3,
        )
        with agent, pytest.raises(ConnectionLostError) as caught:
            agent.run("long_job", final_timeout=60)
    assert "keepalive ping" in str(caught.value)
    assert recorder.only.result_code == "CONNECTION_LOST"


def test_a_fragmented_answer_is_reassembled(token_store, recorder):
    def fragmented(conn, protocol):
        request = read_request(conn, protocol)
        text = json.dumps({"id": request["id"], "status": "finished", "result": {"n": "x" * 5000}})
        pieces = [text[i : i + 1000].encode() for i in range(0, len(text), 1000)]
        protocol.send_text(pieces[0], fin=False)
        for piece in pieces[1:-1]:
            protocol.send_continuation(piece, fin=False)
        protocol.send_continuation(pieces[-1], fin=True)
        conn.sendall(b"".join(protocol.data_to_send()))

    with websocket_peer(fragmented) as url:
        with RemoteAgent(url, token="", token_store=token_store, recorder=recorder) as agent:
            assert agent.run("anything") == {"n": "x" * 5000}
    assert recorder.only.payload_size > 5000


def test_a_close_from_the_server_is_reported_with_its_code(token_store, recorder):
    def closing(conn, protocol):
        read_request(conn, protocol)
        protocol.send_close(1001, "going away for maintenance")
        conn.sendall(b"".join(protocol.data_to_send()))

    with websocket_peer(closing) as url:
        with RemoteAgent(url, token="", token_store=token_store, recorder=recorder) as agent:
            with pytest.raises(ConnectionLostError) as caught:
                agent.run("anything")
    assert "1001" in str(caught.value) and "maintenance" in str(caught.value)


def test_a_command_inside_an_open_stream_is_refused_not_deadlocked(agent, recorder):
    frames = agent.stream("long_job", ["--steps", "3", "--interval", "0.01"])
    next(frames)
    with pytest.raises(RuntimeError, match="still streaming"):
        agent.run("echo")
    frames.close()
    assert agent.run("echo", ["after"]) == {"args": ["after"]}
    assert [r.result_code for r in recorder.records] == ["CLIENT_ERROR", "STREAM_CLOSED", "OK"]


def test_commands_from_several_threads_take_turns(agent, recorder):
    results: list = []

    def work(n: int) -> None:
        results.append(agent.run("echo", [str(n)]))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(r["args"][0] for r in results) == [str(n) for n in range(8)]
    assert [r.result_code for r in recorder.records] == ["OK"] * 8


def test_the_blocking_face_does_not_load_the_asyncio_agent(world, token):
    code = (
        "import sys\n"
        "from procedura_sdk import RemoteAgent\n"
        f"with RemoteAgent({world.url!r}, token={token!r}, record=False) as agent:\n"
        "    assert agent.run('echo', ['x']) == {'args': ['x']}\n"
        "assert 'procedura_sdk.agent.async_agent' not in sys.modules\n"
        "assert 'procedura_sdk.agent.channel' not in sys.modules\n"
        "assert 'asyncio' not in sys.modules, 'asyncio loaded'\n"
        "assert 'ssl' not in sys.modules, 'ssl loaded for ws://'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode()


# -- the asyncio face names connection failures the same way ---------------------------------


@pytest.mark.parametrize(
    ("reply", "reason", "shown"),
    [
        (None, "refused", "running"),
        (b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", "handshake", "404"),
    ],
)
def test_async_face_names_connection_failures_like_the_blocking_one(
    reply, reason, shown, recorder, token_store, tcp_server, unused_port
):
    import asyncio

    async def attempt(url: str) -> ConnectionFailedError:
        agent = AsyncRemoteAgent(url, token="", token_store=token_store, recorder=recorder)
        async with agent:
            with pytest.raises(ConnectionFailedError) as caught:
                await agent.run("echo")
        return caught.value

    if reply is None:
        error = asyncio.run(attempt(f"ws://127.0.0.1:{unused_port}"))
    else:
        with tcp_server(reply) as port:
            error = asyncio.run(attempt(f"ws://127.0.0.1:{port}"))
    assert error.reason == reason and shown in str(error)
    assert recorder.only.result_code == "CONNECTION_FAILED"
