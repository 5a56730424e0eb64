"""Fixtures shared by every package's tests: real small filesystems for fault tests."""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


class SmallFilesystem:
    """A tmpfs of a given size, mounted for one test (needs the privilege to mount)."""

    def __init__(self, size: str) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="procedura-tmpfs-"))
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(self.path)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            self.path.rmdir()
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}")

    @contextmanager
    def read_only(self) -> Iterator[Path]:
        """The same filesystem remounted read-only for the duration of the block."""
        subprocess.run(["mount", "-o", "remount,ro", str(self.path)], check=True)
        try:
            yield self.path
        finally:
            subprocess.run(["mount", "-o", "remount,rw", str(self.path)], check=True)

    def unmount(self) -> None:
        if subprocess.run(["umount", str(self.path)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(self.path)], check=True)  # detach once unused
        self.path.rmdir()


@pytest.fixture
def small_filesystem():
    """``small_filesystem(size)`` mounts a tmpfs of ``size`` ("256k", "20m"); skipped where
    the machine does not allow mounting. Unmounted after the test."""
    mounted: list[SmallFilesystem] = []

    def mount(size: str) -> SmallFilesystem:
        fs = SmallFilesystem(size)
        mounted.append(fs)
        return fs

    yield mount
    for fs in mounted:
        fs.unmount()
