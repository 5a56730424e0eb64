"""The README's main job: a whole Procedura session against the local world engine.

Starts ``procedura-devserver`` on a free loopback port, logs in with its demo
account, runs ``worldstate_snapshot --terse``, shows the recorded events and
stops the engine. Everything it records goes under ``demo/`` in the working
directory (``runtime_ram/``, ``logs/``, the engine's log and the demo's token
file), so the user's own ``~/.procedura/token`` is never touched.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

DEMO_ACCOUNT = "demo@procedura.dev:demo-password"


def _command(name: str, module: str) -> list[str]:
    found = shutil.which(name)
    return [found] if found else [sys.executable, "-m", module]


def _show(argv: list[str], env: dict[str, str], stdin: str | None = None) -> int:
    shown = [Path(argv[0]).name if i == 0 else a for i, a in enumerate(argv)]
    print(f"\n$ {shlex.join(shown)}", flush=True)
    return subprocess.run(argv, env=env, input=stdin, text=True, check=False).returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default="demo", help="where the demo records (default: ./demo)")
    options = parser.parse_args()

    base = Path(options.dir).absolute()
    base.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["PROCEDURA_DATA_ROOT"] = str(base)
    env["PROCEDURA_TOKEN_FILE"] = str(base / "token")

    server_log = open(base / "devserver.log", "ab")  # noqa: SIM115 - closed in finally
    server = subprocess.Popen(
        [*_command("procedura-devserver", "procedura_devserver"), "--port", "0"],
        stdout=subprocess.PIPE, stderr=server_log, text=True, env=env,
    )
    try:
        first = server.stdout.readline().strip() if server.stdout else ""
        if not first.startswith("procedura-devserver listening on "):
            print(f"The local world engine did not start: {first!r}", file=sys.stderr)
            return 1
        url = first.rsplit(" ", 1)[-1]
        print(f"Local world engine at {url}")
        procedura = [*_command("procedura", "procedura_cli"), "--url", url]
        steps = [
            ([*procedura, "login", "-"], DEMO_ACCOUNT + "\n"),
            ([*procedura, "run", "worldstate_snapshot", "--terse"], None),
            ([*procedura, "events", "--last", "5"], None),
            ([*procedura, "state"], None),
        ]
        for argv, stdin in steps:
            code = _show(argv, env, stdin)
            if code != 0:
                print(f"\nThe demo stopped: that command exited {code}.", file=sys.stderr)
                return code
        print(
            f"\nRecorded under {base}: runtime_ram/ (event chain, events.json, errors.json, "
            "state), logs/, and the world engine's own log in devserver.log."
        )
        return 0
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        server_log.close()


if __name__ == "__main__":
    sys.exit(main())
