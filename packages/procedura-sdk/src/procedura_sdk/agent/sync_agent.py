"""The blocking face of the agent: commands run in the calling thread, on a plain socket.

No event loop and no background thread (see :mod:`.socket_channel`): a
command writes its request and reads the answers itself, so it works the same
in a script, in a thread, and inside a running event loop (a notebook), and a
Ctrl-C lands where the command waits and is recorded as an interruption.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from . import outcomes
from .conversation import PHASE_CONNECTING, Conversation
from .core import AgentCore
from .login import LoginResult
from .protocol import Acked, Event, Finished, Progress, Violation
from .socket_channel import TIMEOUT, SocketChannel


class RemoteAgent(AgentCore):
    """A client of one Procedura server, for ordinary (blocking) code.

    ``token=None`` uses the token saved by the last login (see :class:`TokenStore`);
    ``token=""`` connects without one. The connection opens on the first command
    and is reused; commands on one agent run one at a time (from any thread).
    ``on_phase(name)`` is called, from the calling thread, with ``"connecting"``,
    ``"waiting for ack"`` and ``"running"``. ``recorder=None`` records into the
    default data root, through a background writer that group-commits (records
    are durable once ``close()`` returns, or at interpreter exit);
    ``record=False`` records nothing. Use it as a context manager, or call
    :meth:`close`.

    Connection options: ``ca_file`` (a CA bundle for ``wss://``, also
    ``$PROCEDURA_CA_FILE``), ``max_size`` (largest message accepted, 8 MiB),
    ``open_timeout``, ``ping_interval`` and ``ping_timeout`` (keepalive),
    ``close_timeout``.
    """

    def __init__(self, url: str, **options: Any) -> None:
        super().__init__(url, **options)
        self._channel = SocketChannel(
            self.url,
            self._shown_url,
            self._initial_token,
            self._options,
            on_connecting=lambda: self._phase(PHASE_CONNECTING),
        )
        self._lock = threading.Lock()
        self._holder: int | None = None

    @property
    def connected(self) -> bool:
        return self._channel.connected

    @property
    def has_token(self) -> bool:
        return bool(self._channel.token)

    def __enter__(self) -> RemoteAgent:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (and the recorder, if this agent made it)."""
        with self._exclusive():
            self._channel.close()
        self._close_recorder()

    # Commands --------------------------------------------------------------------

    def run(
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
            with self._exclusive():
                conversation = self._conversation(trace, "sync", ack_timeout, final_timeout)
                final = self._final(conversation)
            result = outcomes.finished(trace, final)
        except BaseException as exc:
            trace.failed(exc)
            raise
        finally:
            self._emit(trace)
        return result

    def stream(
        self,
        module: str,
        args: Sequence[str] | None = None,
        *,
        ack_timeout: float = 10.0,
        final_timeout: float = 600.0,
    ) -> Iterator[dict[str, Any]]:
        """Run ``module`` in async mode, yielding its frames: started, running…, finished.

        An ``error`` frame raises :class:`ServerError` (after the frames before it);
        the other failures are those of :meth:`run`. Stopping early is allowed: the
        record then says ``STREAM_CLOSED`` (the job may still run on the server).
        """
        trace = self._trace(module, args, "async")
        try:
            with self._exclusive():
                conversation = self._conversation(trace, "async", ack_timeout, final_timeout)
                with contextlib.closing(self._converse(conversation)) as events:
                    for event in events:
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

    def worldstate_snapshot(
        self, terse: bool = True, *, ack_timeout: float = 10.0, final_timeout: float = 600.0
    ) -> Any:
        """The world as the server sees it; raises :class:`EmptyWorldError` when it has no entities."""
        return self.run(
            outcomes.WORLDSTATE_MODULE,
            ["--terse"] if terse else [],
            ack_timeout=ack_timeout,
            final_timeout=final_timeout,
        )

    def login_password(
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
            with self._exclusive():
                self._channel.open_for_login()
                conversation = self._conversation(trace, "sync", ack_timeout, final_timeout, args)
                final = self._final(conversation, secrets=secrets)
                login = self._login_result(
                    trace, final.result, account=account, device=device, ttl=ttl
                )
                # The next command opens a connection that carries the new token.
                self._channel.token = login.token
                self._channel.close()
        except BaseException as exc:
            trace.failed(exc)
            raise
        finally:
            self._emit(trace)
        self._note_login(login)
        return login

    # The exchange -------------------------------------------------------------------

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        """One command at a time; a command started inside an unfinished stream is an error."""
        me = threading.get_ident()
        if not self._lock.acquire(blocking=False):
            if self._holder == me:
                raise RuntimeError(
                    "this agent is still streaming; finish or close the stream before the next "
                    "command, or use a second agent"
                )
            self._lock.acquire()
        self._holder = me
        try:
            yield
        finally:
            self._holder = None
            self._lock.release()

    def _final(self, conversation: Conversation, *, secrets: list[str] | None = None) -> Finished:
        """The Finished event that ends ``conversation``; the failure it ended in is raised."""
        with contextlib.closing(self._converse(conversation)) as events:
            for event in events:
                if isinstance(event, Finished):
                    return event
                if event.terminal:
                    raise self._failure(event, conversation.trace, secrets=secrets)
        raise AssertionError("the exchange ended without a terminal event")  # pragma: no cover

    def _converse(self, conversation: Conversation) -> Iterator[Event]:
        """Send the request and yield what the conversation makes of each message, until it ends."""
        channel = self._channel
        channel.send(conversation.request)
        conversation.sent()
        self._while_waiting()
        while not conversation.done:
            phase, deadline = conversation.deadline()
            try:
                data = channel.next_message(deadline)
            except ConnectionError as exc:
                channel.close()
                events = conversation.lost(exc)
            else:
                if data is TIMEOUT:
                    events = conversation.expired(phase)
                else:
                    events = conversation.received(data)
            for event in events:
                if isinstance(event, Violation):
                    # After a malformed frame nothing on this connection can be trusted.
                    channel.close()
                yield event
        channel.touch()
