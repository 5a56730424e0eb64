"""Opening the one WebSocket an agent talks over, and naming what went wrong when it fails.

websockets is imported here, lazily, so that importing :mod:`procedura_sdk` (and
the CLI's ``--help``) does not pay for it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import ssl
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


def ssl_context(ca_file: str | None) -> ssl.SSLContext:
    """A verifying client context: the system's CAs (``SSL_CERT_FILE`` included) plus ``ca_file``."""
    context = ssl.create_default_context()
    ca_file = ca_file or os.environ.get(CA_FILE_ENV) or None
    if ca_file:
        context.load_verify_locations(cafile=os.path.expanduser(ca_file))
    return context


async def open_websocket(
    url: str, token: str | None, options: ConnectionOptions, wire_logger: WireLogger | None = None
) -> Any:
    """Open the connection, sending ``token`` as subprotocol and Bearer header when there is one.

    Raises :class:`ConnectionFailedError` (``reason`` refused, dns, tls,
    handshake, timeout or network) or :class:`AuthenticationError` (HTTP 401/403).
    """
    from websockets.client import connect
    from websockets.exceptions import InvalidHandshake, InvalidStatusCode

    shown = display_url(url)
    secure = urlsplit(url).scheme == "wss"
    kwargs: dict[str, Any] = {
        "max_size": options.max_size,
        "open_timeout": options.open_timeout,
        "ping_interval": options.ping_interval,
        "ping_timeout": options.ping_timeout,
        "close_timeout": options.close_timeout,
    }
    if wire_logger is not None:
        kwargs["logger"] = wire_logger
    if token:
        kwargs["subprotocols"] = [token]
        kwargs["extra_headers"] = {"Authorization": f"Bearer {token}"}

    def failed(why: str, reason: str, hint: str) -> ConnectionFailedError:
        return ConnectionFailedError(
            _scrub(f"Could not connect to {shown}: {why}. {hint}", token),
            url=shown,
            reason=reason,
            why=_scrub(why, token),
        )

    try:
        if secure:
            try:
                kwargs["ssl"] = ssl_context(options.ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise failed(
                    f"cannot load the CA bundle ({exc})", "tls",
                    f"Check the path given as ca_file or ${CA_FILE_ENV}.",
                ) from None
        return await connect(url, **kwargs)
    except InvalidStatusCode as exc:
        if exc.status_code in (401, 403):
            raise AuthenticationError(
                f"{shown} refused the session token (HTTP {exc.status_code}): it is missing, "
                "invalid or expired. Log in again (login_password) to get a new one.",
                code="AUTH_FAILED",
            ) from None
        raise failed(
            f"the server answered the WebSocket handshake with HTTP {exc.status_code}",
            "handshake", "Check that the URL points at a Procedura server.",
        ) from None
    except ssl.SSLError as exc:
        raise failed(
            f"TLS failed ({exc.reason or exc})", "tls",
            f"If the server uses a private CA, pass its bundle as ca_file or ${CA_FILE_ENV}.",
        ) from None
    except InvalidHandshake as exc:
        raise failed(
            f"the WebSocket handshake failed ({exc})", "handshake",
            "Check that the URL points at a Procedura server (and ws:// versus wss://).",
        ) from None
    except socket.gaierror as exc:
        raise failed(
            f"the host name does not resolve ({exc.strerror or exc})", "dns",
            "Check the host name in the URL.",
        ) from None
    except ConnectionRefusedError:
        raise failed(
            "connection refused", "refused", "Check the port and that the server is running."
        ) from None
    except (asyncio.TimeoutError, TimeoutError):
        raise failed(
            f"no answer within {options.open_timeout:g} s", "timeout",
            "Check the address, your network, or raise open_timeout.",
        ) from None
    except OSError as exc:
        raise failed(
            f"{exc.strerror or exc}", "network", "Check the address and your network."
        ) from None


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
    if not hasattr(exc, "rcvd"):
        return str(exc) or type(exc).__name__
    rcvd = getattr(exc, "rcvd", None)
    if rcvd is not None:
        reason = f" ({rcvd.reason})" if rcvd.reason else ""
        return f"the server closed it with code {rcvd.code}{reason}"
    return "it closed without a closing handshake"


def _scrub(text: str, token: str | None) -> str:
    return Redactor([token], min_secret_length=1).redact_text(text)
