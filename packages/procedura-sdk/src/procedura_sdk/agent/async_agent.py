"""The asyncio face of the agent: one connection, commands driven through the protocol state machine.

Every command, however it ends, gives exactly one EventRecord to the recorder
before its result is returned or its exception propagates.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

from . import outcomes
from .channel import Channel, MessageReader
from .conversation import PHASE_CONNECTING, Conversation
from .core import AgentCore
from .login import LoginResult
from .protocol import Acked, Event, Finished, Progress, Violation


class AsyncRemoteAgent(AgentCore):
    """A client of one Procedura server, for asyncio code.

    ``token=None`` uses the token saved by the last login (see :class:`TokenStore`);
    ``token=""`` connects without one. The connection opens on the first command
    and is reused; commands on one agent run one at a time. ``on_phase(name)`` is
    called with ``"connecting"``, ``"waiting for ack"`` and ``"running"``.
    ``recorder=None`` records into the default data root, through a background
    writer that group-commits (records are durable once ``close()`` returns, or
    at interpreter exit); ``record=False`` records nothing.

    Connection options: ``ca_file`` (a CA bundle for ``wss://``, also
    ``$PROCEDURA_CA_FILE``), ``max_size`` (largest message accepted, 8 MiB),
    ``open_timeout``, ``ping_interval`` and ``ping_timeout`` (keepalive),
    ``close_timeout``.
    """

    def __init__(self, url: str, **options: Any) -> None:
        super().__init__(url, **options)
        self._channel = Channel(
            self.url,
            self._shown_url,
            self._initial_token,
            self._options,
            on_connecting=lambda: self._phase(PHASE_CONNECTING),
        )
        self._lock = asyncio.Lock()

    @property
    def connected(self) -> bool:
        return self._channel.connected

    @property
    def has_token(self) -> bool:
        return bool(self._channel.token)

    # Lifecycle -----------------------------------------------------------------

    async def __aenter__(self) -> AsyncRemoteAgent:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the connection (and the recorder, if this agent made it)."""
        await self._channel.close()
        self._close_recorder()

    # Commands --------------------------------------------------------------------

    async def run(
        self,
        module: str,
        args: Sequence[str] | None = None,
        *,
        ack_timeout: float = 10.0,
        final_timeout: float = 600.0,
    ) -> Any:
        """Run ``module`` in sync mode and return its ``result``.

        Raises :class:`ServerError`, :class:`AckTimeoutError`, :class:`FinalTimeoutError`,
        :class:`ConnectionFailedError`, :class:`ConnectionLostError`,
        :class:`ProtocolViolationError`, :class:`AuthenticationError`, or
        :class:`EmptyWorldError` when a ``worldstate_snapshot`` has no entities.
        """
        trace = self._trace(module, args, "sync")
        try:
            async with self._lock:
                conversation = self._conversation(trace, "sync", ack_timeout, final_timeout)
                final = await self._final(conversation)
            result = outcomes.finished(trace, final)
        except BaseException as exc:
            trace.failed(exc)
            raise
        finally:
            self._emit(trace)
        return result

    async def stream(
        self,
        module: str,
        args: Sequence[str] | None = None,
        *,
        ack_timeout: float = 10.0,
        final_timeout: float = 600.0,
    ) -> AsyncIterator[dict[str, Any]]:
        """Run ``module`` in async mode, yielding its frames: started, running…, finished.

        An ``error`` frame raises :class:`ServerError` (after the frames before it);
        the other failures are those of :meth:`run`. Stopping early is allowed: the
        record then says ``STREAM_CLOSED`` (the job may still run on the server).
        """
        trace = self._trace(module, args, "async")
        try:
            async with self._lock:
                conversation = self._conversation(trace, "async", ack_timeout, final_timeout)
                async with contextlib.aclosing(self._converse(conversation)) as events:
                    async for event in events:
                        if isinstance(event, (Acked, Progress)):
                            yield event.frame
                        elif isinstance(event, Finished):
                            outcomes.finished(trace, event)
                            yield event.frame
                            return
                        else:
                            raise self._failure(event, trace)
        except GeneratorExit:
            trace.abandoned()
            raise
        except BaseException as exc:
            trace.failed(exc)
            raise
        finally:
            self._emit(trace)

    async def worldstate_snapshot(
        self, terse: bool = True, *, ack_timeout: float = 10.0, final_timeout: float = 600.0
    ) -> Any:
        """The world as the server sees it; raises :class:`EmptyWorldError` when it has no entities."""
        return await self.run(
            outcomes.WORLDSTATE_MODULE,
            ["--terse"] if terse else [],
            ack_timeout=ack_timeout,
            final_timeout=final_timeout,
        )

    async def login_password(
        self,
        credential: str,
        *,
        replace: bool = True,
        device: str = "cli",
        ttl: float = 3600,
        ack_timeout: float = 10.0,
        final_timeout: float = 60.0,
    ) -> LoginResult:
        """Log in with ``email:password`` (or base64 of it), save the token and use it from now on.

        ``replace=False`` attaches to the account's current session instead of
        replacing it. Raises :class:`AuthenticationError` when the server refuses.
        """
        account, args, secrets, trace = self._login_trace(
            credential, replace=replace, device=device, ttl=ttl
        )
        for secret in secrets:
            self._channel.wire_logger.hide(secret)
        try:
            async with self._lock:
                await self._channel.open_for_login()
                conversation = self._conversation(trace, "sync", ack_timeout, final_timeout, args)
                final = await self._final(conversation, secrets=secrets)
                login = self._login_result(
                    trace, final.result, account=account, device=device, ttl=ttl
                )
                # The next command opens a connection that carries the new token.
                self._channel.token = login.token
                await self._channel.close()
        except BaseException as exc:
            trace.failed(exc)
            raise
        finally:
            self._emit(trace)
        self._note_login(login)
        return login

    # The exchange -------------------------------------------------------------------

    async def _final(
        self, conversation: Conversation, *, secrets: list[str] | None = None
    ) -> Finished:
        """The Finished event that ends ``conversation``; the failure it ended in is raised."""
        async with contextlib.aclosing(self._converse(conversation)) as events:
            async for event in events:
                if isinstance(event, Finished):
                    return event
                if event.terminal:
                    raise self._failure(event, conversation.trace, secrets=secrets)
        raise AssertionError("the exchange ended without a terminal event")  # pragma: no cover

    async def _converse(self, conversation: Conversation) -> AsyncIterator[Event]:
        """Send the request and yield what the conversation makes of each message, until it ends."""
        reader = await self._channel.send(conversation.request)
        conversation.sent()
        self._while_waiting()
        while not conversation.done:
            phase, deadline = conversation.deadline()
            try:
                data = await reader.next(deadline)
            except Exception as exc:  # noqa: BLE001 - the reader's ConnectionClosed, or its end
                await self._channel.close()
                events = conversation.lost(exc)
            else:
                if data is MessageReader.TIMEOUT:
                    events = conversation.expired(phase)
                else:
                    events = conversation.received(data)
            for event in events:
                if isinstance(event, Violation):
                    # After a malformed frame nothing on this connection can be trusted.
                    await self._channel.close()
                yield event
        self._channel.touch()
