"""The server side of the Procedura wire protocol as a pure function: request text in, actions out.

`Dispatcher.answer` turns one request frame into the actions the I/O layer
performs in order: send a text frame, sleep, or abort the connection. It
applies authentication, runs the module and injects the faults in force; it
never touches a socket or a clock, so every answer can be checked without a
server (the sans-I/O design of the websockets library).
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .accounts import AccountBook
from .faults import Faults, FaultSet
from .modules import LOGIN_MODULE, MODULES, JobContext, ModuleError, Progress, Wait
from .sessions import SessionStore
from .world import WorldStore

logger = logging.getLogger("procedura_devserver")


@dataclass(frozen=True)
class Send:
    """Send one text frame."""

    text: str


@dataclass(frozen=True)
class Sleep:
    """Pause this request's answer (other requests carry on)."""

    seconds: float


@dataclass(frozen=True)
class Abort:
    """Drop the connection at once, without a closing handshake."""


Action = Send | Sleep | Abort


def encode(frame: dict[str, Any]) -> str:
    return json.dumps(frame, separators=(",", ":"))


def handshake_token(subprotocols: list[str], authorization: str | None) -> tuple[str | None, bool]:
    """The token a handshake presents, and whether it came as the subprotocol.

    The subprotocol is preferred, as on the real server: the first one offered
    is the token. Otherwise an `Authorization: Bearer <token>` header.
    """
    if subprotocols:
        return subprotocols[0], True
    if authorization:
        scheme, _, credentials = authorization.strip().partition(" ")
        if scheme.lower() == "bearer" and credentials.strip():
            return credentials.strip(), False
    return None, False


@dataclass(frozen=True)
class Request:
    id: Any
    cmd: str
    args: list[str]
    mode: str


class BadRequest(Exception):
    def __init__(self, message: str, request_id: Any = None) -> None:
        super().__init__(message)
        self.frame: dict[str, Any] = {"status": "error", "code": "BAD_REQUEST", "message": message}
        if request_id is not None:
            self.frame = {"id": request_id, **self.frame}


def parse_request(text: str) -> Request:
    """Validate `{"id", "cmd", "args", "mode"}`; `args` defaults to [] and `mode` to sync."""
    try:
        frame = json.loads(text)
    except ValueError as exc:
        raise BadRequest(f"request is not JSON: {exc}") from exc
    if not isinstance(frame, dict):
        raise BadRequest("request must be a JSON object")
    request_id = frame.get("id")
    if not isinstance(request_id, (str, int)) or isinstance(request_id, bool) or request_id == "":
        raise BadRequest("request needs an id (a non-empty string)")
    cmd, args, mode = frame.get("cmd"), frame.get("args", []), frame.get("mode", "sync")
    if not isinstance(cmd, str) or not cmd:
        raise BadRequest("request needs a cmd (the module name)", request_id)
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise BadRequest("args must be a list of strings", request_id)
    if mode not in ("sync", "async"):
        raise BadRequest("mode must be 'sync' or 'async'", request_id)
    return Request(request_id, cmd, args, mode)


@dataclass
class Dispatcher:
    """Answers requests against the engine's accounts, sessions, worlds and faults."""

    accounts: AccountBook
    sessions: SessionStore
    worlds: WorldStore
    faults: FaultSet = field(default_factory=FaultSet)

    def admits(self, token: str | None) -> bool:
        """May a handshake presenting this token (None: no token) open a connection?"""
        return token is None or self.sessions.lookup(token) is not None

    def answer(self, text: str, token: str | None) -> Iterator[Action]:
        """The actions answering one request frame on a connection opened with `token`."""
        try:
            request = parse_request(text)
        except BadRequest as exc:
            yield Send(encode(exc.frame))
            return
        rid = request.id
        account = None
        if request.cmd != LOGIN_MODULE:
            if token is None:
                yield _refuse(
                    rid,
                    "AUTH_REQUIRED",
                    "this connection has no session token: "
                    "run login_password, then reconnect with the token",
                )
                return
            session = self.sessions.lookup(token)
            if session is None:
                yield _refuse(
                    rid,
                    "AUTH_REQUIRED",
                    "the session token expired or was revoked: run login_password again",
                )
                return
            account = session.account
        module = MODULES.get(request.cmd)
        if module is None:
            known = ", ".join(sorted(MODULES))
            yield _refuse(rid, "UNKNOWN_MODULE", f"unknown module {request.cmd!r}; known: {known}")
            return
        faults = Faults() if request.cmd == LOGIN_MODULE else self.faults.snapshot()
        logger.info(
            "request id=%s cmd=%s mode=%s account=%s faults=%s",
            rid,
            request.cmd,
            request.mode,
            account,
            faults.active() or "-",
        )
        ctx = JobContext(account, self.accounts, self.sessions, self.worlds, faults)
        try:
            job = module(request.args, ctx)
        except ModuleError as exc:
            yield Send(encode({"id": rid, **exc.frame_fields()}))
            return
        except Exception:
            logger.exception("module %s failed before starting", request.cmd)
            yield _refuse(rid, "INTERNAL_ERROR", f"{request.cmd} failed; see the server log")
            return
        yield from _run(request, job, faults)


