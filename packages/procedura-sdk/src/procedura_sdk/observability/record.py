"""The event record: one complete, schema-versioned account of one command execution.

The agent fills an :class:`EventRecord` as a command runs (timestamps, ids, the
result or the failure); the observability layer redacts it and writes it. The
record is unredacted while it lives in memory and is never written as is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

SCHEMA_VERSION = 1

# The statuses a record can end in (event.schema.json, "status").
STATUSES = ("ack", "running", "finished", "error", "timeout")


def utc_now_iso() -> str:
    """Wall-clock time as ISO-8601 UTC with microseconds, the format of every ``*_ts`` field."""
    return datetime.now(timezone.utc).isoformat()


@dataclass
class EventRecord:
    """What happened when one command ran.

    ``ts``, ``ack_ts`` and ``final_ts`` are wall-clock ISO-8601 UTC strings;
    ``ack_latency_ms`` and ``final_latency_ms`` come from a monotonic clock,
    measured from the moment the request was sent.

    ``error`` is ``None`` on success, else a dict with at least ``type`` and
    ``message``; for a server error it also holds ``frame``, the whole error
    frame as received (it may carry context such as ``coord``).
    """

    cmd: str
    args: list[str]
    ts: str
    mode: str = "sync"
    url: str | None = None
    msg_id: str | None = None
    job_id: str | None = None
    ack_ts: str | None = None
    final_ts: str | None = None
    ack_latency_ms: float | None = None
    final_latency_ms: float | None = None
    status: str = "error"
    result_code: str | None = None
    result: Any = None
    payload_size: int | None = None
    error: dict[str, Any] | None = None
    agent_version: str | None = None
    env: dict[str, Any] = field(default_factory=dict)
    # The exception behind a client-side failure, for the failure log's traceback.
    # Never serialised.
    exception: BaseException | None = field(default=None, repr=False, compare=False)

    @property
    def failed(self) -> bool:
        """True when this record belongs in the error channel too."""
        return is_failure(self.to_dict())

    def to_dict(self) -> dict[str, Any]:
        """The schema-1 mapping (unredacted: pass it through the redactor before writing)."""
        return {
            "schema": SCHEMA_VERSION,
            "ts": self.ts,
            "cmd": self.cmd,
            "args": list(self.args),
            "mode": self.mode,
            "url": self.url,
            "msg_id": self.msg_id,
            "job_id": self.job_id,
            "ack_ts": self.ack_ts,
            "final_ts": self.final_ts,
            "ack_latency_ms": self.ack_latency_ms,
            "final_latency_ms": self.final_latency_ms,
            "status": self.status,
            "result_code": self.result_code,
            "result_summary": self.result,
            "payload_size": self.payload_size,
            "error": self.error,
            "agent_version": self.agent_version,
            "env": self.env,
        }


def is_failure(event: dict[str, Any]) -> bool:
    """Whether a schema-1 event belongs in the error channel."""
    return event.get("status") in ("error", "timeout") or bool(event.get("error"))


def error_entry(event: dict[str, Any]) -> dict[str, Any]:
    """The ``errors.json`` entry for a (redacted) schema-1 event that failed.

    The guide's fields first (timestamp, status, code, message, cmd, result),
    then what tells this failure apart: the exception type for client-side
    failures, the whole frame for server errors, the request ids.
    """
    error = event.get("error") or {}
    entry: dict[str, Any] = {
        "timestamp": event.get("final_ts") or event.get("ts"),
        "status": event.get("status"),
        "code": event.get("result_code"),
        "message": error.get("message"),
        "cmd": event.get("cmd"),
        "args": event.get("args"),
        "result": event.get("result_summary"),
        "type": error.get("type"),
        "msg_id": event.get("msg_id"),
        "job_id": event.get("job_id"),
        "url": event.get("url"),
        "started": event.get("ts"),
    }
    if "frame" in error:
        entry["frame"] = error["frame"]
    return entry
