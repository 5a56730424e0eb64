"""The public API on one process: appends, reads, iteration, heads, durability modes, reopening."""

from __future__ import annotations

import os

import pytest
from bitstream import (
    BitStream,
    Head,
    ReadOnlyChainError,
    verify,
)


def test_empty_chain(chain_path):
    with BitStream(chain_path) as chain:
        assert len(chain) == 0
        assert chain.head is None
        assert chain.tail(5) == []
        assert list(chain) == []
        with pytest.raises(IndexError):
            chain.read(0)
        report = chain.verify()
        assert report.ok and report.count == 0 and report.first_bad is None


def test_append_read_tail_iter(chain_path, event):
    records = [event(0, i) for i in range(300)]
    with BitStream(chain_path, index_stride=8) as chain:
        assert chain.append(records[0]) == 0
        assert chain.append_many(records[1:200]) == range(1, 200)
        for r in records[200:]:
            chain.append(r)
        assert len(chain) == 300
        assert chain.read(0) == records[0]
        assert chain.read(-1) == records[-1]
        assert chain.read(150) == records[150]
        assert chain.tail(10) == records[-10:]
        assert chain.tail(1000) == records
        assert list(chain.iter(start=290)) == records[290:]
        assert list(chain) == records
        assert chain.append_many([]) == range(300, 300)


def test_records_are_bytes(chain_path):
    with BitStream(chain_path) as chain:
        with pytest.raises(TypeError):
            chain.append("text")  # type: ignore[arg-type]
        assert chain.read(chain.append(bytearray(b"ab"))) == b"ab"
        assert chain.read(chain.append(memoryview(b"cd"))) == b"cd"
        assert chain.read(chain.append(b"")) == b""


def test_head_changes_and_survives_reopen(chain_path):
    with BitStream(chain_path) as chain:
        chain.append(b"a")
        h1 = chain.head
        chain.append(b"b")
        h2 = chain.head
    assert h1.seq == 0 and h2.seq == 1 and h1.digest != h2.digest and len(h2.digest) == 64
    assert Head.parse(str(h2)) == h2
    with BitStream(chain_path) as chain:
        assert chain.head == h2
        assert chain.verify(trusted_head=h1).ok
        assert chain.verify(trusted_head=str(h2)).ok
        assert chain.verify(trusted_head=(h2.seq, h2.digest)).ok
        assert not chain.verify(trusted_head=Head(1, h1.digest)).ok


@pytest.mark.parametrize("durability", ["fsync", "flush", "none"])
def test_durability_modes_round_trip(chain_path, durability, event):
    records = [event(1, i) for i in range(50)]
    with BitStream(chain_path, durability=durability) as chain:
        for r in records:
            chain.append(r)
        assert chain.tail(3) == records[-3:]
    with BitStream(chain_path) as chain:
        assert list(chain) == records


def test_none_mode_holds_lock_until_flush(chain_path):
    writer = BitStream(chain_path, durability="none")
    other = BitStream(chain_path, lock_timeout=0.2)
    writer.append(b"buffered")
    from bitstream import LockTimeout

    with pytest.raises(LockTimeout):
        other.append(b"blocked")
    writer.flush()
    assert other.append(b"after") == 1
    assert other.tail(2) == [b"buffered", b"after"]
    writer.close()
    other.close()


def test_readonly(chain_path):
    with BitStream(chain_path) as chain:
        chain.append(b"x")
    with BitStream(chain_path, readonly=True) as ro:
        assert ro.read(0) == b"x"
        with pytest.raises(ReadOnlyChainError):
            ro.append(b"y")


def test_two_objects_one_process_see_each_other(chain_path):
    a = BitStream(chain_path)
    b = BitStream(chain_path)
    a.append(b"1")
    assert len(b) == 1
    b.append(b"2")
    assert a.tail(2) == [b"1", b"2"]
    assert a.head == b.head
    a.close()
    b.close()


def test_rotation_across_segments(chain_path, event):
    records = [event(2, i) for i in range(400)]
    with BitStream(chain_path, segment_bytes=8192, index_stride=4, train_at=()) as chain:
        for r in records[:100]:
            chain.append(r)
        chain.append_many(records[100:])
        assert list(chain) == records
        assert chain.info()["segments"] > 5
    with BitStream(chain_path) as chain:
        assert chain.read(399) == records[399]
        assert chain.tail(50) == records[-50:]
        assert [chain.read(i) for i in range(0, 400, 7)] == records[::7]
    assert verify(chain_path).ok


def test_big_records(chain_path):
    big = os.urandom(3 << 20)
    with BitStream(chain_path, segment_bytes=1 << 20) as chain:
        chain.append(b"small")
        chain.append(big)
        chain.append(b"x" * (2 << 20))
        assert chain.read(1) == big
        assert chain.read(2) == b"x" * (2 << 20)
    assert verify(chain_path).ok


def test_index_rebuilt_when_deleted(chain_path, event):
    with BitStream(chain_path, index_stride=4) as chain:
        chain.append_many(event(3, i) for i in range(100))
    os.unlink(os.path.join(chain_path, "index"))
    with BitStream(chain_path) as chain:
        assert chain.read(57) == event(3, 57)
        chain.append(b"more")
    assert os.path.getsize(os.path.join(chain_path, "index")) == 26 * 64
    assert verify(chain_path).ok and verify(chain_path).notes == ()


def test_lock_context_read_modify_write(chain_path):
    with BitStream(chain_path) as chain:
        for _ in range(5):
            with chain.lock():
                n = len(chain)
                chain.append(str(n).encode())
        assert list(chain) == [b"0", b"1", b"2", b"3", b"4"]


def test_closed_chain_refuses(chain_path):
    chain = BitStream(chain_path)
    chain.close()
    chain.close()
    with pytest.raises(ValueError):
        chain.append(b"x")
    with pytest.raises(ValueError):
        len(chain)
