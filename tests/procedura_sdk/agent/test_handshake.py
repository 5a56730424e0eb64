"""The client side of the opening handshake, without sockets: the request, and each check of the answer."""

from __future__ import annotations

import base64
import hashlib

import pytest
from procedura_sdk.agent.handshake import Handshake, HandshakeRefused, open_protocol
from websockets.exceptions import InvalidHandshake


def handshake(**overrides) -> Handshake:
    options = dict(secure=False, subprotocols=["tok"], headers={"Authorization": "Bearer tok"}, user_agent="t/1")
    options.update(overrides)
    return Handshake("example.org", 8080, "/ws?x=1", **options)


def answer(shake: Handshake, *extra: str, status: str = "101 Switching Protocols", accept: str | None = None) -> bytes:
    if accept is None:
        digest = hashlib.sha1(shake.key.encode() + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest()
        accept = base64.b64encode(digest).decode()
    lines = [f"HTTP/1.1 {status}", "Upgrade: websocket", "Connection: Upgrade", f"Sec-WebSocket-Accept: {accept}", *extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_the_request_carries_what_rfc_6455_asks_and_the_token():
    text = handshake().request.decode()
    assert text.startswith("GET /ws?x=1 HTTP/1.1\r\n") and text.endswith("\r\n\r\n")
    assert "Host: example.org:8080\r\n" in text and "Sec-WebSocket-Version: 13\r\n" in text
    assert "Sec-WebSocket-Protocol: tok\r\n" in text and "Authorization: Bearer tok\r\n" in text
    assert "permessage-deflate" in text
    assert "Host: example.org\r\n" in Handshake(
        "example.org", 443, "/", secure=True, subprotocols=None, headers={}, user_agent="t"
    ).request.decode()


def test_a_valid_answer_in_pieces_gives_the_extensions_and_the_bytes_after_it():
    shake = handshake()
    data = answer(shake, "Sec-WebSocket-Protocol: tok", "Sec-WebSocket-Extensions: permessage-deflate") + b"\x81\x02hi"
    assert shake.receive(data[:10]) is None
    extensions, rest = shake.receive(data[10:])
    assert [e.name for e in extensions] == ["permessage-deflate"] and rest == b"\x81\x02hi"
    protocol = open_protocol(extensions, max_size=1024, logger=None)
    protocol.receive_data(rest)
    (frame,) = protocol.events_received()
    assert frame.data == b"hi"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda s: answer(s, accept="bm90IHRoZSBrZXk="), "Sec-WebSocket-Accept"),
        (lambda s: answer(s, "Sec-WebSocket-Protocol: other"), "subprotocol"),
        (lambda s: answer(s, "Sec-WebSocket-Extensions: x-unknown"), "not offered"),
        (lambda s: b"SSH-2.0-OpenSSH\r\n\r\n", "not a valid HTTP response"),
        (lambda s: answer(s).replace(b"Upgrade: websocket", b"Upgrade: h2c"), "upgrade"),
    ],
)
def test_answers_that_are_not_a_websocket_handshake_are_refused(make, message):
    shake = handshake()
    with pytest.raises(InvalidHandshake, match=message):
        shake.receive(make(shake))


def test_a_refusal_keeps_its_status():
    shake = handshake()
    with pytest.raises(HandshakeRefused) as caught:
        shake.receive(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n")
    assert caught.value.status_code == 401


def test_a_closed_connection_or_an_endless_head_is_refused():
    with pytest.raises(InvalidHandshake, match="closed"):
        handshake().receive(b"")
    shake = handshake()
    with pytest.raises(InvalidHandshake, match="not an HTTP response"):
        for _ in range(100):
            shake.receive(b"X" * 1024)
