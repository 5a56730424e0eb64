"""The exceptions of the Procedura SDK: one type per kind of failure, each saying what to do.

Everything the agent raises on purpose derives from :class:`ProceduraError`, so
``except ProceduraError`` catches every command failure and nothing else. No
message ever contains a token or a credential.
"""

from __future__ import annotations

from typing import Any

EMPTY_WORLD_CODE = "EMPTY_WORLD"
EMPTY_WORLD_MESSAGE = "World not initialized: entities is empty"


class ProceduraError(Exception):
    """Base of every failure the SDK reports."""

    #: The ``result_code`` the failure is recorded under.
    code: str = "CLIENT_ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ServerError(ProceduraError):
    """The server answered a request with ``"status": "error"``.

    ``frame`` is the whole error frame as received: it may carry context beyond
    the message, e.g. ``coord``.
    """

    def __init__(self, frame: dict[str, Any], *, cmd: str | None = None) -> None:
        self.frame = frame
        self.cmd = cmd
        self.code = _frame_code(frame)
        server_message = str(frame.get("message") or "the server gave no message")
        where = f"'{cmd}' failed on the server" if cmd else "The server reported an error"
        super().__init__(f"{where} ({self.code}): {server_message}")
        # The server's own words, without our framing: what a CLI prints.
        self.message = server_message


class RequestTimeoutError(ProceduraError):
    """No answer within the allowed time; see :class:`AckTimeoutError` and :class:`FinalTimeoutError`."""

    phase = "answer"

    def __init__(
        self,
        *,
        cmd: str,
        msg_id: str,
        timeout: float,
        job_id: str | None = None,
        hint: str = "",
    ) -> None:
        self.cmd = cmd
        self.msg_id = msg_id
        self.timeout = timeout
        self.job_id = job_id
        job = f", job {job_id}" if job_id else ""
        super().__init__(
            f"No {self.phase} for '{cmd}' (request {msg_id}{job}) within {timeout:g} s. {hint}".rstrip()
        )


class AckTimeoutError(RequestTimeoutError):
    """The server did not acknowledge the request in time (``ack_timeout``)."""

    code = "ACK_TIMEOUT"
    phase = "ack"

    def __init__(self, *, cmd: str, msg_id: str, timeout: float) -> None:
        super().__init__(
            cmd=cmd,
            msg_id=msg_id,
            timeout=timeout,
            hint="Check that the URL points at a Procedura server and that it is not "
            "overloaded; retry, or pass a larger ack_timeout.",
        )


class FinalTimeoutError(RequestTimeoutError):
    """The request was accepted but its final answer did not come in time (``final_timeout``)."""

    code = "FINAL_TIMEOUT"
    phase = "final answer"

    def __init__(
        self, *, cmd: str, msg_id: str, timeout: float, job_id: str | None = None
    ) -> None:
        super().__init__(
            cmd=cmd,
            msg_id=msg_id,
            timeout=timeout,
            job_id=job_id,
            hint="The job may still be running on the server; pass a larger final_timeout "
            "for long jobs, or use stream() to follow its progress.",
        )


class ConnectionFailedError(ProceduraError):
    """The connection could not be opened.

    ``reason`` classifies it: ``"refused"``, ``"dns"``, ``"tls"``, ``"handshake"``,
    ``"timeout"`` or ``"network"``; ``why`` is the cause in words (without the
    hint the message adds), for callers that phrase their own advice.
    """

    code = "CONNECTION_FAILED"

    def __init__(self, message: str, *, url: str, reason: str, why: str = "") -> None:
        self.url = url
        self.reason = reason
        self.why = why
        super().__init__(message)


class ConnectionLostError(ProceduraError):
    """The connection closed while a request was waiting for its answer."""

    code = "CONNECTION_LOST"

    def __init__(self, message: str, *, job_id: str | None = None) -> None:
        self.job_id = job_id
        super().__init__(message)


class ProtocolViolationError(ProceduraError):
    """The server sent something the protocol does not allow (a malformed frame, an oversized message)."""

    code = "PROTOCOL_VIOLATION"

    def __init__(self, message: str, *, frame: Any = None, code: str | None = None) -> None:
        self.frame = frame
        if code is not None:
            self.code = code
        super().__init__(message)


class AuthenticationError(ProceduraError):
    """The server refused who we are: login refused, no token, bad or expired token.

    ``frame`` is the server's error frame when there was one (else ``None``).
    """

    code = "AUTH_FAILED"

    def __init__(
        self, message: str, *, code: str | None = None, frame: dict[str, Any] | None = None
    ) -> None:
        self.frame = frame
        if code is not None:
            self.code = code
        super().__init__(message)


class EmptyWorldError(ProceduraError):
    """``worldstate_snapshot`` finished but its ``entities`` is empty: the world was never initialised.

    ``result`` is the snapshot as received.
    """

    code = EMPTY_WORLD_CODE

    def __init__(self, result: Any) -> None:
        self.result = result
        super().__init__(
            f"{EMPTY_WORLD_MESSAGE}. Initialise the world first (e.g. run init_character), "
            "then take the snapshot again."
        )
        self.message = EMPTY_WORLD_MESSAGE


def _frame_code(frame: dict[str, Any]) -> str:
    code = frame.get("code")
    return code if isinstance(code, str) and code else "SERVER_ERROR"


__all__ = [
    "EMPTY_WORLD_CODE",
    "EMPTY_WORLD_MESSAGE",
    "AckTimeoutError",
    "AuthenticationError",
    "ConnectionFailedError",
    "ConnectionLostError",
    "EmptyWorldError",
    "FinalTimeoutError",
    "ProceduraError",
    "ProtocolViolationError",
    "RequestTimeoutError",
    "ServerError",
]
