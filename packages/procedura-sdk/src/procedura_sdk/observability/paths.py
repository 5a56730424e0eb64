"""Where Procedura keeps its records: the one resolver of the data root and everything under it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DATA_ROOT_ENV = "PROCEDURA_DATA_ROOT"


@dataclass(frozen=True)
class DataPaths:
    """The layout under a base directory::

        <base>/runtime_ram/cli_events/   the bitstream event chain (source of truth)
        <base>/runtime_ram/events.json   the human-readable mirror (a JSON array)
        <base>/runtime_ram/errors.json   the error channel (a JSON array)
        <base>/runtime_ram/cli_state/    the deltaram state store
        <base>/logs/system/              what the SDK did
        <base>/logs/failures/            errors with tracebacks
    """

    base: Path

    @classmethod
    def from_env(cls, base: str | os.PathLike[str] | None = None) -> DataPaths:
        """``base`` if given, else ``$PROCEDURA_DATA_ROOT``, else the working directory."""
        if base is None:
            base = os.environ.get(DATA_ROOT_ENV) or os.getcwd()
        return cls(Path(base).expanduser().absolute())

    @property
    def runtime(self) -> Path:
        return self.base / "runtime_ram"

    @property
    def events_chain(self) -> Path:
        return self.runtime / "cli_events"

    @property
    def events_json(self) -> Path:
        return self.runtime / "events.json"

    @property
    def errors_json(self) -> Path:
        return self.runtime / "errors.json"

    @property
    def state(self) -> Path:
        return self.runtime / "cli_state"

    @property
    def logs(self) -> Path:
        return self.base / "logs"

    @property
    def system_logs(self) -> Path:
        return self.logs / "system"

    @property
    def failure_logs(self) -> Path:
        return self.logs / "failures"