def _refuse(rid: Any, code: str, message: str) -> Send:
    return Send(encode({"id": rid, "status": "error", "code": code, "message": message}))


def new_job_id() -> str:
    return "job_" + secrets.token_hex(8)


def _run(request: Request, job: Any, faults: Faults) -> Iterator[Action]:
    """Acknowledge, drive the job, then send its final frame, all bent by the faults."""
    rid, jid, stream = request.id, new_job_id(), request.mode == "async"
    if faults.no_ack:
        job.close()
        return

    def emit(frame: dict[str, Any] | str) -> Iterator[Action]:
        if faults.foreign_frames:
            yield from _foreign_frames(rid)
        yield Send(frame if isinstance(frame, str) else encode(frame))

    def addressed(frame: dict[str, Any]) -> dict[str, Any]:
        if faults.final_by_job_id_only:
            return {"job_id": jid, **frame}
        return {"id": rid, "job_id": jid, **frame}

    if faults.ack_delay:
        yield Sleep(faults.ack_delay)
    if faults.error_without_ack:
        job.close()
        yield from emit(
            {
                "id": rid,
                "status": "error",
                "code": "INJECTED_FAULT",
                "message": "error-without-ack fault: the job failed before it was acknowledged",
            }
        )
        return
    yield from emit({"id": rid, "status": "started" if stream else "ack", "job_id": jid})
    if faults.drop_after_ack:
        job.close()
        yield Abort()
        return

    try:
        while True:
            step = next(job)
            if isinstance(step, Wait):
                yield Sleep(step.seconds)
            elif isinstance(step, Progress) and stream:
                yield from emit(addressed({"status": "running", **step.fields}))
    except StopIteration as done:
        final = addressed({"status": "finished", "result": done.value})
    except ModuleError as exc:
        final = addressed(exc.frame_fields())
    except Exception:
        logger.exception("module %s failed", request.cmd)
        final = addressed(
            {
                "status": "error",
                "code": "INTERNAL_ERROR",
                "message": f"{request.cmd} failed; see the server log",
            }
        )

    if faults.final_delay:
        yield Sleep(faults.final_delay)
    text = _padded(final, faults.oversized_frame) if faults.oversized_frame else encode(final)
    if faults.malformed_frame:
        # A frame cut in half: never valid JSON, yet it still contains the request id.
        text = text[: max(1, len(text) // 2)]
    yield from emit(text)


def _padded(frame: dict[str, Any], size: int) -> str:
    """Encode `frame` grown to exactly `size` bytes (or its natural size, if larger)."""
    frame = dict(frame)
    if isinstance(frame.get("result"), dict):
        holder = frame["result"] = dict(frame["result"])
    else:
        holder = frame
    holder["padding"] = ""
    base = len(encode(frame).encode())
    holder["padding"] = "x" * max(0, size - base)
    return encode(frame)


def _foreign_frames(rid: Any) -> Iterator[Send]:
    """Frames for another request id, for another job, and for nobody."""
    other_id = secrets.token_hex(4)
    while other_id == rid:
        other_id = secrets.token_hex(4)
    yield Send(encode({"id": other_id, "status": "ack", "job_id": new_job_id()}))
    yield Send(
        encode(
            {
                "id": other_id,
                "job_id": new_job_id(),
                "status": "finished",
                "result": {"foreign": True},
            }
        )
    )
    yield Send(
        encode({"job_id": new_job_id(), "status": "error", "message": "An error for another job."})
    )
    yield Send(encode({"status": "finished", "result": {"foreign": True}}))
    yield Send(encode({"status": "error", "message": "A frame addressed to nobody."}))
