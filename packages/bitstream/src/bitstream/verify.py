"""Full verification of a chain: every block's CRC and payload, every dictionary, every segment
header and index checkpoint, and the hash chain against a head kept elsewhere."""

from __future__ import annotations

import contextlib
import os
import zlib
from dataclasses import dataclass

from . import format as fmt
from . import storage
from .codec import Codec
from .errors import BitStreamError, CorruptBlockError, NotAChainError
from .lock import FileLock
from .state import Head


@dataclass(frozen=True)
class VerifyReport:
    """What :func:`verify` found. ``bool(report)`` is ``report.ok``.

    ``count`` is the number of records checked intact from the start (all of them when ``ok``);
    ``first_bad`` the sequence number of the first damaged record (or of the trusted head that
    does not match), ``reason`` what is wrong with it; ``notes`` things that are not damage,
    such as a torn final block that the next append will cut.
    """

    ok: bool
    count: int
    first_bad: int | None
    reason: str
    head: Head | None
    notes: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return self.ok


class _Damage(Exception):
    def __init__(self, seq: int, reason: str) -> None:
        super().__init__(reason)
        self.seq, self.reason = seq, reason


def _as_head(value: Head | tuple[int, str] | str) -> Head:
    if isinstance(value, Head):
        return value
    if isinstance(value, str):
        return Head.parse(value)
    seq, digest = value
    return Head(int(seq), str(digest).lower())


def verify(
    path: str | os.PathLike[str],
    *,
    trusted_head: Head | tuple[int, str] | str | None = None,
    lock_held: bool = False,
) -> VerifyReport:
    """Check the chain at ``path`` from its first block to its last, without changing it.

    With ``trusted_head`` (a :class:`Head`, ``(seq, digest)`` or ``"seq:digest"`` kept from
    earlier), also prove that records ``0..seq`` are exactly those the head was taken over.
    Reads without locking; only a bad final block is re-checked under the append lock (unless
    ``lock_held``), to tell a write in progress or torn by a crash from damage.
    """
    return _Verifier(os.path.abspath(os.fspath(path)), lock_held).run(
        None if trusted_head is None else _as_head(trusted_head)
    )


