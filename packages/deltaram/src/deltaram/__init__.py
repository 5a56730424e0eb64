"""deltaram: a state store that writes only what changed, on a bitstream chain.

>>> with DeltaRAM("state") as store:          # doctest: +SKIP
...     store.set("theme", "dark")
...     store.update("runs", lambda n: n + 1, default=0)
"""

from __future__ import annotations

from .__about__ import __version__
from .delta import Change, PatchError, diff, patch
from .errors import (
    DeltaRAMError,
    NotAStoreError,
    SnapshotWarning,
    StoreClosedError,
    StoreCorruptError,
    UnsupportedFormatError,
)
from .store import DeltaRAM, HistoryEntry

__all__ = [
    "Change",
    "DeltaRAM",
    "DeltaRAMError",
    "HistoryEntry",
    "NotAStoreError",
    "PatchError",
    "SnapshotWarning",
    "StoreClosedError",
    "StoreCorruptError",
    "UnsupportedFormatError",
    "__version__",
    "diff",
    "patch",
]
