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

from ..errors import (
    AckTimeoutError,
    AuthenticationError,
    ConnectionLostError,
    EmptyWorldError,
    FinalTimeoutError,
    ProceduraError,
    ProtocolViolationError,
    ServerError,
)
from ..token_store import TokenStore
from . import login as _login
from .connection import (
    DEFAULT_MAX_SIZE,
    ConnectionOptions,
    MessageReader,
    WireLogger,
    check_url,
    closed_error,
    describe_close,
    display_url,
    open_websocket,
)
from .protocol import (
    Acked,
    Disconnected,
    Event,
    Exchange,
    Failed,
    Finished,
    Ignored,
    Progress,
    RequestIds,
    TimedOut,
    Violation,
    encode_request,
)
from .trace import CommandTrace

logger = logging.getLogger("procedura_sdk.agent")

WORLDSTATE_MODULE = "worldstate_snapshot"

# Server error codes that mean "who you are" was refused rather than "what you asked".
AUTH_CODES = frozenset(
    {
        "AUTH_REQUIRED",
        "AUTH_FAILED",
        "AUTH_EXPIRED",
        "INVALID_TOKEN",
        "TOKEN_EXPIRED",
        "SESSION_EXPIRED",
        "UNAUTHORIZED",
        "INVALID_CREDENTIALS",
    }
)

PHASE_CONNECTING = "connecting"
PHASE_WAITING_FOR_ACK = "waiting for ack"
PHASE_RUNNING = "running"