class _Verifier:
    def __init__(self, path: str, lock_held: bool) -> None:
        self.path = path
        manifest = os.path.join(path, fmt.MANIFEST_NAME)
        try:
            with open(manifest, "rb") as f:
                self.stride, _ = fmt.decode_manifest(f.read(), manifest)
        except FileNotFoundError:
            raise NotAChainError(f"{path} is not a bitstream chain (no CHAIN file)") from None
        except PermissionError as exc:
            raise storage.permission_error(manifest, exc) from exc
        self.lock_held = lock_held
        self.codec = Codec(path)
        self.segments = sorted(
            n for n in map(fmt.parse_segment_name, os.listdir(path)) if n is not None
        )
        self.notes: list[str] = []
        self.count = self.crc = self.ndicts = 0
        self.digest = self.head_digest = fmt.GENESIS
        self.checkpoints: list[fmt.IndexEntry] = []
        self.trusted_digest: bytes | None = None

    def run(self, trusted: Head | None) -> VerifyReport:
        self.trusted = trusted
        segs = storage.Segments(self.path, writable=False)
        try:
            try:
                self._scan(segs)
            except _Damage as d:
                return self._report(False, d.seq, d.reason)
        finally:
            segs.close()
        self._check_index()
        if trusted is not None:
            if trusted.seq >= self.count:
                return self._report(
                    False, self.count,
                    f"the chain holds {self.count} records but the trusted head is at seq "
                    f"{trusted.seq}: records were removed",
                )
            if self.trusted_digest is None or self.trusted_digest.hex() != trusted.digest:
                return self._report(
                    False, trusted.seq,
                    f"the chain digest at seq {trusted.seq} differs from the trusted head: "
                    f"records up to {trusted.seq} were altered or replaced",
                )
        return self._report(True, None, "")

    def _report(self, ok: bool, first_bad: int | None, reason: str) -> VerifyReport:
        head = Head(self.count - 1, self.head_digest.hex()) if self.count else None
        return VerifyReport(ok, self.count, first_bad, reason, head, tuple(self.notes))

    def _scan(self, segs: storage.Segments) -> None:
        if not self.segments or self.segments[0] != 0:
            raise _Damage(0, "segment 0 is missing")
        number = 0
        while True:
            fd = segs.fd(number)
            if fd is None:
                raise _Damage(self.count, f"{fmt.segment_name(number)} is missing")
            self._check_header(fd, number)
            sealed = self._scan_segment(fd, number, fmt.HEADER_SIZE)
            if not sealed:
                later = [n for n in self.segments if n > number]
                if later:
                    raise _Damage(
                        self.count, f"{fmt.segment_name(number)} ends without a seal but "
                        f"{fmt.segment_name(later[0])} exists",
                    )
                return
            if number + 1 not in self.segments:
                return  # sealed; the next writer creates the next segment
            number += 1

    def _check_header(self, fd: int, number: int) -> None:
        try:
            hdr = fmt.SegmentHeader.unpack(os.pread(fd, fmt.HEADER_SIZE, 0))
        except fmt.EntryError as exc:
            raise _Damage(self.count, f"{fmt.segment_name(number)}: {exc}") from None
        if (hdr.number, hdr.first_seq, hdr.seed, hdr.digest) != (
            number, self.count, self.crc, self.digest,
        ):
            raise _Damage(self.count, f"{fmt.segment_name(number)}: header does not continue the chain")

    def _scan_segment(self, fd: int, number: int, offset: int) -> bool:
        """Check the entries from ``offset``; True if the segment ends in a seal."""
        cur = storage.Cursor(fd, offset, chunk=1 << 20)
        while True:
            start = cur.offset
            try:
                got = cur.next()
            except storage.Bad as bad:
                return self._bad_tail(fd, number, start, bad.reason, bad.claimed_end)
            if got is None:
                if not any(n > number for n in self.segments) and storage.read_nonzero_run(fd, start):
                    raise _Damage(self.count, "zeroed bytes where a block should be, with data after them")
                return False
            kind, entry, hlen = got
            crc = fmt.stored_crc(entry, len(entry))
            if zlib.crc32(entry[:-4], self.crc) != crc:
                return self._bad_tail(fd, number, start, "checksum mismatch", start + len(entry))
            payload = entry[hlen:-4]
            sealed = False
            if kind == fmt.KIND_CONTROL:
                sealed = self._control(payload, number, start, fd)
            else:
                if self.count % self.stride == 0:
                    self.checkpoints.append(
                        fmt.IndexEntry(self.count, start, number, self.crc, self.ndicts, self.digest)
                    )
                try:
                    self.codec.decode(kind, payload, self.count)
                except CorruptBlockError as exc:
                    raise _Damage(self.count, exc.reason) from None
                self.count += 1
            self.digest = fmt.chain_digest(self.digest, entry)
            if kind != fmt.KIND_CONTROL:
                self.head_digest = self.digest
                if self.trusted is not None and self.count - 1 == self.trusted.seq:
                    self.trusted_digest = self.digest
            self.crc = crc
            if sealed:
                if storage.read_nonzero_run(fd, cur.offset):
                    raise _Damage(self.count, f"{fmt.segment_name(number)} has data after its seal")
                return True

    def _control(self, payload: bytes, number: int, offset: int, fd: int) -> bool:
        try:
            ctype, ordinal, digest = fmt.parse_control(payload)
        except fmt.EntryError as exc:
            raise _Damage(self.count, str(exc)) from None
        if ctype == fmt.CONTROL_SEAL:
            return True
        if ordinal != self.ndicts:
            raise _Damage(self.count, f"dictionary {ordinal} declared out of order")
        try:
            if self.codec.dict_digest(ordinal) != digest:
                raise _Damage(self.count, f"dictionary {ordinal}'s file is not the one declared")
            self.codec.load_dict(ordinal)
        except CorruptBlockError as exc:
            raise _Damage(self.count, exc.reason) from None
        self.ndicts += 1
        return False

    def _bad_tail(
        self, fd: int, number: int, offset: int, reason: str, claimed_end: int | None
    ) -> bool:
        """A bad entry: damage, unless it is the chain's last and looks like a torn write."""
        if any(n > number for n in self.segments):
            raise _Damage(self.count, reason)
        if not self.lock_held:
            try:
                lock = FileLock(os.path.join(self.path, fmt.LOCK_NAME), timeout=30)
                with contextlib.closing(lock), lock:
                    self.lock_held = True  # a writer may have finished the entry: look again
                    return self._scan_segment(fd, number, offset)
            except (OSError, BitStreamError):
                pass  # cannot lock (read-only media, say): judge without it
        region = storage.read_nonzero_run(fd, offset)
        if storage.looks_torn(region, offset, claimed_end, os.fstat(fd).st_size):
            self.notes.append(
                f"incomplete final block at {fmt.segment_name(number)} offset {offset} "
                f"({len(region)} bytes): a writer died mid-write; the next append cuts it"
            )
            return False
        raise _Damage(self.count, reason)

    def _check_index(self) -> None:
        path = os.path.join(self.path, fmt.INDEX_NAME)
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            self.notes.append("no index file: the next writer rebuilds it")
            return
        for e in self.checkpoints:
            at = e.seq // self.stride * fmt.INDEX_ENTRY_SIZE
            if at + fmt.INDEX_ENTRY_SIZE > len(data):
                break
            if fmt.IndexEntry.unpack(data[at : at + fmt.INDEX_ENTRY_SIZE]) != e:
                self.notes.append(
                    f"index entry {e.seq // self.stride} disagrees with the segments; delete "
                    f"{path} and open the chain for writing to rebuild it"
                )
                break
