"""The small value types shared by the reader and the writer: a head, and walk positions."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Head:
    """The chain's checkpoint: the last record's sequence number and the chain digest after it.

    Keep one somewhere safe; ``verify(trusted_head=...)`` later proves nothing up to it changed.
    """

    seq: int
    digest: str

    def __str__(self) -> str:
        return f"{self.seq}:{self.digest}"

    @classmethod
    def parse(cls, text: str) -> Head:
        """The inverse of ``str(head)``: ``"SEQ:HEXDIGEST"``."""
        seq, _, digest = text.partition(":")
        return cls(int(seq), digest.strip().lower())


@dataclass
class Tip:
    """The chain state just after the last entry this object knows of."""

    count: int  # records
    segment: int
    end: int  # offset where the next entry goes
    crc: int  # stored CRC of the last entry (the next entry's seed)
    digest: bytes  # chain digest after the last entry
    head_digest: bytes  # chain digest after the last record
    ndicts: int
    sealed: bool  # the last entry is a seal: the chain continues in segment + 1

    def copy(self) -> Tip:
        # dataclasses.replace costs ~4 us, a noticeable share of a flushed append
        return Tip(
            self.count, self.segment, self.end, self.crc,
            self.digest, self.head_digest, self.ndicts, self.sealed,
        )


@dataclass(frozen=True)
class Stop:
    """Where a walk met bytes that are not a valid next entry."""

    segment: int
    offset: int
    reason: str
    claimed_end: int | None = None
    header: bool = False  # the problem is a segment header, never a torn write
