"""Checkpoint files: the whole state at one version, written atomically, trusted only if intact.

A snapshot is a cache of the log, never a source of truth: every byte of it is checked
(length, SHA-256, and the digest of the log record it claims to follow) and any doubt
means it is skipped in favour of an older one or of replaying the log from the start.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import time
from pathlib import Path
from typing import Any

from .values import decode, encode

MAGIC = b"DELTARAM-SNAPSHOT 1\n"
SUFFIX = ".snap"
_TMP_PREFIX = ".tmp-"
# A temp file this old belongs to a writer that died; younger ones may still be in use.
_STALE_TMP_SECONDS = 600


class SnapshotInvalid(Exception):
    """Internal: why a snapshot file cannot be trusted."""


def record_digest(record: bytes) -> str:
    """The digest a snapshot keeps of the log record that brought the state to its version."""
    return hashlib.sha256(record).hexdigest()


def file_name(version: int) -> str:
    return f"{version:020d}{SUFFIX}"


def list_snapshots(directory: Path) -> list[tuple[int, Path]]:
    """``(version, path)`` of every snapshot file, newest first."""
    found = []
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    for name in names:
        stem = name[: -len(SUFFIX)]
        if name.endswith(SUFFIX) and stem.isdigit() and len(stem) == 20:
            found.append((int(stem), directory / name))
    found.sort(reverse=True)
    return found


def write_snapshot(
    directory: Path, version: int, state: dict, digest: str | None, *, sync: bool = True
) -> int:
    """Write the snapshot of ``state`` at ``version`` atomically; return the body's size.

    Temp file, fsync, rename, fsync of the directory: a crash leaves either no new file or a
    complete one (and a torn one would fail its checksum anyway).
    """
    body = encode(state)
    header = encode(
        {
            "version": version,
            "time": time.time(),
            "size": len(body),
            "sha256": hashlib.sha256(body).hexdigest(),
            "record": digest,
        }
    )
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f"{_TMP_PREFIX}{os.getpid()}-{secrets.token_hex(4)}{SUFFIX}"
    try:
        with open(tmp, "wb") as f:
            f.write(MAGIC + header + b"\n" + body)
            if sync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, directory / file_name(version))
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    if sync:
        fsync_dir(directory)
    return len(body)


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_snapshot(path: Path) -> tuple[dict[str, Any], dict]:
    """``(header, state)`` of a snapshot file, or ``SnapshotInvalid`` saying what is wrong."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SnapshotInvalid(f"cannot read: {exc}") from None
    if not data.startswith(MAGIC):
        raise SnapshotInvalid("bad magic (not a deltaram snapshot, or an unknown version)")
    end = data.find(b"\n", len(MAGIC))
    if end < 0:
        raise SnapshotInvalid("truncated header")
    try:
        header = decode(data[len(MAGIC) : end])
    except ValueError:
        raise SnapshotInvalid("unreadable header") from None
    if not (
        type(header) is dict
        and type(header.get("version")) is int
        and type(header.get("size")) is int
        and type(header.get("sha256")) is str
    ):
        raise SnapshotInvalid("header lacks version, size or sha256")
    body = data[end + 1 :]
    if len(body) != header["size"]:
        raise SnapshotInvalid(f"body is {len(body)} bytes, header says {header['size']}")
    if hashlib.sha256(body).hexdigest() != header["sha256"]:
        raise SnapshotInvalid("checksum mismatch")
    try:
        state = decode(body)
    except ValueError:
        raise SnapshotInvalid("unreadable body") from None
    if type(state) is not dict:
        raise SnapshotInvalid("body is not a JSON object")
    return header, state


def prune(directory: Path, keep: int) -> None:
    """Remove all but the ``keep`` newest snapshots, and temp files left by dead writers.

    Several processes may prune at once; a file already gone is fine.
    """
    for _version, path in list_snapshots(directory)[keep:]:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    now = time.time()
    with contextlib.suppress(FileNotFoundError):
        for name in os.listdir(directory):
            if name.startswith(_TMP_PREFIX):
                p = directory / name
                with contextlib.suppress(FileNotFoundError):
                    if now - p.stat().st_mtime > _STALE_TMP_SECONDS:
                        p.unlink()
