"""Fault injection: the server-wide misbehaviours a client must survive, settable while running."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields

FaultValue = bool | int | float

# name -> kind of value: "seconds" (float >= 0), "bytes" (int > 0) or "flag" (no value).
FAULT_KINDS: dict[str, str] = {
    "ack-delay": "seconds",
    "no-ack": "flag",
    "final-delay": "seconds",
    "drop-after-ack": "flag",
    "empty-world": "flag",
    "malformed-frame": "flag",
    "oversized-frame": "bytes",
    "error-without-ack": "flag",
    "foreign-frames": "flag",
    "final-by-job-id-only": "flag",
}
FAULT_NAMES = tuple(FAULT_KINDS)


class FaultError(ValueError):
    """An unknown fault name or a value of the wrong kind."""


@dataclass(frozen=True)
class Faults:
    """The faults in force for one request, read once when the request arrives."""

    ack_delay: float = 0.0
    no_ack: bool = False
    final_delay: float = 0.0
    drop_after_ack: bool = False
    empty_world: bool = False
    malformed_frame: bool = False
    oversized_frame: int = 0
    error_without_ack: bool = False
    foreign_frames: bool = False
    final_by_job_id_only: bool = False

    def active(self) -> dict[str, FaultValue]:
        """The faults that are on, by their public (hyphenated) names."""
        return {
            f.name.replace("_", "-"): getattr(self, f.name)
            for f in fields(self)
            if getattr(self, f.name)
        }


def check_fault(name: str, value: object = True) -> FaultValue:
    """Validate one fault setting and return its normalised value."""
    kind = FAULT_KINDS.get(name)
    if kind is None:
        raise FaultError(f"unknown fault {name!r}; known faults: {', '.join(FAULT_NAMES)}")
    if kind == "flag":
        if value is True or value is None:
            return True
        raise FaultError(f"fault {name!r} takes no value")
    if isinstance(value, bool) or value is None:
        raise FaultError(f"fault {name!r} needs a value: {name}=<{kind}>")
    try:
        number = float(value) if kind == "seconds" else int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise FaultError(f"fault {name!r} needs a number of {kind}, got {value!r}") from exc
    if number < 0 or (kind == "bytes" and number == 0):
        raise FaultError(f"fault {name!r} needs a positive number of {kind}, got {value!r}")
    return number


def parse_fault(spec: str) -> tuple[str, FaultValue]:
    """Parse the command line's `NAME` or `NAME=VALUE`."""
    name, sep, value = spec.partition("=")
    return name, check_fault(name, value if sep else True)


class FaultSet:
    """The engine's live fault settings; change them from any thread while it runs."""

    def __init__(self, faults: Mapping[str, object] | Iterable[str] | None = None) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, FaultValue] = {}
        self.update(faults or {})

    def update(self, faults: Mapping[str, object] | Iterable[str]) -> None:
        """Turn on several faults: a mapping name -> value, or `NAME[=VALUE]` strings.

        A mapping value of False or 0 turns that fault off.
        """
        pairs = (
            list(faults.items())
            if isinstance(faults, Mapping)
            else [parse_fault(s) for s in faults]
        )
        for name, value in pairs:
            if value is False or (value == 0 and not isinstance(value, bool)):
                self.clear(name)
            else:
                self.set(name, value)

    def set(self, name: str, value: object = True) -> None:
        checked = check_fault(name, value)
        with self._lock:
            self._values[name] = checked

    def clear(self, name: str | None = None) -> None:
        """Turn one fault off, or all of them when no name is given."""
        if name is not None and name not in FAULT_KINDS:
            raise FaultError(f"unknown fault {name!r}; known faults: {', '.join(FAULT_NAMES)}")
        with self._lock:
            if name is None:
                self._values.clear()
            else:
                self._values.pop(name, None)

    def snapshot(self) -> Faults:
        with self._lock:
            values = dict(self._values)
        return Faults(**{name.replace("-", "_"): value for name, value in values.items()})

    def __repr__(self) -> str:
        return f"FaultSet({self.snapshot().active()!r})"
