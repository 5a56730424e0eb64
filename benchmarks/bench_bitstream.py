"""bitstream against its baselines, side by side in one run: the five rows of issue 2's table.

    hatch run bench:python benchmarks/bench_bitstream.py [--quick] [--json-only]

Prints a table (measure, ours, baseline, ratio, target, pass) and then one JSON object.
Latencies are medians of interleaved samples (ours, then each baseline, in turn), and
throughputs medians of interleaved rounds, so that load from other processes on the machine
falls on all of them alike.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time

from bitstream import BitStream


def events(n: int, seed: int = 1) -> list[bytes]:
    """~420-byte JSON events shaped like the CLI's (random ids, times and numbers included)."""
    r = random.Random(seed)
    cmds = ["worldstate_snapshot", "login", "move", "inventory", "craft", "chat", "stats"]
    t = 1765708245.0
    out = []
    for i in range(n):
        t += r.random() * 3
        ev = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t))
            + f".{r.randrange(10**6):06d}+00:00",
            "event_id": f"{r.getrandbits(128):032x}",
            "seq": i,
            "cmd": r.choice(cmds),
            "status": r.choice(["ok"] * 9 + ["error"]),
            "latency_ms": round(r.uniform(0.5, 250), 3),
            "args": {
                "target": r.choice(["north", "south", "east", "west", "self"]),
                "count": r.randrange(1, 100),
                "session": f"s-{r.getrandbits(32):08x}",
            },
            "user": r.choice(["alice", "bob", "carol", "dave"]),
            "host": f"node-{r.randrange(8)}",
            "client": {"name": "procedura-cli", "version": f"0.{r.randrange(3)}.{r.randrange(10)}"},
            "result": {
                "entities": r.randrange(5000),
                "tick": r.randrange(10**6),
                "message": r.choice(["done", "world updated", "no change", "queued"]),
            },
        }
        out.append(json.dumps(ev).encode())
    return out


def sqlite_db(path: str) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE events (seq INTEGER PRIMARY KEY, data BLOB NOT NULL)")
    return db


