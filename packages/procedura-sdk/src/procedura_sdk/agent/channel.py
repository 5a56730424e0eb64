"""The agent's one connection: opened on first use, reused, checked after idling, replaced when it dies.

The answers are read by a single task per connection (:class:`MessageReader`)
and handed out with deadlines, so waiting costs a timer rather than a task.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from ..errors import AuthenticationError, ConnectionLostError
from .connection import ConnectionOptions, WireLogger, describe_close, open_websocket

logger = logging.getLogger("procedura_sdk.agent")


class Channel:
    """One WebSocket to ``url``, carrying ``token`` (if any); ``on_connecting`` is told before each opening."""

    def __init__(
        self,
        url: str,
        shown_url: str,
        token: str | None,
        options: ConnectionOptions,
        on_connecting: Callable[[], None],
    ) -> None:
        self.url = url
        self.shown_url = shown_url
        self.token = token
        self.options = options
        self.ws: Any = None
        self.reader: MessageReader | None = None
        self.wire_logger = WireLogger()
        self._on_connecting = on_connecting
        self._last_used = 0.0

    @property
    def connected(self) -> bool:
        return self.ws is not None and self.ws.open

    def touch(self) -> None:
        """Note that the connection just carried a command (for the idle check)."""
        self._last_used = time.monotonic()

    async def send(self, request: str) -> MessageReader:
        """Send on the open connection, opening it first if needed; one retry on a stale one.

        Returns the connection's reader, from which the answers come.
        """
        from websockets.exceptions import ConnectionClosed

        reused = self.connected
        ws = await self.open()
        try:
            await ws.send(request)
        except ConnectionClosed as exc:
            if not reused:
                raise ConnectionLostError(
                    f"The connection to {self.shown_url} closed before the request could be "
                    f"sent: {describe_close(exc)}. Try again."
                ) from None
            logger.info(
                "connection to %s closed while idle (%s); retrying on a new connection",
                self.shown_url, describe_close(exc),
            )
            await self.close()
            ws = await self.open()
            await ws.send(request)
        assert self.reader is not None
        return self.reader

    async def open(self) -> Any:
        """The open connection: the current one if it is alive, else a new one."""
        if self.connected:
            if not self._idle_too_long() or await self._answers_ping():
                return self.ws
            logger.info(
                "the connection to %s, idle for %.0f s, does not answer a ping; reconnecting",
                self.shown_url, time.monotonic() - self._last_used,
            )
        await self.close()
        self._on_connecting()
        began = time.monotonic()
        if self.token:
            self.wire_logger.hide(self.token)
        self.ws = await open_websocket(self.url, self.token, self.options, self.wire_logger)
        self.reader = MessageReader(self.ws)
        self.touch()
        logger.info(
            "connected to %s in %.1f ms (%s)",
            self.shown_url,
            (time.monotonic() - began) * 1000.0,
            "with a session token" if self.token else "without a token",
        )
        return self.ws

    async def open_for_login(self) -> None:
        """Open with the token, or without one if the server refuses it (a stale saved token)."""
        if self.connected or not self.token:
            return
        try:
            await self.open()
        except AuthenticationError:
            logger.info("the saved token was refused; logging in over an anonymous connection")
            self.token = None
            await self.open()

    async def close(self) -> None:
        ws, self.ws = self.ws, None
        reader, self.reader = self.reader, None
        if reader is not None:
            reader.cancel()
        if ws is None:
            return
        try:
            await ws.close()
        except Exception as exc:  # noqa: BLE001 - closing is best effort, but not silent
            logger.debug("error while closing the connection to %s: %s", self.shown_url, exc)

    def _idle_too_long(self) -> bool:
        # The blocking face runs its loop only during calls, so between calls nothing
        # answers the server's pings: after a long pause, check before trusting it.
        interval = self.options.ping_interval
        return interval is not None and time.monotonic() - self._last_used > interval

    async def _answers_ping(self) -> bool:
        from websockets.exceptions import ConnectionClosed

        try:
            pong = await self.ws.ping()
            await asyncio.wait_for(pong, min(self.options.ping_timeout or 10.0, 10.0))
        except (ConnectionClosed, asyncio.TimeoutError, OSError):
            return False
        self.touch()
        return True


class MessageReader:
    """Reads one connection's messages in a single background task and hands them out with deadlines.

    Waiting with a deadline costs a timer rather than a task per message (as
    ``asyncio.wait_for`` would on Python < 3.12), and an outside cancellation of
    the waiter is never mistaken for a timeout. Messages that arrive while
    nobody waits are kept, in order, for the next wait (at most ``backlog``).
    """

    TIMEOUT = object()

    def __init__(self, ws: Any, backlog: int = 1000) -> None:
        self._ws = ws
        self._loop = asyncio.get_running_loop()
        self._pending: deque[str | bytes] = deque(maxlen=backlog)
        self._waiter: asyncio.Future[Any] | None = None
        self.closed: BaseException | None = None
        self._task = self._loop.create_task(self._read())

    async def _read(self) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            while True:
                message = await self._ws.recv()
                waiter = self._waiter
                if waiter is not None and not waiter.done():
                    waiter.set_result(message)
                else:
                    if len(self._pending) == self._pending.maxlen:
                        logger.debug("dropping the oldest unclaimed message")
                    self._pending.append(message)
        except ConnectionClosed as exc:
            self.closed = exc
        except Exception as exc:  # noqa: BLE001 - handed to the waiter, not lost in a task
            logger.debug("the message reader stopped: %r", exc)
            self.closed = exc
        finally:
            waiter = self._waiter
            if waiter is not None and not waiter.done():
                waiter.set_result(None)

    async def next(self, deadline: float) -> Any:
        """The next message, :attr:`TIMEOUT` once ``time.monotonic()`` passes ``deadline``,
        or the ``ConnectionClosed`` exception raised when the connection is gone."""
        if self._pending:
            return self._pending.popleft()
        if self.closed is not None or self._task.done():
            raise self.closed or ConnectionError("the connection's reader stopped")
        waiter = self._waiter = self._loop.create_future()
        delay = deadline - time.monotonic()
        timer = self._loop.call_later(max(delay, 0.0), _expire, waiter)
        try:
            message = await waiter
        finally:
            timer.cancel()
            self._waiter = None
        if message is None:
            if self._pending:
                return self._pending.popleft()
            raise self.closed or ConnectionError("the connection's reader stopped")
        return message

    def cancel(self) -> None:
        self._task.cancel()


def _expire(waiter: asyncio.Future[Any]) -> None:
    if not waiter.done():
        waiter.set_result(MessageReader.TIMEOUT)
