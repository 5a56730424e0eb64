"""The `procedura-devserver` command: start a WorldEngine and serve until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from .__about__ import __version__
from .accounts import DEMO_EMAIL, DEMO_PASSWORD, load_accounts_file, parse_account
from .faults import FAULT_KINDS, FaultError, parse_fault
from .server import DEFAULT_MAX_SIZE, WorldEngine


def _parser() -> argparse.ArgumentParser:
    faults = ", ".join(
        name if kind == "flag" else f"{name}={kind.upper()}" for name, kind in FAULT_KINDS.items()
    )
    parser = argparse.ArgumentParser(
        prog="procedura-devserver",
        description="A local Procedura world engine speaking the real server's WebSocket "
        f"protocol. Demo account: {DEMO_EMAIL} / {DEMO_PASSWORD}.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    parser.add_argument("--port", type=int, default=0, help="port (default 0: pick a free one)")
    parser.add_argument("--certfile", help="TLS certificate (PEM): serve wss://")
    parser.add_argument("--keyfile", help="TLS private key (PEM), if not inside --certfile")
    parser.add_argument(
        "--account",
        action="append",
        default=[],
        metavar="EMAIL:PASSWORD",
        help="add an account (repeatable)",
    )
    parser.add_argument(
        "--accounts",
        metavar="FILE",
        help="add accounts from a JSON object mapping email to password",
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="NAME[=VALUE]",
        help=f"inject a fault into every answer but logins (repeatable): {faults}",
    )
    parser.add_argument(
        "--max-size",
        type=int,
        default=DEFAULT_MAX_SIZE,
        metavar="BYTES",
        help=f"largest incoming message (default {DEFAULT_MAX_SIZE})",
    )
    return parser


def _engine(args: argparse.Namespace, parser: argparse.ArgumentParser) -> WorldEngine:
    accounts: dict[str, str] = {}
    try:
        if args.accounts:
            accounts.update(load_accounts_file(args.accounts))
        accounts.update(parse_account(spec) for spec in args.account)
        faults = dict(parse_fault(spec) for spec in args.fault)
    except (OSError, ValueError) as exc:  # FaultError is a ValueError
        parser.error(str(exc))
    if args.keyfile and not args.certfile:
        parser.error("--keyfile needs --certfile")
    try:
        return WorldEngine(
            host=args.host,
            port=args.port,
            accounts=accounts,
            faults=faults,
            certfile=args.certfile,
            keyfile=args.keyfile,
            max_size=args.max_size,
        )
    except (OSError, ValueError, FaultError) as exc:
        parser.error(str(exc))


async def _serve(engine: WorldEngine) -> None:
    await engine.start()
    # The first stdout line is the contract with scripts and tests: nothing else goes to stdout.
    print(f"procedura-devserver listening on {engine.url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, stop.set)
        except (NotImplementedError, RuntimeError):  # Windows: Ctrl-C raises KeyboardInterrupt
            pass
    try:
        await stop.wait()
    finally:
        await engine.stop()


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    engine = _engine(args, parser)
    try:
        asyncio.run(_serve(engine))
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        print(
            f"procedura-devserver: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
