"""Appending one event to events.json: a 100k-event file against a 10-event file, side by side.

Target (issue: procedura-sdk): an append to a file already holding 100k events
takes at most 2 ms and at most 1.5x an append to a 10-event file. The earlier
client's read-extend-rewrite is measured in the same run as a reference.

    python benchmarks/bench_events_json.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from procedura_sdk.observability.json_array import JsonArrayFile


def sample_event(i: int) -> dict:
    return {
        "schema": 1, "ts": "2026-11-25T10:30:45.123456+00:00", "cmd": "worldstate_snapshot",
        "args": ["--terse"], "msg_id": f"{i:08x}", "job_id": f"job-{i}", "status": "finished",
        "ack_latency_ms": 1.234, "final_latency_ms": 12.5, "result_code": None,
        "result_summary": {"meta": {"version": 3}, "entities": {"e1": {"kind": "tree"}}},
        "payload_size": 412, "error": None, "agent_version": "0.1.0", "env": {"python": "3.11"},
    }


def median_append_ms(target: JsonArrayFile, rounds: int, start: int) -> float:
    times = []
    for i in range(rounds):
        t0 = time.perf_counter()
        target.append(sample_event(start + i))
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def rewrite_append_ms(path: Path, rounds: int) -> float:
    """The earlier client's way: read all, append, write all."""
    times = []
    for i in range(rounds):
        t0 = time.perf_counter()
        data = json.loads(path.read_text())
        data.append(sample_event(i))
        path.write_text(json.dumps(data, indent=2))
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="10k instead of 100k events")
    options = parser.parse_args()
    big_n = 10_000 if options.quick else 100_000
    rounds = 200

    with tempfile.TemporaryDirectory() as tmp:
        small = JsonArrayFile(Path(tmp) / "small.json")
        big = JsonArrayFile(Path(tmp) / "big.json")
        small.extend(sample_event(i) for i in range(10))
        big.extend(sample_event(i) for i in range(big_n))
        legacy = Path(tmp) / "legacy.json"
        legacy.write_text(json.dumps([sample_event(i) for i in range(big_n)], indent=2))

        # Interleave the two measurements so machine noise hits both alike.
        small_ms, big_ms = [], []
        for r in range(5):
            small_ms.append(median_append_ms(small, rounds, 10 + r * rounds))
            big_ms.append(median_append_ms(big, rounds, big_n + r * rounds))
        small_med, big_med = statistics.median(small_ms), statistics.median(big_ms)
        legacy_med = rewrite_append_ms(legacy, 3)
        assert json.loads(Path(big.path).read_text())[-1]["msg_id"]  # still valid JSON

    ratio = big_med / small_med
    rows = [
        (f"append, {big_n:,} events in file", big_med, "≤ 2 ms", big_med <= 2.0),
        ("append, 10 events in file", small_med, "baseline", True),
        (f"ratio {big_n:,} / 10", ratio, "≤ 1.5×", ratio <= 1.5),
        (f"earlier client's rewrite, {big_n:,} events", legacy_med, "reference", True),
    ]
    print(f"{'measure':<42} {'value':>10}  {'target':<10} ok")
    for name, value, target, ok in rows:
        unit = "×" if name.startswith("ratio") else " ms"
        print(f"{name:<42} {value:>9.3f}{unit}  {target:<10} {'yes' if ok else 'NO'}")
    print(json.dumps({
        "benchmark": "events_json_append", "events_in_big_file": big_n,
        "append_big_ms": round(big_med, 4), "append_small_ms": round(small_med, 4),
        "ratio_big_to_small": round(ratio, 3), "legacy_rewrite_ms": round(legacy_med, 2),
        "targets_met": big_med <= 2.0 and ratio <= 1.5,
    }))


if __name__ == "__main__":
    main()
