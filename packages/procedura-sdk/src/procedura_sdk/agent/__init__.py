"""The agent: talks to a Procedura server over one WebSocket and records every command.

:class:`RemoteAgent` is the blocking face (a plain socket, no event loop),
:class:`AsyncRemoteAgent` the asyncio one; both drive the sans-I/O state machine
in :mod:`.protocol` through :mod:`.conversation`. Each face is imported on first
use, so blocking code never pays for asyncio's agent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .login import LoginResult

if TYPE_CHECKING:
    from .async_agent import AsyncRemoteAgent
    from .sync_agent import RemoteAgent

_FACES = {"AsyncRemoteAgent": "async_agent", "RemoteAgent": "sync_agent"}


def __getattr__(name: str) -> Any:
    module = _FACES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f".{module}", __name__), name)


__all__ = ["AsyncRemoteAgent", "LoginResult", "RemoteAgent"]
