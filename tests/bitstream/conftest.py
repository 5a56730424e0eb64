"""Shared fixtures of the bitstream tests: chain directories, sample events, child processes."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import textwrap

import pytest
from bitstream import format as fmt


def make_event(run: int, i: int) -> bytes:
    """A ~400-byte JSON event, like the CLI records: deterministic in (run, i)."""
    r = random.Random(run * 1_000_003 + i)
    ev = {
        "timestamp": f"2025-12-14T10:{r.randrange(60):02d}:{r.randrange(60):02d}.{r.randrange(10**6):06d}+00:00",
        "event_id": f"{r.getrandbits(128):032x}",
        "run": run,
        "i": i,
        "cmd": r.choice(["worldstate_snapshot", "login", "move", "inventory", "craft", "chat"]),
        "status": r.choice(["ok"] * 9 + ["error"]),
        "latency_ms": round(r.uniform(0.5, 250), 3),
        "args": {"target": r.choice(["north", "south", "self"]), "count": r.randrange(100)},
        "client": {"name": "procedura-cli", "version": "0.1.0", "python": "3.11.7"},
        "result": {"entities": r.randrange(5000), "message": r.choice(["done", "no change"])},
    }
    return json.dumps(ev).encode()


@pytest.fixture
def event():
    return make_event


@pytest.fixture
def chain_path(tmp_path):
    return str(tmp_path / "chain")


def run_child(code: str, *args: str, **kwargs) -> subprocess.Popen:
    """Start ``python -c code args...`` with stdout piped (the child reports on it)."""
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **kwargs,
    )


@pytest.fixture
def child():
    procs: list[subprocess.Popen] = []

    def start(code: str, *args: str) -> subprocess.Popen:
        p = run_child(code, *args)
        procs.append(p)
        return p

    yield start
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait()
        for stream in (p.stdout, p.stderr):
            if stream:
                stream.close()


def entries(path: str, segment: int = 0) -> list[tuple[int, int, bytes]]:
    """(offset, kind, entry bytes) of every entry in one segment file, for damage tests."""
    with open(os.path.join(path, fmt.segment_name(segment)), "rb") as f:
        data = f.read()
    out, pos = [], fmt.HEADER_SIZE
    while pos < len(data) and data[pos] != 0:
        kind, hlen, plen = fmt.parse_header(data, pos)
        end = pos + hlen + plen + 4
        out.append((pos, kind, data[pos:end]))
        pos = end
    return out


@pytest.fixture
def segment_entries():
    return entries
