"""The blocking face of the agent: the asyncio agent run on a private event loop in a background thread.

A private loop (rather than ``asyncio.run``) is what lets this face work where
an event loop is already running in the calling thread, e.g. in a notebook.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Coroutine, Iterator, Sequence
from typing import Any, TypeVar

from .async_agent import AsyncRemoteAgent
from .login import LoginResult

T = TypeVar("T")

# How long close() waits for the loop thread after the connection closed.
_JOIN_TIMEOUT = 10.0


class _LoopThread:
    """An event loop running forever in a daemon thread, taking coroutines from other threads."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._main, name="procedura-agent-loop", daemon=True
        )
        self._thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        finally:
            try:
                self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            finally:
                self.loop.close()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() and not self.loop.is_closed()

    def call(self, coro: Coroutine[Any, Any, T], agent: AsyncRemoteAgent) -> T:
        """Run ``coro`` on the loop and wait; Ctrl-C cancels it there (so it is recorded) and re-raises."""
        done = threading.Event()
        holder: dict[str, asyncio.Task[T]] = {}

        def start() -> None:
            task = self.loop.create_task(coro)
            holder["task"] = task
            task.add_done_callback(lambda _: done.set())

        self.loop.call_soon_threadsafe(start)
        try:
            done.wait()
        except KeyboardInterrupt:
            self.loop.call_soon_threadsafe(self._interrupt, holder, agent)
            # Give the command the moment it needs to record itself as interrupted.
            done.wait(_JOIN_TIMEOUT)
            raise
        return holder["task"].result()

    @staticmethod
    def _interrupt(holder: dict[str, asyncio.Task[Any]], agent: AsyncRemoteAgent) -> None:
        task = holder.get("task")
        if task is not None and not task.done():
            agent._interrupted.add(task)
            task.cancel()

    def stop(self) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        if threading.current_thread() is not self._thread:
            self._thread.join(_JOIN_TIMEOUT)


class RemoteAgent:
    """A client of one Procedura server, for ordinary (blocking) code.

    Same constructor and operations as :class:`AsyncRemoteAgent`; works inside a
    running event loop too. ``on_phase`` is called from the agent's own thread.
    Use it as a context manager, or call :meth:`close`.
    """

    def __init__(self, url: str, **options: Any) -> None:
        self._agent = AsyncRemoteAgent(url, **options)
        self._loop: _LoopThread | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return repr(self._agent).replace("AsyncRemoteAgent", type(self).__name__, 1)

    @property
    def url(self) -> str:
        return self._agent.url

    @property
    def connected(self) -> bool:
        return self._agent.connected

    @property
    def has_token(self) -> bool:
        return self._agent.has_token

    @property
    def token_store(self) -> Any:
        return self._agent.token_store

    def __enter__(self) -> RemoteAgent:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        with self._lock:
            if self._loop is None:
                self._loop = _LoopThread()
            loop = self._loop
        return loop.call(coro, self._agent)

    def run(
        self,
        module: str,
        args: Sequence[str] | None = None,
        *,
        ack_timeout: float = 10.0,
        final_timeout: float = 600.0,
    ) -> Any:
        """Run ``module`` in sync mode and return its ``result`` (see :meth:`AsyncRemoteAgent.run`)."""
        return self._call(
            self._agent.run(module, args, ack_timeout=ack_timeout, final_timeout=final_timeout)
        )

    def stream(
        self,
        module: str,
        args: Sequence[str] | None = None,
        *,
        ack_timeout: float = 10.0,
        final_timeout: float = 600.0,
    ) -> Iterator[dict[str, Any]]:
        """Run ``module`` in async mode, yielding its frames (see :meth:`AsyncRemoteAgent.stream`)."""
        frames = self._agent.stream(
            module, args, ack_timeout=ack_timeout, final_timeout=final_timeout
        )
        finished = False
        try:
            while True:
                try:
                    frame = self._call(_anext(frames))
                except BaseException:
                    # Ended (StopAsyncIteration, a failure, Ctrl-C): it has recorded itself.
                    finished = True
                    raise
                yield frame
        except StopAsyncIteration:
            return
        finally:
            if not finished and self._loop is not None and self._loop.alive:
                # Stopped early: close the stream where it lives so it records itself.
                self._call(_aclose(frames))

    def worldstate_snapshot(
        self, terse: bool = True, *, ack_timeout: float = 10.0, final_timeout: float = 600.0
    ) -> Any:
        """The world as the server sees it; raises EmptyWorldError when it has no entities."""
        return self._call(
            self._agent.worldstate_snapshot(
                terse, ack_timeout=ack_timeout, final_timeout=final_timeout
            )
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
        """Log in, save the token and use it from now on (see :meth:`AsyncRemoteAgent.login_password`)."""
        return self._call(
            self._agent.login_password(
                credential,
                replace=replace,
                device=device,
                ttl=ttl,
                ack_timeout=ack_timeout,
                final_timeout=final_timeout,
            )
        )

    def close(self) -> None:
        """Close the connection and stop the agent's thread."""
        with self._lock:
            loop, self._loop = self._loop, None
        if loop is None:
            # Never ran a command: no connection, no recorder of its own.
            return
        try:
            if loop.alive:
                loop.call(self._agent.close(), self._agent)
        finally:
            loop.stop()


async def _anext(frames: AsyncIterator[T]) -> T:
    # The loop runs coroutines as tasks; an async generator's __anext__ is only an awaitable.
    return await frames.__anext__()


async def _aclose(frames: Any) -> None:
    await frames.aclose()
