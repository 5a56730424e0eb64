"""The blocking face of the agent: the asyncio agent driven on a private event loop.

The loop is private (never ``asyncio.run``, never the caller's): it runs in the
calling thread for the duration of each call when that thread has no loop of
its own, and in a background thread once the agent is used from a thread whose
loop is already running (a notebook), where the calling thread cannot run a
second loop. Running in the calling thread saves two thread wake-ups per
command, which on a loopback round trip is a fifth of the time.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Coroutine, Iterator, Sequence
from typing import Any, TypeVar

from .async_agent import AsyncRemoteAgent
from .login import LoginResult

T = TypeVar("T")

# How long close() waits for the loop thread, and Ctrl-C for the interrupted command's record.
_JOIN_TIMEOUT = 10.0


def _loop_running_here() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class _PrivateLoop:
    """One event loop for one agent: run inline by the caller, or forever in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread: threading.Thread | None = None
        # Serialises inline runs, and the switch to a background thread.
        self._mutex = threading.Lock()

    @property
    def closed(self) -> bool:
        return self.loop.is_closed()

    def call(self, coro: Coroutine[Any, Any, T], agent: AsyncRemoteAgent) -> T:
        """Run ``coro`` to completion; Ctrl-C cancels it (so it records itself) and re-raises."""
        if self._thread is None and not _loop_running_here():
            with self._mutex:
                if self._thread is None:
                    return self._run_inline(coro, agent)
        if self._thread is None:
            with self._mutex:
                if self._thread is None:
                    self._start_thread()
        return self._run_in_thread(coro, agent)

    # In the calling thread ----------------------------------------------------

    def _run_inline(self, coro: Coroutine[Any, Any, T], agent: AsyncRemoteAgent) -> T:
        task = self.loop.create_task(coro)
        try:
            return self.loop.run_until_complete(task)
        except KeyboardInterrupt:
            if task.done():
                # Raised inside the command, which has recorded it; mark it retrieved.
                if not task.cancelled():
                    task.exception()
            else:
                # Raised while the loop waited: cancel the command where it stands and let
                # it record itself before the interrupt goes on.
                agent._interrupted.add(task)
                task.cancel()
                with contextlib.suppress(BaseException):
                    self.loop.run_until_complete(task)
            raise

    # In a background thread -----------------------------------------------------

    def _start_thread(self) -> None:
        self._thread = threading.Thread(
            target=self._thread_main, name="procedura-agent-loop", daemon=True
        )
        self._thread.start()

    def _thread_main(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        finally:
            try:
                self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            finally:
                self.loop.close()

    def _run_in_thread(self, coro: Coroutine[Any, Any, T], agent: AsyncRemoteAgent) -> T:
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
            done.wait(_JOIN_TIMEOUT)
            raise
        return holder["task"].result()

    @staticmethod
    def _interrupt(holder: dict[str, asyncio.Task[Any]], agent: AsyncRemoteAgent) -> None:
        task = holder.get("task")
        if task is not None and not task.done():
            agent._interrupted.add(task)
            task.cancel()

    # Shutting down -----------------------------------------------------------

    def close(self, agent: AsyncRemoteAgent) -> None:
        """Close the agent on its loop, then the loop (and its thread)."""
        if self.closed:
            return
        try:
            self.call(agent.close(), agent)
        finally:
            thread = self._thread
            if thread is not None:
                # The thread closes the loop once it stops.
                self.loop.call_soon_threadsafe(self.loop.stop)
                if threading.current_thread() is not thread:
                    thread.join(_JOIN_TIMEOUT)
            else:
                try:
                    self.loop.run_until_complete(self.loop.shutdown_asyncgens())
                finally:
                    self.loop.close()


class RemoteAgent:
    """A client of one Procedura server, for ordinary (blocking) code.

    Same constructor and operations as :class:`AsyncRemoteAgent`; works inside a
    running event loop too. ``on_phase`` is called from the calling thread, or
    from the agent's loop thread when the caller's thread runs a loop of its own.
    Use it as a context manager, or call :meth:`close`.
    """

    def __init__(self, url: str, **options: Any) -> None:
        self._agent = AsyncRemoteAgent(url, **options)
        self._loop: _PrivateLoop | None = None
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
                self._loop = _PrivateLoop()
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
            if not finished and self._loop is not None and not self._loop.closed:
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
        """Close the connection and the agent's private loop."""
        with self._lock:
            loop, self._loop = self._loop, None
        if loop is not None:
            loop.close(self._agent)


async def _anext(frames: AsyncIterator[T]) -> T:
    # The loop runs coroutines as tasks; an async generator's __anext__ is only an awaitable.
    return await frames.__anext__()


async def _aclose(frames: Any) -> None:
    await frames.aclose()
