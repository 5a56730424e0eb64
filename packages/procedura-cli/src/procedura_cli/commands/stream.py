"""``procedura stream``: one module in async mode, showing its updates as they come."""

from __future__ import annotations

from typing import Any

import click

from ..failures import Request, explained
from ..output import emit_json, is_terminal
from ..settings import Settings, pass_settings
from ..status_line import StatusLine
from .run import PASS_THROUGH


@click.command(context_settings=PASS_THROUGH)
@click.argument("module")
@click.argument("module_args", nargs=-1, type=click.UNPROCESSED, metavar="[MODULE_ARGS]...")
@pass_settings
def stream(settings: Settings, module: str, module_args: tuple[str, ...]) -> None:
    """Run MODULE in async mode, following its progress.

    At a terminal: a progress bar when the updates carry progress, a spinner
    otherwise, then the result as JSON. Piped: every frame (started, running,
    finished) as one JSON line, as it arrives.

    \b
    Examples:
      procedura stream place_ooi_sprites --dry-run --n 4 --radius 400
      procedura stream long_job --steps 5 | jq -c .
    """
    import sys

    args = list(module_args)
    token = settings.session_token(module, args)
    request = Request(settings.url, module)
    lines = not is_terminal(sys.stdout)
    last: dict[str, Any] | None = None
    with StatusLine(module) as line, explained(request):
        with settings.agent(token=token, on_phase=line.phase) as agent:
            for frame in agent.stream(module, args):
                last = frame
                if lines:
                    emit_json(frame, indent=False)
                    continue
                line.phase(str(frame.get("status", "running")))
                fraction, detail = progress_of(frame)
                if fraction is not None:
                    line.progress(fraction, detail)
    if not lines and last is not None:
        emit_json(last.get("result", last) if last.get("status") == "finished" else last)


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
