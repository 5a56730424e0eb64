"""procedura-devserver: a local Procedura world engine speaking the real server's WebSocket protocol."""

from __future__ import annotations

from .__about__ import __version__
from .accounts import DEMO_EMAIL, DEMO_PASSWORD
from .faults import FAULT_NAMES, FaultError, Faults, FaultSet
from .modules import MODULES
from .server import DEFAULT_MAX_SIZE, WorldEngine
from .sessions import Session

__all__ = [
    "DEFAULT_MAX_SIZE",
    "DEMO_EMAIL",
    "DEMO_PASSWORD",
    "FAULT_NAMES",
    "MODULES",
    "FaultError",
    "FaultSet",
    "Faults",
    "Session",
    "WorldEngine",
    "__version__",
]
