"""One command's conversation, free of I/O: its request, its deadlines, and what each answer means.

Both faces of the agent drive a :class:`Conversation` the same way: send
:attr:`Conversation.request`, call :meth:`~Conversation.sent`, then wait for the
next message until :meth:`~Conversation.deadline`, and hand over what came (a
message, the deadline passing, or the connection's end). The conversation
keeps the command's :class:`CommandTrace` up to date, logs what happened, and
returns the :mod:`.protocol` events the face acts on. Frames that belong to
another request are logged and dropped here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from .connection import describe_close
from .protocol import Acked, Event, Exchange, Failed, Finished, Ignored, Progress, encode_request
from .trace import CommandTrace

logger = logging.getLogger("procedura_sdk.agent")

PHASE_CONNECTING = "connecting"
PHASE_WAITING_FOR_ACK = "waiting for ack"
PHASE_RUNNING = "running"


class Conversation:
    """The request ``msg_id`` for ``module``, and the exchange that answers it."""

    def __init__(
        self,
        trace: CommandTrace,
        msg_id: str,
        module: str,
        args: list[str],
        mode: str,
        *,
        ack_timeout: float,
        final_timeout: float,
        on_phase: Callable[[str], None],
    ) -> None:
        self.request = encode_request(msg_id, module, args, mode)
        self.trace = trace
        self.msg_id = msg_id
        self.module = module
        self.exchange = Exchange(msg_id, mode)
        self._on_phase = on_phase
        self._ack_timeout = ack_timeout
        self._final_timeout = final_timeout
        self._ack_deadline = self._final_deadline = 0.0
        trace.ack_timeout, trace.final_timeout = ack_timeout, final_timeout

    @property
    def done(self) -> bool:
        return self.exchange.done

    def sent(self) -> None:
        """The request is on its way: the clocks start."""
        self.trace.sent(self.msg_id)
        self._on_phase(PHASE_WAITING_FOR_ACK)
        started = time.monotonic()
        self._ack_deadline = started + self._ack_timeout
        self._final_deadline = started + self._final_timeout

    def deadline(self) -> tuple[str, float]:
        """What is awaited next (``"ack"`` or ``"final"``) and until when (``time.monotonic()``)."""
        if self.exchange.awaiting == "ack" and self._ack_deadline <= self._final_deadline:
            return "ack", self._ack_deadline
        return "final", self._final_deadline

    def received(self, data: str | bytes) -> list[Event]:
        """A message arrived."""
        size = len(data.encode("utf-8")) if isinstance(data, str) else len(data)
        return self._note(self.exchange.receive_data(data), size)

    def expired(self, phase: str) -> list[Event]:
        """The deadline of ``phase`` passed with nothing for this request."""
        return self._note(self.exchange.expire(phase), 0)

    def lost(self, exc: BaseException) -> list[Event]:
        """The connection ended; ``exc`` says how."""
        self.trace.closed_by = exc
        return self._note(self.exchange.connection_lost(describe_close(exc)), 0)

    def _note(self, events: list[Event], size: int) -> list[Event]:
        kept = []
        trace, msg_id = self.trace, self.msg_id
        for event in events:
            if isinstance(event, Ignored):
                logger.debug(
                    "request %s: ignored a frame (%s): id=%r job_id=%r status=%r",
                    msg_id, event.reason, *_address(event.frame),
                )
                continue
            if isinstance(event, Acked):
                trace.acked(event.job_id)
                logger.debug(
                    "request %s (%s): ack after %s ms, job %s",
                    msg_id, self.module, trace.record.ack_latency_ms, event.job_id,
                )
                self._on_phase(PHASE_RUNNING)
            elif isinstance(event, Progress):
                trace.progressed(self.exchange.job_id)
            elif isinstance(event, (Finished, Failed)):
                trace.final_frame(size, self.exchange.job_id)
                logger.debug(
                    "request %s (%s): %s after %s ms, %d bytes",
                    msg_id, self.module, self.exchange.status, trace.record.final_latency_ms, size,
                )
            kept.append(event)
        return kept


def _address(frame: Any) -> tuple[Any, Any, Any]:
    if isinstance(frame, dict):
        return frame.get("id"), frame.get("job_id"), frame.get("status")
    return None, None, None
