"""Opening the one WebSocket an agent talks over, and naming what went wrong when it fails.

websockets is imported here, lazily, so that importing :mod:`procedura_sdk` (and
the CLI's ``--help``) does not pay for it.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..errors import AuthenticationError, ConnectionFailedError, ProtocolViolationError
from ..observability.redaction import REDACTED, Redactor, default_redactor

CA_FILE_ENV = "PROCEDURA_CA_FILE"
DEFAULT_MAX_SIZE = 8 * 1024 * 1024

# Close code sent when a message is larger than max_size (RFC 6455).
MESSAGE_TOO_BIG = 1009

logger = logging.getLogger("procedura_sdk.agent")


class ConnectionEnded(ConnectionError):
    """A connection is over; the message says how.

    ``rcvd`` and ``sent`` are the close frames received and sent, when there
    were any (as on websockets' ``ConnectionClosed``).
    """

    def __init__(self, message: str, *, rcvd: Any = None, sent: Any = None) -> None:
        super().__init__(message)
        self.rcvd = rcvd
        self.sent = sent


@dataclass(frozen=True)
class ConnectionOptions:
    """How to open the connection.

    Keepalive: a ping every ``ping_interval`` seconds keeps idle-timeout proxies
    (commonly 60 s) from cutting a connection that waits 600 s for a final
    frame; a pong may take ``ping_timeout`` seconds before the connection is
    declared dead, which leaves room for a busy server.
    """

    max_size: int = DEFAULT_MAX_SIZE
    open_timeout: float = 5.0
    ping_interval: float | None = 20.0
    ping_timeout: float | None = 60.0
    # How long a closing connection waits for the peer; also bounds the clean-up after
    # an open_timeout, which websockets' default (10 s) would stretch far beyond it.
    close_timeout: float = 1.0
    ca_file: str | None = None


class WireLogger(logging.LoggerAdapter):
    """websockets' own logger, with secrets taken out of what it logs at DEBUG level.

    websockets logs the handshake headers (the token travels in two of them) and
    the frames (a login request holds the credential, its answer the new token).
    Known secrets are replaced wherever they appear; the two headers and any
    ``session_token`` value are replaced even when not known yet.
    """

    # The token travels as the subprotocol too; that header is secret here, not in general.
    _SECRET_HEADERS = frozenset({"authorization", "sec-websocket-protocol"})

    def __init__(self, name: str = "websockets.client") -> None:
        super().__init__(logging.getLogger(name), {})
        self.redactor = Redactor(min_secret_length=4)  # a login's password may be short

    def hide(self, secret: str | None) -> None:
        """Hide ``secret`` from everything logged from now on."""
        self.redactor.add_secret(secret)

    def log(self, level: int, msg: Any, *args: Any, **kwargs: Any) -> None:
        if not self.isEnabledFor(level):
            return
        if (
            len(args) == 2
            and isinstance(args[0], str)
            and args[0].lower() in self._SECRET_HEADERS
        ):
            args = (args[0], REDACTED)
        else:
            args = tuple(self._scrub(arg) for arg in args)
        self.logger.log(level, self._scrub(msg), *args, **kwargs)

    def _scrub(self, value: Any) -> Any:
        if isinstance(value, (int, float)) or value is None:
            return value
        text = str(value)
        cleaned = self.redactor.redact_text(text)
        return value if cleaned == text else cleaned


def check_url(url: str) -> str:
    """``url`` if it is a ``ws://`` or ``wss://`` URL with a host, else ValueError."""
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ValueError(f"the server URL must look like ws://HOST:PORT or wss://HOST:PORT, not {display_url(url)!r}")
    return url


def display_url(url: str) -> str:
    """``url`` with any password in its userinfo replaced, for logs and messages."""
    return default_redactor.redact_text(url)


def ssl_context(ca_file: str | None) -> Any:
    """A verifying client context: the system's CAs (``SSL_CERT_FILE`` included) plus ``ca_file``."""
    import ssl

    context = ssl.create_default_context()
    ca_file = ca_file or os.environ.get(CA_FILE_ENV) or None
    if ca_file:
        context.load_verify_locations(cafile=os.path.expanduser(ca_file))
    return context


def handshake_options(token: str | None) -> tuple[list[str] | None, dict[str, str]]:
    """What the handshake carries: the token as the only subprotocol and as a Bearer header."""
    if not token:
        return None, {}
    return [token], {"Authorization": f"Bearer {token}"}


def opening_failure(
    exc: BaseException, url: str, token: str | None, options: ConnectionOptions
) -> Exception | None:
    """The agent's error for ``exc``, raised while opening a connection to ``url``; None if not ours.

    Shared by both faces: :class:`ConnectionFailedError` with a ``reason``
    (refused, dns, tls, handshake, timeout or network), or
    :class:`AuthenticationError` when the handshake was answered with HTTP 401/403.
    """
    from websockets.exceptions import InvalidHandshake

    shown = display_url(url)

    def failed(why: str, reason: str, hint: str) -> ConnectionFailedError:
        return ConnectionFailedError(
            _scrub(f"Could not connect to {shown}: {why}. {hint}", token),
            url=shown,
            reason=reason,
            why=_scrub(why, token),
        )

    status = _handshake_status(exc)
    if status in (401, 403):
        return AuthenticationError(
            f"{shown} refused the session token (HTTP {status}): it is missing, "
            "invalid or expired. Log in again (login_password) to get a new one.",
            code="AUTH_FAILED",
        )
    if status is not None:
        return failed(
            f"the server answered the WebSocket handshake with HTTP {status}",
            "handshake", "Check that the URL points at a Procedura server.",
        )
    ssl = sys.modules.get("ssl")  # not loaded: no TLS was attempted
    if ssl is not None and isinstance(exc, ssl.SSLError):
        return failed(
            f"TLS failed ({exc.reason or exc})", "tls",
            f"If the server uses a private CA, pass its bundle as ca_file or ${CA_FILE_ENV}.",
        )
    if isinstance(exc, InvalidHandshake):
        return failed(
            f"the WebSocket handshake failed ({exc})", "handshake",
            "Check that the URL points at a Procedura server (and ws:// versus wss://).",
        )
    if isinstance(exc, socket.gaierror):
        return failed(
            f"the host name does not resolve ({exc.strerror or exc})", "dns",
            "Check the host name in the URL.",
        )
    if isinstance(exc, ConnectionRefusedError):
        return failed(
            "connection refused", "refused", "Check the port and that the server is running."
        )
    if isinstance(exc, TimeoutError):
        return failed(
            f"no answer within {options.open_timeout:g} s", "timeout",
            "Check the address, your network, or raise open_timeout.",
        )
    if isinstance(exc, OSError):
        return failed(f"{exc.strerror or exc}", "network", "Check the address and your network.")
    return None


def ca_bundle_failure(exc: BaseException, url: str, token: str | None) -> ConnectionFailedError:
    """The error for a CA bundle that cannot be loaded."""
    why = f"cannot load the CA bundle ({exc})"
    shown = display_url(url)
    return ConnectionFailedError(
        _scrub(
            f"Could not connect to {shown}: {why}. Check the path given as ca_file or "
            f"${CA_FILE_ENV}.",
            token,
        ),
        url=shown,
        reason="tls",
        why=_scrub(why, token),
    )


def _handshake_status(exc: BaseException) -> int | None:
    """The HTTP status of a refused handshake, from either of websockets' two exception types."""
    status = getattr(exc, "status_code", None)  # InvalidStatusCode (the asyncio client)
    if status is None:
        response = getattr(exc, "response", None)  # InvalidStatus (the sans-I/O client)
        status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


async def open_websocket(
    url: str, token: str | None, options: ConnectionOptions, wire_logger: WireLogger | None = None
) -> Any:
    """Open the connection with websockets' asyncio client (see :func:`opening_failure`)."""
    import asyncio

    from websockets.client import connect

    kwargs: dict[str, Any] = {
        "max_size": options.max_size,
        "open_timeout": options.open_timeout,
        "ping_interval": options.ping_interval,
        "ping_timeout": options.ping_timeout,
        "close_timeout": options.close_timeout,
    }
    if wire_logger is not None:
        kwargs["logger"] = wire_logger
    subprotocols, headers = handshake_options(token)
    if subprotocols:
        kwargs["subprotocols"] = subprotocols
        kwargs["extra_headers"] = headers
    if urlsplit(url).scheme == "wss":
        import ssl

        try:
            kwargs["ssl"] = ssl_context(options.ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise ca_bundle_failure(exc, url, token) from None
    try:
        return await connect(url, **kwargs)
    except Exception as exc:
        if isinstance(exc, asyncio.TimeoutError):  # not yet the built-in TimeoutError on 3.10
            exc = TimeoutError()
        failure = opening_failure(exc, url, token, options)
        if failure is None:
            raise
        raise failure from None


def closed_error(exc: BaseException, *, max_size: int) -> ProtocolViolationError | None:
    """The protocol violation behind a closed connection, if it was our refusal of an oversized message."""
    sent = getattr(exc, "sent", None)
    if sent is not None and sent.code == MESSAGE_TOO_BIG:
        return ProtocolViolationError(
            f"The server sent a message larger than max_size ({max_size} bytes); the connection "
            "was closed. Pass a larger max_size if such answers are expected.",
            code="MESSAGE_TOO_BIG",
        )
    return None


def describe_close(exc: BaseException) -> str:
    """A short account of how the connection closed, for messages."""
    if isinstance(exc, ConnectionEnded) or not hasattr(exc, "rcvd"):
        return str(exc) or type(exc).__name__
    rcvd = getattr(exc, "rcvd", None)
    if rcvd is not None:
        reason = f" ({rcvd.reason})" if rcvd.reason else ""
        return f"the server closed it with code {rcvd.code}{reason}"
    return "it closed without a closing handshake"


def _scrub(text: str, token: str | None) -> str:
    return Redactor([token], min_secret_length=1).redact_text(text)
