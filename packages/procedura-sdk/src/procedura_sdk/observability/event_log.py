"""Reading the recorded events back from the chain, the source of truth.

The CLI's ``procedura events``, ``tools/events_dump.py`` and the mirror rebuild
all read through :class:`EventLog`. Reading the newest N events walks the chain
backwards from its end, so it costs the same on a million-event chain as on a
small one (with ``cmd=``, it walks until N matching events are found).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .json_array import JsonArrayFile
from .paths import DataPaths
from .record import error_entry, is_failure
from .recorder import decode_event


class EventLogError(Exception):
    """The event chain is missing or cannot be read; the message says what to do."""


class EventLog:
    """Read-only view of ``runtime_ram/cli_events``."""

    def __init__(self, paths: DataPaths | None = None) -> None:
        self.paths = paths if paths is not None else DataPaths.from_env()

    def _open(self) -> Any:
        from bitstream import BitStream, BitStreamError

        if not self.paths.events_chain.exists():
            raise EventLogError(
                f"No event chain at {self.paths.events_chain}. Run a command first, or point "
                "--root / PROCEDURA_DATA_ROOT at the directory that holds runtime_ram/."
            )
        try:
            return BitStream(self.paths.events_chain, readonly=True)
        except BitStreamError as exc:
            raise EventLogError(f"Cannot open the event chain at {self.paths.events_chain}: {exc}") from exc

    def last(self, n: int, *, cmd: str | None = None) -> list[dict[str, Any]]:
        """The newest ``n`` events (of command ``cmd`` if given), oldest first."""
        if n <= 0:
            return []
        from bitstream import BitStreamError

        with self._open() as chain:
            try:
                if cmd is None:
                    return [decode_event(data) for data in chain.tail(n)]
                found: list[dict[str, Any]] = []
                for seq in range(len(chain) - 1, -1, -1):
                    event = decode_event(chain.read(seq))
                    if event.get("cmd") == cmd:
                        found.append(event)
                        if len(found) == n:
                            break
                found.reverse()
                return found
            except BitStreamError as exc:
                raise self._damaged(exc) from exc

    def __iter__(self) -> Iterator[dict[str, Any]]:
        """Every event, oldest first."""
        from bitstream import BitStreamError

        with self._open() as chain:
            try:
                for data in chain:
                    yield decode_event(data)
            except BitStreamError as exc:
                raise self._damaged(exc) from exc

    def _damaged(self, exc: Exception) -> EventLogError:
        reason = str(exc).rstrip(".")
        hint = "" if "bitstream verify" in reason else (
            " Run `python -m bitstream verify` on it for the exact position."
        )
        return EventLogError(f"The event chain at {self.paths.events_chain} is damaged: {reason}.{hint}")

    def rebuild_mirrors(self) -> tuple[int, int]:
        """Rewrite ``events.json`` and ``errors.json`` from the chain; returns their lengths."""
        events = JsonArrayFile(self.paths.events_json)
        errors = JsonArrayFile(self.paths.errors_json)
        n_events = events.rewrite(iter(self))
        n_errors = errors.rewrite(error_entry(e) for e in self if is_failure(e))
        return n_events, n_errors
