"""Fixtures for the devserver tests: a running engine and a bare websockets 11 client."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest
import websockets.client
from procedura_devserver import DEMO_EMAIL, WorldEngine

# Only a guard against a hung test, never an assertion about speed.
HANG_GUARD = 10.0


class Wire:
    """The least a client can do: connect, send a request frame, read JSON frames."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)

    def connect(self, url: str, *, token: str | None = None, bearer: str | None = None,
                **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else None
        return websockets.client.connect(
            url, subprotocols=[token] if token else None, extra_headers=headers,
            open_timeout=HANG_GUARD, **kwargs,
        )

    async def send(self, ws: Any, cmd: str, args: list[str] | None = None,
                   mode: str = "sync") -> str:
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

    async def call(self, url: str, cmd: str, args: list[str] | None = None, mode: str = "sync",
                   **connect: Any) -> list[dict[str, Any]]:
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
