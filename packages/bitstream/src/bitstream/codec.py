"""Record compression: magicless zstd frames, with dictionaries trained on the chain's own records.

A dictionary is a file ``dict-<ordinal>-<blake2b>.zdict`` in the chain directory, declared in
the chain by a control entry carrying the same digest; blocks refer to it by ordinal + 1 (0 means
no dictionary). Frames omit the magic number, checksum, content size and dictionary id: the
block's own header and CRC already say all of that, and each omitted byte is ~1 % of a record.
"""

from __future__ import annotations

import os

import zstandard

from . import format as fmt
from .errors import CorruptBlockError

_PARAMS = {
    "format": zstandard.FORMAT_ZSTD1_MAGICLESS,
    "write_checksum": 0,
    "write_content_size": 0,
    "write_dict_id": 0,
}
_SMALL_BATCH = 64
_MULTI_MIN = 512  # below this, threads cost more than they save
# Fixed FastCover parameters: as good as zstd's parameter search on event-like records here
# (within 0.5 %), and ~5x faster, which matters because training runs inside an append.
_TRAIN_PARAMS = {"k": 2048, "d": 8, "f": 20, "accel": 1}


class Codec:
    """Encodes records into entry payloads and back, loading dictionaries on first use."""

    def __init__(self, directory: str, level: int | None = None) -> None:
        """``level`` None: zstd level 9 for batches under 64 records (an append's cost is its
        sync, so the CPU buys ~8 % smaller blocks for free) and 1 for larger ones (CPU-bound:
        with a dictionary, level 1 compresses event-like records as well as 3, ~20 % faster)."""
        self.directory = directory
        self.levels = (9, 1) if level is None else (level, level)
        self._dicts: dict[int, zstandard.ZstdCompressionDict] = {}
        self._compressors: dict[tuple[int, int], zstandard.ZstdCompressor] = {}
        self._decompressors: dict[int, zstandard.ZstdDecompressor] = {}

    # -- dictionaries -------------------------------------------------------------------------

    def dict_path(self, ordinal: int) -> str:
        """The file of dictionary ``ordinal``; exactly one must exist once it is declared."""
        prefix = f"dict-{ordinal:06d}-"
        names = [n for n in os.listdir(self.directory) if n.startswith(prefix)]
        if len(names) != 1:
            raise CorruptBlockError(
                f"dictionary {ordinal} of {self.directory}: expected one file {prefix}*.zdict, "
                f"found {len(names)}; the chain directory is incomplete",
                reason=f"dictionary {ordinal} missing",
            )
        return os.path.join(self.directory, names[0])

    def load_dict(self, ordinal: int) -> zstandard.ZstdCompressionDict:
        zd = self._dicts.get(ordinal)
        if zd is None:
            path = self.dict_path(ordinal)
            with open(path, "rb") as f:
                data = f.read()
            parsed = fmt.parse_dict_name(os.path.basename(path))
            if parsed is None or parsed[1] != fmt.blake(data):
                raise CorruptBlockError(
                    f"dictionary file {path} does not match the digest in its name",
                    reason=f"dictionary {ordinal} damaged",
                )
            zd = self._dicts[ordinal] = zstandard.ZstdCompressionDict(data)
        return zd

    def dict_digest(self, ordinal: int) -> bytes:
        parsed = fmt.parse_dict_name(os.path.basename(self.dict_path(ordinal)))
        assert parsed is not None
        return parsed[1]

    def forget_dicts_from(self, ordinal: int) -> None:
        """Drop cached dictionaries >= ordinal (after removing undeclared leftover files)."""
        for k in [k for k in self._dicts if k >= ordinal]:
            del self._dicts[k]
        for k in [k for k in self._decompressors if k > ordinal]:  # keyed by reference
            del self._decompressors[k]
        for key in [key for key in self._compressors if key[0] >= ordinal]:
            del self._compressors[key]

    # -- records ------------------------------------------------------------------------------

    def _compressor(self, ordinal: int | None, level: int) -> zstandard.ZstdCompressor:
        key = (-1 if ordinal is None else ordinal, level)
        c = self._compressors.get(key)
        if c is None:
            zd = None if ordinal is None else self.load_dict(ordinal)
            params = zstandard.ZstdCompressionParameters.from_level(level, **_PARAMS)
            c = zstandard.ZstdCompressor(dict_data=zd, compression_params=params)
            self._compressors[key] = c
        return c

    def encode_many(self, records: list[bytes], ordinal: int | None) -> list[bytes]:
        """Entry bodies (header + payload) for ``records``, compressed with dictionary ``ordinal``.

        A record is stored raw when compression would not make it smaller.
        """
        return self.bodies(records, self.frames(records, ordinal), ordinal)

    def frames(self, records: list[bytes], ordinal: int | None) -> list[bytes]:
        """The zstd frames of ``records`` (the C part of encoding: runs without the GIL)."""
        comp = self._compressor(ordinal, self.levels[len(records) >= _SMALL_BATCH])
        if len(records) >= _MULTI_MIN and hasattr(comp, "multi_compress_to_buffer"):
            threads = min(4, os.cpu_count() or 1)
            col = comp.multi_compress_to_buffer(records, threads=threads)
            return [col[i].tobytes() for i in range(len(records))]
        return [comp.compress(r) for r in records]

    def bodies(self, records: list[bytes], frames: list[bytes], ordinal: int | None) -> list[bytes]:
        """Entry bodies from records and their frames: each the smaller of zstd and raw."""
        ref = fmt.encode_varint(0 if ordinal is None else ordinal + 1)
        known, header = fmt.ENTRY_HEADERS.get, fmt.entry_header
        zstd, raw = fmt.KIND_ZSTD, fmt.KIND_RAW
        extra = len(ref)
        out = []
        append = out.append
        for rec, frame in zip(records, frames, strict=True):
            n = len(frame) + extra
            if n < len(rec):
                v = n << 2 | zstd
                append((known(v) or header(v)) + ref + frame)
            else:
                v = len(rec) << 2 | raw
                append((known(v) or header(v)) + rec)
        return out

    def decode(self, kind: int, payload: bytes, seq: int) -> bytes:
        """The record stored in an entry payload (its CRC already checked)."""
        if kind == fmt.KIND_RAW:
            return bytes(payload)
        try:
            got = fmt.decode_varint(payload, 0)
            if got is None:
                raise fmt.EntryError("truncated dictionary reference")
            ref, start = got
            d = self._decompressors.get(ref)
            if d is None:
                zd = self.load_dict(ref - 1) if ref else None
                d = zstandard.ZstdDecompressor(dict_data=zd, format=zstandard.FORMAT_ZSTD1_MAGICLESS)
                self._decompressors[ref] = d
            obj = d.decompressobj()
            data = obj.decompress(payload[start:])
            if not obj.eof or obj.unused_data:
                raise fmt.EntryError("zstd frame incomplete or followed by extra bytes")
            return data
        except (zstandard.ZstdError, fmt.EntryError) as exc:
            raise CorruptBlockError(
                f"record {seq} cannot be decompressed ({exc}); run `python -m bitstream verify`",
                seq=seq,
                reason=f"undecodable payload: {exc}",
            ) from exc


def train(samples: list[bytes], dict_size: int) -> bytes | None:
    """A zstd dictionary trained on ``samples``, or None when they are too few or too varied.

    It is trained on the first three quarters and kept only if it makes the last quarter at
    least 10 % smaller than plain zstd does (a dictionary always "helps" the very samples it
    memorised, so those cannot be the judge).
    """
    if len(samples) < 8 or sum(map(len, samples)) < 1024:
        return None
    cut = len(samples) - len(samples) // 4
    params = zstandard.ZstdCompressionParameters.from_level(3, **_PARAMS)
    plain = zstandard.ZstdCompressor(compression_params=params)
    try:
        trained = zstandard.train_dictionary(dict_size, samples[:cut], **_TRAIN_PARAMS)
        with_dict = zstandard.ZstdCompressor(dict_data=trained, compression_params=params)
        before = sum(len(plain.compress(s)) for s in samples[cut:])
        after = sum(len(with_dict.compress(s)) for s in samples[cut:])
    except zstandard.ZstdError:
        return None
    return trained.as_bytes() if after < 0.9 * before else None
