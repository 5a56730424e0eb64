"""The write side of BitStream: appending under the chain's lock, segment rotation,
preallocation, torn-tail repair, dictionary training, the index, and failure cleanup.

A mixin: it works on the state BitStream sets up (the tip, the segment files, the lock).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import os
import warnings
import zlib
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from . import format as fmt
from . import storage
from .codec import train
from .errors import ReadOnlyChainError
from .state import Stop

if TYPE_CHECKING:
    from .chain import BitStream

_PREALLOC_STEP = 1 << 20
_NONE_MODE_BUFFER = 1 << 20
_PIPELINE_CHUNK = 8192  # records per compression job in large batches
_ZEROS = bytes(_PREALLOC_STEP)


class ChainWriter:
    # -- writing ------------------------------------------------------------------------------

    def append(self, data: bytes) -> int:
        """Append one record; its sequence number once it is as durable as ``durability`` says."""
        return self.append_many((data,)).start

    def append_many(self, records: Iterable[bytes]) -> range:
        """Append records in one write and one sync (more only when a segment fills up)."""
        batch = [r if type(r) is bytes else _as_bytes(r) for r in records]
        with self._write_lock():
            if not batch:
                return range(self._tip.count, self._tip.count)
            start = self._tip.count
            try:
                self._encode(batch)
                if self.durability != "none" or self._pending_bytes >= _NONE_MODE_BUFFER:
                    self._flush_pending(sync=self.durability == "fsync")
            except BaseException:
                self._rollback()
                raise
            if self.durability == "none" and self._pending and not self._holding:
                self._flock.acquire()  # keep others out until the buffered records are written
                self._holding = True
            return range(start, self._tip.count)

    @contextlib.contextmanager
    def lock(self, timeout: float | None = None) -> Iterator[BitStream]:
        """Hold the chain's append lock: no other process appends until the block ends.

        On entry this object has seen every record appended before; appends inside do not
        lock again. Use it for read-modify-write: ``with chain.lock(): chain.append(f(chain))``.
        """
        self._check_writable()
        self._flock.acquire(timeout)
        try:
            with self._mutex:
                if self._flock._depth == 1:
                    self._catch_up()
            yield self
        finally:
            self._flock.release()

    @contextlib.contextmanager
    def _write_lock(self) -> Iterator[None]:
        self._check_writable()
        self._flock.acquire()
        try:
            with self._mutex:
                if self._flock._depth == 1:
                    self._catch_up()
                if self._damage is not None:
                    d = self._damage
                    raise self._corrupt(self._tip.count, f"{d.reason}; appends are refused")
                yield
        finally:
            self._flock.release()

    def _catch_up(self) -> None:
        """Under the lock: see others' appends, cut a torn tail, or note damage to refuse."""
        self._damage = None
        stop = self._walk(self._tip)
        if stop is None and not self._end_checked:
            stop = self._check_after_end()
        if stop is not None and not (not stop.header and self._cut_torn_tail(stop)):
            self._damage = stop
        self._written = self._tip.copy()
        self._write_index()

    def _check_after_end(self) -> Stop | None:
        """Once per object: past the end of the data there must be only zeros. Anything else
        is a zeroed block with blocks after it (damage); never write over it."""
        self._end_checked = True
        t = self._tip
        fd = self._segs.fd(t.segment)
        if t.sealed or fd is None or not storage.read_nonzero_run(fd, t.end):
            return None
        return Stop(t.segment, t.end, "zeroed bytes where a block should be, with data after them", header=True)

    def _cut_torn_tail(self, stop: Stop) -> bool:
        if self._segs.fd(stop.segment + 1) is not None:
            return False  # a later segment exists, so this one was complete: damage
        fd = self._segs.fd(stop.segment)
        size = os.fstat(fd).st_size
        region = storage.read_nonzero_run(fd, stop.offset)
        if not storage.looks_torn(region, stop.offset, stop.claimed_end, size):
            return False
        try:
            storage.zero_backwards(fd, stop.offset, len(region))
            storage.datasync(fd)
        except OSError as exc:
            raise self._os_error(exc) from exc
        return True

    def _check_writable(self) -> None:
        self._check_open()
        if self.readonly:
            raise ReadOnlyChainError(f"{self.path} was opened with readonly=True")

    def _encode(self, batch: list[bytes]) -> None:
        """Compress and chain ``batch``, training dictionaries where the schedule says."""
        pos = 0
        while pos < len(batch):
            if self._training_due():
                self._train(fresh=batch[:pos])
            nxt = self._next_threshold()
            take = len(batch) - pos if nxt is None else min(len(batch) - pos, nxt - self._tip.count)
            ndicts = self._tip.ndicts
            part = batch[pos : pos + take]
            encode = functools.partial(self.codec.encode_many, ordinal=ndicts - 1 if ndicts else None)
            if len(part) < 2 * _PIPELINE_CHUNK:
                self._add(encode(part))
            else:  # compress the next chunk on another core while this one is chained
                from concurrent.futures import ThreadPoolExecutor  # only big batches pay for it

                chunks = [part[i : i + _PIPELINE_CHUNK] for i in range(0, len(part), _PIPELINE_CHUNK)]
                ordinal = ndicts - 1 if ndicts else None
                with ThreadPoolExecutor(1) as pool:
                    ahead = pool.submit(self.codec.frames, chunks[0], ordinal)
                    for i in range(len(chunks)):
                        frames = ahead.result()
                        if i + 1 < len(chunks):
                            ahead = pool.submit(self.codec.frames, chunks[i + 1], ordinal)
                        self._add(self.codec.bodies(chunks[i], frames, ordinal))
            pos += take

    def _add(self, bodies: list[bytes]) -> None:
        """Chain entry bodies onto the tip, into the write buffer, rotating segments as they
        fill. A batch that fits a fresh segment is not split: it moves there whole."""
        tip = self._tip
        if tip.sealed:
            self._start_segment()
        total = sum(map(len, bodies)) + 4 * len(bodies) + 16
        if tip.end + total > self.segment_bytes and tip.end > fmt.HEADER_SIZE:
            self._rotate()
        if tip.end + total <= self.segment_bytes:
            self._chain(bodies)
            return
        for body in bodies:
            if tip.end + len(body) + 20 > self.segment_bytes and tip.end > fmt.HEADER_SIZE:
                self._rotate()
            self._chain([body])

    def _chain(self, bodies: list[bytes]) -> None:
        """The hot loop: CRC-chain, hash-chain and buffer each entry (see FORMAT.md)."""
        tip = self._tip
        crc32, blake2b, control, stride = zlib.crc32, hashlib.blake2b, fmt.KIND_CONTROL, self.stride
        crc, digest, head, count, end = tip.crc, tip.digest, tip.head_digest, tip.count, tip.end
        pending = self._pending
        mark = -(-count // stride) * stride  # the next record that gets an index entry
        for body in bodies:
            if body[0] & 3 != control:
                if count == mark:
                    self._remember(count, end, tip.segment, crc, tip.ndicts, digest)
                    mark += stride
                crc = crc32(body, crc)
                entry = body + crc.to_bytes(4, "little")
                count += 1
                digest = head = blake2b(digest + entry, digest_size=32).digest()
            else:
                crc = crc32(body, crc)
                entry = body + crc.to_bytes(4, "little")
                digest = blake2b(digest + entry, digest_size=32).digest()
            end += len(entry)
            pending.append(entry)
        self._pending_bytes += end - tip.end
        near, seq, offset = [], count, end  # positions of the last records, newest first
        for j in range(len(pending) - 1, max(len(pending) - len(bodies), len(pending) - 80) - 1, -1):
            entry = pending[j]
            offset -= len(entry)
            if entry[0] & 3 != control:
                seq -= 1
                before = int.from_bytes(pending[j - 1][-4:], "little") if j else self._written.crc
                near.append((seq, tip.segment, offset, before))
        self._near.extend(reversed(near))
        tip.crc, tip.digest, tip.head_digest, tip.count, tip.end = crc, digest, head, count, end

    def _rotate(self) -> None:
        self._chain([fmt.seal_body()])
        self._tip.sealed = True
        self._flush_pending(sync=True)  # the seal must be durable before the next segment exists
        self._start_segment()

    def _start_segment(self) -> None:
        t = self._tip
        header = fmt.SegmentHeader(t.segment + 1, t.count, t.crc, t.digest).pack()
        storage.write_atomically(self.path, fmt.segment_name(t.segment + 1), header)
        t.segment, t.end, t.sealed = t.segment + 1, fmt.HEADER_SIZE, False
        self._written = t.copy()
        self._alloc = fmt.HEADER_SIZE

    def _flush_pending(self, sync: bool) -> None:
        """Hand buffered entries to the OS (and fdatasync them); then update the index."""
        w = self._written
        fd = self._segs.fd(w.segment)
        if self._pending:
            data = b"".join(self._pending)
            end = w.end + len(data)
            if end > self._alloc:  # the file grows: learn its real size first (others grow it)
                self._alloc = os.fstat(fd).st_size
            size_before = self._alloc if end > self._alloc else None
            try:
                storage.pwrite_all(fd, data, w.end)
                if size_before is not None:
                    self._zero_ahead(fd, end)
                if sync:
                    storage.datasync(fd)
            except OSError as exc:
                self._cut_back(fd, w.end, len(data), size_before)
                raise self._os_error(exc) from exc
            self._pending.clear()
            self._pending_bytes = 0
            self._written = self._tip.copy()
        elif sync:
            storage.datasync(fd)
        self._write_index()

    def _zero_ahead(self, fd: int, end: int) -> None:
        """Zero-fill a reserve after the data that just grew the file: appends into it change
        no file size, so fdatasync has no metadata to persist, and a write cut short there is
        followed by zeros (see FORMAT.md)."""
        new = min(end + _PREALLOC_STEP, max(end, self.segment_bytes))
        pos = end
        try:
            while pos < new:
                n = min(new - pos, len(_ZEROS))
                storage.pwrite_all(fd, _ZEROS if n == len(_ZEROS) else _ZEROS[:n], pos)
                pos += n
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
            # No room for the reserve, but the data fits: go on without it. The file
            # then ends at the data, which FORMAT.md allows, and fdatasync persists its size.
            os.ftruncate(fd, end)
            new = end
        self._alloc = new

    def _cut_back(self, fd: int, start: int, length: int, size_before: int | None) -> None:
        """After a failed write: give back what was grown, zero what landed in the old space."""
        try:
            keep = length
            if size_before is not None:
                os.ftruncate(fd, max(size_before, start))
                keep = min(length, max(0, size_before - start))
            storage.zero_backwards(fd, start, keep)
            storage.datasync(fd)
        except OSError as cleanup:
            # The append's own error is being raised; this one must not replace it, nor vanish.
            warnings.warn(
                f"bitstream: could not cut back the failed append in {self.path} ({cleanup}); "
                "the next writer will cut the torn tail before appending",
                RuntimeWarning,
                stacklevel=3,
            )

    def _rollback(self) -> None:
        self._pending.clear()
        self._pending_bytes = 0
        self._tip = self._written.copy()
        for i in [i for i in self._mem_index if i * self.stride >= self._tip.count]:
            del self._mem_index[i]
        while self._near and self._near[-1][0] >= self._tip.count:
            self._near.pop()

    def _os_error(self, exc: OSError) -> Exception:
        if storage.is_disk_full(exc):
            return storage.disk_full_error(self.path)
        if isinstance(exc, PermissionError):
            return storage.permission_error(self.path, exc)
        return exc

    def _write_index(self) -> None:
        """Persist remembered index entries for written records (never synced: rebuildable)."""
        if self._index_fd is None or not self._flock.locked:
            return
        i = self._index_len
        entries = []
        while i in self._mem_index and self._mem_index[i].seq < self._written.count:
            entries.append(self._mem_index.pop(i).pack())
            i += 1
        if entries:
            try:
                storage.pwrite_all(
                    self._index_fd, b"".join(entries), self._index_len * fmt.INDEX_ENTRY_SIZE
                )
                self._index_len = i
            except OSError:  # the index is a hint; a later writer rebuilds what is missing
                pass

    # -- dictionaries -------------------------------------------------------------------------

    def _training_due(self) -> bool:
        if self._tip.ndicts >= len(self.train_at):  # the usual case, decided cheaply
            return False
        due = sum(1 for t in self.train_at if self._tip.count >= t)
        return self._tip.ndicts < due and (self._tip.ndicts, due) not in self._train_failed

    def _next_threshold(self) -> int | None:
        at = self.train_at
        if not at or self._tip.count >= at[-1]:
            return None
        return next(t for t in at if t > self._tip.count)

    def _train(self, force: bool = False, fresh: list[bytes] = ()) -> bool:
        """Train a dictionary on the latest records and declare it; False if none helps."""
        tip = self._tip
        key = (tip.ndicts, sum(1 for t in self.train_at if tip.count >= t))
        n = self.train_records
        samples = fresh[-n:] if len(fresh) >= n else [*self._recent(n - len(fresh), len(fresh)), *fresh]
        total = sum(map(len, samples))
        while total > 8 << 20 and len(samples) > 16:
            total -= len(samples.pop(0))
        data = train(samples, self.dict_size)
        if data is None:
            if not force:
                self._train_failed.add(key)
            return False
        self._declare(data)
        return True

    def _declare(self, data: bytes) -> None:
        """Store dictionary ``data`` content-addressed and declare it in the chain."""
        tip = self._tip
        ordinal, digest = tip.ndicts, fmt.blake(data)
        for name in os.listdir(self.path):  # leftovers of a writer that died before declaring
            if name.startswith(f"dict-{ordinal:06d}-"):
                os.unlink(os.path.join(self.path, name))
        self.codec.forget_dicts_from(ordinal)
        storage.write_atomically(self.path, fmt.dict_name(ordinal, digest), data)
        self._add([fmt.dict_body(ordinal, digest)])
        tip.ndicts += 1

    def _recent(self, n: int, skip: int) -> list[bytes]:
        """The ``n`` records before the last ``skip``, including those still in the buffer."""
        stop = self._tip.count - skip
        start, written = max(0, stop - n), self._written.count
        out = list(self._records(start, min(stop, written), chunk=1 << 20)) if start < written else []
        seq = written
        for entry in self._pending:
            if seq >= stop:
                break
            kind, hlen, _ = fmt.parse_header(entry, 0)
            if kind != fmt.KIND_CONTROL:
                if seq >= start:
                    out.append(self.codec.decode(kind, entry[hlen:-4], seq))
                seq += 1
        return out

    def add_dictionary(self, data: bytes) -> None:
        """Declare a zstd dictionary you supply (trained elsewhere, or raw content shared by
        your records); appends from now on use it, older blocks keep theirs."""
        data = _as_bytes(data)
        if not data:
            raise ValueError("a dictionary cannot be empty")
        with self._write_lock():
            try:
                self._declare(data)
                self._flush_pending(sync=self.durability == "fsync")
            except BaseException:
                self._rollback()
                raise

    def retrain(self) -> bool:
        """Train a new dictionary on the latest records now; later appends use it. Older blocks
        keep the dictionary they were written with. False if no dictionary would help."""
        with self._write_lock():
            try:
                made = self._train(force=True)
                self._flush_pending(sync=self.durability == "fsync")
            except BaseException:
                self._rollback()
                raise
            return made

    def flush(self) -> None:
        """Write buffered records (``durability="none"``) to the OS and release the lock."""
        with self._mutex:
            self._check_open()
            if self._pending:
                self._flush_pending(sync=False)
            if self._holding:
                self._holding = False
                self._flock.release()

    def sync(self) -> None:
        """Write buffered records and fdatasync them: after this, they survive power loss."""
        with self._mutex:
            self._check_open()
            if not self.readonly:
                self._flush_pending(sync=True)
            self.flush()


def _as_bytes(record: object) -> bytes:
    if isinstance(record, bytes):
        return record
    if isinstance(record, (bytearray, memoryview)):
        return bytes(record)
    raise TypeError(f"records are bytes, not {type(record).__name__}; encode text first")
