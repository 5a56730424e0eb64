"""The websocket face of the engine: `WorldEngine` serves the Dispatcher over ws:// or wss://."""

from __future__ import annotations

import asyncio
import contextlib
import http
import ipaddress
import logging
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import websockets.exceptions
import websockets.server
from websockets.datastructures import Headers

from .accounts import AccountBook
from .faults import FaultSet
from .protocol import Abort, Dispatcher, Send, Sleep, handshake_token
from .sessions import Session, SessionStore
from .world import WorldStore

logger = logging.getLogger("procedura_devserver")

DEFAULT_MAX_SIZE = 8 * 1024 * 1024  # the earlier client's limit per message
# The server must offer some subprotocol for websockets 11 to consult select_subprotocol;
# clients offer their token, which the selector echoes.
_NOMINAL_SUBPROTOCOL = "procedura"


class WorldEngine:
    """A local Procedura world engine.

    Run it on the current event loop (`async with WorldEngine() as engine:`, or
    `await start()` / `await stop()`), or in a background thread for
    synchronous code and tests::

        with WorldEngine(faults={"ack-delay": 2}).running() as engine:
            print(engine.url)

    Faults can be changed while it runs through `engine.faults` (`set`, `clear`,
    `update`); `live_sessions()` lists the sessions issued so far and still valid.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        accounts: Mapping[str, str] | None = None,
        faults: Mapping[str, object] | Iterable[str] | None = None,
        certfile: str | None = None,
        keyfile: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        max_size: int | None = DEFAULT_MAX_SIZE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.host = host
        self.port = port
        self.accounts = AccountBook(accounts)
        self.sessions = SessionStore(clock)
        self.worlds = WorldStore()
        self.faults = FaultSet(faults)
        self.max_size = max_size
        if ssl_context is None and certfile:
            ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ssl_context.load_cert_chain(certfile, keyfile)
        elif keyfile and not certfile:
            raise ValueError("a keyfile needs a certfile")
        self.ssl_context = ssl_context
        self.dispatcher = Dispatcher(self.accounts, self.sessions, self.worlds, self.faults)
        self._server: websockets.server.WebSocketServer | None = None
        self._url: str | None = None

    # -- what tests and tools use -------------------------------------------------

    @property
    def url(self) -> str:
        """`ws://host:port` (or `wss://`) once started."""
        if self._url is None:
            raise RuntimeError("the engine is not running: use start() or running()")
        return self._url

    def add_account(self, email: str, password: str) -> None:
        self.accounts.add(email, password)

    def issue_session(self, email: str, *, device: str = "test", ttl: float = 3600) -> str:
        """A token for an account without going through login_password (for tests)."""
        if email not in self.accounts:
            raise KeyError(f"no such account: {email}")
        return self.sessions.issue(email, device, ttl).token

    def live_sessions(self) -> list[Session]:
        return self.sessions.live()

    # -- running on an event loop -------------------------------------------------

    async def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("the engine is already running")
        if not _is_loopback(self.host):
            logger.warning(
                "listening on %s, not a loopback address: anyone who can reach it "
                "can log in with the demo account",
                self.host,
            )
        self._server = await websockets.server.serve(
            self._handle,
            self.host,
            self.port,
            ssl=self.ssl_context,
            subprotocols=[_NOMINAL_SUBPROTOCOL],
            select_subprotocol=_select_token,
            process_request=self._check_handshake,
            max_size=self.max_size,
            close_timeout=2,
        )
        port = self._server.sockets[0].getsockname()[1]
        host = f"[{self.host}]" if ":" in self.host else self.host
        self._url = f"{'wss' if self.ssl_context else 'ws'}://{host}:{port}"
        logger.info("listening on %s", self._url)

    async def stop(self) -> None:
        server, self._server = self._server, None
        self._url = None
        if server is not None:
            server.close()
            await server.wait_closed()
            logger.info("stopped")

    async def __aenter__(self) -> WorldEngine:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @contextlib.contextmanager
    def running(self) -> Iterator[WorldEngine]:
        """Serve from a background thread with its own event loop while the block runs."""
        loop = asyncio.new_event_loop()
        started = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                failure.append(exc)
                started.set()
                loop.close()
                return
            started.set()
            try:
                loop.run_forever()
                loop.run_until_complete(self.stop())
            finally:
                loop.close()

        thread = threading.Thread(target=serve, name="procedura-devserver", daemon=True)
        thread.start()
        started.wait()
        if failure:
            raise failure[0]
        try:
            yield self
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join()

    # -- the websocket layer ------------------------------------------------------

    async def _check_handshake(self, path: str, headers: Headers) -> Any:
        """Refuse an unknown or expired token with 401; let no token through (login only)."""
        token, _ = handshake_token(_offered_subprotocols(headers), headers.get("Authorization"))
        if self.dispatcher.admits(token):
            return None
        return (
            http.HTTPStatus.UNAUTHORIZED,
            [("Content-Type", "text/plain; charset=utf-8"), ("WWW-Authenticate", "Bearer")],
            b"Unknown or expired session token: log in again.\n",
        )

    async def _handle(self, websocket: websockets.server.WebSocketServerProtocol) -> None:
        headers = websocket.request_headers
        token, _ = handshake_token(_offered_subprotocols(headers), headers.get("Authorization"))
        peer = websocket.remote_address
        logger.info("connection from %s (%s)", peer, "with token" if token else "no token")
        tasks: set[asyncio.Task] = set()
        try:
            async for message in websocket:
                if isinstance(message, bytes):
                    message = message.decode("utf-8", errors="replace")
                # Each request runs on its own, so answers to several requests interleave.
                actions = self.dispatcher.answer(message, token)
                task = asyncio.ensure_future(self._perform(websocket, actions))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        except websockets.exceptions.ConnectionClosed:
            pass
        finally:
            for task in tasks:
                task.cancel()
            # Let cancelled answers unwind here, not as "pending task destroyed" at shutdown.
            await asyncio.gather(*tasks, return_exceptions=True)
            logger.info("connection from %s closed", peer)

    async def _perform(
        self, websocket: websockets.server.WebSocketServerProtocol, actions: Iterator[Any]
    ) -> None:
        try:
            for action in actions:
                if isinstance(action, Send):
                    await websocket.send(action.text)
                elif isinstance(action, Sleep):
                    await asyncio.sleep(action.seconds)
                elif isinstance(action, Abort):
                    await _abort(websocket)
                    return
        except websockets.exceptions.ConnectionClosed:
            pass


async def _abort(websocket: websockets.server.WebSocketServerProtocol) -> None:
    """Close the TCP connection with no closing handshake, after what was sent got out."""
    transport = websocket.transport
    # abort() discards buffered bytes; let the ack leave first (bounded, loopback is quick).
    for _ in range(100):
        if transport.get_write_buffer_size() == 0:
            break
        await asyncio.sleep(0.01)
    logger.info("dropping the connection from %s (drop-after-ack fault)", websocket.remote_address)
    transport.abort()


def _offered_subprotocols(headers: Headers) -> list[str]:
    offered: list[str] = []
    for value in headers.get_all("Sec-WebSocket-Protocol"):
        offered.extend(p.strip() for p in value.split(",") if p.strip())
    return offered


def _select_token(client_subprotocols: Any, server_subprotocols: Any) -> Any:
    # The handshake check already vetted the token; echo it so the client's handshake succeeds.
    return client_subprotocols[0] if client_subprotocols else None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
