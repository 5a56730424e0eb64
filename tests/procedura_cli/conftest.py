"""Fixtures for the interface layer: an isolated environment, a CliRunner, a fake agent."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner
from procedura_cli.main import cli
from procedura_cli.settings import Settings


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Every test gets its own data root and token file, and no PROCEDURA_* from outside."""
    for name in ("PROCEDURA_URL", "PROCEDURA_TOKEN", "PROCEDURA_CA_FILE", "PROCEDURA_DATA_ROOT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PROCEDURA_DATA_ROOT", str(tmp_path / "data"))
    monkeypatch.setenv("PROCEDURA_TOKEN_FILE", str(tmp_path / "home" / "token"))
    return tmp_path


@pytest.fixture
def invoke():
    """``invoke(*argv, input=None)`` -> click Result with separate stdout and stderr."""
    runner = CliRunner()

    def run(*argv: str, input: str | None = None, **kwargs: Any):
        return runner.invoke(cli, list(argv), input=input, catch_exceptions=False, **kwargs)

    return run


class FakeAgent:
    """Stands in for RemoteAgent where only the CLI's parsing is under test."""

    def __init__(self, calls: list[dict[str, Any]], result: Any) -> None:
        self.calls = calls
        self.result = result

    def __enter__(self) -> FakeAgent:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def run(self, module: str, args: list[str], **kwargs: Any) -> Any:
        self.calls.append({"op": "run", "module": module, "args": args, **kwargs})
        return self.result if self.result is not None else {"args": args}

    def stream(self, module: str, args: list[str], **kwargs: Any):
        self.calls.append({"op": "stream", "module": module, "args": args, **kwargs})
        yield {"status": "started", "job_id": "job_1"}
        yield {"status": "running", "job_id": "job_1", "progress": {"done": 1, "total": 2}}
        yield {"status": "finished", "job_id": "job_1", "result": {"ok": True}}


@pytest.fixture
def fake_agent(monkeypatch):
    """Replace the agent; returns the list of calls it received (with ``token`` and ``url``)."""
    calls: list[dict[str, Any]] = []

    def agent(self: Settings, *, token: str | None = None, on_phase: Any = None) -> FakeAgent:
        calls.append({"op": "connect", "token": token, "url": self.url})
        return FakeAgent(calls, None)

    monkeypatch.setattr(Settings, "agent", agent)
    return calls
