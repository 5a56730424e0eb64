"""Python SDK for the Procedura world engine: the agent, its errors, the token store, recording.

The agent classes are imported on first use, so ``import procedura_sdk`` stays
cheap (the CLI's ``--help`` should not pay for websockets or ssl).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .__about__ import __version__
from .errors import (
    AckTimeoutError,
    AuthenticationError,
    ConnectionFailedError,
    ConnectionLostError,
    EmptyWorldError,
    FinalTimeoutError,
    ProceduraError,
    ProtocolViolationError,
    RequestTimeoutError,
    ServerError,
)
from .token_store import TokenStore

if TYPE_CHECKING:
    from .agent import AsyncRemoteAgent, LoginResult, RemoteAgent

_AGENT_NAMES = ("AsyncRemoteAgent", "LoginResult", "RemoteAgent")


def __getattr__(name: str) -> Any:
    if name in _AGENT_NAMES:
        from . import agent

        return getattr(agent, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AckTimeoutError",
    "AsyncRemoteAgent",
    "AuthenticationError",
    "ConnectionFailedError",
    "ConnectionLostError",
    "EmptyWorldError",
    "FinalTimeoutError",
    "LoginResult",
    "ProceduraError",
    "ProtocolViolationError",
    "RemoteAgent",
    "RequestTimeoutError",
    "ServerError",
    "TokenStore",
    "__version__",
]
