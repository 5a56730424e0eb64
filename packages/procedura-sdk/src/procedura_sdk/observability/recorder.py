"""The recorder: redacts each event record, then writes it to every place it belongs.

One command, one record, written in this order:

1. the ``bitstream`` chain ``runtime_ram/cli_events`` (the source of truth);
2. ``runtime_ram/events.json`` (the human-readable mirror);
3. ``runtime_ram/errors.json`` when the command failed;
4. ``cli_stats`` in the ``deltaram`` store ``runtime_ram/cli_state``;
5. a line in ``logs/system/`` (and ``logs/failures/`` with the traceback on failure).

A sink that cannot be written (disk full, read-only directory, damaged file)
never hides the command's own result: the recorder goes on with the other sinks
and emits a :class:`RecordingWarning` naming the path and the reason.
"""

from __future__ import annotations

import json
import logging
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .json_array import JsonArrayFile
from .logs import attach_log_files
from .paths import DataPaths
from .record import EventRecord, error_entry, is_failure, utc_now_iso
from .redaction import Redactor, default_redactor

log = logging.getLogger("procedura_sdk.observability")
failure_log = logging.getLogger("procedura_sdk.failures")


class RecordingWarning(UserWarning):
    """A record could not be written; the message names the path and the reason."""


def encode_event(event: dict[str, Any]) -> bytes:
    """The bytes of one chain record: compact UTF-8 JSON of the redacted event."""
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"), default=str).encode()


def decode_event(data: bytes) -> dict[str, Any]:
    """Inverse of :func:`encode_event`."""
    return json.loads(data)


class Recorder:
    """Writes what the agent reports. ``record`` never raises: failures become a RecordingWarning."""

    def __init__(
        self,
        paths: DataPaths | None = None,
        *,
        redactor: Redactor | None = None,
        durability: str = "fsync",
        log_files: bool = True,
    ) -> None:
        self.paths = paths if paths is not None else DataPaths.from_env()
        self.redactor = redactor if redactor is not None else default_redactor
        self.durability = durability
        self.events = JsonArrayFile(self.paths.events_json)
        self.errors = JsonArrayFile(self.paths.errors_json)
        self._chain: Any = None
        self._state: Any = None
        self._lock = threading.Lock()
        if log_files:
            self._guard("log directory", self.paths.logs, lambda: attach_log_files(self.paths, self.redactor))

    # -- the public operations ---------------------------------------------------
    def record(self, record: EventRecord) -> dict[str, Any]:
        """Redact ``record`` and write it everywhere it belongs; returns what was written."""
        event = self.redact_event(record)
        with self._lock:
            self._guard("event chain", self.paths.events_chain, lambda: self._open_chain().append(encode_event(event)))
            self._append_json(self.events, event)
            if is_failure(event):
                self._append_json(self.errors, error_entry(event))
            self._guard("state store", self.paths.state, lambda: self._open_state().update("cli_stats", lambda stats: count_run(stats, event)))
        self._log(record, event)
        return event

    def note_login(self, *, url: str, account: str, ttl: int, expires_at: str) -> None:
        """Set ``last_login`` in the state store: server, account name (never the password), time, ttl, expiry."""
        value = {
            "server": self.redactor.redact_text(url),
            "account": account,
            "time": utc_now_iso(),
            "ttl": ttl,
            "expires_at": expires_at,
        }
        with self._lock:
            self._guard("state store", self.paths.state, lambda: self._open_state().update("last_login", lambda _old: value))

    def redact_event(self, record: EventRecord) -> dict[str, Any]:
        """The schema-1 mapping of ``record`` with every redaction rule applied."""
        event = record.to_dict()
        event["args"] = self.redactor.redact_args(record.cmd, record.args)
        return self.redactor.redact(event)

    def close(self) -> None:
        """Release the chain and the state store."""
        with self._lock:
            for name in ("_chain", "_state"):
                store = getattr(self, name)
                setattr(self, name, None)
                if store is not None:
                    self._guard(name.strip("_"), self.paths.runtime, store.close)

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- sinks ---------------------------------------------------------------------
    def _open_chain(self) -> Any:
        if self._chain is None:
            from bitstream import BitStream

            self._chain = BitStream(self.paths.events_chain, durability=self.durability)
        return self._chain

    def _open_state(self) -> Any:
        if self._state is None:
            from deltaram import DeltaRAM

            self._state = DeltaRAM(self.paths.state)
        return self._state

    def _append_json(self, target: JsonArrayFile, element: dict[str, Any]) -> None:
        self._guard(target.path.name, target.path, lambda: target.append(element))
        for repair in target.repairs:
            self._warn(repair)

    def _guard(self, what: str, path: Path, write: Callable[[], object]) -> None:
        """Run one write; a failure becomes a warning naming the path and the reason."""
        try:
            write()
        except Exception as exc:  # any failure of one sink must not stop the others
            reason = f"{type(exc).__name__}: {exc}"
            self._warn(f"Procedura could not write the {what} at {path} ({reason}). "
                       "The command's own result is unaffected; free space or fix permissions "
                       "there to resume recording.")
            failure_log.error("recording to %s failed", path, exc_info=exc)

    def _warn(self, message: str) -> None:
        warnings.warn(RecordingWarning(self.redactor.redact_text(message)), stacklevel=4)

    def _log(self, record: EventRecord, event: dict[str, Any]) -> None:
        log.info(
            "cmd=%s status=%s code=%s msg_id=%s ack_ms=%s final_ms=%s",
            event["cmd"], event["status"], event["result_code"], event["msg_id"],
            event["ack_latency_ms"], event["final_latency_ms"],
        )
        if is_failure(event):
            error = event.get("error") or {}
            failure_log.error(
                "cmd=%s status=%s code=%s %s: %s",
                event["cmd"], event["status"], event["result_code"],
                error.get("type"), error.get("message"),
                exc_info=record.exception,
            )


def count_run(stats: Any, event: dict[str, Any]) -> dict[str, Any]:
    """``cli_stats`` after one more command: totals, per-command counts, errors, the last run."""
    stats = dict(stats) if isinstance(stats, dict) else {}
    cmd = event.get("cmd") or "?"
    stats["total_runs"] = int(stats.get("total_runs", 0)) + 1
    commands = dict(stats.get("commands") or {})
    commands[cmd] = int(commands.get(cmd, 0)) + 1
    stats["commands"] = commands
    if is_failure(event):
        stats["errors"] = int(stats.get("errors", 0)) + 1
        by_code = dict(stats.get("errors_by_code") or {})
        code = event.get("result_code") or event.get("status") or "ERROR"
        by_code[code] = int(by_code.get(code, 0)) + 1
        stats["errors_by_code"] = by_code
    else:
        stats.setdefault("errors", 0)
    stats["last_run"] = {
        "ts": event.get("ts"),
        "cmd": cmd,
        "status": event.get("status"),
        "result_code": event.get("result_code"),
    }
    return stats
