"""Exit codes, and the one-line message for each way a command can fail.

Every failure ends the process with one line on standard error that names what
failed and what to try, and an exit code a script can branch on. The codes are
part of the command's interface (documented in the package README): never
renumber them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from enum import IntEnum

import click


class ExitCode(IntEnum):
    OK = 0
    FAILURE = 1  # anything not listed below, e.g. a missing or damaged local store
    USAGE = 2  # click's own code for bad usage
    SERVER_ERROR = 3  # the module ran and the server answered with an error
    TIMEOUT = 4  # no ack within --ack-timeout, or no result within --final-timeout
    CONNECTION = 5  # refused, DNS, TLS, or the connection lost mid-job
    AUTH = 6  # not logged in, session rejected or expired, wrong credentials
    EMPTY_WORLD = 7  # worldstate_snapshot found no entities (EMPTY_WORLD)
    PROTOCOL = 8  # the server sent something that is not the Procedura protocol
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT, as shells report it)


class CommandFailed(click.ClickException):
    """A failure already explained in one line; click prints ``Error: <line>`` and exits."""

    def __init__(self, message: str, code: ExitCode = ExitCode.FAILURE) -> None:
        super().__init__(message)
        self.exit_code = int(code)
        self.code = code


class Request:
    """What the command was doing when it failed, for the message."""

    def __init__(
        self,
        url: str,
        module: str,
        *,
        ack_timeout: float | None = None,
        final_timeout: float | None = None,
    ) -> None:
        self.url = url
        self.module = module
        self.ack_timeout = ack_timeout
        self.final_timeout = final_timeout


_FRAME_HOUSEKEEPING = {"id", "status", "message", "job_id", "code", "cmd"}


def _frame_context(frame: object) -> str:
    """The extra fields of a server error frame (e.g. ``coord``), as `` (key=value, ...)``."""
    import json

    if not isinstance(frame, dict):
        return ""
    extra = {k: v for k, v in frame.items() if k not in _FRAME_HOUSEKEEPING}
    if not extra:
        return ""
    parts = [f"{k}={json.dumps(v, ensure_ascii=False, default=str)}" for k, v in extra.items()]
    return " (" + ", ".join(parts) + ")"


def _seconds(value: float | None) -> str:
    return "?" if value is None else f"{value:g}s"


def _sentence(text: object) -> str:
    """``text`` as a clause: one line, no trailing full stop (the caller adds its own)."""
    line = " ".join(str(text).split())
    return line.rstrip(".") or "no details given"


def describe(exc: BaseException, request: Request) -> CommandFailed:
    """Turn an SDK exception into the exit code and one-line message for ``request``."""
    from procedura_sdk import errors

    url, module = request.url, request.module
    if isinstance(exc, errors.EmptyWorldError):
        return CommandFailed(
            f"the world at {url} is not initialised: {module} returned no entities "
            "(EMPTY_WORLD). Create a character first, e.g. `procedura run init_character ...`.",
            ExitCode.EMPTY_WORLD,
        )
    if isinstance(exc, errors.AuthenticationError):
        frame = getattr(exc, "frame", None)
        if isinstance(frame, dict) and frame.get("message"):
            why = str(frame["message"])
        else:
            why = "the session token was refused (missing, invalid or expired)"
        if module == "login_password":
            hint = "Check the email and password (CREDENTIAL is EMAIL:PASSWORD or b64:...)"
        else:
            hint = "Run `procedura login` to start a new session"
        code = getattr(exc, "code", None) or "AUTH_FAILED"
        return CommandFailed(
            f"authentication failed at {url} [{code}]: {_sentence(why)}. {hint}.", ExitCode.AUTH
        )
    if isinstance(exc, errors.ServerError):
        message = getattr(exc, "message", None) or str(exc)
        code = getattr(exc, "code", None)
        tag = f" [{code}]" if code else ""
        return CommandFailed(
            f"{module} failed on the server{tag}: {_sentence(message)}"
            f"{_frame_context(getattr(exc, 'frame', None))}. "
            "Check the module's arguments; --debug shows the whole error frame.",
            ExitCode.SERVER_ERROR,
        )
    if isinstance(exc, errors.AckTimeoutError):
        return CommandFailed(
            f"no acknowledgement for {module} from {url} within "
            f"{_seconds(request.ack_timeout)}. The server may be overloaded: "
            "try again, or raise --ack-timeout.",
            ExitCode.TIMEOUT,
        )
    if isinstance(exc, errors.FinalTimeoutError):
        job = getattr(exc, "job_id", None)
        return CommandFailed(
            f"{module} was acknowledged{f' (job {job})' if job else ''} but sent no result within "
            f"{_seconds(request.final_timeout)}; it may still be running on the server. "
            "For long jobs raise --final-timeout, or follow them with `procedura stream`.",
            ExitCode.TIMEOUT,
        )
    if isinstance(exc, errors.RequestTimeoutError):
        return CommandFailed(
            f"{module} timed out: {_sentence(exc)}. Try again, or raise the timeout.",
            ExitCode.TIMEOUT,
        )
    if isinstance(exc, errors.ConnectionLostError):
        # The SDK's sentence says when it happened and whether the job may have run.
        return CommandFailed(_sentence(exc) + ".", ExitCode.CONNECTION)
    if isinstance(exc, errors.ConnectionFailedError):
        return CommandFailed(
            f"could not connect to {url}: {_connect_why(exc, url)}. "
            f"{_CONNECT_HINTS.get(getattr(exc, 'reason', ''), _CONNECT_HINTS['network'])}.",
            ExitCode.CONNECTION,
        )
    if isinstance(exc, errors.ProtocolViolationError):
        if getattr(exc, "code", None) == "MESSAGE_TOO_BIG":
            import re

            size = re.search(r"\((\d+) bytes\)", str(exc))
            limit = f" ({size.group(1)} bytes)" if size else ""
            return CommandFailed(
                f"{url} answered {module} with a message larger than --max-size{limit}; "
                "the connection was closed. If answers this big are expected, raise --max-size.",
                ExitCode.PROTOCOL,
            )
        return CommandFailed(
            _sentence(str(exc).replace("Check that the URL points", "Check that --url points"))
            + "; --debug shows details.",
            ExitCode.PROTOCOL,
        )
    return CommandFailed(
        f"{module} failed: {_sentence(exc)}. --debug shows details.", ExitCode.FAILURE
    )


_CONNECT_HINTS = {
    "refused": "Check --url (or PROCEDURA_URL) and that the server is running",
    "dns": "Check the host name in --url (or PROCEDURA_URL)",
    "tls": "If the server uses a private CA, pass its bundle with --ca-file (or PROCEDURA_CA_FILE)",
    "handshake": "Check that --url points at a Procedura server, and ws:// versus wss://",
    "timeout": "Check the address in --url and your network",
    "network": "Check the address in --url and your network",
}


def _connect_why(exc: BaseException, url: str) -> str:
    """The cause of a connection failure, without the SDK's API-worded hint."""
    why = getattr(exc, "why", "") or str(exc)
    return _sentence(" ".join(why.split()))


@contextlib.contextmanager
def explained(request: Request) -> Iterator[None]:
    """Turn SDK exceptions raised inside the block into :class:`CommandFailed`."""
    from procedura_sdk.errors import ProceduraError

    try:
        yield
    except ProceduraError as exc:
        raise describe(exc, request) from exc
