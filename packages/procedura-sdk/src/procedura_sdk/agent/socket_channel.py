"""The blocking face's one connection: a socket driven through websockets' sans-I/O client protocol.

No event loop and no threads: the calling thread writes the request, then
reads the socket with a timeout until a message arrives or a deadline passes.
The opening handshake is :mod:`.handshake`; framing, masking, compression,
answering the server's pings and the closing handshake are websockets' sans-I/O
:class:`~websockets.protocol.Protocol`. This module adds the socket, the
reassembly of fragmented messages, and keepalive.

Keepalive: while a command waits, a ping goes out every ``ping_interval``
seconds, and a pong that has not come ``ping_timeout`` seconds later ends the
connection (the command fails with ConnectionLostError instead of waiting out
a 600-second deadline on a dead peer). Between commands nothing reads the
socket, so a connection idle for longer than ``ping_interval`` is checked with
a ping before it carries a request. A Ctrl-C in the middle of reading or
writing drops the connection, which may hold half a frame; the next command
opens a new one.
"""

from __future__ import annotations

import base64
import logging
import os
import socket
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from ..errors import ConnectionLostError
from .connection import (
    ConnectionEnded,
    ConnectionOptions,
    WireLogger,
    ca_bundle_failure,
    describe_close,
    handshake_options,
    opening_failure,
    ssl_context,
)

logger = logging.getLogger("procedura_sdk.agent")

# How much is read from the socket at a time.
READ_SIZE = 256 * 1024

# The longest a check of an idle connection waits for its pong.
IDLE_CHECK_TIMEOUT = 10.0

TIMEOUT = object()

# Frame opcodes (RFC 6455, section 5.2), as websockets' Opcode values compare.
OP_CONT, OP_TEXT, OP_BINARY, OP_PONG = 0x0, 0x1, 0x2, 0xA


