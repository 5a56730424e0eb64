"""Run every benchmark in this folder, one after another, and keep their output.

Each benchmark measures its figures against baselines side by side in one run
and prints a table (whether each target was met) and JSON; it exits non-zero
only when it could not run. This runner only sequences them (never in
parallel, so they do not disturb each other) and saves the output under
``benchmarks/results/`` (ignored by git).

    hatch run bench:all [--quick]
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent


def main() -> int:
    extra = sys.argv[1:]
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    failed = []
    for bench in sorted(HERE.glob("bench_*.py")):
        print(f"\n=== {bench.name} ===", flush=True)
        proc = subprocess.run([sys.executable, str(bench), *extra], capture_output=True, text=True)
        sys.stdout.write(proc.stdout)
        sys.stderr.write(proc.stderr)
        (results / f"{bench.stem}-{stamp}.txt").write_text(proc.stdout + proc.stderr)
        if proc.returncode != 0:
            failed.append(bench.name)
    if failed:
        print(f"\nbenchmarks that failed to run: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
