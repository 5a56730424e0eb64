"""The asyncio face of the agent: one connection, commands driven through the protocol state machine.

Every command, however it ends, gives exactly one EventRecord to the recorder
before its result is returned or its exception propagates.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import warnings
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from ..errors import ProceduraError, ProtocolViolationError
from ..observability.redaction import REDACTED, default_redactor
from ..token_store import TokenStore
from . import login as _login
from . import outcomes
from .channel import Channel, MessageReader
from .connection import DEFAULT_MAX_SIZE, ConnectionOptions, check_url, describe_close, display_url
from .protocol import (
    Acked,
    Event,
    Exchange,
    Failed,
    Finished,
    Ignored,
    Progress,
    RequestIds,
    Violation,
    encode_request,
)
from .trace import CommandTrace

logger = logging.getLogger("procedura_sdk.agent")

PHASE_CONNECTING = "connecting"
PHASE_WAITING_FOR_ACK = "waiting for ack"
PHASE_RUNNING = "running"


def hide_secret(secret: str | None) -> None:
    """Register a live token with the shared redactor, so no log or record can show it."""
    default_redactor.add_secret(secret)


class AsyncRemoteAgent:
    """A client of one Procedura server, for asyncio code.

    ``token=None`` uses the token saved by the last login (see :class:`TokenStore`);
    ``token=""`` connects without one. The connection opens on the first command
    and is reused; commands on one agent run one at a time. ``on_phase(name)`` is
    called with ``"connecting"``, ``"waiting for ack"`` and ``"running"``.
    ``recorder=None`` records into the default data root, through a background
    writer that group-commits (records are durable once ``close()`` returns, or
    at interpreter exit); ``record=False`` records nothing.
    """

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        ca_file: str | None = None,
        recorder: Any = None,
        record: bool = True,
        on_phase: Callable[[str], None] | None = None,
        token_store: TokenStore | None = None,
        max_size: int = DEFAULT_MAX_SIZE,
        open_timeout: float = 5.0,
        ping_interval: float | None = 20.0,
        ping_timeout: float | None = 60.0,
        close_timeout: float = 1.0,
    ) -> None:
        self.url = check_url(url)
        self._shown_url = display_url(url)
        self.token_store = token_store if token_store is not None else TokenStore()
        self._options = ConnectionOptions(
            max_size=max_size,
            open_timeout=open_timeout,
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            close_timeout=close_timeout,
            ca_file=ca_file,
        )
        self._record = record
        self._recorder = recorder
        self._owns_recorder = False
        self._on_phase = on_phase
        token = token if token is not None else self.token_store.load()
        hide_secret(token)
        self._channel = Channel(
            self.url,
            self._shown_url,
            token,
            self._options,
            on_connecting=lambda: self._phase(PHASE_CONNECTING),
        )
        self._lock = asyncio.Lock()
        self._ids = RequestIds()
        # Tasks the sync face cancelled because of Ctrl-C, so their records say so.
        self._interrupted: set[asyncio.Task[Any]] = set()

    def __repr__(self) -> str:
        state = "connected" if self.connected else "not connected"
        return f"<{type(self).__name__} {self._shown_url} {state}>"

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
        if self._owns_recorder and self._recorder is not None:
            self._recorder.close()
            self._recorder = None
            self._owns_recorder = False
        elif self._recorder is not None and hasattr(self._recorder, "flush"):
            self._call_recorder("flush")

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
        arg_list = list(args or ())
        trace = CommandTrace(module, arg_list, mode="sync", url=self._shown_url)
        try:
            async with self._lock:
                final = await self._run_exchange(
                    trace, module, arg_list, "sync", ack_timeout, final_timeout
                )
            result = outcomes.finished(trace, final)
        except BaseException as exc:
            trace.failed(exc, interrupted=self._was_interrupted())
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
        arg_list = list(args or ())
        trace = CommandTrace(module, arg_list, mode="async", url=self._shown_url)
        try:
            async with self._lock:
                conversation = self._converse(
                    trace, module, arg_list, "async", ack_timeout, final_timeout
                )
                async with contextlib.aclosing(conversation):
                    async for event in conversation:
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
            trace.failed(exc, interrupted=self._was_interrupted())
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
    ) -> _login.LoginResult:
        """Log in with ``email:password`` (or base64 of it), save the token and use it from now on.

        ``replace=False`` attaches to the account's current session instead of
        replacing it. Raises :class:`AuthenticationError` when the server refuses.
        """
        account = _login.account_of(credential)
        args = _login.login_args(credential, replace=replace, device=device, ttl=ttl)
        secrets = _login.secrets_of(credential)
        for secret in secrets:
            self._channel.wire_logger.hide(secret)
        trace = CommandTrace(
            _login.LOGIN_MODULE, _login.recorded_args(args), mode="sync", url=self._shown_url
        )
        try:
            async with self._lock:
                await self._channel.open_for_login()
                final = await self._run_exchange(
                    trace, _login.LOGIN_MODULE, args, "sync", ack_timeout, final_timeout,
                    secrets=secrets,
                )
                result = final.result
                token = result.get("session_token") if isinstance(result, dict) else None
                if not isinstance(token, str) or not token:
                    raise ProtocolViolationError(
                        "login_password finished without a session_token; check that the URL "
                        "points at a Procedura server.",
                        code="PROTOCOL_VIOLATION",
                    )
                expires_at, granted_ttl = _login.expiry(result, ttl)
                token_file = self._save_token(token)
                # The next command opens a connection that carries the new token.
                hide_secret(token)
                self._channel.token = token
                await self._channel.close()
            login = _login.LoginResult(
                account=str(result.get("account") or account),
                expires_at=expires_at,
                ttl=granted_ttl,
                device=str(result.get("device") or device),
                token_file=token_file,
                attached=bool(result.get("attached", False)),
                token=token,
            )
            shown = {k: v for k, v in result.items() if k != "session_token"}
            trace.succeeded({**shown, "session_token": REDACTED})
        except BaseException as exc:
            trace.failed(exc, interrupted=self._was_interrupted())
            raise
        finally:
            self._emit(trace)
        if self._recorder is not None and self._record:
            self._call_recorder(
                "note_login",
                url=self._shown_url,
                account=login.account,
                ttl=login.ttl,
                expires_at=login.expires_at,
            )
        return login

    # The exchange -------------------------------------------------------------------

    async def _run_exchange(
        self,
        trace: CommandTrace,
        module: str,
        args: list[str],
        mode: str,
        ack_timeout: float,
        final_timeout: float,
        *,
        secrets: list[str] | None = None,
    ) -> Finished:
        conversation = self._converse(trace, module, args, mode, ack_timeout, final_timeout)
        async with contextlib.aclosing(conversation):
            async for event in conversation:
                if isinstance(event, Finished):
                    return event
                if event.terminal:
                    raise self._failure(event, trace, secrets=secrets)
        raise AssertionError("the exchange ended without a terminal event")  # pragma: no cover

    async def _converse(
        self,
        trace: CommandTrace,
        module: str,
        args: list[str],
        mode: str,
        ack_timeout: float,
        final_timeout: float,
    ) -> AsyncIterator[Event]:
        """Send the request and yield what the exchange makes of each frame, until it ends."""
        msg_id = self._ids.next()
        request = encode_request(msg_id, module, args, mode)
        reader = await self._channel.send(request)
        exchange = Exchange(msg_id, mode)
        trace.sent(msg_id)
        self._phase(PHASE_WAITING_FOR_ACK)
        started = time.monotonic()
        ack_deadline = started + ack_timeout
        final_deadline = started + final_timeout
        trace.ack_timeout, trace.final_timeout = ack_timeout, final_timeout

        while not exchange.done:
            if exchange.awaiting == "ack" and ack_deadline <= final_deadline:
                phase, deadline = "ack", ack_deadline
            else:
                phase, deadline = "final", final_deadline
            size = 0
            try:
                data = await reader.next(deadline)
            except Exception as exc:  # noqa: BLE001 - the reader's ConnectionClosed, or its end
                trace.closed_by = exc
                await self._channel.close()
                events = exchange.connection_lost(describe_close(exc))
            else:
                if data is MessageReader.TIMEOUT:
                    events = exchange.expire(phase)
                else:
                    size = len(data.encode("utf-8")) if isinstance(data, str) else len(data)
                    events = exchange.receive_data(data)

            for event in events:
                if isinstance(event, Ignored):
                    logger.debug(
                        "request %s: ignored a frame (%s): id=%r job_id=%r status=%r",
                        msg_id, event.reason, *_address(event.frame),
                    )
                    continue
                if isinstance(event, Acked):
                    trace.acked(event.job_id)
                    logger.debug(
                        "request %s (%s): ack after %s ms, job %s",
                        msg_id, module, trace.record.ack_latency_ms, event.job_id,
                    )
                    self._phase(PHASE_RUNNING)
                elif isinstance(event, Progress):
                    trace.progressed(exchange.job_id)
                elif isinstance(event, (Finished, Failed)):
                    trace.final_frame(size, exchange.job_id)
                    logger.debug(
                        "request %s (%s): %s after %s ms, %d bytes",
                        msg_id, module, exchange.status, trace.record.final_latency_ms, size,
                    )
                elif isinstance(event, Violation):
                    # After a malformed frame nothing on this connection can be trusted.
                    await self._channel.close()
                yield event
        self._channel.touch()

    def _failure(
        self, event: Event, trace: CommandTrace, *, secrets: list[str] | None = None
    ) -> ProceduraError:
        return outcomes.failure(
            event, trace, url=self._shown_url, max_size=self._options.max_size, secrets=secrets
        )

    # Side channels ----------------------------------------------------------------

    def _phase(self, name: str) -> None:
        if self._on_phase is None:
            return
        try:
            self._on_phase(name)
        except Exception:  # noqa: BLE001 - a broken progress display must not fail the command
            logger.warning("on_phase(%r) raised; ignoring it", name, exc_info=True)

    def _recorder_or_none(self) -> Any:
        if not self._record:
            return None
        if self._recorder is None:
            from ..observability.recorder import Recorder

            self._recorder = Recorder(background=True)
            self._owns_recorder = True
        return self._recorder

    def _emit(self, trace: CommandTrace) -> None:
        if self._recorder_or_none() is None:
            return
        self._call_recorder("record", trace.record)

    def _call_recorder(self, method: str, *args: Any, **kwargs: Any) -> None:
        # Recorder.record never raises by contract; a recorder that does must not
        # hide the command's own outcome, and must not go unnoticed either.
        try:
            getattr(self._recorder, method)(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001
            logger.error("recorder.%s failed: %s", method, exc, exc_info=True)
            warnings.warn(f"could not record the command: recorder.{method} failed: {exc}", stacklevel=3)

    def _save_token(self, token: str) -> Any:
        try:
            return self.token_store.save(token)
        except OSError as exc:
            message = (
                f"logged in, but could not save the session token to {self.token_store.path}: "
                f"{exc.strerror or exc}. It is used for this agent only."
            )
            logger.warning(message)
            warnings.warn(message, stacklevel=4)
            return None

    def _was_interrupted(self) -> bool:
        task = asyncio.current_task()
        if task is not None and task in self._interrupted:
            self._interrupted.discard(task)
            return True
        return False


def _address(frame: Any) -> tuple[Any, Any, Any]:
    if isinstance(frame, dict):
        return frame.get("id"), frame.get("job_id"), frame.get("status")
    return None, None, None

