"""The exceptions deltaram raises, under one base class a caller can catch."""

from __future__ import annotations


class DeltaRAMError(Exception):
    """Base class of every error deltaram raises on purpose (besides ``TypeError`` for values)."""


class NotAStoreError(DeltaRAMError):
    """The path exists but is not a deltaram store (or, when not creating, does not exist)."""


class UnsupportedFormatError(DeltaRAMError):
    """The store was written in a format version this deltaram does not read."""


class StoreCorruptError(DeltaRAMError):
    """A delta record in the log cannot be decoded or applied; the store needs inspection."""


class StoreClosedError(DeltaRAMError):
    """The store was used after ``close()``."""


class SnapshotWarning(UserWarning):
    """A checkpoint file was damaged or stale and was ignored; the log was used instead."""