class AsyncRemoteAgent:
    """A client of one Procedura server, for asyncio code.

    ``token=None`` uses the token saved by the last login (see :class:`TokenStore`);
    ``token=""`` connects without one. The connection opens on the first command
    and is reused; commands on one agent run one at a time. ``on_phase(name)`` is
    called with ``"connecting"``, ``"waiting for ack"`` and ``"running"``.
    ``recorder=None`` records into the default data root; ``record=False`` records
    nothing.
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
        self._token = token if token is not None else self.token_store.load()
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
        self._ws: Any = None
        self._reader: MessageReader | None = None
        self._wire_logger = WireLogger()
        self._last_used = 0.0
        self._lock = asyncio.Lock()
        self._ids = RequestIds()
        # Tasks the sync face cancelled because of Ctrl-C, so their records say so.
        self._interrupted: set[asyncio.Task[Any]] = set()

    def __repr__(self) -> str:
        state = "connected" if self.connected else "not connected"
        return f"<{type(self).__name__} {self._shown_url} {state}>"

    @property
    def connected(self) -> bool:
        return self._ws is not None and self._ws.open

    @property
    def has_token(self) -> bool:
        return bool(self._token)

    # Lifecycle -----------------------------------------------------------------

    async def __aenter__(self) -> AsyncRemoteAgent:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the connection (and the recorder, if this agent made it)."""
        await self._disconnect()
        if self._owns_recorder and self._recorder is not None:
            self._recorder.close()
            self._recorder = None
            self._owns_recorder = False

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
            result = self._finished(trace, final)
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
                            self._finished(trace, event)
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
            WORLDSTATE_MODULE,
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
        self._wire_logger.secrets.update(secrets)
        trace = CommandTrace(
            _login.LOGIN_MODULE, _login.recorded_args(args), mode="sync", url=self._shown_url
        )
        try:
            async with self._lock:
                if not self.connected and self._token:
                    await self._connect_for_login(trace)
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
                self._token = token
                await self._disconnect()
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
            trace.succeeded({**shown, "session_token": _login.REDACTED})
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
        reader = await self._send(request, trace)
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
                await self._disconnect()
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
                    await self._disconnect()
                yield event
        self._last_used = time.monotonic()

    async def _send(self, request: str, trace: CommandTrace) -> MessageReader:
        """Send on the open connection, opening it first if needed; one retry on a stale one.

        Returns the connection's reader, from which the answers come.
        """
        from websockets.exceptions import ConnectionClosed

        reused = self.connected
        ws = await self._connection()
        try:
            await ws.send(request)
        except ConnectionClosed as exc:
            if not reused:
                raise ConnectionLostError(
                    f"The connection to {self._shown_url} closed before the request could be "
                    f"sent: {describe_close(exc)}. Try again."
                ) from None
            logger.info(
                "connection to %s closed while idle (%s); retrying on a new connection",
                self._shown_url, describe_close(exc),
            )
            await self._disconnect()
            ws = await self._connection()
            await ws.send(request)
        assert self._reader is not None
        return self._reader

    async def _connection(self) -> Any:
        if self.connected:
            if not self._idle_too_long() or await self._answers_ping():
                return self._ws
            logger.info(
                "the connection to %s, idle for %.0f s, does not answer a ping; reconnecting",
                self._shown_url, time.monotonic() - self._last_used,
            )
        await self._disconnect()
        self._phase(PHASE_CONNECTING)
        began = time.monotonic()
        if self._token:
            self._wire_logger.secrets.add(self._token)
        self._ws = await open_websocket(self.url, self._token, self._options, self._wire_logger)
        self._reader = MessageReader(self._ws)
        self._last_used = time.monotonic()
        logger.info(
            "connected to %s in %.1f ms (%s)",
            self._shown_url,
            (time.monotonic() - began) * 1000.0,
            "with a session token" if self._token else "without a token",
        )
        return self._ws

    async def _connect_for_login(self, trace: CommandTrace) -> None:
        """Connect with the saved token, or without one if the server refuses it (a stale token)."""
        try:
            await self._connection()
        except AuthenticationError:
            logger.info("the saved token was refused; logging in over an anonymous connection")
            self._token = None
            await self._connection()

    def _idle_too_long(self) -> bool:
        # The blocking face runs its loop only during calls, so between calls nothing
        # answers the server's pings: after a long pause, check before trusting it.
        interval = self._options.ping_interval
        return interval is not None and time.monotonic() - self._last_used > interval

    async def _answers_ping(self) -> bool:
        from websockets.exceptions import ConnectionClosed

        try:
            pong = await self._ws.ping()
            await asyncio.wait_for(pong, min(self._options.ping_timeout or 10.0, 10.0))
        except (ConnectionClosed, asyncio.TimeoutError, OSError):
            return False
        self._last_used = time.monotonic()
        return True

    async def _disconnect(self) -> None:
        ws, self._ws = self._ws, None
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
        if ws is None:
            return
        try:
            await ws.close()
        except Exception as exc:  # noqa: BLE001 - closing is best effort, but not silent
            logger.debug("error while closing the connection to %s: %s", self._shown_url, exc)

    # Outcomes -----------------------------------------------------------------------

    def _finished(self, trace: CommandTrace, final: Finished) -> Any:
        result = final.result
        if (
            trace.record.cmd == WORLDSTATE_MODULE
            and isinstance(result, dict)
            and result.get("entities") == {}
        ):
            raise EmptyWorldError(result)
        trace.succeeded(result)
        return result

    def _failure(
        self, event: Event, trace: CommandTrace, *, secrets: list[str] | None = None
    ) -> ProceduraError:
        cmd = trace.record.cmd
        msg_id = trace.record.msg_id or "?"
        if isinstance(event, Failed):
            frame = _login.scrub(event.frame, secrets) if secrets else event.frame
            code = event.code
            if code in AUTH_CODES or (cmd == _login.LOGIN_MODULE and code is None):
                message = str(frame.get("message") or "no reason given")
                if cmd == _login.LOGIN_MODULE:
                    hint = "Check the email and password."
                else:
                    hint = "Log in (login_password) to get a valid session token."
                return AuthenticationError(
                    f"{self._shown_url} refused '{cmd}' ({code or 'AUTH_FAILED'}): {message}. {hint}",
                    code=code or "AUTH_FAILED",
                    frame=frame,
                )
            return ServerError(frame, cmd=cmd)
        if isinstance(event, TimedOut):
            if event.phase == "ack":
                return AckTimeoutError(cmd=cmd, msg_id=msg_id, timeout=trace.ack_timeout)
            return FinalTimeoutError(
                cmd=cmd, msg_id=msg_id, timeout=trace.final_timeout, job_id=trace.record.job_id
            )
        if isinstance(event, Disconnected):
            closed = trace.closed_by
            too_big = closed_error(closed, max_size=self._options.max_size) if closed else None
            if too_big is not None:
                return too_big
            job = trace.record.job_id
            if trace.record.status in ("ack", "running"):
                what = f"after the server accepted '{cmd}'" + (f" (job {job})" if job else "")
                hint = "The job may still have run on the server; check before retrying."
            else:
                what = f"before the server acknowledged '{cmd}'"
                hint = "Try again."
            return ConnectionLostError(
                f"Lost the connection to {self._shown_url} {what}: {event.reason}. {hint}",
                job_id=job,
            )
        if isinstance(event, Violation):
            return ProtocolViolationError(
                f"{self._shown_url} broke the protocol while answering '{cmd}': {event.reason}. "
                "Check that the URL points at a Procedura server.",
                frame=event.frame if not isinstance(event.frame, bytes) else None,
            )
        raise AssertionError(f"not a failure: {event!r}")  # pragma: no cover

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

            self._recorder = Recorder()
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

