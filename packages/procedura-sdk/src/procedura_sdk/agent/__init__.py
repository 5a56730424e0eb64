"""The agent: talks to a Procedura server over one WebSocket and records every command.

:class:`RemoteAgent` is the blocking face, :class:`AsyncRemoteAgent` the asyncio
one; both drive the sans-I/O state machine in :mod:`.protocol`.
"""

from .async_agent import AsyncRemoteAgent
from .login import LoginResult
from .sync_agent import RemoteAgent

__all__ = ["AsyncRemoteAgent", "LoginResult", "RemoteAgent"]
