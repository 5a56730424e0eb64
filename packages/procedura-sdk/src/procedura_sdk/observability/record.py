"""The event record: one complete, schema-versioned account of one command execution.

The agent fills an :class:`EventRecord` as a command runs (timestamps, ids, the
result or the failure); the observability layer redacts it and writes it. The
record is unredacted while it lives in memory and is never written as is.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

SCHEMA_VERSION = 1

# The statuses a record can end in (PROTOCOL.md, "event record").
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

    @property
    def failed(self) -> bool:
        """True when this record belongs in the error channel too."""
        return self.status in ("error", "timeout") or self.error is not None

    def to_dict(self) -> dict[str, Any]:
        """The schema-1 mapping (unredacted: pass it through the redactor before writing)."""
        data = dataclasses.asdict(self)
        result = data.pop("result")
        return {
            "schema": SCHEMA_VERSION,
            "ts": data["ts"],
            "cmd": data["cmd"],
            "args": data["args"],
            "mode": data["mode"],
            "url": data["url"],
            "msg_id": data["msg_id"],
            "job_id": data["job_id"],
            "ack_ts": data["ack_ts"],
            "final_ts": data["final_ts"],
            "ack_latency_ms": data["ack_latency_ms"],
            "final_latency_ms": data["final_latency_ms"],
            "status": data["status"],
            "result_code": data["result_code"],
            "result_summary": result,
            "payload_size": data["payload_size"],
            "error": data["error"],
            "agent_version": data["agent_version"],
            "env": data["env"],
        }
