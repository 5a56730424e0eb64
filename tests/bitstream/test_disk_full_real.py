"""A real full disk: a chain on a tiny tmpfs, filled until the device says ENOSPC.

Mounting needs privileges; where the machine refuses, the test is skipped (the
injected-fault tests in test_errors.py still cover the error path).
"""

from __future__ import annotations

import os

import pytest
from bitstream import BitStream, DiskFullError


def test_appends_fit_on_a_nearly_full_disk_then_fail_cleanly(small_filesystem) -> None:
    """Less room than the writer's 1 MiB zero reserve still takes records; once the device is
    truly full, the append raises DiskFullError, and every record before it stays readable."""
    tiny_disk = small_filesystem("256k").path
    written: list[bytes] = []
    with BitStream(tiny_disk / "chain") as chain:
        with pytest.raises(DiskFullError):
            for i in range(100_000):
                record = os.urandom(512) + str(i).encode()  # incompressible: fills the disk
                chain.append(record)
                written.append(record)
        assert len(written) > 10, "a 256 KiB disk must hold records despite the 1 MiB reserve"
        assert len(chain) == len(written)
    with BitStream(tiny_disk / "chain") as chain:
        assert chain.verify().ok
        assert list(chain) == written