class SocketChannel:
    """One WebSocket to ``url``, carrying ``token`` (if any); ``on_connecting`` is told before each opening."""

    def __init__(
        self,
        url: str,
        shown_url: str,
        token: str | None,
        options: ConnectionOptions,
        on_connecting: Callable[[], None],
    ) -> None:
        self.url = url
        self.shown_url = shown_url
        self.token = token
        self.options = options
        self.wire_logger = WireLogger()
        self._on_connecting = on_connecting
        self._sock: socket.socket | None = None
        self._protocol: Any = None
        self._ended: ConnectionEnded | None = None
        self._messages: deque[str | bytes] = deque()
        self._fragments: list[bytes] = []
        self._fragments_text = False
        self._last_used = 0.0
        self._last_ping = 0.0
        self._ping_payload: bytes | None = None
        # What a read that found no data raises (TLS adds its own, see _handshake).
        self._nothing_yet: tuple[type[BaseException], ...] = (TimeoutError, BlockingIOError)

    @property
    def connected(self) -> bool:
        return self._sock is not None and self._ended is None

    def touch(self) -> None:
        """Note that the connection just carried a command (for the idle check)."""
        self._last_used = time.monotonic()

    # Sending ------------------------------------------------------------------------

    def send(self, request: str) -> None:
        """Send on the open connection, opening it first if needed; one retry on a stale one."""
        reused = self.connected
        self.open()
        try:
            self._send_text(request)
        except ConnectionError as exc:
            if not reused:
                raise ConnectionLostError(
                    f"The connection to {self.shown_url} closed before the request could be "
                    f"sent: {describe_close(exc)}. Try again."
                ) from None
            logger.info(
                "connection to %s closed while idle (%s); retrying on a new connection",
                self.shown_url, describe_close(exc),
            )
            self.close()
            self.open()
            self._send_text(request)

    def _send_text(self, text: str) -> None:
        if self._ended is not None:
            raise self._ended
        self._protocol.send_text(text.encode("utf-8"))
        self._flush()
        if self._ended is not None:
            raise self._ended

    def _flush(self) -> None:
        """Write what the protocol has queued; a failure ends the connection."""
        sock = self._sock
        if sock is None:
            return
        try:
            sock.settimeout(self._write_timeout())
            for data in self._protocol.data_to_send():
                if data:
                    sock.sendall(data)
                else:  # the protocol's end of stream: half-close
                    sock.shutdown(socket.SHUT_WR)
        except OSError as exc:
            self._end(ConnectionEnded(f"writing to the connection failed ({_os_reason(exc)})"))
        except BaseException:
            self._abandon()  # Ctrl-C halfway through a frame: nothing more can follow it
            raise

    def _write_timeout(self) -> float:
        return self.options.ping_timeout or 60.0

    # Receiving ----------------------------------------------------------------------

    def next_message(self, deadline: float) -> Any:
        """The next message, :data:`TIMEOUT` once ``time.monotonic()`` passes ``deadline``,
        or the exception that says how the connection ended, raised."""
        while True:
            if self._messages:
                return self._messages.popleft()
            if self._ended is not None:
                raise self._ended
            if self._sock is None:
                raise ConnectionEnded("the connection is closed")
            now = time.monotonic()
            if now >= deadline:
                return TIMEOUT
            wait = deadline - now
            keepalive = self._keepalive(now)
            if self._sock is None:  # the keepalive gave up on the connection
                continue
            if keepalive is not None:
                wait = min(wait, keepalive)
            self._read(wait)

    def _keepalive(self, now: float) -> float | None:
        """Ping when one is due, end the connection when a pong is overdue; how long until the next check."""
        interval, patience = self.options.ping_interval, self.options.ping_timeout
        if interval is None:
            return None
        if self._ping_payload is not None:
            if patience is None:
                return None
            overdue = self._last_ping + patience - now
            if overdue <= 0:
                self._fail(1011, f"no answer to a keepalive ping within {patience:g} s")
                return 0.0
            return overdue
        due = self._last_ping + interval - now
        if due <= 0:
            self._ping(now)
            return patience if patience is not None else interval
        return due

    def _ping(self, now: float) -> None:
        self._ping_payload = os.urandom(4)
        self._last_ping = now
        self._protocol.send_ping(self._ping_payload)
        self._flush()

    def _read(self, timeout: float) -> None:
        """Wait up to ``timeout`` for data and take in whatever it completes."""
        sock = self._sock
        assert sock is not None
        try:
            sock.settimeout(max(timeout, 0.0))
            data = sock.recv(READ_SIZE)
        except self._nothing_yet:
            return
        except OSError as exc:
            self._end(ConnectionEnded(f"reading from the connection failed ({_os_reason(exc)})"))
            return
        except BaseException:
            self._abandon()
            raise
        try:
            if data:
                self._protocol.receive_data(data)
            else:
                self._protocol.receive_eof()
            self._take_frames(self._protocol.events_received())
        except BaseException:
            self._abandon()
            raise

    def _take_frames(self, frames: list[Any]) -> None:
        """Assemble messages from ``frames``, note pongs, send what the protocol answered."""
        protocol = self._protocol
        for frame in frames:
            opcode = frame.opcode
            if opcode == OP_TEXT or opcode == OP_BINARY:
                self._fragments_text = opcode == OP_TEXT
                self._fragments = [frame.data]
            elif opcode == OP_CONT:
                self._fragments.append(frame.data)
            elif opcode == OP_PONG:
                if frame.data == self._ping_payload:
                    self._ping_payload = None
                continue
            else:  # PING (answered by the protocol) and CLOSE (see below)
                continue
            if frame.fin:
                data = self._fragments[0] if len(self._fragments) == 1 else b"".join(self._fragments)
                self._fragments = []
                if self._fragments_text:
                    try:
                        self._messages.append(data.decode("utf-8"))
                        continue
                    except UnicodeDecodeError:
                        pass  # handed over as bytes: the exchange calls it a protocol violation
                self._messages.append(data)
        self._flush()  # pongs, the echo of a close frame
        # A close frame (received or sent) or a broken stream: the connection is over.
        if protocol.close_expected() or protocol.parser_exc is not None:
            self._end(self._close_exception())

    def _close_exception(self) -> ConnectionEnded:
        from websockets.exceptions import ConnectionClosedError

        protocol = self._protocol
        rcvd, sent = protocol.close_rcvd, protocol.close_sent
        exc = ConnectionEnded(
            describe_close(ConnectionClosedError(rcvd, sent)), rcvd=rcvd, sent=sent
        )
        exc.__cause__ = protocol.parser_exc
        return exc

    # Opening --------------------------------------------------------------------------

    def open(self) -> None:
        """Make sure the connection is open: the current one if it is alive, else a new one."""
        if self.connected:
            self._read(0.0)  # what arrived while idle: a close frame, the server's pings
            if self.connected:
                if not self._idle_too_long() or self._answers_ping():
                    return
                logger.info(
                    "the connection to %s, idle for %.0f s, does not answer a ping; reconnecting",
                    self.shown_url, time.monotonic() - self._last_used,
                )
        self.close()
        self._on_connecting()
        began = time.monotonic()
        if self.token:
            self.wire_logger.hide(self.token)
        self._handshake()
        self.touch()
        self._last_ping = time.monotonic()
        logger.info(
            "connected to %s in %.1f ms (%s)",
            self.shown_url,
            (time.monotonic() - began) * 1000.0,
            "with a session token" if self.token else "without a token",
        )

    def open_for_login(self) -> None:
        """Open with the token, or without one if the server refuses it (a stale saved token)."""
        from ..errors import AuthenticationError

        if self.connected or not self.token:
            return
        try:
            self.open()
        except AuthenticationError:
            logger.info("the saved token was refused; logging in over an anonymous connection")
            self.token = None
            self.open()

    def _handshake(self) -> None:
        """Connect, run the WebSocket handshake, and keep the socket and its protocol."""
        from websockets.uri import parse_uri

        from ..__about__ import __version__
        from .handshake import Handshake, open_protocol

        options = self.options
        where = parse_uri(self.url)
        context = None
        if where.secure:
            import ssl

            try:
                context = ssl_context(options.ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise ca_bundle_failure(exc, self.url, self.token) from None
            self._nothing_yet = (TimeoutError, BlockingIOError, ssl.SSLWantReadError)
        subprotocols, headers = handshake_options(self.token)
        if where.user_info:
            headers = {"Authorization": _basic_auth(*where.user_info), **headers}
        handshake = Handshake(
            where.host,
            where.port,
            where.resource_name,
            secure=where.secure,
            subprotocols=subprotocols,
            headers=headers,
            user_agent=f"procedura-sdk/{__version__}",
        )
        deadline = time.monotonic() + options.open_timeout
        sock: socket.socket | None = None
        try:
            sock = socket.create_connection((where.host, where.port), timeout=options.open_timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if context is not None:
                sock.settimeout(_remaining(deadline))
                sock = context.wrap_socket(sock, server_hostname=where.host)
            if self.wire_logger.isEnabledFor(logging.DEBUG):  # secret values are hidden by it
                self.wire_logger.debug("> GET %s HTTP/1.1", where.resource_name)
                for name, value in handshake.headers:
                    self.wire_logger.debug("> %s: %s", name, value)
            sock.sendall(handshake.request)
            answer = None
            while answer is None:
                sock.settimeout(_remaining(deadline))
                answer = handshake.receive(sock.recv(READ_SIZE))
        except BaseException as exc:
            if sock is not None:
                sock.close()
            failure = None
            if isinstance(exc, Exception):
                failure = opening_failure(exc, self.url, self.token, options)
            if failure is None:
                raise
            raise failure from None
        extensions, rest = answer
        self.wire_logger.debug("< HTTP/1.1 101 Switching Protocols")
        protocol = open_protocol(extensions, max_size=options.max_size, logger=self.wire_logger)
        self._sock, self._protocol, self._ended = sock, protocol, None
        self._messages.clear()
        self._fragments = []
        self._ping_payload = None
        if rest:  # frames that came with the handshake's answer
            protocol.receive_data(rest)
            self._take_frames(protocol.events_received())

    def _idle_too_long(self) -> bool:
        interval = self.options.ping_interval
        return interval is not None and time.monotonic() - self._last_used > interval

    def _answers_ping(self) -> bool:
        self._ping(time.monotonic())
        patience = min(self.options.ping_timeout or IDLE_CHECK_TIMEOUT, IDLE_CHECK_TIMEOUT)
        deadline = time.monotonic() + patience
        while self._ping_payload is not None and self.connected:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._read(remaining)
        if not self.connected:
            return False
        self.touch()
        return True

    # Closing ----------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection: a closing handshake when it is still open, bounded by close_timeout."""
        sock, protocol = self._sock, self._protocol
        if sock is None:
            self._release()
            return
        try:
            if self._ended is None:
                from websockets.protocol import State

                if protocol.state is State.OPEN:
                    protocol.send_close(1000)
                    self._flush()
                deadline = time.monotonic() + self.options.close_timeout
                while self._ended is None and self._sock is not None:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._read(remaining)
        except Exception as exc:  # noqa: BLE001 - closing is best effort, but not silent
            logger.debug("error while closing the connection to %s: %s", self.shown_url, exc)
        finally:
            self._release()

    def _fail(self, code: int, reason: str) -> None:
        """End the connection on our side: a close frame if it can still be sent, then the socket."""
        from websockets.protocol import State

        if self._protocol is not None and self._protocol.state is State.OPEN:
            self._protocol.fail(code, reason)
            self._flush()
        self._end(ConnectionEnded(reason))

    def _end(self, exc: ConnectionEnded) -> None:
        """The connection is over; ``exc`` is what the next wait raises."""
        if self._ended is None:
            self._ended = exc
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()

    def _abandon(self) -> None:
        self._end(ConnectionEnded("the connection was dropped after an interruption"))

    def _release(self) -> None:
        sock, self._sock = self._sock, None
        self._protocol = None
        self._ended = None
        self._messages.clear()
        self._fragments = []
        if sock is not None:
            sock.close()


def _remaining(deadline: float) -> float:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError("the opening handshake took too long")
    return remaining


def _basic_auth(user: str, password: str) -> str:
    """The Authorization header for credentials in the URL's userinfo (``ws://user:pass@host``)."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _os_reason(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__
