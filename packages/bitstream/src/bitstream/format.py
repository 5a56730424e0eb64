"""The on-disk format of a chain, as pure functions on bytes (no I/O); FORMAT.md is its contract.

Everything here mirrors a section of FORMAT.md: names, entries, segment headers, index entries
and the manifest. The reader and writer in ``chain.py`` only move these bytes to and from files.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
import zlib
from dataclasses import dataclass

from .errors import NotAChainError, UnsupportedFormatError

FORMAT_NAME = "bitstream"
FORMAT_VERSION = 1

MANIFEST_NAME = "CHAIN"
LOCK_NAME = "lock"
INDEX_NAME = "index"
_SEGMENT_RE = re.compile(r"^seg-(\d{8})\.bs$")
_DICT_RE = re.compile(r"^dict-(\d{6})-([0-9a-f]{64})\.zdict$")

DEFAULT_INDEX_STRIDE = 32
DEFAULT_SEGMENT_BYTES = 64 << 20

# Entry kinds: the low two bits of an entry's header varint. 0 is never a valid header, so a
# zero byte where a header should start marks the end of the data (segments are zero-filled).
KIND_RAW = 1  # a record stored as is
KIND_ZSTD = 2  # a record: varint dictionary reference, then a magicless zstd frame
KIND_CONTROL = 3  # not a record: one control-type byte, then its body
CONTROL_DICT = 1  # declares a dictionary: varint ordinal, 32-byte BLAKE2b-256 of its file
CONTROL_SEAL = 2  # the segment ends here; the chain continues in the next segment

GENESIS = bytes(32)  # the chain digest before the first entry
HEADER_SIZE = 64
INDEX_ENTRY_SIZE = 64
SEGMENT_MAGIC = b"BSTRSEG\x00"
MAX_HEADER_LEN = 10
ZERO_SECTOR = 512

_U32 = struct.Struct("<I")
_SEG_HEADER = struct.Struct("<8sHHIQI32s")  # 60 bytes, then a CRC-32 of them
_INDEX = struct.Struct("<QQIII32s")  # 60 bytes, then a CRC-32 of them


class EntryError(ValueError):
    """Bytes that cannot be an entry (bad header); the caller decides torn tail vs damage."""


def segment_name(number: int) -> str:
    return f"seg-{number:08d}.bs"


def parse_segment_name(name: str) -> int | None:
    m = _SEGMENT_RE.match(name)
    return int(m.group(1)) if m else None


def dict_name(ordinal: int, digest: bytes) -> str:
    return f"dict-{ordinal:06d}-{digest.hex()}.zdict"


def parse_dict_name(name: str) -> tuple[int, bytes] | None:
    m = _DICT_RE.match(name)
    return (int(m.group(1)), bytes.fromhex(m.group(2))) if m else None


def blake(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=32).digest()


def chain_digest(previous: bytes, entry: bytes) -> bytes:
    """h(n) = BLAKE2b-256(h(n-1) || entry n), entry n being its full bytes, CRC included."""
    return hashlib.blake2b(previous + entry, digest_size=32).digest()


def encode_varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def decode_varint(buf: bytes, pos: int) -> tuple[int, int] | None:
    """(value, position after it), or None if ``buf`` ends inside it."""
    value = shift = 0
    for i in range(pos, min(len(buf), pos + MAX_HEADER_LEN)):
        b = buf[i]
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, i + 1
        shift += 7
    if len(buf) >= pos + MAX_HEADER_LEN:
        raise EntryError("varint longer than 10 bytes")
    return None


ENTRY_HEADERS: dict[int, bytes] = {}  # 1- and 2-byte entry headers met so far (v < 16384)


def entry_header(value: int) -> bytes:
    """``encode_varint(value)``, memoised for the short headers every entry starts with.

    Filled on demand rather than precomputed, so that a process appending one record
    (a CLI command) does not pay for 16,384 headers at import."""
    header = ENTRY_HEADERS.get(value)
    if header is None:
        header = encode_varint(value)
        if value < 16384:
            ENTRY_HEADERS[value] = header
    return header


def entry_body(kind: int, payload: bytes) -> bytes:
    """Header varint (payload length << 2 | kind) followed by the payload."""
    return encode_varint(len(payload) << 2 | kind) + payload


def seal_body() -> bytes:
    return entry_body(KIND_CONTROL, bytes((CONTROL_SEAL,)))


def dict_body(ordinal: int, digest: bytes) -> bytes:
    return entry_body(KIND_CONTROL, bytes((CONTROL_DICT,)) + encode_varint(ordinal) + digest)


def seal_entry(body: bytes, seed: int) -> tuple[bytes, int]:
    """Append the CRC-32 trailer, seeded with the previous entry's stored CRC (a CRC chain)."""
    crc = zlib.crc32(body, seed)
    return body + _U32.pack(crc), crc


