"""FORMAT.md's test vectors: the committed bytes of a small chain must read back as the listed
records and digests, and this implementation must write exactly those bytes again."""

from __future__ import annotations

import hashlib
import os
import re
import sys

import zstandard
from bitstream import BitStream, Head, verify
from bitstream import format as fmt

FORMAT_MD = os.path.join(
    os.path.dirname(__file__), "..", "..", "packages", "bitstream", "FORMAT.md"
)
# The raw-content dictionary of the vector chain (any bytes can be a zstd dictionary).
VECTOR_DICT = b'{"cmd": "move", "status": "ok", "client": {"name": "procedura-cli"}, "args": {}}'


def vector_records() -> list[bytes]:
    noise = b"".join(hashlib.blake2b(bytes([i])).digest() for i in range(13))[:790]
    return [
        b"",  # raw, empty
        b"hello",  # raw: too small to compress
        b"abc" * 40,  # zstd without a dictionary (reference 0)
        b'{"cmd": "move", "status": "ok", "client": {"name": "procedura-cli"}, "args": {"n": 1}}',
        b'{"cmd": "move", "status": "ok", "client": {"name": "procedura-cli"}, "args": {"n": 2}}',
        noise,  # raw, incompressible; fills segment 0: a seal, and the next record in segment 1
        b'{"cmd": "look", "status": "ok", "client": {"name": "procedura-cli"}, "args": {}}',
    ]


def build_vector_chain(path: str) -> None:
    records = vector_records()
    with BitStream(path, durability="flush", segment_bytes=1024, index_stride=2, train_at=()) as c:
        c.append_many(records[:3])
        c.add_dictionary(VECTOR_DICT)
        for r in records[3:]:
            c.append(r)


def chain_files(path: str) -> dict[str, bytes]:
    """The chain's files, segments without their zero-filled reserve (zeros mark the end)."""
    out = {}
    for name in sorted(os.listdir(path)):
        if name == fmt.LOCK_NAME:
            continue
        data = open(os.path.join(path, name), "rb").read()
        out[name] = data[: _data_end(data)] if name.startswith("seg-") else data
    return out


def _data_end(segment: bytes) -> int:
    pos = fmt.HEADER_SIZE
    while pos < len(segment) and segment[pos] != 0:
        _, hlen, plen = fmt.parse_header(segment, pos)
        pos += hlen + plen + 4
    return pos


def parse_vectors() -> tuple[dict[str, bytes], list[bytes], list[str], str]:
    text = open(FORMAT_MD, encoding="utf-8").read()
    block = text.split("<!-- vectors:begin -->")[1].split("<!-- vectors:end -->")[0]
    files: dict[str, bytes] = {}
    records: list[bytes] = []
    digests: list[str] = []
    zstd_version = re.search(r"zstd (\d+\.\d+\.\d+)", block).group(1)
    current = None
    for line in block.splitlines():
        line = line.strip()
        if line.startswith("file "):
            current = line.split()[1]
            files[current] = b""
        elif line.startswith("record "):
            _, seq, digest, *hexdata = line.split()
            assert int(seq) == len(records)
            records.append(bytes.fromhex(hexdata[0]) if hexdata else b"")
            digests.append(digest)
            current = None
        elif current and re.fullmatch(r"[0-9a-f]+", line):
            files[current] += bytes.fromhex(line)
    return files, records, digests, zstd_version


def test_vectors_read_back(tmp_path):
    files, records, digests, _ = parse_vectors()
    path = tmp_path / "vector"
    path.mkdir()
    for name, data in files.items():
        (path / name).write_bytes(data)
    with BitStream(path, readonly=True) as chain:
        assert list(chain) == records == vector_records()
        assert chain.head == Head(len(records) - 1, digests[-1])
        assert chain.read(5) == records[5] and chain.tail(2) == records[-2:]
    for seq, digest in enumerate(digests):
        assert verify(path, trusted_head=Head(seq, digest)).ok, seq
    assert not verify(path, trusted_head=Head(3, digests[2])).ok


def test_this_implementation_writes_the_vectors(tmp_path):
    files, _, _, zstd_version = parse_vectors()
    path = str(tmp_path / "vector")
    build_vector_chain(path)
    ours = chain_files(path)
    assert sorted(ours) == sorted(files)
    for name in ours:
        if name.startswith("seg-") and zstandard.ZSTD_VERSION != tuple(map(int, zstd_version.split("."))):
            continue  # another libzstd may pick other (equally valid) compressed bytes
        assert ours[name] == files[name], name


def render(path: str) -> str:
    """The vectors block of FORMAT.md for the chain at ``path``."""
    lines = [f"zstd {'.'.join(map(str, zstandard.ZSTD_VERSION))}", ""]
    for name, data in chain_files(path).items():
        lines.append(f"file {name}")
        h = data.hex()
        lines.extend(h[i : i + 64] for i in range(0, len(h), 64))
        lines.append("")
    with BitStream(path, readonly=True) as chain:
        records = list(chain)
    for seq, rec in enumerate(records):
        lines.append(f"record {seq} {_digest_at(path, seq)} {rec.hex()}".rstrip())
    return "\n".join(lines)


def _digest_at(path: str, seq: int) -> str:
    from bitstream.verify import _Verifier

    v = _Verifier(os.path.abspath(path), lock_held=True)
    v.run(Head(seq, "0" * 64))
    return v.trusted_digest.hex()


if __name__ == "__main__":  # python tests/bitstream/test_format_vectors.py DIR: print the block
    build_vector_chain(sys.argv[1])
    print(render(sys.argv[1]))
