"""The Procedura request/ack/final correlation as a sans-I/O state machine.

No sockets, clocks or asyncio here: a driver sends the request frame built by
:func:`encode_request`, feeds every frame it receives to :meth:`Exchange.receive`
(or the raw text to :meth:`Exchange.receive_data`), tells it when a timer
expired or the connection closed, and acts on the events that come back.

The rules (PROTOCOL.md):

* A frame belongs to this exchange when its ``id`` is the request's id, or when it
  has no ``id`` and its ``job_id`` is the one the ack announced. Anything else is
  another request's business (or nobody's) and is :class:`Ignored`.
* The first answer is an ack (``"ack"`` in sync mode, ``"started"`` in async
  mode; either is accepted in either mode). ``running`` frames report progress.
  ``finished`` or ``error`` ends the exchange, with or without an ack before it.
* Text that is not a JSON object, or a frame of ours without a known status, is a
  :class:`Violation`: after it nothing on the connection can be trusted.
"""

from __future__ import annotations

import json
import random
import secrets
from collections.abc import Sequence
from typing import Any

MODES = ("sync", "async")

AWAITING_ACK = "awaiting ack"
AWAITING_FINAL = "awaiting final"
DONE = "done"

ACK_STATUSES = frozenset({"ack", "started"})
KNOWN_STATUSES = frozenset({"ack", "started", "running", "finished", "error"})


# -- requests -----------------------------------------------------------------


class RequestIds:
    """Issues request ids: 8 lowercase hex characters, never the same twice from one source.

    Ids only correlate answers with requests (the token authenticates), so they
    need to be unique, not secret: a generator seeded from the OS is enough and
    spares a system call per request.
    """

    def __init__(self) -> None:
        self._issued: set[str] = set()
        self._random = random.Random(secrets.randbits(64))

    def next(self) -> str:
        while True:
            msg_id = f"{self._random.getrandbits(32):08x}"
            if msg_id not in self._issued:
                self._issued.add(msg_id)
                return msg_id


def request_frame(
    msg_id: str, cmd: str, args: Sequence[str] | None = None, mode: str = "sync"
) -> dict[str, Any]:
    """The request frame ``{"id", "cmd", "args", "mode"}``; ``args`` are the module's own arguments."""
    if not isinstance(cmd, str) or not cmd:
        raise ValueError("cmd must be a non-empty module name")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    if isinstance(args, (str, bytes)):
        raise TypeError("args must be a list of strings, not a single string")
    arg_list = list(args or ())
    for arg in arg_list:
        if not isinstance(arg, str):
            raise TypeError(f"every argument must be a string, got {type(arg).__name__}")
    return {"id": msg_id, "cmd": cmd, "args": arg_list, "mode": mode}


def encode_request(
    msg_id: str, cmd: str, args: Sequence[str] | None = None, mode: str = "sync"
) -> str:
    """:func:`request_frame` as the JSON text that goes on the wire."""
    return json.dumps(request_frame(msg_id, cmd, args, mode), separators=(",", ":"))


# -- events -------------------------------------------------------------------


class Event:
    """Something the exchange learned; ``terminal`` events end it.

    Events are immutable values that compare by type and fields. They are
    written out by hand rather than as dataclasses: building ten dataclasses
    costs a short-lived CLI process more import time than all its events.
    """

    __slots__ = ()
    terminal = False

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, f) == getattr(other, f) for f in self.__slots__)

    __hash__ = None  # type: ignore[assignment]  # frames are dicts: not hashable

    def __repr__(self) -> str:
        fields = ", ".join(f"{f}={getattr(self, f)!r}" for f in self.__slots__)
        return f"{type(self).__name__}({fields})"

    def _set(self, **values: Any) -> None:
        for name, value in values.items():
            object.__setattr__(self, name, value)


class Acked(Event):
    """The server accepted the request (an ``ack`` or ``started`` frame)."""

    __slots__ = ("job_id", "frame")

    def __init__(self, job_id: str | None, frame: dict[str, Any]) -> None:
        self._set(job_id=job_id, frame=frame)


class Progress(Event):
    """A ``running`` update."""

    __slots__ = ("frame",)

    def __init__(self, frame: dict[str, Any]) -> None:
        self._set(frame=frame)


class Finished(Event):
    """The final ``finished`` frame and its ``result``."""

    __slots__ = ("result", "frame")
    terminal = True

    def __init__(self, result: Any, frame: dict[str, Any]) -> None:
        self._set(result=result, frame=frame)


class Failed(Event):
    """The final ``error`` frame, kept whole (it may carry context such as ``coord``)."""

    __slots__ = ("frame",)
    terminal = True

    def __init__(self, frame: dict[str, Any]) -> None:
        self._set(frame=frame)

    @property
    def code(self) -> str | None:
        code = self.frame.get("code")
        return code if isinstance(code, str) and code else None

    @property
    def message(self) -> str:
        return str(self.frame.get("message") or "")


class Ignored(Event):
    """A frame that is not this exchange's (or came too late to matter); ``reason`` says which."""

    __slots__ = ("frame", "reason")

    def __init__(self, frame: Any, reason: str) -> None:
        self._set(frame=frame, reason=reason)


class Violation(Event):
    """The peer broke the protocol; ``frame`` is what it sent (decoded when possible)."""

    __slots__ = ("reason", "frame")
    terminal = True

    def __init__(self, reason: str, frame: Any = None) -> None:
        self._set(reason=reason, frame=frame)