def parse_header(buf: bytes, pos: int) -> tuple[int, int, int] | None:
    """(kind, header length, payload length) of the entry at ``pos``; None if cut off."""
    got = decode_varint(buf, pos)
    if got is None:
        return None
    value, end = got
    kind = value & 3
    if kind == 0:
        raise EntryError("entry kind 0")
    return kind, end - pos, value >> 2


def stored_crc(buf: bytes, end: int) -> int:
    """The CRC trailer of the entry that ends at ``end``."""
    return _U32.unpack_from(buf, end - 4)[0]


def parse_control(payload: bytes) -> tuple[int, int, bytes]:
    """(control type, dictionary ordinal, dictionary digest); the last two are 0/b'' for a seal."""
    if payload == bytes((CONTROL_SEAL,)):
        return CONTROL_SEAL, 0, b""
    if payload[:1] == bytes((CONTROL_DICT,)):
        got = decode_varint(payload, 1)
        if got is not None and len(payload) == got[1] + 32:
            return CONTROL_DICT, got[0], bytes(payload[got[1] :])
    raise EntryError("malformed control entry")


@dataclass(frozen=True)
class SegmentHeader:
    """The first 64 bytes of a segment: where it starts in the chain, and the chain state there."""

    number: int
    first_seq: int
    seed: int  # stored CRC of the last entry before this segment (0 for segment 0)
    digest: bytes  # chain digest after the last entry before this segment

    def pack(self) -> bytes:
        head = _SEG_HEADER.pack(
            SEGMENT_MAGIC, FORMAT_VERSION, 0, self.number, self.first_seq, self.seed, self.digest
        )
        return head + _U32.pack(zlib.crc32(head))

    @classmethod
    def unpack(cls, data: bytes) -> SegmentHeader:
        if len(data) < HEADER_SIZE or data[:8] != SEGMENT_MAGIC:
            raise EntryError("segment header missing or bad magic")
        magic, version, _flags, number, first_seq, seed, digest = _SEG_HEADER.unpack_from(data)
        if zlib.crc32(data[:60]) != _U32.unpack_from(data, 60)[0]:
            raise EntryError("segment header checksum mismatch")
        if version != FORMAT_VERSION:
            raise UnsupportedFormatError(
                f"segment format version {version}; this bitstream reads version "
                f"{FORMAT_VERSION}: upgrade procedura-bitstream to read this chain"
            )
        return cls(number, first_seq, seed, digest)


@dataclass(frozen=True)
class IndexEntry:
    """Where record ``seq`` (a multiple of the stride) starts, and the chain state just before it."""

    seq: int
    offset: int
    segment: int
    seed: int  # stored CRC of the entry before the record
    ndicts: int  # dictionaries declared before the record
    digest: bytes  # chain digest before the record

    def pack(self) -> bytes:
        body = _INDEX.pack(
            self.seq, self.offset, self.segment, self.seed, self.ndicts, self.digest
        )
        return body + _U32.pack(zlib.crc32(body))

    @classmethod
    def unpack(cls, data: bytes) -> IndexEntry | None:
        """None when the bytes are not a whole, intact entry (the index is only a hint)."""
        if len(data) < INDEX_ENTRY_SIZE or zlib.crc32(data[:60]) != _U32.unpack_from(data, 60)[0]:
            return None
        return cls(*_INDEX.unpack_from(data))


def encode_manifest(index_stride: int, segment_bytes: int) -> bytes:
    doc = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "index_stride": index_stride,
        "segment_bytes": segment_bytes,
    }
    return (json.dumps(doc, sort_keys=True) + "\n").encode()


def decode_manifest(data: bytes, where: str) -> tuple[int, int]:
    """(index stride, segment bytes) from a CHAIN file."""
    try:
        doc = json.loads(data)
        ok = isinstance(doc, dict) and doc.get("format") == FORMAT_NAME
    except ValueError:
        ok = False
    if not ok:
        raise NotAChainError(f"{where} is not a bitstream manifest; is this the right directory?")
    if doc.get("version") != FORMAT_VERSION:
        raise UnsupportedFormatError(
            f"{where} declares format version {doc.get('version')!r}; this bitstream reads "
            f"version {FORMAT_VERSION}: upgrade procedura-bitstream to read this chain"
        )
    stride, seg = doc.get("index_stride"), doc.get("segment_bytes")
    if not (isinstance(stride, int) and stride > 0 and isinstance(seg, int) and seg >= 1024):
        raise NotAChainError(f"{where} has an invalid index_stride or segment_bytes")
    return stride, seg
