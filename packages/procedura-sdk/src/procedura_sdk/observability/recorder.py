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

import atexit
import json
import logging
import threading
import time
import warnings
import weakref
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
    """Writes what the agent reports. ``record`` never raises: failures become a RecordingWarning.

    ``background=False`` (the default) writes each record before ``record``
    returns. ``background=True`` hands records to a writer thread that writes
    whatever has queued up as one batch: one chain append and one sync, one
    ``events.json`` write, one state commit (group commit). ``record`` then costs
    the caller next to nothing; ``flush()`` waits until every queued record is
    written (and durable at the chosen durability), and ``close()`` and the
    interpreter's exit flush too. Problems met by the writer are re-raised as
    warnings in the caller's thread at its next ``record``, ``flush`` or ``close``.
    """

    def __init__(
        self,
        paths: DataPaths | None = None,
        *,
        redactor: Redactor | None = None,
        durability: str = "fsync",
        log_files: bool = True,
        background: bool = False,
    ) -> None:
        self.paths = paths if paths is not None else DataPaths.from_env()
        self.redactor = redactor if redactor is not None else default_redactor
        self.durability = durability
        self.events = JsonArrayFile(self.paths.events_json)
        self.errors = JsonArrayFile(self.paths.errors_json)
        self._chain: Any = None
        self._state: Any = None
        self._write_lock = threading.Lock()
        self._problems: list[str] = []
        self._writer: _Writer | None = _Writer(self) if background else None
        if log_files:
            self._guard("log directory", self.paths.logs, lambda: attach_log_files(self.paths, self.redactor))

    # -- the public operations ---------------------------------------------------
    def record(self, record: EventRecord) -> None:
        """Redact ``record`` and write it everywhere it belongs (now, or soon in background mode)."""
        self._submit(("event", record))

    def note_login(self, *, url: str, account: str, ttl: int, expires_at: str) -> None:
        """Set ``last_login`` in the state store: server, account name (never the password), time, ttl, expiry."""
        value = {
            "server": self.redactor.redact_text(url),
            "account": account,
            "time": utc_now_iso(),
            "ttl": ttl,
            "expires_at": expires_at,
        }
        self._submit(("login", value))

    def redact_event(self, record: EventRecord) -> dict[str, Any]:
        """The schema-1 mapping of ``record`` with every redaction rule applied."""
        return self.redactor.redact_record(record.to_dict(), record.cmd, record.args)

    def flush(self) -> None:
        """Wait until everything recorded so far is written; report what could not be."""
        if self._writer is not None:
            self._writer.drain()
        self._emit_problems()

    def close(self) -> None:
        """Flush, then release the chain and the state store."""
        if self._writer is not None:
            self._writer.stop()
            self._writer = None
        with self._write_lock:
            for name in ("_chain", "_state"):
                store = getattr(self, name)
                setattr(self, name, None)
                if store is not None:
                    self._guard(name.strip("_"), self.paths.runtime, store.close)
            self.events.close()
            self.errors.close()
        self._emit_problems()

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- writing -------------------------------------------------------------------
    def _submit(self, item: tuple[str, Any]) -> None:
        if self._writer is not None and self._writer.alive:
            self._writer.put(item)
        else:  # inline mode, or a forked child, which has no writer thread
            self._write_batch([item])
        self._emit_problems()

    def _write_batch(self, items: list[tuple[str, Any]]) -> None:
        """Write queued items in order: one append per sink for all the events among them."""
        events = [self.redact_event(payload) for kind, payload in items if kind == "event"]
        logins = [payload for kind, payload in items if kind == "login"]
        failures = [error_entry(e) for e in events if is_failure(e)]
        with self._write_lock:
            if events:
                self._guard("event chain", self.paths.events_chain,
                            lambda: self._open_chain().append_many(encode_event(e) for e in events))
                self._append_json(self.events, events)
                if self.events.started and self._chain is not None and len(self._chain) > len(events):
                    self._problems.append(
                        f"{self.paths.events_json} was missing and has been started anew; the "
                        f"{len(self._chain) - len(events)} earlier events are in the chain. "
                        "`procedura events --rebuild-json` puts them back."
                    )
                if failures:
                    self._append_json(self.errors, failures)
                self._guard("state store", self.paths.state,
                            lambda: self._open_state().update("cli_stats", lambda stats: count_runs(stats, events)))
            if logins:
                self._guard("state store", self.paths.state,
                            lambda: self._open_state().update("last_login", lambda _old: logins[-1]))
        self._log([payload for kind, payload in items if kind == "event"])

    def _open_chain(self) -> Any:
        if self._chain is None:
            from bitstream import BitStream

            self._chain = BitStream(self.paths.events_chain, durability=self.durability)
        return self._chain

    def _open_state(self) -> Any:
        if self._state is None:
            from deltaram import DeltaRAM

            self._state = DeltaRAM(self.paths.state, durability=self.durability)
        return self._state

    def _append_json(self, target: JsonArrayFile, elements: list[dict[str, Any]]) -> None:
        self._guard(target.path.name, target.path, lambda: target.extend(elements))
        self._problems.extend(target.repairs)

    def _guard(self, what: str, path: Path, write: Callable[[], object]) -> None:
        """Run one write; a failure becomes a reported problem naming the path and the reason."""
        try:
            write()
        except Exception as exc:  # noqa: BLE001 - one sink's failure must not stop the others; it is reported
            reason = f"{type(exc).__name__}: {exc}"
            self._problems.append(
                f"Procedura could not write the {what} at {path} ({reason}). "
                "The command's own result is unaffected; free space or fix permissions "
                "there to resume recording."
            )
            failure_log.error("recording to %s failed", path, exc_info=exc)

    def _emit_problems(self) -> None:
        while self._problems:
            message = self._problems.pop(0)
            warnings.warn(RecordingWarning(self.redactor.redact_text(message)), stacklevel=4)

    def _log(self, records: list[EventRecord]) -> None:
        """One system-log line per written batch (one per command when writing inline); one
        failure-log entry, with its traceback, per failed command."""
        if not records:
            return
        if log.isEnabledFor(logging.INFO):
            log.info("recorded %d command(s): %s", len(records), "; ".join(
                f"{r.cmd} {r.status} code={r.result_code} msg_id={r.msg_id} "
                f"ack_ms={r.ack_latency_ms} final_ms={r.final_latency_ms}"
                for r in records
            ))
        for record in records:
            if record.status in ("error", "timeout") or record.error:
                error = record.error or {}
                failure_log.error(
                    "cmd=%s status=%s code=%s msg_id=%s %s: %s",
                    record.cmd, record.status, record.result_code, record.msg_id,
                    error.get("type"), error.get("message"),
                    exc_info=record.exception,
                )


