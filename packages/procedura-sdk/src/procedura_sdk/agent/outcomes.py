"""What a command's end means: the result (after the EMPTY_WORLD rule) or the exception to raise."""

from __future__ import annotations

from typing import Any

from ..errors import (
    AckTimeoutError,
    AuthenticationError,
    ConnectionLostError,
    EmptyWorldError,
    FinalTimeoutError,
    ProceduraError,
    ProtocolViolationError,
    ServerError,
)
from . import login as _login
from .connection import closed_error
from .protocol import Disconnected, Event, Failed, Finished, TimedOut, Violation
from .trace import CommandTrace

WORLDSTATE_MODULE = "worldstate_snapshot"

# Server error codes that mean "who you are" was refused rather than "what you asked".
AUTH_CODES = frozenset(
    {
        "AUTH_REQUIRED",
        "AUTH_FAILED",
        "AUTH_EXPIRED",
        "INVALID_TOKEN",
        "TOKEN_EXPIRED",
        "SESSION_EXPIRED",
        "UNAUTHORIZED",
        "INVALID_CREDENTIALS",
    }
)


def finished(trace: CommandTrace, final: Finished) -> Any:
    """The result, recorded as a success; EmptyWorldError for a snapshot without entities."""
    result = final.result
    if (
        trace.record.cmd == WORLDSTATE_MODULE
        and isinstance(result, dict)
        and result.get("entities") == {}
    ):
        raise EmptyWorldError(result)
    trace.succeeded(result)
    return result


def failure(
    event: Event,
    trace: CommandTrace,
    *,
    url: str,
    max_size: int,
    secrets: list[str] | None = None,
) -> ProceduraError:
    """The exception for a terminal event other than Finished (``secrets`` are scrubbed from frames)."""
    cmd = trace.record.cmd
    msg_id = trace.record.msg_id or "?"
    if isinstance(event, Failed):
        frame = _login.scrub(event.frame, secrets) if secrets else event.frame
        code = event.code
        if code in AUTH_CODES or (cmd == _login.LOGIN_MODULE and code is None):
            message = str(frame.get("message") or "no reason given")
            if cmd == _login.LOGIN_MODULE:
                hint = "Check the email and password."
            else:
                hint = "Log in (login_password) to get a valid session token."
            return AuthenticationError(
                f"{url} refused '{cmd}' ({code or 'AUTH_FAILED'}): {message}. {hint}",
                code=code or "AUTH_FAILED",
                frame=frame,
            )
        return ServerError(frame, cmd=cmd)
    if isinstance(event, TimedOut):
        if event.phase == "ack":
            return AckTimeoutError(cmd=cmd, msg_id=msg_id, timeout=trace.ack_timeout)
        return FinalTimeoutError(
            cmd=cmd, msg_id=msg_id, timeout=trace.final_timeout, job_id=trace.record.job_id
        )
    if isinstance(event, Disconnected):
        closed = trace.closed_by
        too_big = closed_error(closed, max_size=max_size) if closed else None
        if too_big is not None:
            return too_big
        job = trace.record.job_id
        if trace.record.status in ("ack", "running"):
            what = f"after the server accepted '{cmd}'" + (f" (job {job})" if job else "")
            hint = "The job may still have run on the server; check before retrying."
        else:
            what = f"before the server acknowledged '{cmd}'"
            hint = "Try again."
        return ConnectionLostError(
            f"Lost the connection to {url} {what}: {event.reason}. {hint}", job_id=job
        )
    if isinstance(event, Violation):
        return ProtocolViolationError(
            f"{url} broke the protocol while answering '{cmd}': {event.reason}. "
            "Check that the URL points at a Procedura server.",
            frame=event.frame if not isinstance(event.frame, bytes) else None,
        )
    raise AssertionError(f"not a failure: {event!r}")  # pragma: no cover
