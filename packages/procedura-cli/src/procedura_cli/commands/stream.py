"""``procedura stream``: one module in async mode, showing its updates as they come."""

from __future__ import annotations

from typing import Any

import click

from ..failures import Request, explained
from ..output import emit_json, is_terminal
from ..settings import Settings, pass_settings
from ..status_line import StatusLine
from .run import PASS_THROUGH, ack_timeout_option, final_timeout_option


@click.command(context_settings=PASS_THROUGH)
@click.argument("module")
@click.argument("module_args", nargs=-1, type=click.UNPROCESSED, metavar="[MODULE_ARGS]...")
@ack_timeout_option
@final_timeout_option
@pass_settings
def stream(
    settings: Settings,
    module: str,
    module_args: tuple[str, ...],
    ack_timeout: float,
    final_timeout: float,
) -> None:
    """Run MODULE in async mode, following its progress.

    At a terminal: a progress bar when the updates carry progress, a spinner
    otherwise, then the result as JSON. Piped: every frame (started, running,
    finished, or the error frame) as one JSON line, as it arrives.

    \b
    Examples:
      procedura stream place_ooi_sprites --dry-run --n 4 --radius 400
      procedura stream long_job --steps 5 | jq -c .
    """
    import sys

    from procedura_sdk.errors import ServerError

    args = list(module_args)
    token = settings.session_token(module, args)
    request = Request(settings.url, module, ack_timeout=ack_timeout, final_timeout=final_timeout)
    as_lines = not is_terminal(sys.stdout)
    last: dict[str, Any] | None = None
    with StatusLine(module) as line, explained(request):
        with settings.agent(token=token, on_phase=line.phase) as agent:
            try:
                frames = agent.stream(
                    module, args, ack_timeout=ack_timeout, final_timeout=final_timeout
                )
                for frame in frames:
                    last = frame
                    show_progress(line, frame)  # drawn only when stderr is a terminal
                    if as_lines:
                        emit_json(frame, indent=False)
            except ServerError as exc:
                if as_lines and isinstance(exc.frame, dict):
                    emit_json(exc.frame, indent=False)  # the stream's last frame, for scripts
                raise
    if not as_lines and last is not None:
        emit_json(last.get("result", last) if last.get("status") == "finished" else last)


def show_progress(line: StatusLine, frame: dict[str, Any]) -> None:
    """Move the status line on: the frame's status as the phase, and its progress if it has one."""
    status = str(frame.get("status") or "running")
    if status != "finished":
        line.phase(status)
    fraction, detail = progress_of(frame)
    if fraction is not None:
        line.progress(fraction, detail)


def progress_of(frame: dict[str, Any]) -> tuple[float | None, str]:
    """How far along a ``running`` frame says the job is, as (fraction, "3/10"), if it says.

    Understands ``progress`` as a fraction (0..1) or a percentage, ``progress``
    as ``{"done"/"step"/"current": n, "total"/"steps": m}``, and ``step``/``steps``
    or ``done``/``total`` at the top of the frame.
    """
    value = frame.get("progress")
    source: dict[str, Any] = value if isinstance(value, dict) else frame
    done = _first_number(source, "done", "step", "current", "completed")
    total = _first_number(source, "total", "steps", "of")
    if done is not None and total:
        return done / total, f"{done:g}/{total:g}"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        fraction = value / 100 if value > 1 else float(value)
        return fraction, ""
    return None, ""


def _first_number(source: dict[str, Any], *keys: str) -> float | None:
    for key in keys:
        value = source.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    return None
