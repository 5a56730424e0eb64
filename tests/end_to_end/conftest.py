"""Real processes on loopback: a `procedura-devserver` and `procedura` commands run against it.

Each test gets its own data root and token file in a temporary directory, so
nothing is read from or written to the developer's home or working tree.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

DEMO = "demo@procedura.dev:demo-password"
REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _command(script: str, module: str) -> list[str]:
    """The installed console script next to this interpreter, else ``python -m``."""
    found = shutil.which(script, path=str(BIN)) or shutil.which(script)
    return [found] if found else [sys.executable, "-m", module]


PROCEDURA = _command("procedura", "procedura_cli")
DEVSERVER = _command("procedura-devserver", "procedura_devserver")


class Devserver:
    """One `procedura-devserver` process; ``url`` from the first line it prints."""

    def __init__(self, faults: list[str], env: dict[str, str], extra: list[str] = ()) -> None:
        argv = [*DEVSERVER, "--port", "0", *extra]
        for fault in faults:
            argv += ["--fault", fault]
        self.process = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        line = self.process.stdout.readline()
        prefix = "procedura-devserver listening on "
        if not line.startswith(prefix):
            self.stop()
            raise RuntimeError(f"devserver did not start: {line!r}")
        self.url = line[len(prefix) :].strip()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout:
            self.process.stdout.close()


class Workspace:
    """A temporary data root and token file, and ``procedura`` run inside them."""

    CREDENTIAL = DEMO

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.token_file = root / "home" / ".procedura" / "token"
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("PROCEDURA_") and k != "COVERAGE_PROCESS_START"
        }
        self.env.update(
            PROCEDURA_DATA_ROOT=str(self.data),
            PROCEDURA_TOKEN_FILE=str(self.token_file),
            PYTHONUNBUFFERED="1",
        )
        self.url: str | None = None

    def procedura(
        self, *args: str, input: str | None = None, timeout: float = 60, url: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        argv = [*PROCEDURA]
        if url or self.url:
            argv += ["--url", url or self.url]
        return subprocess.run(
            [*argv, *args],
            input=input,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=timeout,
            cwd=self.root,
        )

    def start_argv(self) -> list[str]:
        """``procedura --url URL``, to start with your own pipes."""
        return [*PROCEDURA, "--url", self.url]

    def start(self, *args: str) -> subprocess.Popen[str]:
        """``procedura`` without waiting (for concurrency tests)."""
        return subprocess.Popen(
            [*self.start_argv(), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env,
            cwd=self.root,
        )

    def tool(self, name: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(REPO / "tools" / name), *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=60,
            cwd=self.root,
        )

    def login(self) -> subprocess.CompletedProcess[str]:
        done = self.procedura("login", "-", input=DEMO + "\n")
        assert done.returncode == 0, done.stderr
        return done

    @property
    def runtime(self) -> Path:
        return self.data / "runtime_ram"

    def events_json(self) -> list[dict[str, Any]]:
        path = self.runtime / "events.json"
        return json.loads(path.read_text()) if path.exists() else []

    def errors_json(self) -> list[dict[str, Any]]:
        path = self.runtime / "errors.json"
        return json.loads(path.read_text()) if path.exists() else []

    def chain(self) -> list[dict[str, Any]]:
        """Every event in the bitstream chain, read with bitstream itself (not the CLI)."""
        from bitstream import BitStream

        with BitStream(self.runtime / "cli_events") as chain:
            return [json.loads(data) for data in chain]

    def stats(self) -> dict[str, Any]:
        from deltaram import DeltaRAM

        with DeltaRAM(self.runtime / "cli_state", create=False, readonly=True) as store:
            return store.state()


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path)


@pytest.fixture
def devserver(workspace: Workspace):
    """``devserver(*faults)`` starts a devserver, points the workspace at it, returns it."""
    started: list[Devserver] = []

    def start(*faults: str, extra: list[str] = ()) -> Devserver:
        server = Devserver(list(faults), workspace.env, list(extra))
        started.append(server)
        workspace.url = server.url
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def logged_in(workspace: Workspace, devserver) -> Workspace:
    """A devserver without faults, and the workspace logged in to it."""
    devserver()
    workspace.login()
    return workspace
