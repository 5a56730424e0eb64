"""bitstream: a hash-chained, zstd-compressed, append-only record chain on local disk.

    from bitstream import BitStream
    with BitStream("events") as chain:
        seq = chain.append(b'{"cmd": "login"}')
        chain.read(seq), len(chain), chain.tail(10), chain.head, chain.verify().ok
"""

from .__about__ import __version__
from .chain import DURABILITY_MODES, BitStream, Head
from .errors import (
    BitStreamError,
    ChainPermissionError,
    CorruptBlockError,
    DiskFullError,
    LockTimeout,
    NotAChainError,
    ReadOnlyChainError,
    UnsupportedFormatError,
)
from .lock import FileLock
from .verify import VerifyReport, verify

__all__ = [
    "DURABILITY_MODES",
    "BitStream",
    "BitStreamError",
    "ChainPermissionError",
    "CorruptBlockError",
    "DiskFullError",
    "FileLock",
    "Head",
    "LockTimeout",
    "NotAChainError",
    "ReadOnlyChainError",
    "UnsupportedFormatError",
    "VerifyReport",
    "__version__",
    "verify",
]