def bench_single_append(work: str, evs: list[bytes], rounds: int) -> dict:
    chain = BitStream(os.path.join(work, "single"))
    chain.append_many(evs[:5000])  # past dictionary training: the steady state
    raw_fd = os.open(os.path.join(work, "raw.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    db = sqlite_db(os.path.join(work, "single.db"))
    ours, raw, lite = [], [], []
    clock = time.perf_counter
    for i in range(rounds):
        data = evs[5000 + i % (len(evs) - 5000)]
        t = clock()
        chain.append(data)
        ours.append(clock() - t)
        t = clock()
        os.write(raw_fd, data)
        os.fsync(raw_fd)
        raw.append(clock() - t)
        t = clock()
        db.execute("INSERT INTO events (data) VALUES (?)", (data,))  # autocommit: one commit
        lite.append(clock() - t)
    chain.close()
    os.close(raw_fd)
    db.close()
    return {
        "ours_ms": statistics.median(ours) * 1e3,
        "raw_write_fsync_ms": statistics.median(raw) * 1e3,
        "sqlite_wal_full_commit_ms": statistics.median(lite) * 1e3,
    }


def bench_append_many(work: str, evs: list[bytes], rounds: int) -> dict:
    """Each round: a fresh chain takes the whole batch (dictionary training included), then a
    fresh SQLite database takes it in one transaction; medians over the rounds."""
    clock = time.perf_counter
    ours, lite = [], []
    for r in range(rounds):
        chain = BitStream(os.path.join(work, f"many{r}"))
        t = clock()
        chain.append_many(evs)
        ours.append(len(evs) / (clock() - t))
        chain.close()
        db = sqlite_db(os.path.join(work, f"many{r}.db"))
        t = clock()
        db.execute("BEGIN")
        db.executemany("INSERT INTO events (data) VALUES (?)", ((e,) for e in evs))
        db.execute("COMMIT")
        lite.append(len(evs) / (clock() - t))
        db.close()
    return {
        "ours_records_per_s": statistics.median(ours),
        "sqlite_executemany_records_per_s": statistics.median(lite),
        "rounds": rounds,
    }


def bench_size(work: str, evs: list[bytes]) -> dict:
    """One append per event. Durability does not change the bytes, so "flush" keeps this fast."""
    path = os.path.join(work, "size")
    with BitStream(path, durability="flush") as chain:
        for e in evs:
            chain.append(e)
        info = chain.info()
    extra = sum(
        os.path.getsize(os.path.join(path, n))
        for n in os.listdir(path)
        if not n.startswith("seg-")
    )
    return {
        "raw_json_bytes": sum(map(len, evs)),
        "chain_bytes": info["data_bytes"] + extra,  # blocks + index + dictionaries + manifest
        "allocated_bytes": info["disk_bytes"],  # plus the zero-filled reserve ahead of the data
        "dictionaries": info["dictionaries"],
    }


def build_chain(path: str, n: int, evs: list[bytes]) -> float:
    t = time.perf_counter()
    with BitStream(path, durability="flush") as chain:
        batch = 50_000
        for start in range(0, n, batch):
            chain.append_many(evs[(start + k) % len(evs)] for k in range(min(batch, n - start)))
        chain.sync()
    return time.perf_counter() - t


def bench_tail(big: str, small: str, rounds: int) -> dict:
    clock = time.perf_counter
    a, b = BitStream(big, readonly=True), BitStream(small, readonly=True)
    ta, tb = [], []
    for _ in range(rounds):
        t = clock()
        a.tail(10)
        ta.append(clock() - t)
        t = clock()
        b.tail(10)
        tb.append(clock() - t)
    a.close()
    b.close()
    return {"big_ms": statistics.median(ta) * 1e3, "small_ms": statistics.median(tb) * 1e3}


def bench_open_append_close(big: str, evs: list[bytes], rounds: int) -> dict:
    clock = time.perf_counter
    times = []
    for i in range(rounds):
        t = clock()
        with BitStream(big) as chain:
            chain.append(evs[i])
        times.append(clock() - t)
    return {"median_ms": statistics.median(times) * 1e3, "max_ms": max(times) * 1e3}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument("--json-only", action="store_true")
    args = parser.parse_args()
    n_events = 100_000  # append_many: the batch, cheap enough even in a quick run
    n_single = 20_000 if args.quick else 100_000  # appended one at a time for the size row
    big_n = 100_000 if args.quick else 1_000_000
    rounds = 300 if args.quick else 2000
    work = tempfile.mkdtemp(prefix="bench-bitstream-")
    try:
        evs = events(n_events)
        single = bench_single_append(work, evs, rounds)
        many = bench_append_many(work, evs, 3 if args.quick else 5)
        size = bench_size(work, evs[:n_single])
        big, small = os.path.join(work, "big"), os.path.join(work, "small")
        build_s = build_chain(big, big_n, evs)
        build_chain(small, 10_000, evs)
        tail = bench_tail(big, small, rounds)
        oac = bench_open_append_close(big, evs, 100 if args.quick else 300)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    label = f"{big_n // 1000}k" if big_n < 1_000_000 else "1M"
    rows = [
        ("durable append (median ms) vs os.write+fsync", single["ours_ms"],
         single["raw_write_fsync_ms"], single["ours_ms"] / single["raw_write_fsync_ms"], "<= 1.5", 1.5),
        ("durable append (median ms) vs SQLite WAL FULL commit", single["ours_ms"],
         single["sqlite_wal_full_commit_ms"], single["ours_ms"] / single["sqlite_wal_full_commit_ms"],
         "<= 1.2", 1.2),
        (f"append_many {n_events // 1000}k events (records/s) vs SQLite executemany",
         many["ours_records_per_s"], many["sqlite_executemany_records_per_s"],
         many["ours_records_per_s"] / many["sqlite_executemany_records_per_s"], ">= 1.0", None),
        (f"bytes on disk, {n_single // 1000}k events appended singly vs raw JSON",
         size["chain_bytes"], size["raw_json_bytes"], size["chain_bytes"] / size["raw_json_bytes"],
         "<= 0.25", 0.25),
        (f"tail(10) ms on {label} records", tail["big_ms"], 1.0, tail["big_ms"] / 1.0, "<= 1 ms", 1.0),
        (f"tail(10) on {label} vs on 10k records", tail["big_ms"], tail["small_ms"],
         tail["big_ms"] / tail["small_ms"], "<= 1.5", 1.5),
        (f"open + append + close (median ms) on {label}", oac["median_ms"], 5.0,
         oac["median_ms"] / 5.0, "<= 5 ms", 1.0),
    ]
    table = []
    for name, ours, base, ratio, target, limit in rows:
        ok = ratio >= 1.0 if limit is None else ratio <= limit
        table.append({"measure": name, "ours": ours, "baseline": base, "ratio": ratio,
                      "target": target, "pass": ok})
    if not args.json_only:
        width = max(len(r["measure"]) for r in table)
        print(f"{'measure':<{width}}  {'ours':>12}  {'baseline':>12}  {'ratio':>7}  {'target':>8}  pass")
        for r in table:
            print(f"{r['measure']:<{width}}  {r['ours']:>12.4g}  {r['baseline']:>12.4g}  "
                  f"{r['ratio']:>7.3f}  {r['target']:>8}  {'yes' if r['pass'] else 'NO'}")
        print(f"(built the {label}-record chain with append_many in {build_s:.1f} s; "
              f"open+append+close max {oac['max_ms']:.2f} ms; {size['dictionaries']} dictionaries; "
              f"allocated incl. zero reserve {size['allocated_bytes']} bytes)")
    result = {"quick": args.quick, "rows": table, "single_append": single, "append_many": many,
              "size": size, "tail": tail, "open_append_close": oac, "build_seconds": build_s,
              "python": sys.version.split()[0]}
    print(json.dumps(result))
    return 0 if all(r["pass"] for r in table) else 1


if __name__ == "__main__":
    sys.exit(main())
