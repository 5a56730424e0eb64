"""When to write a snapshot and which one to trust: the checkpoint policy over snapshot files.

The rule is Redis's AOF rewrite rule: checkpoint once the delta bytes since the last snapshot
exceed ``ratio`` times the larger of that snapshot's size and ``min_bytes``. Replay on open
then stays proportional to the state's size, and checkpointing costs O(1) per byte committed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import bitstream

from .snapshot import (
    SnapshotInvalid,
    list_snapshots,
    prune,
    read_snapshot,
    record_digest,
    write_snapshot,
)


class Checkpoints:
    """The snapshots of one store, and the bytes of log written since the newest one."""

    def __init__(
        self,
        directory: Path,
        *,
        ratio: float,
        min_bytes: int,
        keep: int,
        sync: bool,
        report: Callable[[str], None],
    ) -> None:
        self.directory = directory
        self.ratio = ratio
        self.min_bytes = min_bytes
        self.keep = keep
        self.sync = sync
        self.report = report
        self.version = 0  # of the snapshot counted from
        self.size = 0  # its body's size
        self.tail_bytes = 0  # record bytes since it

    def newest(self, chain: bitstream.BitStream, limit: int | None) -> tuple[int, dict, int] | None:
        """``(version, state, size)`` of the newest trustworthy snapshot (at or below ``limit``
        if given). Every untrustworthy one met on the way is reported, never used."""
        log_length = len(chain)
        try:
            candidates = list_snapshots(self.directory)
        except OSError as exc:
            self.report(f"cannot list snapshots in {self.directory}: {exc}")
            return None
        for version, path in candidates:
            if (limit is not None and version > limit) or version == 0:
                continue
            try:
                if version > log_length:
                    raise SnapshotInvalid(
                        f"it claims version {version} but the log holds only {log_length} commits"
                    )
                header, state = read_snapshot(path)
                if header["version"] != version:
                    raise SnapshotInvalid("its name and header disagree on the version")
                try:
                    expected = record_digest(chain.read(version - 1))
                except bitstream.BitStreamError as exc:
                    raise SnapshotInvalid(f"the log record it follows is unreadable: {exc}") from None
                if header.get("record") != expected:
                    raise SnapshotInvalid("it does not follow this log's record (another log's?)")
            except SnapshotInvalid as exc:
                self.report(f"ignored snapshot {path}: {exc}")
                continue
            return version, state, header["size"]
        return None

    def start_from(self, version: int, size: int) -> None:
        self.version, self.size, self.tail_bytes = version, size, 0

    def grew(self, nbytes: int) -> None:
        self.tail_bytes += nbytes

    def due(self) -> bool:
        return self.tail_bytes > self.ratio * max(self.size, self.min_bytes)

    def count_from_newer(self, current: int) -> None:
        """Another process may have checkpointed meanwhile: count from its snapshot instead
        (approximately: its file size stands in for its body, record bytes are prorated)."""
        newest = list_snapshots(self.directory)
        if newest and self.version < newest[0][0] <= current:
            since = current - newest[0][0]
            self.tail_bytes = int(self.tail_bytes * since / max(1, current - self.version))
            self.version = newest[0][0]
            self.size = newest[0][1].stat().st_size

    def write(self, version: int, state: dict, last_record: bytes, keep: int | None = None) -> None:
        """Snapshot ``state`` at ``version`` (``last_record`` is log record ``version - 1``)."""
        size = write_snapshot(
            self.directory, version, state, record_digest(last_record), sync=self.sync
        )
        self.start_from(version, size)
        prune(self.directory, self.keep if keep is None else keep)
