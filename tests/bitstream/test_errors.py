"""Errors a caller can act on: not a chain, unsupported version, permission denied, disk full."""

from __future__ import annotations

import errno
import json
import os
import zlib

import pytest
from bitstream import (
    BitStream,
    BitStreamError,
    ChainPermissionError,
    DiskFullError,
    NotAChainError,
    UnsupportedFormatError,
    verify,
)
from bitstream import format as fmt


def test_not_a_chain(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(NotAChainError, match="not a chain"):
        BitStream(tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["notes.txt"]  # nothing littered
    with pytest.raises(NotAChainError, match="is a file"):
        BitStream(tmp_path / "notes.txt")
    with pytest.raises(NotAChainError):
        BitStream(tmp_path / "missing", readonly=True)
    with pytest.raises(NotAChainError):
        verify(tmp_path)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "CHAIN").write_text("not json")
    with pytest.raises(NotAChainError, match="manifest"):
        BitStream(bad)
    assert issubclass(NotAChainError, BitStreamError)


def test_unsupported_manifest_version(chain_path):
    BitStream(chain_path).close()
    manifest = os.path.join(chain_path, "CHAIN")
    doc = json.loads(open(manifest).read())
    doc["version"] = 2
    open(manifest, "w").write(json.dumps(doc))
    with pytest.raises(UnsupportedFormatError, match="upgrade"):
        BitStream(chain_path)
    with pytest.raises(UnsupportedFormatError):
        verify(chain_path)


def test_unsupported_segment_version(chain_path):
    with BitStream(chain_path) as chain:
        chain.append(b"x")
    seg = os.path.join(chain_path, fmt.segment_name(0))
    data = bytearray(open(seg, "rb").read())
    data[8] = 9  # version field, then a valid header CRC: a genuinely newer segment
    data[60:64] = zlib.crc32(bytes(data[:60])).to_bytes(4, "little")
    open(seg, "wb").write(data)
    os.unlink(os.path.join(chain_path, fmt.INDEX_NAME))
    with pytest.raises(UnsupportedFormatError):
        BitStream(chain_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file modes: nothing to deny")
def test_permission_denied_for_real(tmp_path):
    path = tmp_path / "chain"
    with BitStream(path) as chain:
        chain.append(b"x")
    os.chmod(path, 0o500)
    for name in os.listdir(path):
        os.chmod(path / name, 0o400)
    try:
        with pytest.raises(ChainPermissionError, match="readonly=True"):
            BitStream(path)
        with BitStream(path, readonly=True) as chain:
            assert chain.read(0) == b"x"
    finally:
        os.chmod(path, 0o700)


def test_permission_denied_injected(chain_path, monkeypatch):
    """Root (this machine's CI) bypasses file modes, so the refusal is injected at os.open,
    the boundary where the kernel would raise it."""
    BitStream(chain_path).close()
    real_open = os.open

    def deny(path, flags, *args, **kwargs):
        if str(path).startswith(chain_path) and flags & (os.O_RDWR | os.O_WRONLY):
            raise PermissionError(errno.EACCES, "Permission denied", path)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", deny)
    with pytest.raises(ChainPermissionError, match="readonly=True") as err:
        BitStream(chain_path)
    assert isinstance(err.value, PermissionError)
    with BitStream(chain_path, readonly=True) as chain:
        assert len(chain) == 0


class _DiskFull:
    """Makes os.pwrite behave like a filling disk: a short write, then ENOSPC.

    A small tmpfs or loop device is not available here, so the fault is injected at the
    os.pwrite boundary; everything above it (cut-back, state, later appends) is the real code.
    """

    def __init__(self, monkeypatch, room: int) -> None:
        self.room = room
        self.real = os.pwrite
        monkeypatch.setattr(os, "pwrite", self)

    def __call__(self, fd, data, offset):
        if self.room is None:
            return self.real(fd, data, offset)
        if self.room <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        n = self.real(fd, bytes(memoryview(data)[: self.room]), offset)
        self.room -= n
        return n


@pytest.mark.parametrize("room", [0, 10, 700])
def test_disk_full_leaves_chain_intact(chain_path, event, monkeypatch, room):
    with BitStream(chain_path, train_at=()) as chain:
        for i in range(20):
            chain.append(event(4, i))
        head = chain.head
        fault = _DiskFull(monkeypatch, room)
        with pytest.raises(DiskFullError, match="free some space") as err:
            chain.append(os.urandom(5000))
        assert isinstance(err.value, OSError) and err.value.errno == errno.ENOSPC
        with pytest.raises(DiskFullError):
            chain.append_many([os.urandom(3000) for _ in range(3)])
        assert len(chain) == 20 and chain.head == head
        fault.room = None  # space freed
        assert chain.append(b"after") == 20
        assert chain.tail(2) == [event(4, 19), b"after"]
    report = verify(chain_path)
    assert report.ok and report.count == 21 and report.notes == ()


def test_disk_full_while_growing_the_file(chain_path, monkeypatch):
    """The zero-fill that grows a segment ahead of the data fails: the file is given back."""
    with BitStream(chain_path, train_at=()) as chain:
        chain.append(b"first")
        seg = os.path.join(chain_path, fmt.segment_name(0))
        size = os.path.getsize(seg)
        fault = _DiskFull(monkeypatch, 0)
        with pytest.raises(DiskFullError):
            chain.append(os.urandom(2 << 20))
        assert os.path.getsize(seg) == size
        fault.room = None
        chain.append(b"second")
    assert verify(chain_path).ok


def test_disk_full_at_fdatasync(chain_path, monkeypatch):
    with BitStream(chain_path) as chain:
        chain.append(b"kept")

        def full(fd):
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(os, "fdatasync", full)
        with pytest.raises(DiskFullError):
            chain.append(b"lost")
        monkeypatch.undo()
        assert len(chain) == 1
        chain.append(b"next")
    with BitStream(chain_path) as chain:
        assert list(chain) == [b"kept", b"next"]
    assert verify(chain_path).ok


def test_durability_value_checked(chain_path):
    with pytest.raises(ValueError, match="durability"):
        BitStream(chain_path, durability="sometimes")
