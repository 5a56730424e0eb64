"""File-level plumbing for a chain directory: segment descriptors, a forward entry cursor,
atomic file creation, and the torn-tail test. No chain logic lives here."""

from __future__ import annotations

import errno
import os
import struct
import warnings
import zlib
from collections import OrderedDict

from . import format as fmt
from .errors import ChainPermissionError, DiskFullError

_MAX_OPEN_SEGMENTS = 32
_TORN_SCAN_CAP = 64 << 20  # never look further than this past a bad tail entry
_RESYNC_CAP = 1 << 20
_CRC = struct.Struct("<I")


class Bad(Exception):
    """An entry that cannot be parsed; ``claimed_end`` is where its header says it ends."""

    def __init__(self, reason: str, claimed_end: int | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.claimed_end = claimed_end


def permission_error(path: str, exc: OSError) -> ChainPermissionError:
    return ChainPermissionError(
        f"permission denied on {path}: give this user read and write access to the chain "
        "directory, or open it with BitStream(path, readonly=True) to only read it"
    )


def is_disk_full(exc: OSError) -> bool:
    return exc.errno in (errno.ENOSPC, errno.EDQUOT)


def disk_full_error(path: str) -> DiskFullError:
    return DiskFullError(
        errno.ENOSPC,
        f"no space left on the device holding {path}: the append was not made and the chain "
        "is unchanged; free some space and retry",
    )


class Segments:
    """Open descriptors of a chain's segment files, opened on demand and kept (LRU)."""

    def __init__(self, directory: str, writable: bool) -> None:
        self.directory = directory
        self.writable = writable
        self._fds: OrderedDict[int, int] = OrderedDict()

    def path(self, number: int) -> str:
        return os.path.join(self.directory, fmt.segment_name(number))

    def fd(self, number: int) -> int | None:
        """The descriptor of segment ``number``, or None if that file does not exist."""
        fd = self._fds.get(number)
        if fd is not None:
            self._fds.move_to_end(number)
            return fd
        path = self.path(number)
        try:
            fd = os.open(path, (os.O_RDWR if self.writable else os.O_RDONLY) | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        except PermissionError as exc:
            raise permission_error(path, exc) from exc
        self._fds[number] = fd
        if len(self._fds) > _MAX_OPEN_SEGMENTS:
            os.close(self._fds.popitem(last=False)[1])
        return fd

    def close(self) -> None:
        while self._fds:
            os.close(self._fds.popitem()[1])


class Cursor:
    """Reads entries forward from ``offset`` in one segment, a chunk at a time."""

    def __init__(self, fd: int, offset: int, chunk: int = 64 << 10) -> None:
        self.fd = fd
        self.offset = offset
        self.chunk = chunk
        self._buf = b""
        self._base = offset

    def _window(self, need: int) -> tuple[bytes, int]:
        rel = self.offset - self._base
        if rel + need > len(self._buf):
            self._buf = os.pread(self.fd, max(need, self.chunk), self.offset)
            self._base, rel = self.offset, 0
        return self._buf, rel

    def next(self) -> tuple[int, bytes, int] | None:
        """(kind, entry bytes, header length) and advance; None at the end of the data.

        Raises Bad when the bytes there are not a whole entry. CRCs are the caller's job.
        """
        buf, rel = self._window(fmt.MAX_HEADER_LEN)
        if rel >= len(buf) or buf[rel] == 0:
            return None
        try:
            got = fmt.parse_header(buf, rel)
        except fmt.EntryError as exc:
            raise Bad(str(exc), None) from None
        if got is None:  # the file ends inside the header
            raise Bad("entry header cut off by the end of the file", self.offset + fmt.MAX_HEADER_LEN)
        kind, hlen, plen = got
        total = hlen + plen + 4
        if rel + total > len(buf):
            buf, rel = self._window(total)
            if rel + total > len(buf):
                raise Bad("entry cut off by the end of the file", self.offset + total)
        entry = buf[rel : rel + total]
        self.offset += total
        return kind, entry, hlen


    def skip(self) -> tuple[int, int, int] | None:
        """Like next(), without copying the entry: (kind, first payload byte, stored CRC)."""
        buf, rel = self._window(fmt.MAX_HEADER_LEN + 1)
        if rel >= len(buf) or buf[rel] == 0:
            return None
        b = buf[rel]
        if b < 0x80 and b & 3:  # a one-byte header: most small records
            kind, hlen, plen = b & 3, 1, b >> 2
        else:
            try:
                got = fmt.parse_header(buf, rel)
            except fmt.EntryError as exc:
                raise Bad(str(exc), None) from None
            if got is None:
                raise Bad("entry header cut off by the end of the file", None)
            kind, hlen, plen = got
        total = hlen + plen + 4
        if rel + total <= len(buf):
            first = buf[rel + hlen] if plen else -1
            crc = _CRC.unpack_from(buf, rel + total - 4)[0]
        else:  # a large entry: read just its first payload byte and its CRC
            head = os.pread(self.fd, 1, self.offset + hlen)
            tail = os.pread(self.fd, 4, self.offset + total - 4)
            if len(tail) < 4:
                raise Bad("entry cut off by the end of the file", self.offset + total)
            first, crc = (head[0] if plen else -1), _CRC.unpack(tail)[0]
        self.offset += total
        return kind, first, crc


def read_nonzero_run(fd: int, start: int) -> bytes:
    """Bytes from ``start`` up to the last non-zero byte before 64 KiB of zeros or the EOF."""
    out = bytearray()
    pos = start
    while len(out) < _TORN_SCAN_CAP:
        chunk = os.pread(fd, 64 << 10, pos)
        if not chunk.strip(b"\0"):
            break
        out += chunk
        pos += len(chunk)
    return bytes(out.rstrip(b"\0"))


def looks_torn(region: bytes, start: int, claimed_end: int | None, file_size: int) -> bool:
    """Whether a bad entry at ``start`` has the shape of a write that never finished.

    ``region`` is the data from ``start`` to the last non-zero byte (zeros follow). A write
    cut short leaves either an entry running past the end of the file, or a sector-aligned
    run of zeros inside the entry (pages are written whole; unwritten ones read as zeros).
    A bit flip in a fully written entry has neither, and neither has any valid entry after
    it: if one is found, the bad entry is damage, not a torn write.
    """
    if claimed_end is not None and claimed_end > file_size:
        torn = True
    else:
        end = claimed_end if claimed_end is not None else start + len(region) + 1
        torn = False
        b = (start // fmt.ZERO_SECTOR + 1) * fmt.ZERO_SECTOR
        while b < end:
            lo, hi = b - start, min(b + fmt.ZERO_SECTOR, end) - start
            if not region[lo:hi].strip(b"\0"):
                torn = True
                break
            b += fmt.ZERO_SECTOR
    return torn and not _entry_after(region)


def _entry_after(region: bytes) -> bool:
    """Whether some offset after the first bytes of ``region`` starts a valid entry."""
    for q in range(5, min(len(region), _RESYNC_CAP)):
        if region[q] == 0:
            continue
        try:
            got = fmt.parse_header(region, q)
        except fmt.EntryError:
            continue
        if got is None:
            continue
        end = q + got[1] + got[2] + 4
        if end <= len(region):
            seed = fmt.stored_crc(region, q)
            if zlib.crc32(region[q : end - 4], seed) == fmt.stored_crc(region, end):
                return True
    return False


def zero_backwards(fd: int, start: int, length: int) -> None:
    """Overwrite ``length`` bytes at ``start`` with zeros, last chunk first: if this is cut
    short, the bytes at ``start`` (a bad entry's header) are still there to be found again."""
    end = start + length
    while end > start:
        n = min(end - start, 1 << 20)
        pwrite_all(fd, bytes(n), end - n)
        end -= n


def datasync(fd: int) -> None:
    """fdatasync where the platform has it (Linux), fsync elsewhere (macOS)."""
    getattr(os, "fdatasync", os.fsync)(fd)


def fsync_dir(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def pwrite_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        n = os.pwrite(fd, view, offset)
        view = view[n:]
        offset += n


def write_atomically(directory: str, name: str, data: bytes) -> None:
    """Create ``directory/name`` with ``data`` so that it appears whole or not at all, durably."""
    final = os.path.join(directory, name)
    tmp = final + ".tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)
        try:
            pwrite_all(fd, data, 0)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, final)
        fsync_dir(directory)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass  # the temporary file was never created
        except OSError as cleanup:
            warnings.warn(
                f"bitstream: could not remove the temporary file {tmp} ({cleanup}); "
                "it can be deleted by hand",
                RuntimeWarning,
                stacklevel=2,
            )
        if isinstance(exc, PermissionError):
            raise permission_error(final, exc) from exc
        if is_disk_full(exc):
            raise disk_full_error(directory) from exc
        raise
