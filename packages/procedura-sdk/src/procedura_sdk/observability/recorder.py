"""The recorder: dispatches each redacted event record to the chain, events.json, errors.json and state.

(Interface stub: the implementation lands with the observability work.)
"""

from __future__ import annotations

from .paths import DataPaths
from .record import EventRecord


class RecordingWarning(UserWarning):
    """A record could not be written; the message names the path and the reason."""


class Recorder:
    """Writes what the agent reports. ``record`` never raises: failures become a RecordingWarning."""

    def __init__(self, paths: DataPaths | None = None) -> None:
        self.paths = paths if paths is not None else DataPaths.from_env()

    def record(self, record: EventRecord) -> None:
        """Redact ``record`` and write it everywhere it belongs."""

    def note_login(self, *, url: str, account: str, ttl: int, expires_at: str) -> None:
        """Update ``last_login`` in the state store (account name only, never the password)."""

    def close(self) -> None:
        """Release open files."""
