"""The `procedura` command's cost as a whole process, side by side with the floor it is held to.

Targets (issue: the CLI), each measured in the same run, interleaved, as the
median wall time of whole processes:

* `procedura run echo` against a local devserver, recording included,
  at most 1.25x a bare websockets script sending the same request to the same
  devserver (imports, connection, ack, final, printing the result);
* `procedura --help` at most 1.25x `python -c "import click"`.

    python benchmarks/bench_cli.py [--rounds N] [--json FILE]

Run it in the bench environment: `hatch run bench:python benchmarks/bench_cli.py`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET = 1.25
DEMO = "demo@procedura.dev:demo-password"

# The floor: what any client must do for one request, and nothing else.
BARE_CLIENT = r"""
import json, sys, websockets.sync.client as c
url, token = sys.argv[1], sys.argv[2]
with c.connect(url, subprotocols=[token], additional_headers={"Authorization": "Bearer " + token}) as ws:
    ws.send(json.dumps({"id": "bench001", "cmd": "echo", "args": ["hello"], "mode": "sync"}))
    while True:
        frame = json.loads(ws.recv())
        if frame.get("status") in ("finished", "error"):
            break
print(json.dumps(frame.get("result")))
"""

# websockets 11 has no sync client; the asyncio one is the equivalent floor there.
BARE_CLIENT_ASYNC = r"""
import asyncio, json, sys, websockets
async def main(url, token):
    async with websockets.connect(url, subprotocols=[token], extra_headers={"Authorization": "Bearer " + token}) as ws:
        await ws.send(json.dumps({"id": "bench001", "cmd": "echo", "args": ["hello"], "mode": "sync"}))
        while True:
            frame = json.loads(await ws.recv())
            if frame.get("status") in ("finished", "error"):
                break
    print(json.dumps(frame.get("result")))
asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


# Not a target: the same request through the SDK alone (recording on), to show which layer
# the difference between `procedura run` and the bare script belongs to.
SDK_CLIENT = r"""
import json, sys
from procedura_sdk import RemoteAgent
with RemoteAgent(sys.argv[1], token=sys.argv[2]) as agent:
    print(json.dumps(agent.run("echo", ["hello"])))
"""


def script(name: str, module: str) -> list[str]:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    return [found] if found else [sys.executable, "-m", module]


def bare_client_source() -> str:
    try:
        import websockets.sync.client  # noqa: F401
    except ImportError:
        return BARE_CLIENT_ASYNC
    return BARE_CLIENT


def timed(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True)
    elapsed = (time.perf_counter() - start) * 1000
    if done.returncode != 0:
        raise SystemExit(
            f"{' '.join(argv[:3])}... failed ({done.returncode}): {done.stderr.decode()}"
        )
    return elapsed


def compare(
    name: str,
    subject: list[str],
    floor: list[str],
    env: dict[str, str],
    rounds: int,
    target: float | None = TARGET,
) -> dict:
    """Interleave the two so that load changes during the run hit both alike."""
    timed(subject, env), timed(floor, env)  # warm the page cache
    a, b = [], []
    for _ in range(rounds):
        a.append(timed(subject, env))
        b.append(timed(floor, env))
    ratio = statistics.median(a) / statistics.median(b)
    if target is None:
        return {
            "name": name,
            "subject_ms": round(statistics.median(a), 2),
            "floor_ms": round(statistics.median(b), 2),
            "ratio": round(ratio, 3),
            "target": None,
            "ok": True,
        }
    return {
        "name": name,
        "subject_ms": round(statistics.median(a), 2),
        "floor_ms": round(statistics.median(b), 2),
        "subject_min_ms": round(min(a), 2),
        "floor_min_ms": round(min(b), 2),
        "ratio": round(ratio, 3),
        "target": target,
        "ok": ratio <= target,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30, help="processes per side (default 30)")
    parser.add_argument("--json", metavar="FILE", help="also write the results here")
    options = parser.parse_args()

    procedura = script("procedura", "procedura_cli")
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("PROCEDURA_") and k != "PYTHONDONTWRITEBYTECODE"
        }
        env.update(
            PROCEDURA_DATA_ROOT=str(Path(tmp) / "data"),
            PROCEDURA_TOKEN_FILE=str(Path(tmp) / "token"),
            # Steady state, as an installed CLI runs: bytecode cached (here, outside the
            # checkout) for both sides. Without it, an environment that sets
            # PYTHONDONTWRITEBYTECODE recompiles the editable packages in every process.
            PYTHONPYCACHEPREFIX=str(Path(tmp) / "pycache"),
        )
        server = subprocess.Popen(
            [*script("procedura-devserver", "procedura_devserver"), "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        try:
            url = server.stdout.readline().rsplit(" ", 1)[-1].strip()
            env["PROCEDURA_URL"] = url
            login = subprocess.run(
                [*procedura, "login", "-"], input=DEMO, text=True, env=env, capture_output=True
            )
            if login.returncode != 0:
                raise SystemExit(f"login failed: {login.stderr}")
            token = Path(env["PROCEDURA_TOKEN_FILE"]).read_text().strip()
            results = [
                compare(
                    "procedura run echo  vs  bare websockets script",
                    [*procedura, "run", "echo", "hello"],
                    [sys.executable, "-c", bare_client_source(), url, token],
                    env,
                    options.rounds,
                ),
                compare(
                    "  (info) SDK script vs  bare websockets script",
                    [sys.executable, "-c", SDK_CLIENT, url, token],
                    [sys.executable, "-c", bare_client_source(), url, token],
                    env,
                    options.rounds,
                    target=None,
                ),
                compare(
                    'procedura --help    vs  python -c "import click"',
                    [*procedura, "--help"],
                    [sys.executable, "-c", "import click"],
                    env,
                    options.rounds,
                ),
            ]
        finally:
            server.terminate()
            server.wait(timeout=10)

    print(f"{'comparison':48} {'subject':>9} {'floor':>9} {'ratio':>7}  target")
    for r in results:
        if r["target"] is None:
            goal = "(no target)"
        else:
            goal = f"<= {r['target']}x {'ok' if r['ok'] else 'OVER'}"
        print(
            f"{r['name']:48} {r['subject_ms']:>7.1f}ms {r['floor_ms']:>7.1f}ms "
            f"{r['ratio']:>6.2f}x  {goal}"
        )
    report = {"benchmark": "bench_cli", "rounds": options.rounds, "python": sys.version.split()[0],
              "results": results}  # fmt: skip
    print(json.dumps(report, indent=2))
    if options.json:
        Path(options.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0  # the table says whether each target was met; a non-zero exit means it could not run


if __name__ == "__main__":
    sys.exit(main())
