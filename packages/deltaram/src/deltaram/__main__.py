"""``python -m deltaram show|history|at PATH``: inspect a store without writing to it."""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from datetime import datetime, timezone
from typing import Any

import bitstream

from .errors import DeltaRAMError
from .store import DeltaRAM


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True)


def _when(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="milliseconds")


def _show(store: DeltaRAM, args: argparse.Namespace) -> None:
    if args.key is not None:
        if args.key not in store:
            raise KeyError(args.key)
        print(_dump(store.get(args.key)))
    else:
        print(_dump({"version": store.version, "state": store.state()}))


def _history(store: DeltaRAM, args: argparse.Namespace) -> None:
    for entry in store.history(args.key):
        if args.json:
            changes = [c._asdict() for c in entry.changes]
            for c in changes:
                c["path"] = list(c["path"])
            print(json.dumps({"version": entry.version, "time": entry.time, "changes": changes}))
            continue
        print(f"v{entry.version}  {_when(entry.time)}")
        for c in entry.changes:
            where = "/".join(str(p) for p in c.path)
            if c.op == "set":
                text = json.dumps(c.value, ensure_ascii=False)
                print(f"    set     {where} = {text if len(text) <= 200 else text[:197] + '...'}")
            elif c.op == "delete":
                print(f"    delete  {where}")
            else:
                print(f"    splice  {where}[{c.start}:{c.stop}] = {len(c.value)} item(s)")


def _at(store: DeltaRAM, args: argparse.Namespace) -> None:
    print(_dump({"version": args.version, "state": store.at(args.version)}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deltaram", description="Inspect a deltaram state store (read-only)."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    show = sub.add_parser("show", help="print the latest state as JSON")
    show.add_argument("path")
    show.add_argument("--key", help="print only this key's value")
    show.set_defaults(run=_show)
    hist = sub.add_parser("history", help="list the commits, oldest first")
    hist.add_argument("path")
    hist.add_argument("--key", help="only commits that changed this key")
    hist.add_argument("--json", action="store_true", help="one JSON object per line")
    hist.set_defaults(run=_history)
    at = sub.add_parser("at", help="print the state at a version as JSON")
    at.add_argument("path")
    at.add_argument("version", type=int)
    at.set_defaults(run=_at)
    args = parser.parse_args(argv)

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # problems are printed below, once, plainly
            store = DeltaRAM(args.path, readonly=True)
        try:
            for problem in store.problems:
                print(f"deltaram: warning: {problem}", file=sys.stderr)
            args.run(store, args)
        finally:
            store.close()
    except KeyError as exc:
        print(f"deltaram: no key {exc} in {args.path}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"deltaram: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0
    except (DeltaRAMError, bitstream.BitStreamError, OSError) as exc:
        print(f"deltaram: {args.path}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
