"""Damage on disk: bit flips, truncations, holes, tampering, torn tails. Reads raise
CorruptBlockError and never return garbage; verify names the first damaged sequence number."""

from __future__ import annotations

import os
import zlib

import pytest
from bitstream import BitStream, CorruptBlockError, Head, verify
from bitstream import format as fmt

N = 80


@pytest.fixture
def built(chain_path, event):
    """A closed one-segment chain of N events (with a dictionary), and its head."""
    with BitStream(chain_path, index_stride=4, train_at=(20,)) as chain:
        for i in range(N):
            chain.append(event(7, i))
        head = chain.head
    return chain_path, head


def seg_path(path: str, n: int = 0) -> str:
    return os.path.join(path, fmt.segment_name(n))


def record_offsets(path: str, segment_entries) -> list[tuple[int, bytes]]:
    return [(off, e) for off, kind, e in segment_entries(path) if kind != fmt.KIND_CONTROL]


def flip(path: str, offset: int, bit: int = 0) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)[0]
        f.seek(offset)
        f.write(bytes((b ^ (1 << bit),)))


@pytest.mark.parametrize("seq", [0, 37, N - 2])
def test_payload_bit_flip(built, segment_entries, event, seq):
    path, _ = built
    off, entry = record_offsets(path, segment_entries)[seq]
    flip(seg_path(path), off + len(entry) // 2, bit=3)
    report = verify(path)
    assert not report.ok and report.first_bad == seq and report.count == seq
    assert "checksum" in report.reason
    with BitStream(path) as chain:
        with pytest.raises(CorruptBlockError) as err:
            chain.read(seq)
        assert err.value.seq == seq
        if seq + 1 < N:
            assert chain.read(seq + 1) == event(7, seq + 1)  # damage stays local
        if seq > 0:
            assert chain.read(seq - 1) == event(7, seq - 1)
        with pytest.raises(CorruptBlockError):
            list(chain)


def test_damaged_last_block_refuses_appends(built, segment_entries):
    """A reader cannot tell a damaged last block from one being written, so it stops before
    it; a writer (under the lock) and verify can, and report it."""
    path, _ = built
    off, entry = record_offsets(path, segment_entries)[-1]
    flip(seg_path(path), off + len(entry) - 6, bit=5)
    with BitStream(path) as chain:
        assert len(chain) == N - 1
        with pytest.raises(CorruptBlockError) as err:
            chain.append(b"on top of damage")
        assert err.value.seq == N - 1
        assert len(chain) == N - 1
    report = verify(path)
    assert not report.ok and report.first_bad == N - 1


def test_crc_trailer_flip(built, segment_entries):
    path, _ = built
    off, entry = record_offsets(path, segment_entries)[10]
    flip(seg_path(path), off + len(entry) - 1, bit=7)
    report = verify(path)
    assert (report.ok, report.first_bad) == (False, 10)


def test_header_length_flip_in_middle(built, segment_entries):
    path, _ = built
    off, _ = record_offsets(path, segment_entries)[25]
    flip(seg_path(path), off, bit=6)
    assert verify(path).first_bad == 25
    with BitStream(path) as chain:
        with pytest.raises(CorruptBlockError):
            chain.read(25)


@pytest.mark.parametrize("seq", [40, N - 2])
def test_hole_of_zeros(built, segment_entries, seq):
    path, _ = built
    off, entry = record_offsets(path, segment_entries)[seq]
    with open(seg_path(path), "r+b") as f:
        f.seek(off)
        f.write(bytes(len(entry)))
    report = verify(path)
    assert not report.ok and report.first_bad == seq
    with BitStream(path) as chain:
        if seq == N - 2:  # zeros then data at the end: a writer must not write over it
            assert len(chain) == N - 2
            with pytest.raises(CorruptBlockError):
                chain.append(b"x")
        else:
            with pytest.raises(CorruptBlockError):
                chain.read(seq)


def test_truncation_is_caught_by_trusted_head(built, segment_entries):
    """Cutting the file mid-block looks like a crash to the chain alone; a head kept from
    before proves records were removed, and from which sequence number."""
    path, head = built
    off, _ = record_offsets(path, segment_entries)[50]
    os.truncate(seg_path(path), off + 3)
    plain = verify(path)
    assert plain.ok and plain.count == 50 and plain.notes  # torn-looking tail, reported
    report = verify(path, trusted_head=head)
    assert not report.ok and report.first_bad == 50 and "removed" in report.reason
    with BitStream(path) as chain:
        assert len(chain) == 50
        assert chain.append(b"after cut") == 50  # the torn tail is cut first
    assert verify(path).ok


def test_tampering_with_recomputed_checksums_is_caught_by_trusted_head(built, segment_entries):
    """Someone rewrites record 10 and recomputes every CRC (and drops the index): each block
    checks out, but the chain digest no longer matches the head kept from before."""
    path, head = built
    data = bytearray(open(seg_path(path), "rb").read())
    out = bytearray(data[: fmt.HEADER_SIZE])
    seed, seq = 0, 0
    for _off, kind, entry in segment_entries(path):
        hlen = fmt.parse_header(entry, 0)[1]
        body = entry[:-4]
        if kind != fmt.KIND_CONTROL:
            if seq == 10:
                body = fmt.entry_body(fmt.KIND_RAW, b'{"forged": true}')
            seq += 1
        new, seed = fmt.seal_entry(body, seed)
        out += new
        assert hlen
    out += bytes(len(data) - len(out))
    open(seg_path(path), "wb").write(out)
    os.unlink(os.path.join(path, fmt.INDEX_NAME))
    assert verify(path).ok
    with BitStream(path) as chain:
        assert chain.read(10) == b'{"forged": true}'
    report = verify(path, trusted_head=head)
    assert not report.ok and report.first_bad == head.seq and "altered" in report.reason
    early = verify(path, trusted_head=Head(9, _digest_at(path, 9)))
    assert early.ok


def _digest_at(path: str, seq: int) -> str:
    with BitStream(path, readonly=True) as chain:
        del chain
    # the digest at seq is what verify reports as head of a chain cut right after it
    from bitstream.verify import _Verifier

    v = _Verifier(os.path.abspath(path), lock_held=True)
    v.run(Head(seq, "0" * 64))
    return v.trusted_digest.hex()


def test_damaged_segment_header(built, event):
    path, _ = built
    flip(seg_path(path), 20)
    report = verify(path)
    assert not report.ok and report.first_bad == 0 and "header" in report.reason
    with BitStream(path) as chain:  # the blocks themselves are intact
        assert chain.read(0) == event(7, 0)
    os.unlink(os.path.join(path, fmt.INDEX_NAME))
    with pytest.raises(CorruptBlockError):
        BitStream(path)


def test_damaged_index_is_only_a_hint(built, event):
    path, _ = built
    flip(os.path.join(path, fmt.INDEX_NAME), 64 * 5 + 10)
    with BitStream(path) as chain:
        assert chain.read(21) == event(7, 21)
        assert chain.tail(5) == [event(7, i) for i in range(N - 5, N)]


def test_damaged_dictionary(built):
    path, _ = built
    (name,) = [n for n in os.listdir(path) if n.endswith(".zdict")]
    flip(os.path.join(path, name), 100)
    report = verify(path)
    assert not report.ok and report.first_bad == 20 and "dictionary" in report.reason
    with BitStream(path) as chain:
        assert chain.read(5)  # before the dictionary: fine
        with pytest.raises(CorruptBlockError):
            chain.read(30)


def test_damage_in_an_earlier_segment(chain_path, event):
    with BitStream(chain_path, segment_bytes=4096, index_stride=4, train_at=()) as chain:
        chain.append_many(event(8, i) for i in range(200))
    assert os.path.exists(seg_path(chain_path, 3))
    size = os.path.getsize(seg_path(chain_path, 1))
    os.truncate(seg_path(chain_path, 1), size - 100)
    report = verify(chain_path)
    assert not report.ok and report.first_bad is not None
    with BitStream(chain_path, readonly=True) as chain:
        first_of_2 = fmt.SegmentHeader.unpack(open(seg_path(chain_path, 2), "rb").read(64)).first_seq
        assert report.first_bad < first_of_2
        assert chain.read(first_of_2) == event(8, first_of_2)


def test_torn_tail_is_cut_only_under_the_lock(built, segment_entries, event):
    """A writer killed mid-write leaves a block whose end never reached the disk (zeros)."""
    path, _ = built
    off, entry = record_offsets(path, segment_entries)[-1]
    with open(seg_path(path), "r+b") as f:  # fake a torn 2-block write: one whole, one half
        torn, _ = fmt.seal_entry(fmt.entry_body(fmt.KIND_RAW, b"z" * 1500), zlib.crc32(b""))
        end = off + len(entry)
        f.seek(end)
        f.write(torn[: (end // 512 + 1) * 512 - end])
    report = verify(path)
    assert report.ok and report.count == N and "incomplete final block" in report.notes[0]
    reader = BitStream(path, readonly=True)
    assert len(reader) == N
    with BitStream(path) as chain:
        assert chain.append(b"next") == N
    assert reader.read(N) == b"next"
    reader.close()
    assert verify(path).ok and verify(path).notes == ()


def test_crash_between_seal_and_next_segment(chain_path, event):
    """A writer that died right after sealing a segment leaves no successor: the chain ends
    at the seal, verify passes, and the next append creates the next segment."""
    with BitStream(chain_path, segment_bytes=2048, index_stride=4, train_at=()) as chain:
        n = 0
        while not os.path.exists(seg_path(chain_path, 1)):
            chain.append(event(11, n))
            n += 1
    with BitStream(chain_path, readonly=True) as chain:
        in_first = fmt.SegmentHeader.unpack(open(seg_path(chain_path, 1), "rb").read(64)).first_seq
    os.unlink(seg_path(chain_path, 1))  # as if the process died before creating it
    os.unlink(os.path.join(chain_path, fmt.INDEX_NAME))
    report = verify(chain_path)
    assert report.ok and report.count == in_first
    with BitStream(chain_path) as chain:
        assert len(chain) == in_first
        assert chain.append(b"resumed") == in_first
        assert chain.read(in_first - 1) == event(11, in_first - 1)
    assert os.path.exists(seg_path(chain_path, 1))
    assert verify(chain_path).ok