class _Writer:
    """The background writer of one Recorder: drains its queue in batches on a daemon thread.

    After the first record of a batch arrives, the writer lingers up to
    ``LINGER_S`` for more (a group-commit window, like PostgreSQL's
    ``commit_delay``) unless someone waits in ``drain()`` or the batch is full:
    a writer that woke for every record would pay the lock, the sync and the
    state commit once per record and gain nothing from batching.
    """

    LINGER_S = 0.02
    MAX_BATCH = 512

    def __init__(self, recorder: Recorder) -> None:
        self._recorder = recorder
        self._queue: list[tuple[str, Any]] = []
        self._cond = threading.Condition()
        self._submitted = 0
        self._written = 0
        self._draining = 0
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="procedura-recorder", daemon=True)
        self._thread.start()
        _live_writers.add(self)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def put(self, item: tuple[str, Any]) -> None:
        with self._cond:
            self._queue.append(item)
            self._submitted += 1
            if len(self._queue) == 1 or len(self._queue) >= self.MAX_BATCH:
                self._cond.notify_all()

    def drain(self) -> None:
        with self._cond:
            target = self._submitted
            self._draining += 1
            self._cond.notify_all()
            try:
                while self._written < target and self._thread.is_alive():
                    self._cond.wait(timeout=1.0)
            finally:
                self._draining -= 1

    def stop(self) -> None:
        self.drain()
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join()
        _live_writers.discard(self)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stopping:
                    self._cond.wait()
                if not self._queue:
                    return
                deadline = time.monotonic() + self.LINGER_S
                while not (self._stopping or self._draining or len(self._queue) >= self.MAX_BATCH):
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._cond.wait(remaining)
                batch, self._queue = self._queue, []
            try:
                self._recorder._write_batch(batch)
            finally:
                with self._cond:
                    self._written += len(batch)
                    self._cond.notify_all()


_live_writers: weakref.WeakSet[_Writer] = weakref.WeakSet()


@atexit.register
def _flush_at_exit() -> None:
    """Records handed to a background writer reach the disk even if nobody called close()."""
    for writer in list(_live_writers):
        writer.drain()


def count_runs(stats: Any, events: list[dict[str, Any]]) -> dict[str, Any]:
    """``cli_stats`` after the given commands (see :func:`count_run`)."""
    for event in events:
        stats = count_run(stats, event)
    return stats


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
