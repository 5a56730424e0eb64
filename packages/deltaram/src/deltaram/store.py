"""DeltaRAM: a key/value state store on a bitstream chain whose commits write only what changed.

The log (a bitstream chain) is the truth: record ``n`` holds the ops that turn version ``n``
into version ``n + 1``. Snapshots are a rebuildable cache that bounds how much of the log an
open has to replay.
"""

from __future__ import annotations

import json
import os
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import bitstream

from .checkpoints import Checkpoints
from .delta import DELETE, SET, Change, Op, PatchError, apply, describe, diff, rebase
from .errors import (
    NotAStoreError,
    SnapshotWarning,
    StoreClosedError,
    StoreCorruptError,
    UnsupportedFormatError,
)
from .record import decode_record, encode_record
from .snapshot import fsync_dir
from .values import check_key, checked_copy, copy_value

FORMAT_VERSION = 1
MARKER = "deltaram.json"
LOG_DIR = "log"
SNAPSHOT_DIR = "snapshots"

_MISSING: Any = object()  # a staged delete, or a key that is absent


class HistoryEntry(NamedTuple):
    """One commit: the version it produced, when (seconds since the epoch), what it changed."""

    version: int
    time: float
    changes: list[Change]


class DeltaRAM:
    """A state store in directory ``path``, created if missing.

    ``set``/``delete`` stage changes in this object; ``commit()`` writes them as one delta
    record (all or nothing) and returns the new version. Other processes' commits become
    visible at open, ``refresh()``, ``commit()`` and ``update()``; staged changes are rebased
    onto them, last writer wins per path (see the README).

    ``durability`` is bitstream's: ``"fsync"`` (a returned commit survives power loss),
    ``"flush"`` or ``"none"``. A checkpoint is written once the deltas since the last one
    exceed ``checkpoint_ratio`` times the larger of its size and ``checkpoint_min_bytes``.
    ``readonly=True`` never writes (and never creates).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        durability: str = "fsync",
        create: bool = True,
        readonly: bool = False,
        checkpoint_ratio: float = 1.0,
        checkpoint_min_bytes: int = 8 * 1024,
        keep_snapshots: int = 2,
    ) -> None:
        if checkpoint_ratio <= 0 or checkpoint_min_bytes < 0 or keep_snapshots < 1:
            raise ValueError("checkpoint_ratio > 0, checkpoint_min_bytes >= 0, keep_snapshots >= 1")
        self.path = Path(path)
        self._readonly = readonly
        self._durability = durability
        self._mutex = threading.RLock()
        self._closed = True
        #: Problems met and worked around (damaged snapshots), as readable sentences.
        self.problems: list[str] = []
        self._checkpoints = Checkpoints(
            self.path / SNAPSHOT_DIR,
            ratio=checkpoint_ratio,
            min_bytes=checkpoint_min_bytes,
            keep=keep_snapshots,
            sync=durability != "none",
            report=self._report,
        )
        self._open_directory(create and not readonly)
        self._chain = bitstream.BitStream(
            self.path / LOG_DIR, durability=durability, readonly=readonly, create=not readonly
        )
        self._closed = False
        try:
            self._load()
        except BaseException:
            self.close()
            raise

    # -- opening ---------------------------------------------------------------------------

    def _open_directory(self, create: bool) -> None:
        marker = self.path / MARKER
        if not marker.exists():
            if self.path.exists() and not self._looks_empty():
                if not marker.exists():  # another process may have just created it
                    raise NotAStoreError(
                        f"{self.path} exists and is not a deltaram store (no {MARKER})"
                    )
            elif not create:
                raise NotAStoreError(f"no deltaram store at {self.path}")
            else:
                self._write_marker()
        try:
            info = json.loads(marker.read_text(encoding="utf-8"))
            fmt = info["version"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise NotAStoreError(f"{marker} is unreadable ({exc}); is this a deltaram store?") from None
        if fmt != FORMAT_VERSION:
            raise UnsupportedFormatError(
                f"{self.path} is deltaram format {fmt!r}; this deltaram reads format "
                f"{FORMAT_VERSION} (upgrade the procedura-deltaram package)"
            )

    def _looks_empty(self) -> bool:
        if not self.path.is_dir():
            return False
        return all(name.startswith(f".{MARKER}.tmp") for name in os.listdir(self.path))

    def _write_marker(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        tmp = self.path / f".{MARKER}.tmp{os.getpid()}"
        tmp.write_text(json.dumps({"format": "deltaram", "version": FORMAT_VERSION}) + "\n")
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, self.path / MARKER)
        fsync_dir(self.path)

    def _load(self) -> None:
        found = self._checkpoints.newest(self._chain, None)
        self._base: dict[str, Any] = {}
        self._version = 0
        if found is not None:
            self._version, self._base, size = found
            self._checkpoints.start_from(self._version, size)
        self._staged: dict[str, Any] = {}
        self._last_record: bytes | None = None
        self._replay_tail()
        if not self._readonly and self._checkpoints.due():
            # The snapshots are missing, damaged or behind: rebuild one from the log.
            self._checkpoint(adopt=False)

    def _report(self, message: str) -> None:
        if message not in self.problems:
            self.problems.append(message)
            warnings.warn(message, SnapshotWarning, stacklevel=4)

    def _replay_tail(self) -> set[str]:
        """Apply every record after ``_version``; return the top-level keys they touched."""
        touched: set[str] = set()
        for data in self._chain.iter(start=self._version):
            try:
                _t, ops = decode_record(data)
                self._base = apply(self._base, ops)
            except PatchError as exc:
                raise StoreCorruptError(
                    f"{self.path}: commit {self._version + 1} cannot be applied: {exc}"
                ) from None
            touched.update(op[1][0] for op in ops)
            self._version += 1
            self._checkpoints.grew(len(data))
            self._last_record = data
        return touched

    # -- reading ---------------------------------------------------------------------------

    @property
    def version(self) -> int:
        """The committed version this object is at (0 for a store with no commits)."""
        return self._version

    def get(self, key: str, default: Any = None) -> Any:
        """The value of ``key`` including staged changes (a copy), or ``default``."""
        with self._mutex:
            self._check_open()
            value = self._working(key)
            return default if value is _MISSING else copy_value(value)

    def state(self) -> dict[str, Any]:
        """The whole state including staged changes, as a new dict."""
        with self._mutex:
            self._check_open()
            out = copy_value(self._base)
            for k, v in self._staged.items():
                if v is _MISSING:
                    out.pop(k, None)
                else:
                    out[k] = copy_value(v)
            return out

    def keys(self) -> list[str]:
        with self._mutex:
            self._check_open()
            return [k for k in {**self._base, **self._staged} if self._working(k) is not _MISSING]

    def __contains__(self, key: object) -> bool:
        with self._mutex:
            self._check_open()
            return type(key) is str and self._working(key) is not _MISSING

    def _working(self, key: str) -> Any:
        if key in self._staged:
            return self._staged[key]
        return self._base.get(key, _MISSING)

    @property
    def checkpoint_version(self) -> int:
        """The version of the snapshot this object loaded or last wrote (0: none)."""
        return self._checkpoints.version

    @property
    def pending(self) -> bool:
        """Whether there are staged changes not yet committed."""
        return bool(self._staged)

    # -- writing ---------------------------------------------------------------------------

    def set(self, key: str, value: Any) -> None:
        """Stage ``key = value``. ``TypeError`` naming the key if it is not JSON data."""
        check_key(key)
        copied = checked_copy(key, value)
        with self._mutex:
            self._check_writable()
            self._staged[key] = copied

    def delete(self, key: str) -> None:
        """Stage the removal of ``key`` (nothing happens if it does not exist)."""
        check_key(key)
        with self._mutex:
            self._check_writable()
            self._staged[key] = _MISSING

    def rollback(self) -> None:
        """Drop every staged change."""
        with self._mutex:
            self._staged.clear()

    def commit(self) -> int:
        """Write the staged changes as one delta record and return the new version.

        Nothing is written when nothing changed. Commits made by other processes since this
        object last looked are applied first (under the log's lock when there is something to
        write) and the staged changes are rebased onto them.
        """
        with self._mutex:
            self._check_writable()
            ops = self._pending_ops()
            if not ops:
                # Nothing to write; still catch up, so the version returned is the latest.
                self._staged.clear()
                if len(self._chain) != self._version:
                    self._catch_up()
                return self._version
            with self._chain.lock():
                if len(self._chain) != self._version:
                    self._catch_up()
                    ops = self._pending_ops()
                if ops:
                    self._append(ops)
                    for k, v in self._staged.items():
                        if v is _MISSING:
                            self._base.pop(k, None)
                        else:
                            self._base[k] = v  # staged values are private: no copy needed
                self._staged.clear()
            self._maybe_checkpoint()
            return self._version

    def update(self, key: str, fn: Callable[[Any], Any], default: Any = None) -> Any:
        """Atomically set ``key`` to ``fn(current value or default)``, commit it, return it.

        Atomic across processes: the log stays locked from reading the latest value to
        appending the new one. Only ``key`` is committed; other staged changes stay staged.
        ``fn`` must not call ``commit()`` or ``update()``; if it raises, nothing is written.
        """
        check_key(key)
        with self._mutex:
            self._check_writable()
            with self._chain.lock():
                if len(self._chain) != self._version:
                    self._catch_up()
                current = self._working(key)
                new = fn(default if current is _MISSING else copy_value(current))
                new = checked_copy(key, new)
                old = self._base.get(key, _MISSING)
                ops = [[SET, [key], new]] if old is _MISSING else diff(old, new, [key])
                if ops:
                    self._append(ops)
                    self._base[key] = new
                self._staged.pop(key, None)
            self._maybe_checkpoint()
            return copy_value(new)

    def refresh(self) -> int:
        """Catch up with commits made by other processes; return the version reached."""
        with self._mutex:
            self._check_open()
            if len(self._chain) != self._version:
                self._catch_up()
            return self._version

    def _pending_ops(self) -> list[Op]:
        ops: list[Op] = []
        for k, v in self._staged.items():
            old = self._base.get(k, _MISSING)
            if v is _MISSING:
                if old is not _MISSING:
                    ops.append([DELETE, [k]])
            elif old is _MISSING:
                ops.append([SET, [k], v])
            else:
                ops.extend(diff(old, v, [k]))
        return ops

    def _catch_up(self) -> None:
        """Apply others' new records; rebase staged values of the keys they touched."""
        before = {k: copy_value(self._base[k]) for k in self._staged if k in self._base}
        touched = self._replay_tail()
        for k in touched & self._staged.keys():
            old = {k: before[k]} if k in before else {}
            work = {} if self._staged[k] is _MISSING else {k: self._staged[k]}
            latest = {k: copy_value(self._base[k])} if k in self._base else {}
            result = rebase(diff(old, work), old, work, latest)
            self._staged[k] = result.get(k, _MISSING)

    def _append(self, ops: list[Op]) -> None:
        data = encode_record(time.time(), ops)
        seq = self._chain.append(data)
        if seq != self._version:
            raise StoreCorruptError(
                f"{self.path}: the log grew to {seq} under our lock, expected {self._version}"
            )
        self._version = seq + 1
        self._checkpoints.grew(len(data))
        self._last_record = data

    # -- checkpoints -----------------------------------------------------------------------

    def _maybe_checkpoint(self) -> None:
        if self._checkpoints.due():
            self._checkpoint(adopt=True)

    def _checkpoint(self, *, adopt: bool, keep: int | None = None, quiet: bool = True) -> None:
        """Write a snapshot of the committed state. Unless asked for (``quiet=False``), a
        failure (disk full, permissions) is reported, not raised: the commit it follows is
        already safe in the log."""
        if self._version == 0:
            return
        try:
            if adopt:
                self._checkpoints.count_from_newer(self._version)
                if not self._checkpoints.due():
                    return
            if self._durability == "none":
                # bitstream buffers "none" appends in memory; a snapshot must never get
                # ahead of the log on disk, or it would be ignored after a crash anyway.
                self._chain.flush()
            last = self._last_record
            if last is None:
                last = self._chain.read(self._version - 1)
            self._checkpoints.write(self._version, self._base, last, keep)
        except OSError as exc:
            if not quiet:
                raise
            self._report(f"could not write a snapshot in {self._checkpoints.directory}: {exc}")

    def compact(self) -> int:
        """Checkpoint the latest committed state now and delete every older snapshot.

        Opening then replays nothing. The log itself is append-only and hash-chained, so no
        record is removed: ``history()`` and ``at()`` still cover every version (``at()`` of a
        version before the checkpoint replays the log from the start). Staged changes are
        rebased, not committed. Returns the version checkpointed.
        """
        with self._mutex:
            self._check_writable()
            with self._chain.lock():
                if len(self._chain) != self._version:
                    self._catch_up()
            self._checkpoint(adopt=False, keep=1, quiet=False)
            return self._version

    # -- the past --------------------------------------------------------------------------

    def at(self, version: int) -> dict[str, Any]:
        """The committed state at ``version`` (0 is the empty store), as a new dict."""
        with self._mutex:
            self._check_open()
            length = len(self._chain)
            if type(version) is not int or not 0 <= version <= length:
                raise ValueError(f"version must be an int from 0 to {length}, not {version!r}")
            if version == self._version:
                return copy_value(self._base)
            start, state = 0, {}
            if self._version < version:
                start, state = self._version, copy_value(self._base)
            found = self._checkpoints.newest(self._chain, version)
            if found is not None and found[0] > start:
                start, state = found[0], found[1]
            for n, data in enumerate(self._chain.iter(start=start), start):
                if n >= version:
                    break
                try:
                    state = apply(state, decode_record(data)[1])
                except PatchError as exc:
                    raise StoreCorruptError(f"commit {n + 1} cannot be applied: {exc}") from None
            return state

    def history(self, key: str | None = None) -> Iterator[HistoryEntry]:
        """Every commit in the log, oldest first, as ``(version, time, changes)``.

        With ``key``, only commits that changed it, and only their changes to it.
        """
        self._check_open()
        for n, data in enumerate(self._chain.iter(start=0)):
            try:
                t, ops = decode_record(data)
            except PatchError as exc:
                raise StoreCorruptError(f"commit {n + 1} is unreadable: {exc}") from None
            changes = [describe(op) for op in ops if key is None or op[1][0] == key]
            if changes:
                yield HistoryEntry(n + 1, t, changes)

    # -- lifecycle -------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosedError(f"the store at {self.path} is closed")

    def _check_writable(self) -> None:
        self._check_open()
        if self._readonly:
            raise PermissionError(f"the store at {self.path} was opened readonly")

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Close the log. Staged changes that were not committed are dropped."""
        with self._mutex:
            if self._closed:
                return
            self._closed = True
            self._staged = {}
            self._chain.close()

    def __enter__(self) -> DeltaRAM:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        """Commit staged changes on a normal exit (drop them on an exception), then close."""
        try:
            if exc_type is None and not self._closed and not self._readonly:
                self.commit()
        finally:
            self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"version {self._version}"
        return f"<DeltaRAM {str(self.path)!r} {state}>"
