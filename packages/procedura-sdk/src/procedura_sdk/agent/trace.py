"""The account of one command as it runs, ending in exactly one EventRecord.

A :class:`CommandTrace` is opened when a command starts, told what the
exchange learned (ack, progress, the final frame) and how the command ended
(a result or an exception), and then handed to the recorder once.
"""

from __future__ import annotations

import platform
import sys
import time
from typing import Any

from ..__about__ import __version__
from ..errors import EMPTY_WORLD_CODE, ProceduraError, RequestTimeoutError, ServerError

OK = "OK"
CANCELLED = "CANCELLED"
INTERRUPTED = "INTERRUPTED"
CLIENT_ERROR = "CLIENT_ERROR"
STREAM_CLOSED = "STREAM_CLOSED"

_ENV: dict[str, Any] | None = None


def environment() -> dict[str, Any]:
    """What the record says about where it ran: small, and computed once."""
    global _ENV
    if _ENV is None:
        _ENV = {
            "python": platform.python_version(),
            "platform": platform.system() or "unknown",
            "implementation": platform.python_implementation(),
        }
    return dict(_ENV)


AGENT_VERSION = f"procedura-sdk/{__version__}"


class CommandTrace:
    """Fills one :class:`EventRecord`; ``record`` is complete once :attr:`ended` is true."""

    def __init__(self, cmd: str, args: list[str], *, mode: str, url: str) -> None:
        # Imported here so that importing the agent does not import the recording stack.
        from ..observability.record import EventRecord, utc_now_iso

        self._now = utc_now_iso
        self.record = EventRecord(
            cmd=cmd,
            args=list(args),
            ts=utc_now_iso(),
            mode=mode,
            url=url,
            status="error",
            agent_version=AGENT_VERSION,
            env=environment(),
        )
        self._sent_at: float | None = None
        self.ended = False
        # What the driver needs to explain a failure.
        self.ack_timeout = 0.0
        self.final_timeout = 0.0
        self.closed_by: BaseException | None = None

    # What the exchange learned ---------------------------------------------

    def sent(self, msg_id: str) -> None:
        self.record.msg_id = msg_id
        self._sent_at = time.monotonic()

    def acked(self, job_id: str | None) -> None:
        self.record.ack_ts = self._now()
        self.record.ack_latency_ms = self._since_sent()
        self.record.job_id = job_id
        self.record.status = "ack"

    def progressed(self, job_id: str | None) -> None:
        self.record.status = "running"
        if job_id is not None:
            self.record.job_id = job_id

    def final_frame(self, size: int, job_id: str | None) -> None:
        self.record.final_ts = self._now()
        self.record.final_latency_ms = self._since_sent()
        self.record.payload_size = size
        if job_id is not None:
            self.record.job_id = job_id

    # How the command ended -------------------------------------------------

    def succeeded(self, result: Any) -> None:
        self.record.status = "finished"
        self.record.result_code = OK
        self.record.result = result
        self.record.error = None
        self.ended = True

    def failed(self, exc: BaseException) -> None:
        """End with ``exc``; a second failure (e.g. cancellation during cleanup) keeps the first."""
        if self.ended:
            return
        record = self.record
        record.exception = exc
        if isinstance(exc, ProceduraError):
            record.status = "timeout" if isinstance(exc, RequestTimeoutError) else "error"
            record.result_code = exc.code
            error: dict[str, Any] = {"type": type(exc).__name__, "code": exc.code, "message": exc.message}
            if isinstance(exc, ServerError) or getattr(exc, "frame", None) is not None:
                error["frame"] = exc.frame  # type: ignore[attr-defined]
            if exc.code == EMPTY_WORLD_CODE:
                record.result = getattr(exc, "result", None)
            record.error = error
        elif isinstance(exc, KeyboardInterrupt) or _is_cancellation(exc):
            interrupted = isinstance(exc, KeyboardInterrupt)
            record.status = "error"
            record.result_code = INTERRUPTED if interrupted else CANCELLED
            record.error = {
                "type": "KeyboardInterrupt" if interrupted else "CancelledError",
                "code": record.result_code,
                "message": "interrupted by the user (Ctrl-C)" if interrupted else "the command was cancelled",
            }
        else:
            record.status = "error"
            record.result_code = CLIENT_ERROR
            record.error = {"type": type(exc).__name__, "code": CLIENT_ERROR, "message": str(exc)}
        self.ended = True

    def abandoned(self) -> None:
        """A stream's consumer stopped reading before the final frame: the job may still run."""
        if self.ended:
            return
        if self.record.status not in ("ack", "running"):
            self.record.status = "error"
        self.record.result_code = STREAM_CLOSED
        self.record.error = None
        self.ended = True

    def _since_sent(self) -> float | None:
        if self._sent_at is None:
            return None
        return round((time.monotonic() - self._sent_at) * 1000.0, 3)


def _is_cancellation(exc: BaseException) -> bool:
    # Without asyncio imported, nothing can have been cancelled by it (and the blocking
    # face should not pay for importing it).
    asyncio = sys.modules.get("asyncio")
    return asyncio is not None and isinstance(exc, asyncio.CancelledError)
