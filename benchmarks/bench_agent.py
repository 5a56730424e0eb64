"""One `run` round trip through RemoteAgent, recording included, side by side with a bare websockets client.

Target (issue: Performance): on loopback against the local devserver, a
round trip of ``RemoteAgent.run("echo", ...)`` (request id, state machine, one
EventRecord written by the real Recorder into a temporary data root, fsync
durability) costs at most 1.25x the least a client can do: a bare websockets
script on an open connection sending the same frame and reading until the
final answer.

What is timed is a block of N sequential round trips; for the recorded agent
the block ends with ``recorder.flush()``, so every record of the block is
written and synced inside the measured time (the default recorder writes on a
background thread with group commit). The default block (500 round trips,
about 0.1 s) spans several of the writer's 20 ms group-commit windows, so it
pays for the commits made while the agent works, as steady use does, as well
as for the final flush; ``--block 50`` charges a whole commit to every 50
round trips instead. The figure per round trip is the block's time divided by
N; the table shows the median over interleaved blocks. The recorder writing
each record before ``run`` returns, and no recording at all, are shown too, to
tell the agent's cost from the recorder's.

    python benchmarks/bench_agent.py [--rounds N] [--block N] [--json FILE]

Run it in the bench environment: `hatch run bench:python benchmarks/bench_agent.py`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

TARGET = 1.25
DEMO = "demo@procedura.dev:demo-password"
ARGS = ["hello"]


def start_devserver(env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    server = subprocess.Popen(
        [sys.executable, "-m", "procedura_devserver", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    line = server.stdout.readline()
    if "listening on" not in line:
        server.kill()
        raise SystemExit(f"the devserver did not start: {line!r}")
    return server, line.rsplit(" ", 1)[-1].strip()


class BareClient:
    """The floor: one websockets connection, the request frame, recv until the final frame."""

    def __init__(self, url: str, token: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.url, self.token = url, token
        self.ws = self.loop.run_until_complete(self._connect())
        self.count = 0

    async def _connect(self):
        import websockets.client

        return await websockets.client.connect(
            self.url,
            subprotocols=[self.token],
            extra_headers={"Authorization": f"Bearer {self.token}"},
            max_size=8 * 1024 * 1024,
        )

    async def _block(self, n: int) -> list[float]:
        times = []
        for _ in range(n):
            self.count += 1
            frame = json.dumps(
                {"id": f"{self.count:08x}", "cmd": "echo", "args": ARGS, "mode": "sync"}
            )
            start = time.perf_counter()
            await self.ws.send(frame)
            while True:
                answer = json.loads(await self.ws.recv())
                if answer.get("status") in ("finished", "error"):
                    break
            times.append((time.perf_counter() - start) * 1000.0)
            assert answer.get("result") == {"args": ARGS}, answer
        return times

    def block(self, n: int) -> list[float]:
        return self.loop.run_until_complete(self._block(n))

    def close(self) -> None:
        self.loop.run_until_complete(self.ws.close())
        self.loop.close()


def agent_block(agent, recorder, n: int) -> list[float]:
    """One block of n round trips, flushed: its time per round trip."""
    start = time.perf_counter()
    for _ in range(n):
        result = agent.run("echo", ARGS)
        assert result == {"args": ARGS}, result
    if recorder is not None:
        recorder.flush()
    return [(time.perf_counter() - start) * 1000.0 / n]


def bare_block(bare, n: int) -> list[float]:
    start = time.perf_counter()
    bare.block(n)
    return [(time.perf_counter() - start) * 1000.0 / n]


def summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {
        "median_ms": round(statistics.median(ordered), 4),
        "p10_ms": round(ordered[len(ordered) // 10], 4),
        "p90_ms": round(ordered[(len(ordered) * 9) // 10], 4),
        "n": len(ordered),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10, help="interleaved rounds (default 10)")
    parser.add_argument("--block", type=int, default=500, help="round trips per block (default 500)")
    parser.add_argument("--json", metavar="FILE", help="also write the results to FILE")
    options = parser.parse_args()

    from procedura_sdk import RemoteAgent, TokenStore
    from procedura_sdk.observability import DataPaths, Recorder

    with tempfile.TemporaryDirectory(prefix="bench-agent-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PROCEDURA_")}
        server, url = start_devserver(env)
        try:
            store = TokenStore(Path(tmp) / "token")
            with RemoteAgent(url, token="", token_store=store, record=False) as login:
                token = login.login_password(DEMO).token

            # The agent's default: a background writer with group commit, fsync durability.
            recorder = Recorder(DataPaths.from_env(Path(tmp) / "data"), background=True)
            # The same recorder writing (and syncing) each record before run() returns.
            inline = Recorder(DataPaths.from_env(Path(tmp) / "data-inline"))
            recorded = RemoteAgent(url, token=token, token_store=store, recorder=recorder)
            recorded_inline = RemoteAgent(url, token=token, token_store=store, recorder=inline)
            unrecorded = RemoteAgent(url, token=token, token_store=store, record=False)
            bare = BareClient(url, token)
            sides = {
                "bare websockets": lambda n: bare_block(bare, n),
                "RemoteAgent.run, recorded": lambda n: agent_block(recorded, recorder, n),
                "  recorded, written inline": lambda n: agent_block(recorded_inline, inline, n),
                "RemoteAgent.run, record=False": lambda n: agent_block(unrecorded, None, n),
            }
            times: dict[str, list[float]] = {name: [] for name in sides}
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # a recording failure must not go unseen here
                for measure in sides.values():
                    measure(20)  # warm up: connections open, caches filled
                order = list(sides)
                for round_no in range(options.rounds):
                    # Alternate the order so neither side always runs right after the other.
                    for name in order if round_no % 2 == 0 else reversed(order):
                        times[name].extend(sides[name](options.block))
            bare.close()
            for agent in (recorded, recorded_inline, unrecorded):
                agent.close()
            recorder.close()
            inline.close()
            from procedura_sdk.observability import EventLog

            recorded_events = len(list(EventLog(DataPaths.from_env(Path(tmp) / "data"))))
            events_file = DataPaths.from_env(Path(tmp) / "data").events_json
            recorded_bytes = events_file.stat().st_size if events_file.exists() else 0
        finally:
            server.terminate()
            server.wait(10)

    results = {name: summary(values) for name, values in times.items()}
    floor = results["bare websockets"]["median_ms"]
    ratio = results["RemoteAgent.run, recorded"]["median_ms"] / floor
    ratio_unrecorded = results["RemoteAgent.run, record=False"]["median_ms"] / floor
    ratio_inline = results["  recorded, written inline"]["median_ms"] / floor

    print(
        f"one `run` round trip on loopback: {options.rounds} interleaved blocks of "
        f"{options.block}, time per round trip (recorded blocks include the final flush)"
    )
    print(f"{'client':<32}{'median ms':>11}{'p10 ms':>10}{'p90 ms':>10}{'vs bare':>9}")
    for name, stats in results.items():
        print(
            f"{name:<32}{stats['median_ms']:>11.3f}{stats['p10_ms']:>10.3f}"
            f"{stats['p90_ms']:>10.3f}{stats['median_ms'] / floor:>8.2f}x"
        )
    verdict = "met" if ratio <= TARGET else "NOT met"
    print(f"target: recorded agent <= {TARGET}x bare: {ratio:.2f}x ({verdict})")

    report = {
        "benchmark": "agent_run_round_trip",
        "target_ratio": TARGET,
        "ratio": round(ratio, 3),
        "ratio_recording_inline": round(ratio_inline, 3),
        "events_recorded": recorded_events,
        "ratio_without_recording": round(ratio_unrecorded, 3),
        "met": ratio <= TARGET,
        "results": results,
        "events_json_bytes": recorded_bytes,
        "python": sys.version.split()[0],
    }
    print(json.dumps(report))
    if options.json:
        Path(options.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
