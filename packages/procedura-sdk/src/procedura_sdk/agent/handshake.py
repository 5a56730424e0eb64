"""The client side of the WebSocket opening handshake (RFC 6455, section 4), free of I/O.

The blocking face opens its connection with :func:`opening_request` and
:class:`ResponseReader` instead of websockets' ``ClientProtocol``, because the
module that holds ``ClientProtocol`` also loads websockets' asyncio client
(asyncio and ssl): a fifth of a short ``procedura run``. Everything after the
handshake (framing, masking, compression, pings, the closing handshake) is
websockets' sans-I/O :class:`~websockets.protocol.Protocol`, made by
:func:`open_protocol`.

What is checked in the answer: status 101, ``Upgrade: websocket``,
``Connection: upgrade``, the ``Sec-WebSocket-Accept`` key, a subprotocol only
if one was offered, and extensions only as offered (permessage-deflate).
"""

from __future__ import annotations

import base64
import hashlib
import os
from typing import Any

from websockets.exceptions import InvalidHandshake

# RFC 6455, section 1.3.
_ACCEPT_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

# An answer whose head is longer than this is not a WebSocket server's.
MAX_RESPONSE_HEAD = 64 * 1024


class HandshakeRefused(InvalidHandshake):
    """The server answered the opening handshake with an HTTP status other than 101."""

    def __init__(self, status_code: int, reason: str) -> None:
        super().__init__(f"HTTP {status_code} {reason}".strip())
        self.status_code = status_code


class Handshake:
    """One opening handshake: the request to send, then the checks of the answer."""

    def __init__(
        self,
        host: str,
        port: int,
        resource: str,
        *,
        secure: bool,
        subprotocols: list[str] | None,
        headers: dict[str, str],
        user_agent: str,
    ) -> None:
        from websockets.extensions.permessage_deflate import enable_client_permessage_deflate

        self.key = base64.b64encode(os.urandom(16)).decode()
        self.subprotocols = subprotocols
        self.extension_factories = enable_client_permessage_deflate(None)
        default_port = 443 if secure else 80
        authority = _bracketed(host) if port == default_port else f"{_bracketed(host)}:{port}"
        self.headers: list[tuple[str, str]] = [
            ("Host", authority),
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", self.key),
            ("Sec-WebSocket-Version", "13"),
            ("Sec-WebSocket-Extensions", self._offered_extensions()),
        ]
        if subprotocols:
            self.headers.append(("Sec-WebSocket-Protocol", ", ".join(subprotocols)))
        self.headers.extend(headers.items())
        self.headers.append(("User-Agent", user_agent))
        lines = [f"GET {resource} HTTP/1.1", *(f"{name}: {value}" for name, value in self.headers)]
        self.request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self._buffer = b""

    def _offered_extensions(self) -> str:
        from websockets.headers import build_extension

        return build_extension([(f.name, f.get_request_params()) for f in self.extension_factories])

    def receive(self, data: bytes) -> tuple[list[Any], bytes] | None:
        """Take bytes of the answer; once its head is complete, check it and return
        ``(extensions, rest)``: the negotiated extensions and the bytes that followed
        the head (the first frames). Raises :class:`InvalidHandshake` when refused."""
        if not data:
            raise InvalidHandshake("the server closed the connection during the handshake")
        self._buffer += data
        head, found, rest = self._buffer.partition(b"\r\n\r\n")
        if not found:
            if len(self._buffer) > MAX_RESPONSE_HEAD:
                raise InvalidHandshake("the server's answer is not an HTTP response")
            return None
        status, reason, headers = _parse_head(head)
        if status != 101:
            raise HandshakeRefused(status, reason)
        return self._check(headers), rest

    def _check(self, headers: dict[str, list[str]]) -> list[Any]:
        def one(name: str) -> str:
            values = headers.get(name, [])
            if len(values) != 1:
                raise InvalidHandshake(f"expected one {name} header, got {len(values)}")
            return values[0]

        if one("upgrade").lower() != "websocket":
            raise InvalidHandshake("the answer does not upgrade to websocket")
        if "upgrade" not in [t.strip().lower() for t in one("connection").split(",")]:
            raise InvalidHandshake("the answer's Connection header lacks upgrade")
        expected = base64.b64encode(hashlib.sha1(self.key.encode() + _ACCEPT_GUID).digest())
        if one("sec-websocket-accept").encode() != expected:
            raise InvalidHandshake("the answer's Sec-WebSocket-Accept does not match the key")
        chosen = headers.get("sec-websocket-protocol", [])
        if chosen and (len(chosen) != 1 or not self.subprotocols or chosen[0] not in self.subprotocols):
            raise InvalidHandshake("the server chose a subprotocol that was not offered")
        return self._accepted_extensions(headers.get("sec-websocket-extensions", []))

    def _accepted_extensions(self, values: list[str]) -> list[Any]:
        from websockets.exceptions import NegotiationError
        from websockets.headers import parse_extension

        accepted: list[Any] = []
        for value in values:
            for name, params in parse_extension(value):
                for factory in self.extension_factories:
                    if factory.name != name:
                        continue
                    try:
                        accepted.append(factory.process_response_params(params, accepted))
                    except NegotiationError:
                        continue
                    break
                else:
                    raise InvalidHandshake(f"the server accepted an extension not offered: {name}")
        return accepted


def open_protocol(extensions: list[Any], *, max_size: int | None, logger: Any) -> Any:
    """websockets' sans-I/O protocol for the client side of a connection just opened."""
    from websockets.protocol import Protocol, Side, State

    protocol = Protocol(Side.CLIENT, state=State.OPEN, max_size=max_size, logger=logger)
    protocol.extensions = extensions
    return protocol


def _parse_head(head: bytes) -> tuple[int, str, dict[str, list[str]]]:
    """Status, reason and headers (names lower-cased, values in order) of a response head."""
    try:
        text = head.decode("latin-1")
        status_line, *header_lines = text.split("\r\n")
        version, status, *reason = status_line.split(" ", 2)
        if not version.startswith("HTTP/1.") or not status.isdigit() or len(status) != 3:
            raise ValueError(status_line)
        headers: dict[str, list[str]] = {}
        for line in header_lines:
            name, colon, value = line.partition(":")
            if not colon or not name or name != name.strip():
                raise ValueError(line)
            headers.setdefault(name.lower(), []).append(value.strip())
    except ValueError:
        raise InvalidHandshake("the server's answer is not a valid HTTP response") from None
    return int(status), reason[0] if reason else "", headers


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host
