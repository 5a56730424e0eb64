"""Fixtures for the devserver tests: a running engine and a bare websockets 11 client."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets.client
from procedura_devserver import DEMO_EMAIL, WorldEngine

FIRST_LINE = re.compile(r"^procedura-devserver listening on (wss?://127\.0\.0\.1:\d+)\n$")
# Only a guard against a hung test, never an assertion about speed.
HANG_GUARD = 10.0


class Wire:
    """The least a client can do: connect, send a request frame, read JSON frames."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)

    def connect(
        self, url: str, *, token: str | None = None, bearer: str | None = None, **kwargs: Any
    ) -> Any:
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else None
        return websockets.client.connect(
            url,
            subprotocols=[token] if token else None,
            extra_headers=headers,
            open_timeout=HANG_GUARD,
            **kwargs,
        )

    async def send(
        self, ws: Any, cmd: str, args: list[str] | None = None, mode: str = "sync"
    ) -> str:
        request_id = f"r{next(self._ids):07x}"
        await ws.send(json.dumps({"id": request_id, "cmd": cmd, "args": args or [], "mode": mode}))
        return request_id

    async def recv(self, ws: Any) -> dict[str, Any]:
        return json.loads(await asyncio.wait_for(ws.recv(), HANG_GUARD))

    async def answer(self, ws: Any, request_id: str) -> list[dict[str, Any]]:
        """This request's frames up to its final one (frames for others are skipped)."""
        frames: list[dict[str, Any]] = []
        job_id = None
        while True:
            frame = await self.recv(ws)
            mine = frame.get("id") == request_id or (job_id and frame.get("job_id") == job_id)
            if not mine:
                continue
            frames.append(frame)
            job_id = job_id or frame.get("job_id")
            if frame["status"] in ("finished", "error"):
                return frames

    async def call(
        self, url: str, cmd: str, args: list[str] | None = None, mode: str = "sync", **connect: Any
    ) -> list[dict[str, Any]]:
        """One request on a fresh connection; its frames."""
        async with self.connect(url, **connect) as ws:
            return await self.answer(ws, await self.send(ws, cmd, args, mode))


@pytest.fixture
def wire() -> Wire:
    return Wire()


@pytest.fixture
def engine() -> Iterator[WorldEngine]:
    with WorldEngine(accounts={"ada@example.org": "pa:ss word"}).running() as running:
        yield running


@pytest.fixture
def token(engine: WorldEngine) -> str:
    return engine.issue_session(DEMO_EMAIL)


def run(coro: Any) -> Any:
    """Drive one async scenario from a plain test."""
    return asyncio.run(coro)


@pytest.fixture
def arun() -> Any:
    return run


class Server:
    """The command running in a subprocess; stderr goes to a file so it can never block."""

    def __init__(self, tmp_path: Path, *options: str) -> None:
        self.log = tmp_path / f"devserver-{len(list(tmp_path.glob('devserver-*.log')))}.log"
        with self.log.open("wb") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "procedura_devserver", "--port", "0", *options],
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
            )
        self.first_line = self.process.stdout.readline()

    @property
    def url(self) -> str:
        match = FIRST_LINE.match(self.first_line)
        assert match, f"first line {self.first_line!r}; stderr: {self.log.read_text()}"
        return match.group(1)

    def stop(self, signum: int = signal.SIGTERM) -> tuple[int, str]:
        self.process.send_signal(signum)
        rest, _ = self.process.communicate(timeout=20)
        return self.process.returncode, rest

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate()


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Any]:
    """Start the command with options; every server started is killed at the end."""
    started: list[Server] = []

    def start(*options: str) -> Server:
        started.append(Server(tmp_path, *options))
        return started[-1]

    yield start
    for server in started:
        server.kill()
