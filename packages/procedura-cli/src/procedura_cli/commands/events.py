"""``procedura events`` (and ``tools/events_dump.py``): the recorded events, read from the chain."""

from __future__ import annotations

from typing import Any

import click

from ..failures import CommandFailed, ExitCode
from ..output import say, to_json
from ..settings import Settings

# The schema-1 field order; fields a newer schema adds follow, sorted.
COLUMNS = (
    "schema", "ts", "cmd", "args", "mode", "url", "msg_id", "job_id", "ack_ts", "final_ts",
    "ack_latency_ms", "final_latency_ms", "status", "result_code", "result_summary",
    "payload_size", "error", "agent_version", "env",
)  # fmt: skip


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--last",
    type=click.IntRange(min=1),
    metavar="N",
    help="Only the newest N events (default: all).",
)
@click.option("--cmd", metavar="CMD", help="Only events of this command (module), e.g. echo.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV with a header row instead of JSON.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True),
    metavar="FILE",
    help="Write to FILE instead of standard output.",
)
@click.option(
    "--root",
    type=click.Path(file_okay=False),
    metavar="DIR",
    help="The data root holding runtime_ram/ (default: --data-root, $PROCEDURA_DATA_ROOT, or .).",
)
@click.option(
    "--rebuild-json",
    is_flag=True,
    help="Rewrite events.json and errors.json from the chain (after damage or loss), then exit.",
)
@click.pass_context
def events(
    ctx: click.Context,
    last: int | None,
    cmd: str | None,
    as_csv: bool,
    out: str | None,
    root: str | None,
    rebuild_json: bool,
) -> None:
    """Show the recorded events from the event chain.

    Events are listed oldest first. The chain (runtime_ram/cli_events) is the
    source of truth; events.json is only its mirror. Reading the newest N costs the same however long the
    chain is. Values are as recorded: secrets were redacted before writing.

    \b
    Examples:
      procedura events --last 10
      procedura events --last 5 --cmd worldstate_snapshot --csv > report.csv
    """
    from procedura_sdk.observability.paths import DataPaths

    settings = ctx.find_object(Settings)
    if root is None and settings is not None:
        paths = settings.paths
    else:
        paths = DataPaths.from_env(root)
    if rebuild_json:
        rebuild_mirrors(paths)
        return
    found = read_events(paths, last=last, cmd=cmd)
    if not found:
        say("No events found.")
        return
    text = format_csv(found) if as_csv else to_json(found, indent=True) + "\n"
    if out is None:
        click.echo(text, nl=False)
        return
    try:
        with open(out, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
    except OSError as exc:
        raise CommandFailed(
            f"could not write {out}: {exc.strerror or exc}.", ExitCode.FAILURE
        ) from exc
    say(f"Wrote {len(found)} event{'s' if len(found) != 1 else ''} to {out}.")


def read_events(paths: Any, *, last: int | None, cmd: str | None) -> list[dict[str, Any]]:
    """The newest ``last`` events (all when None) of ``cmd`` (any when None), oldest first.

    Missing or damaged chains become a :class:`CommandFailed` with the reason.
    """
    from bitstream import BitStreamError
    from procedura_sdk.observability.event_log import EventLog, EventLogError

    log = EventLog(paths)
    try:
        if last is not None:
            return log.last(last, cmd=cmd)
        return [event for event in log if cmd is None or event.get("cmd") == cmd]
    except EventLogError as exc:
        raise CommandFailed(str(exc).rstrip(".") + ".", ExitCode.FAILURE) from exc
    except (BitStreamError, ValueError) as exc:  # ValueError: a record that is not JSON
        raise CommandFailed(
            f"The event chain at {paths.events_chain} is damaged: {str(exc).rstrip('.')}. "
            "Keep a copy of it; `procedura events --last N` may still read the newest events.",
            ExitCode.FAILURE,
        ) from exc


def rebuild_mirrors(paths: Any) -> None:
    """Rewrite events.json and errors.json from the chain; say how many of each."""
    from procedura_sdk.observability.event_log import EventLog, EventLogError

    try:
        n_events, n_errors = EventLog(paths).rebuild_mirrors()
    except EventLogError as exc:
        raise CommandFailed(str(exc).rstrip(".") + ".", ExitCode.FAILURE) from exc
    except OSError as exc:
        raise CommandFailed(
            f"could not rewrite the mirrors under {paths.runtime}: {exc.strerror or exc}.",
            ExitCode.FAILURE,
        ) from exc
    say(
        f"Rebuilt {paths.events_json} ({n_events} events) and {paths.errors_json} "
        f"({n_errors} errors) from the chain."
    )


def format_csv(found: list[dict[str, Any]]) -> str:
    """CSV with a header row; nested values (args, result_summary, error, env) as compact JSON."""
    import csv
    import io

    extra = sorted({key for event in found for key in event} - set(COLUMNS))
    columns = list(COLUMNS) + extra
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for event in found:
        writer.writerow([_cell(event.get(column)) for column in columns])
    return buffer.getvalue()


def _cell(value: Any) -> str:
    import json

    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return str(value)
