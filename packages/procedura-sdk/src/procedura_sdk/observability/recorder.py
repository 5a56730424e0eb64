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

from .json_array import JsonArrayFile, encode_element
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

    def work_while_waiting(self) -> None:
        """Do queued recording work now, in the calling thread, which is about to block anyway.

        For a background recorder: an agent calls this after sending a request, so that
        the previous command's record is redacted and encoded while the server works,
        rather than by the writer thread, which would compete with the agent for the GIL
        when the answer comes. A no-op otherwise, and when another thread is at it.
        """
        writer = self._writer
        if writer is not None:
            writer.prepare_queued(wait=False)

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
    # A record is written in two steps: prepared (redacted and encoded: Python work,
    # done by the background writer as soon as the record arrives, while the agent
    # waits on its socket), then committed (written and synced, once per batch).
    def _submit(self, item: tuple[str, Any]) -> None:
        if self._writer is not None and self._writer.alive:
            self._writer.put(item)
        else:  # inline mode, or a forked child, which has no writer thread
            self._commit([self._prepare(item)])
        self._emit_problems()

    def _prepare(self, item: tuple[str, Any]) -> _Prepared:
        kind, payload = item
        if kind != "event":
            return _Prepared(kind, payload)
        event = self.redact_event(payload)
        failure = error_entry(event) if is_failure(event) else None
        return _Prepared(
            kind,
            payload,
            event=event,
            chain_bytes=encode_event(event),
            events_line=encode_element(event),
            errors_line=encode_element(failure) if failure is not None else None,
        )

    def _commit(self, batch: list[_Prepared]) -> None:
        """Write prepared items in order: one append per sink for all the events among them."""
        prepared = [p for p in batch if p.kind == "event"]
        events = [p.event for p in prepared]
        logins = [p.payload for p in batch if p.kind == "login"]
        failures = [p.errors_line for p in prepared if p.errors_line is not None]
        with self._write_lock:
            if events:
                self._guard("event chain", self.paths.events_chain,
                            lambda: self._open_chain().append_many(p.chain_bytes for p in prepared))
                self._append_json(self.events, [p.events_line for p in prepared])
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
        self._log([p.payload for p in prepared])

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

    def _append_json(self, target: JsonArrayFile, lines: list[bytes]) -> None:
        self._guard(target.path.name, target.path, lambda: target.extend_encoded(lines))
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
            if len(records) == 1:
                r = records[0]
                log.info(
                    "recorded %s %s code=%s msg_id=%s ack_ms=%s final_ms=%s",
                    r.cmd, r.status, r.result_code, r.msg_id, r.ack_latency_ms, r.final_latency_ms,
                )
            else:
                log.info("recorded %d commands: %s", len(records), _tally(records))
        for record in records:
            if record.status in ("error", "timeout") or record.error:
                error = record.error or {}
                failure_log.error(
                    "cmd=%s status=%s code=%s msg_id=%s %s: %s",
                    record.cmd, record.status, record.result_code, record.msg_id,
                    error.get("type"), error.get("message"),
                    exc_info=record.exception,
                )


def _tally(records: list[EventRecord]) -> str:
    """``"echo finished x48, echo error x2"``: a batch in one short line, in first-seen order."""
    counts: dict[tuple[str, str], int] = {}
    for r in records:
        key = (r.cmd, r.status)
        counts[key] = counts.get(key, 0) + 1
    return ", ".join(f"{cmd} {status} x{n}" for (cmd, status), n in counts.items())


class _Prepared:
    """One queued item, redacted and encoded, waiting to be committed."""

    __slots__ = ("kind", "payload", "event", "chain_bytes", "events_line", "errors_line")

    def __init__(
        self,
        kind: str,
        payload: Any,
        *,
        event: dict[str, Any] | None = None,
        chain_bytes: bytes = b"",
        events_line: bytes = b"",
        errors_line: bytes | None = None,
    ) -> None:
        self.kind = kind
        self.payload = payload
        self.event = event
        self.chain_bytes = chain_bytes
        self.events_line = events_line
        self.errors_line = errors_line


class _Writer:
    """The background writer of one Recorder: commits queued records in batches, on a daemon thread.

    Commits are grouped: after the first record of a batch arrives, the writer
    lingers up to ``LINGER_S`` for more (a group-commit window, like PostgreSQL's
    ``commit_delay``) unless someone waits in ``drain()`` or the batch is full,
    so that the lock, the sync and the state commit are paid once per batch.

    Before a record is committed it is prepared (redacted and encoded), which is
    Python work. The writer prepares what is left at commit time, but a thread
    about to block can do it first (:meth:`prepare_queued`): an agent that has
    just sent a request prepares the previous command's record while the server
    works, instead of the writer competing with it for the GIL.
    """

    LINGER_S = 0.02
    MAX_BATCH = 512

    def __init__(self, recorder: Recorder) -> None:
        self._recorder = recorder
        self._queue: list[tuple[str, Any]] = []  # submitted, not yet prepared
        self._prepared: list[_Prepared] = []  # prepared, not yet committed, in order
        self._preparing = threading.Lock()  # one preparer at a time keeps the order
        self._cond = threading.Condition()
        self._oldest: float | None = None  # when the oldest uncommitted item came
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
            if self._oldest is None:
                self._oldest = time.monotonic()
                self._cond.notify_all()  # the writer starts its linger clock
            elif self._pending() >= self.MAX_BATCH:
                self._cond.notify_all()

    def prepare_queued(self, *, wait: bool) -> None:
        """Prepare what is queued in the calling thread; without ``wait``, only if no one else is."""
        if not self._queue:
            return
        if not self._preparing.acquire(blocking=wait):
            return
        try:
            with self._cond:
                items, self._queue = self._queue, []
            try:
                done = [self._recorder._prepare(item) for item in items]
            except BaseException:
                self._done(len(items))  # lost to a bug, reported by the raise: drain() must not hang
                raise
            with self._cond:
                self._prepared.extend(done)
                if self._oldest is None:  # the writer took its batch meanwhile and now sleeps
                    self._oldest = time.monotonic()
                    self._cond.notify_all()
        finally:
            self._preparing.release()

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
                while not self._commit_due():
                    if self._stopping and not self._pending():
                        return
                    if self._oldest is None:
                        self._cond.wait()
                    else:
                        self._cond.wait(max(self._oldest + self.LINGER_S - time.monotonic(), 0.0))
            self.prepare_queued(wait=True)
            with self._cond:
                batch, self._prepared = self._prepared, []
                self._oldest = time.monotonic() if self._pending() else None
            try:
                self._recorder._commit(batch)
            finally:
                self._done(len(batch))

    def _pending(self) -> int:
        return len(self._queue) + len(self._prepared)

    def _commit_due(self) -> bool:
        if self._oldest is None or not self._pending():
            return False
        return (
            self._stopping
            or self._draining > 0
            or self._pending() >= self.MAX_BATCH
            or time.monotonic() >= self._oldest + self.LINGER_S
        )

    def _done(self, count: int) -> None:
        with self._cond:
            self._written += count
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
