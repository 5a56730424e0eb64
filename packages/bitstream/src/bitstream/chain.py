"""BitStream: an append-only chain of records in a directory, safe to share between processes.

Readers never lock: each read call first looks one byte past the last entry it knows (one
``pread``) and parses whatever other processes appended since. Writers serialise through the
chain's FileLock; on taking it they catch up the same way and cut a torn tail left by a writer
that died. See FORMAT.md for the bytes and README.md for the guarantees.
"""

from __future__ import annotations

import collections
import contextlib
import os
import threading
import zlib
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from . import format as fmt
from . import storage
from .codec import Codec
from .errors import CorruptBlockError, NotAChainError
from .lock import FileLock
from .state import Head, Stop, Tip
from .writer import ChainWriter

if TYPE_CHECKING:
    from .verify import VerifyReport

DURABILITY_MODES = ("fsync", "flush", "none")
_NEAR = 64


class BitStream(ChainWriter):
    """A hash-chained, zstd-compressed, append-only record chain in the directory ``path``.

    ``durability``: ``"fsync"`` (an append that returned survives power loss), ``"flush"``
    (written to the OS: survives the process dying, not power loss) or ``"none"`` (buffered
    in this object until ``flush()``/``close()``, holding the append lock meanwhile).
    The chain is created if missing unless ``readonly`` or ``create=False``.
    ``segment_bytes`` and ``index_stride`` apply only when creating; ``level`` (zstd level;
    None picks 9 for appends of under 64 records and 1 for larger batches), ``dict_size``,
    ``train_at`` (record counts at which a dictionary is trained, () for never) and
    ``train_records`` (how many recent records it is trained on) are per-process policy.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        durability: str = "fsync",
        readonly: bool = False,
        create: bool = True,
        segment_bytes: int = fmt.DEFAULT_SEGMENT_BYTES,
        index_stride: int = fmt.DEFAULT_INDEX_STRIDE,
        level: int | None = None,
        dict_size: int = 16 << 10,
        train_at: Iterable[int] = (256, 4096),
        train_records: int = 2048,
        lock_timeout: float | None = None,
    ) -> None:
        if durability not in DURABILITY_MODES:
            raise ValueError(f"durability must be one of {DURABILITY_MODES}, not {durability!r}")
        self.path = os.path.abspath(os.fspath(path))
        self.durability = durability
        self.readonly = readonly
        self.dict_size = dict_size
        self.train_at = tuple(sorted(train_at))
        self.train_records = train_records
        self._mutex = threading.RLock()
        self._closed = True
        if not os.path.isdir(self.path):
            if os.path.exists(self.path):
                raise NotAChainError(f"{self.path} is a file, not a chain directory")
            if readonly or not create:
                raise NotAChainError(f"no chain at {self.path} (the directory does not exist)")
        manifest = os.path.join(self.path, fmt.MANIFEST_NAME)
        if not os.path.exists(manifest):
            if readonly or not create:
                raise NotAChainError(f"{self.path} is not a bitstream chain (no CHAIN file)")
            self._create(segment_bytes, index_stride)
        try:
            with open(manifest, "rb") as f:
                self.stride, self.segment_bytes = fmt.decode_manifest(f.read(), manifest)
        except PermissionError as exc:
            raise storage.permission_error(manifest, exc) from exc
        self._flock = FileLock(os.path.join(self.path, fmt.LOCK_NAME), timeout=lock_timeout)
        self._segs = storage.Segments(self.path, writable=not readonly)
        self.codec = Codec(self.path, level)
        self._index_fd = self._open_index()
        self._mem_index: dict[int, fmt.IndexEntry] = {}
        # (seq, segment, offset, seed) of the latest records seen: tail(n) starts right there
        self._near: collections.deque[tuple[int, int, int, int]] = collections.deque(maxlen=_NEAR)
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._holding = False  # "none" mode: an extra lock hold while records are buffered
        self._train_failed: set[tuple[int, int]] = set()
        self._damage: Stop | None = None
        self._end_checked = False
        self._closed = False
        try:
            self._tip = self._initial_tip()
            self._walk(self._tip)
        except BaseException:
            self.close()
            raise
        self._written = self._tip.copy()  # the state of the bytes handed to the OS
        self._alloc = 0  # known size of the tip's segment file; refreshed when it matters

    # -- opening ------------------------------------------------------------------------------

    def _create(self, segment_bytes: int, index_stride: int) -> None:
        try:
            os.makedirs(self.path, exist_ok=True)
            names = set(os.listdir(self.path))
        except PermissionError as exc:
            raise storage.permission_error(self.path, exc) from exc
        ours = {fmt.LOCK_NAME, fmt.INDEX_NAME, fmt.MANIFEST_NAME, fmt.segment_name(0)}
        if any(n not in ours and not n.endswith(".tmp") for n in names):
            raise NotAChainError(
                f"{self.path} is a non-empty directory without a CHAIN file: not a chain; "
                "pick an empty or new directory"
            )
        lock = FileLock(os.path.join(self.path, fmt.LOCK_NAME))
        with contextlib.closing(lock), lock:
            if os.path.exists(os.path.join(self.path, fmt.MANIFEST_NAME)):
                return
            header = fmt.SegmentHeader(0, 0, 0, fmt.GENESIS).pack()
            storage.write_atomically(self.path, fmt.segment_name(0), header)
            storage.write_atomically(
                self.path, fmt.MANIFEST_NAME, fmt.encode_manifest(index_stride, segment_bytes)
            )
            storage.fsync_dir(os.path.dirname(self.path))

    def _open_index(self) -> int | None:
        path = os.path.join(self.path, fmt.INDEX_NAME)
        try:
            if self.readonly:
                return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        except FileNotFoundError:
            return None
        except PermissionError as exc:
            raise storage.permission_error(path, exc) from exc

    def _initial_tip(self) -> Tip:
        """Start from the last index entry that checks out (the index is only a hint)."""
        n = os.fstat(self._index_fd).st_size // fmt.INDEX_ENTRY_SIZE if self._index_fd else 0
        for i in range(n - 1, -1, -1):
            e = self._index_file_entry(i)
            if e is not None and self._index_entry_ok(e):
                self._index_len = i + 1
                if i > 0:  # one stride earlier, so that the walk remembers >= a stride of
                    prev = self._index_file_entry(i - 1)  # positions and tail(n) skips nothing
                    if prev is not None and self._index_entry_ok(prev):
                        e = prev
                return Tip(e.seq, e.segment, e.offset, e.seed, e.digest, e.digest, e.ndicts, False)
        self._index_len = 0
        fd = self._segs.fd(0)
        if fd is None:
            raise CorruptBlockError(f"{self.path}: segment 0 is missing; the chain is damaged")
        try:
            hdr = fmt.SegmentHeader.unpack(os.pread(fd, fmt.HEADER_SIZE, 0))
        except fmt.EntryError as exc:
            raise CorruptBlockError(f"{self.path}: segment 0 header: {exc}", seq=0) from exc
        if (hdr.number, hdr.first_seq, hdr.seed, hdr.digest) != (0, 0, 0, fmt.GENESIS):
            raise CorruptBlockError(f"{self.path}: segment 0 header is inconsistent", seq=0)
        return Tip(0, 0, fmt.HEADER_SIZE, 0, fmt.GENESIS, fmt.GENESIS, 0, False)

    def _index_file_entry(self, i: int) -> fmt.IndexEntry | None:
        data = os.pread(self._index_fd, fmt.INDEX_ENTRY_SIZE, i * fmt.INDEX_ENTRY_SIZE)
        e = fmt.IndexEntry.unpack(data)
        return e if e is not None and e.seq == i * self.stride else None

    def _index_entry_ok(self, e: fmt.IndexEntry) -> bool:
        """Whether the record an index entry points at is there, with the CRC seed it says."""
        fd = self._segs.fd(e.segment)
        if fd is None or e.offset < fmt.HEADER_SIZE:
            return False
        if e.offset == fmt.HEADER_SIZE:
            try:
                hdr = fmt.SegmentHeader.unpack(os.pread(fd, fmt.HEADER_SIZE, 0))
            except fmt.EntryError:
                return False
            if (hdr.first_seq, hdr.seed, hdr.digest) != (e.seq, e.seed, e.digest):
                return False
        elif os.pread(fd, 4, e.offset - 4) != e.seed.to_bytes(4, "little"):
            return False
        try:
            got = storage.Cursor(fd, e.offset, chunk=4096).next()
        except storage.Bad:
            return False
        return (
            got is not None
            and got[0] != fmt.KIND_CONTROL
            and zlib.crc32(got[1][:-4], e.seed) == fmt.stored_crc(got[1], len(got[1]))
        )

    # -- walking forward ----------------------------------------------------------------------

    def _walk(self, tip: Tip) -> Stop | None:
        """Advance ``tip`` over every whole, valid entry after it; where it stopped, if not at
        a clean end of the data. Remembers an index entry for every stride-th record."""
        while True:
            if tip.sealed:
                fd = self._segs.fd(tip.segment + 1)
                if fd is None:
                    return None
                try:
                    hdr = fmt.SegmentHeader.unpack(os.pread(fd, fmt.HEADER_SIZE, 0))
                except fmt.EntryError as exc:
                    return Stop(tip.segment + 1, 0, f"segment header: {exc}", header=True)
                if (hdr.number, hdr.first_seq, hdr.seed, hdr.digest) != (
                    tip.segment + 1, tip.count, tip.crc, tip.digest,
                ):
                    return Stop(tip.segment + 1, 0, "segment header does not continue the chain", header=True)
                tip.segment, tip.end, tip.sealed = tip.segment + 1, fmt.HEADER_SIZE, False
            fd = self._segs.fd(tip.segment)
            if fd is None:
                return Stop(tip.segment, 0, "segment file missing", header=True)
            if os.pread(fd, 1, tip.end) in (b"", b"\0"):  # the common case: nothing new
                return None
            cur = storage.Cursor(fd, tip.end)
            while not tip.sealed:
                try:
                    got = cur.next()
                except storage.Bad as bad:
                    return Stop(tip.segment, tip.end, bad.reason, bad.claimed_end)
                if got is None:
                    return None
                kind, entry, hlen = got
                crc = fmt.stored_crc(entry, len(entry))
                if zlib.crc32(entry[:-4], tip.crc) != crc and (
                    kind == fmt.KIND_CONTROL or not _valid_entry_at(fd, cur.offset, crc)
                ):  # a damaged record followed by intact entries is counted (reading it raises)
                    return Stop(tip.segment, tip.end, "checksum mismatch", tip.end + len(entry))
                if kind == fmt.KIND_CONTROL:
                    try:
                        ctype, ordinal, _ = fmt.parse_control(entry[hlen:-4])
                    except fmt.EntryError as exc:
                        return Stop(tip.segment, tip.end, str(exc), tip.end + len(entry))
                    if ctype == fmt.CONTROL_DICT:
                        if ordinal != tip.ndicts:
                            return Stop(tip.segment, tip.end, "dictionary declared out of order")
                        tip.ndicts += 1
                    tip.sealed = ctype == fmt.CONTROL_SEAL
                else:
                    self._near.append((tip.count, tip.segment, tip.end, tip.crc))
                    if tip.count % self.stride == 0:
                        self._remember(tip.count, tip.end, tip.segment, tip.crc, tip.ndicts, tip.digest)
                    tip.count += 1
                tip.digest = fmt.chain_digest(tip.digest, entry)
                if kind != fmt.KIND_CONTROL:
                    tip.head_digest = tip.digest
                tip.crc = crc
                tip.end += len(entry)

    def _remember(
        self, seq: int, offset: int, segment: int, seed: int, ndicts: int, digest: bytes
    ) -> None:
        """Keep the index entry of record ``seq`` (a multiple of the stride) until written."""
        i = seq // self.stride
        if i >= self._index_len:
            self._mem_index[i] = fmt.IndexEntry(seq, offset, segment, seed, ndicts, digest)

    def _refresh(self) -> None:
        self._check_open()
        if self._pending:
            self._flush_pending(sync=False)
        if not self._flock.locked:  # while we hold the lock nobody else appends
            self._walk(self._tip)
            if len(self._mem_index) > 1024:
                self._catch_up_index()

    def _catch_up_index(self) -> None:
        """Forget remembered index entries that other writers have since put in the file."""
        n = os.fstat(self._index_fd).st_size // fmt.INDEX_ENTRY_SIZE if self._index_fd else 0
        if n > self._index_len and self._mem_index.get(n - 1) == self._index_file_entry(n - 1):
            self._index_len = n
            for i in [i for i in self._mem_index if i < n]:
                del self._mem_index[i]

    def refresh(self) -> None:
        """See records other processes appended. Every read call (``len``, ``read``, ``tail``,
        ``iter``, ``head``) already does this first, for one ``pread``: calling it is never
        required, only explicit."""
        with self._mutex:
            self._refresh()

    # -- reading ------------------------------------------------------------------------------

    def __len__(self) -> int:
        with self._mutex:
            self._refresh()
            return self._tip.count

    @property
    def head(self) -> Head | None:
        """``Head(seq, digest)`` of the last record, or None for an empty chain."""
        with self._mutex:
            self._refresh()
            t = self._tip
            return Head(t.count - 1, t.head_digest.hex()) if t.count else None

    def read(self, seq: int) -> bytes:
        """Record ``seq`` (negative counts from the end). Raises IndexError or CorruptBlockError."""
        with self._mutex:
            self._refresh()
            n = self._tip.count
            if seq < 0:
                seq += n
            if not 0 <= seq < n:
                raise IndexError(f"record {seq} is out of range (the chain holds {n})")
            return next(self._records(seq, seq + 1))

    def tail(self, n: int) -> list[bytes]:
        """The last ``n`` records, oldest first."""
        with self._mutex:
            self._refresh()
            count = self._tip.count
            return list(self._records(max(0, count - n), count)) if n > 0 else []

    def iter(self, start: int = 0) -> Iterator[bytes]:
        """Records from ``start`` to the end of the chain as it is when iteration begins."""
        with self._mutex:
            self._refresh()
            stop = self._tip.count
        if start < 0:
            start = max(0, start + stop)
        if start < stop:
            yield from self._records(start, stop, chunk=1 << 20)

    def __iter__(self) -> Iterator[bytes]:
        return self.iter(0)

    def _locate(self, seq: int) -> fmt.IndexEntry:
        """The nearest index entry at or before ``seq``: the exact position if it is among the
        last records walked or written, else the index in memory, in the file, or the start."""
        near = self._near
        if near and near[0][0] <= seq <= near[-1][0]:
            at, segment, offset, seed = near[seq - near[0][0]]
            if at == seq:
                return fmt.IndexEntry(seq, offset, segment, seed, 0, b"")
        i = seq // self.stride
        while i >= 0:
            e = self._mem_index.get(i)
            if e is None and i < self._index_len:
                e = self._index_file_entry(i)
            if e is not None:
                return e
            i -= 1
        return fmt.IndexEntry(0, fmt.HEADER_SIZE, 0, 0, 0, fmt.GENESIS)

    def _records(self, start: int, stop: int, chunk: int = 64 << 10) -> Iterator[bytes]:
        e = self._locate(start)
        seq, segment, seed = e.seq, e.segment, e.seed
        cur = self._cursor(segment, e.offset, chunk, seq)
        seal = fmt.CONTROL_SEAL
        while seq < stop:
            try:
                got = cur.skip() if seq < start else cur.next()
                if got is None:
                    raise storage.Bad("the data ends before this record", None)
            except storage.Bad as bad:
                hop = self._next_segment_start(segment, start) if seq < start else None
                if hop is None:
                    raise self._corrupt(seq, bad.reason) from None
                seq, segment, seed = hop.first_seq, hop.number, hop.seed
                cur = self._cursor(segment, fmt.HEADER_SIZE, chunk, seq)
                continue
            if seq < start:  # stepping over: (kind, first payload byte, crc)
                kind, first, seed = got
                if kind != fmt.KIND_CONTROL:
                    seq += 1
                elif first == seal:
                    segment += 1
                    cur = self._cursor(segment, fmt.HEADER_SIZE, chunk, seq)
                continue
            kind, entry, hlen = got
            crc = fmt.stored_crc(entry, len(entry))
            if kind == fmt.KIND_CONTROL:
                if entry[hlen] == seal:
                    segment += 1
                    cur = self._cursor(segment, fmt.HEADER_SIZE, chunk, seq)
            else:
                if zlib.crc32(entry[:-4], seed) != crc:
                    raise self._corrupt(seq, "checksum mismatch")
                yield self.codec.decode(kind, entry[hlen:-4], seq)
                seq += 1
            seed = crc

    def _next_segment_start(self, segment: int, seq: int) -> fmt.SegmentHeader | None:
        """The next segment's header if ``seq`` lies in it: a way around damage at the end of
        a segment for records after it."""
        fd = self._segs.fd(segment + 1)
        if fd is None:
            return None
        try:
            hdr = fmt.SegmentHeader.unpack(os.pread(fd, fmt.HEADER_SIZE, 0))
        except fmt.EntryError:
            return None
        return hdr if hdr.first_seq <= seq else None

    def _cursor(self, segment: int, offset: int, chunk: int, seq: int) -> storage.Cursor:
        fd = self._segs.fd(segment)
        if fd is None:
            raise self._corrupt(seq, f"segment file {fmt.segment_name(segment)} is missing")
        return storage.Cursor(fd, offset, chunk)

    def _corrupt(self, seq: int, reason: str) -> CorruptBlockError:
        return CorruptBlockError(
            f"record {seq} of {self.path} is damaged ({reason}); "
            f"run `python -m bitstream verify {self.path}` for a full report",
            seq=seq,
            reason=reason,
        )

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError(f"chain {getattr(self, 'path', '?')} is closed")

    # -- the rest -----------------------------------------------------------------------------

    def verify(self, trusted_head: Head | tuple[int, str] | str | None = None) -> VerifyReport:
        """Check every block, dictionary and checkpoint; see :func:`bitstream.verify`."""
        from .verify import verify

        with self._mutex:
            self._refresh()
            return verify(self.path, trusted_head=trusted_head, lock_held=self._flock.locked)

    def info(self) -> dict:
        """Counts and sizes, for humans (``python -m bitstream info``)."""
        with self._mutex:
            self._refresh()
            names = os.listdir(self.path)
            seg_names = sorted(n for n in names if fmt.parse_segment_name(n) is not None)
            head = self.head
            return {
                "path": self.path,
                "format_version": fmt.FORMAT_VERSION,
                "records": self._tip.count,
                "head": str(head) if head else None,
                "segments": len(seg_names),
                "dictionaries": self._tip.ndicts,
                "index_stride": self.stride,
                "index_entries": self._index_len + len(self._mem_index),
                "data_bytes": self._data_bytes(seg_names),
                "disk_bytes": sum(os.stat(os.path.join(self.path, n)).st_size for n in names),
            }

    def _data_bytes(self, seg_names: list[str]) -> int:
        """Bytes of the chain proper: full segments, plus the used part of the last one."""
        total = 0
        for n in seg_names:
            number = fmt.parse_segment_name(n)
            if number == self._tip.segment:
                total += self._tip.end
            else:
                total += os.stat(os.path.join(self.path, n)).st_size
        return total

    def close(self) -> None:
        """Write anything buffered, release the lock and close the files. Idempotent."""
        with self._mutex:
            if self._closed:
                return
            try:
                if self._pending and not self.readonly:
                    self._flush_pending(sync=False)
            finally:
                self._closed = True
                self._segs.close()
                if self._index_fd is not None:
                    os.close(self._index_fd)
                self._flock.close()

    def __enter__(self) -> BitStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    def __repr__(self) -> str:
        return f"BitStream({self.path!r}, durability={self.durability!r})"


def _valid_entry_at(fd: int, offset: int, seed: int) -> bool:
    try:
        got = storage.Cursor(fd, offset, chunk=4096).next()
    except storage.Bad:
        return False
    return got is not None and zlib.crc32(got[1][:-4], seed) == fmt.stored_crc(got[1], len(got[1]))



__all__ = ["BitStream", "Head", "DURABILITY_MODES"]
