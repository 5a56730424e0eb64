"""``procedura state`` (and ``tools/inspect_state.py``): the current state of deltaram stores."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from ..failures import CommandFailed, ExitCode
from ..output import emit_json, say
from ..settings import Settings

if TYPE_CHECKING:
    from pathlib import Path


@click.command(
    short_help="Show the current state of deltaram stores.",
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.argument("paths", nargs=-1, type=click.Path(), metavar="[PATH]...")
@click.option("--history", is_flag=True, help="Show each store's changes, oldest first.")
@click.pass_context
def state(ctx: click.Context, paths: tuple[str, ...], history: bool) -> None:
    """Show the current state of deltaram stores, as JSON keyed by store path.

    PATH is a store, or a directory searched for stores. Without PATH: the
    CLI's own store, runtime_ram/cli_state under the data root (it holds
    cli_stats and last_login).

    \b
    Examples:
      procedura state
      procedura state runtime_ram/cli_state --history
    """
    if not paths:
        settings = ctx.find_object(Settings)
        if settings is not None:
            paths = (str(settings.paths.state),)
        else:
            from procedura_sdk.observability.paths import DataPaths

            paths = (str(DataPaths.from_env().state),)
    from pathlib import Path

    report: dict[str, Any] = {}
    for path in map(Path, paths):
        for store in find_stores(path):
            report[str(store)] = read_store(store, history=history)
    emit_json(report, indent=True)


def find_stores(path: Path) -> list[Path]:
    """``path`` if it is a store, else the stores beneath it; fails if there are none."""
    if not path.exists():
        raise CommandFailed(
            f"no state store at {path}: the path does not exist. Run a command first, or "
            "check the path (the CLI's store is runtime_ram/cli_state under the data root).",
            ExitCode.FAILURE,
        )
    if _is_store(path):
        return [path]
    found = sorted(p for p in path.rglob("*") if _is_store(p)) if path.is_dir() else []
    if not found:
        raise CommandFailed(
            f"no deltaram store at or under {path}. Point at a store directory such as "
            "runtime_ram/cli_state.",
            ExitCode.FAILURE,
        )
    return found


def _is_store(path: Path) -> bool:
    from deltaram.store import MARKER

    return (path / MARKER).is_file()


def read_store(path: Path, *, history: bool) -> Any:
    """The store's state, or with ``history`` its commits; damage becomes a CommandFailed."""
    import warnings

    from bitstream import BitStreamError
    from deltaram import DeltaRAM, DeltaRAMError

    try:
        with warnings.catch_warnings():
            # A damaged checkpoint is worked around (the log is replayed); say so once, below.
            warnings.simplefilter("ignore")
            store = DeltaRAM(path, create=False, readonly=True)
        with store:
            for problem in store.problems:
                say(f"Warning: {path}: {problem}")
            if not history:
                return store.state()
            return [_commit(entry) for entry in store.history()]
    except (DeltaRAMError, BitStreamError) as exc:
        raise CommandFailed(
            f"cannot read the state store at {path}: {str(exc).rstrip('.')}. "
            "It may be damaged: keep a copy of the directory before repairing it.",
            ExitCode.FAILURE,
        ) from exc


def _commit(entry: Any) -> dict[str, Any]:
    from datetime import datetime, timezone

    return {
        "version": entry.version,
        "time": datetime.fromtimestamp(entry.time, tz=timezone.utc).isoformat(),
        "changes": [_change(change) for change in entry.changes],
    }


def _change(change: Any) -> dict[str, Any]:
    shown: dict[str, Any] = {"op": change.op, "path": list(change.path)}
    if change.op != "delete":
        shown["value"] = change.value
    if change.op == "splice":
        shown["start"], shown["stop"] = change.start, change.stop
    return shown
