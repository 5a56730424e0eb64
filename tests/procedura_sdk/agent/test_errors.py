"""The exception types: hierarchy, attributes, and messages that say what to do."""

from __future__ import annotations

import pytest
from procedura_sdk.errors import (
    AckTimeoutError,
    AuthenticationError,
    ConnectionFailedError,
    ConnectionLostError,
    EmptyWorldError,
    FinalTimeoutError,
    ProceduraError,
    ProtocolViolationError,
    RequestTimeoutError,
    ServerError,
)


def test_server_error_keeps_whole_frame():
    frame = {"status": "error", "code": "NO_GLYPH", "message": "No glyph here.", "coord": [1, 2, 0]}
    err = ServerError(frame, cmd="place")
    assert err.frame is frame and err.code == "NO_GLYPH" and err.message == "No glyph here."
    assert "place" in str(err) and "NO_GLYPH" in str(err)


def test_server_error_without_code():
    err = ServerError({"status": "error"})
    assert err.code == "SERVER_ERROR" and err.message


def test_timeouts_share_a_base_and_codes():
    ack = AckTimeoutError(cmd="echo", msg_id="abcd0123", timeout=10)
    final = FinalTimeoutError(cmd="echo", msg_id="abcd0123", timeout=600, job_id="j9")
    assert isinstance(ack, RequestTimeoutError) and isinstance(final, RequestTimeoutError)
    assert ack.code == "ACK_TIMEOUT" and final.code == "FINAL_TIMEOUT"
    assert "ack_timeout" in str(ack) and "final_timeout" in str(final) and "j9" in str(final)


@pytest.mark.parametrize(
    "err",
    [
        ServerError({"status": "error"}),
        AckTimeoutError(cmd="c", msg_id="m", timeout=1),
        FinalTimeoutError(cmd="c", msg_id="m", timeout=1),
        ConnectionFailedError("x", url="ws://h", reason="refused"),
        ConnectionLostError("x"),
        ProtocolViolationError("x"),
        AuthenticationError("x"),
        EmptyWorldError({"entities": {}}),
    ],
)
def test_every_error_is_a_procedura_error_with_a_code(err):
    assert isinstance(err, ProceduraError)
    assert isinstance(err.code, str) and err.code


def test_empty_world_error():
    err = EmptyWorldError({"entities": {}, "meta": {"version": 3}})
    assert err.code == "EMPTY_WORLD"
    assert err.message == "World not initialized: entities is empty"
    assert err.result == {"entities": {}, "meta": {"version": 3}}


def test_codes_can_be_specialised():
    assert ProtocolViolationError("big", code="MESSAGE_TOO_BIG").code == "MESSAGE_TOO_BIG"
    assert ProtocolViolationError("x").code == "PROTOCOL_VIOLATION"
    assert AuthenticationError("x", code="AUTH_REQUIRED").code == "AUTH_REQUIRED"
    assert ConnectionFailedError("x", url="u", reason="tls").reason == "tls"
