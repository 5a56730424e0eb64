"""``python -m bitstream info|verify|tail|cat PATH``: inspect a chain without Procedura.

Exit status: 0 on success, 1 when ``verify`` finds damage, 2 when PATH is not a readable chain.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import BinaryIO

from .chain import BitStream, Head
from .errors import BitStreamError
from .verify import verify


def _print_record(out: BinaryIO, record: bytes) -> None:
    out.write(record)
    if not record.endswith(b"\n"):
        out.write(b"\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bitstream", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("info", help="record count, head, segments, dictionaries, sizes")
    p.add_argument("path")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p = sub.add_parser("verify", help="check every block; exit 1 on damage")
    p.add_argument("path")
    p.add_argument("--trusted-head", metavar="SEQ:DIGEST", help="a head kept from earlier")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p = sub.add_parser("tail", help="print the last N records, one per line")
    p.add_argument("path")
    p.add_argument("-n", type=int, default=10, help="how many (default 10)")
    p = sub.add_parser("cat", help="print records from --start on, one per line")
    p.add_argument("path")
    p.add_argument("--start", type=int, default=0, help="first sequence number (default 0)")
    args = parser.parse_args(argv)
    out = sys.stdout.buffer
    try:
        if args.command == "verify":
            trusted = Head.parse(args.trusted_head) if args.trusted_head else None
            report = verify(args.path, trusted_head=trusted)
            if args.json:
                doc = {
                    "ok": report.ok, "count": report.count, "first_bad": report.first_bad,
                    "reason": report.reason, "head": str(report.head) if report.head else None,
                    "notes": list(report.notes),
                }
                print(json.dumps(doc))
            else:
                state = "ok" if report.ok else f"DAMAGED at seq {report.first_bad}: {report.reason}"
                print(f"{args.path}: {state}; {report.count} records verified; head {report.head}")
                for note in report.notes:
                    print(f"note: {note}")
            return 0 if report.ok else 1
        with BitStream(args.path, readonly=True) as chain:
            if args.command == "info":
                info = chain.info()
                if args.json:
                    print(json.dumps(info))
                else:
                    for key, value in info.items():
                        print(f"{key}: {value}")
            elif args.command == "tail":
                for record in chain.tail(args.n):
                    _print_record(out, record)
            else:
                for record in chain.iter(args.start):
                    _print_record(out, record)
            out.flush()
        return 0
    except BrokenPipeError:
        return 0
    except (BitStreamError, OSError) as exc:
        print(f"bitstream: {exc}", file=sys.stderr)
        return 2