class TimedOut(Event):
    """The timer for ``phase`` (``"ack"`` or ``"final"``) expired first."""

    __slots__ = ("phase",)
    terminal = True

    def __init__(self, phase: str) -> None:
        self._set(phase=phase)


class Disconnected(Event):
    """The connection closed before the final frame."""

    __slots__ = ("reason",)
    terminal = True

    def __init__(self, reason: str = "") -> None:
        self._set(reason=reason)


# -- the state machine --------------------------------------------------------


class Exchange:
    """One request's life from the sent frame to its final answer.

    ``awaiting`` tells the driver which timer should be running (``"ack"``,
    ``"final"`` or ``None`` once done); ``status`` is the last status seen, in
    the event record's terms (``ack``, ``running``, ``finished``, ``error``,
    ``timeout``), ``None`` before any answer; ``acked`` whether an ack (or a
    ``running`` update standing in for one) came before the end.
    """

    def __init__(self, msg_id: str, mode: str = "sync") -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        self.msg_id = msg_id
        self.mode = mode
        self.state = AWAITING_ACK
        self.job_id: str | None = None
        self.status: str | None = None
        self.acked = False
        self.outcome: Event | None = None

    def __repr__(self) -> str:
        return f"Exchange(msg_id={self.msg_id!r}, mode={self.mode!r}, state={self.state!r})"

    @property
    def done(self) -> bool:
        return self.state == DONE

    @property
    def awaiting(self) -> str | None:
        if self.state == AWAITING_ACK:
            return "ack"
        if self.state == AWAITING_FINAL:
            return "final"
        return None

    # Inputs ----------------------------------------------------------------

    def receive_data(self, data: str | bytes) -> list[Event]:
        """Decode one text message and :meth:`receive` it; undecodable text is a violation."""
        if self.done:
            return [Ignored(data, "exchange already complete")]
        try:
            frame = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            return self._end(Violation(f"message is not JSON ({exc})", data))
        return self.receive(frame)

    def receive(self, frame: Any) -> list[Event]:
        """Take one decoded frame; returns what it meant for this exchange."""
        if self.done:
            return [Ignored(frame, "exchange already complete")]
        if not isinstance(frame, dict):
            return self._end(Violation(f"frame is a JSON {_json_kind(frame)}, not an object", frame))

        foreign = self._foreign_reason(frame)
        if foreign is not None:
            return [Ignored(frame, foreign)]

        status = frame.get("status")
        if not isinstance(status, str) or status not in KNOWN_STATUSES:
            return self._end(Violation(f"frame for this request has unknown status {status!r}", frame))

        job_id = frame.get("job_id")
        if job_id is not None and not isinstance(job_id, (str, int)):
            return self._end(Violation(f"job_id must be a string, got {_json_kind(job_id)}", frame))
        events: list[Event] = []

        if status in ACK_STATUSES:
            if self.state != AWAITING_ACK:
                return [Ignored(frame, "duplicate ack")]
            return [self._ack(frame)]

        if status == "running":
            if self.state == AWAITING_ACK:
                # A running update implies the server accepted the request.
                events.append(self._ack(frame))
            elif self.job_id is None and job_id is not None:
                self.job_id = str(job_id)
            self.status = "running"
            events.append(Progress(frame))
            return events

        if self.job_id is None and job_id is not None:
            self.job_id = str(job_id)
        if status == "finished":
            self.status = "finished"
            return events + self._end(Finished(frame.get("result"), frame))
        self.status = "error"
        return events + self._end(Failed(frame))

    def expire(self, phase: str) -> list[Event]:
        """The driver's timer for ``phase`` ran out; a timer for a phase already passed is stale."""
        if phase not in ("ack", "final"):
            raise ValueError(f"phase must be 'ack' or 'final', not {phase!r}")
        if self.done or (phase == "ack" and self.state != AWAITING_ACK):
            return []
        self.status = "timeout"
        return self._end(TimedOut(phase))

    def connection_lost(self, reason: str = "") -> list[Event]:
        """The connection closed; fatal unless the exchange already ended."""
        if self.done:
            return []
        return self._end(Disconnected(reason))

    # Internals -------------------------------------------------------------

    def _foreign_reason(self, frame: dict[str, Any]) -> str | None:
        frame_id = frame.get("id")
        if frame_id is not None:
            return None if frame_id == self.msg_id else "addressed to another request"
        job_id = frame.get("job_id")
        if job_id is None:
            return "addressed to nobody"
        if self.job_id is not None and str(job_id) == self.job_id:
            return None
        return "addressed to another job"

    def _ack(self, frame: dict[str, Any]) -> Acked:
        job_id = frame.get("job_id")
        self.job_id = None if job_id is None else str(job_id)
        self.state = AWAITING_FINAL
        self.status = "ack"
        self.acked = True
        return Acked(self.job_id, frame)

    def _end(self, event: Event) -> list[Event]:
        self.state = DONE
        self.outcome = event
        return [event]


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return type(value).__name__


__all__ = [
    "MODES",
    "Acked",
    "Disconnected",
    "Event",
    "Exchange",
    "Failed",
    "Finished",
    "Ignored",
    "Progress",
    "RequestIds",
    "TimedOut",
    "Violation",
    "encode_request",
    "request_frame",
]
