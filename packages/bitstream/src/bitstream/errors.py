"""The exceptions of bitstream: one base class, and one type per thing a caller can act on."""

from __future__ import annotations


class BitStreamError(Exception):
    """Base class of every error bitstream raises on purpose."""


class CorruptBlockError(BitStreamError):
    """A block failed its checksum or could not be decoded; its bytes are never returned.

    ``seq`` is the record's sequence number when known, ``reason`` says what failed.
    """

    def __init__(self, message: str, *, seq: int | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.seq = seq
        self.reason = reason or message


class NotAChainError(BitStreamError):
    """The path exists but is not a bitstream chain directory."""


class UnsupportedFormatError(BitStreamError):
    """The chain was written in a format version this library does not read."""


class ChainPermissionError(BitStreamError, PermissionError):
    """The operating system refused access to a chain file."""


class DiskFullError(BitStreamError, OSError):
    """The disk (or quota) filled up during an append; the chain was left as it was before it."""


class ReadOnlyChainError(BitStreamError):
    """A write was attempted on a chain opened with ``readonly=True``."""


class LockTimeout(BitStreamError, TimeoutError):
    """A :class:`~bitstream.FileLock` could not be acquired within its timeout."""
