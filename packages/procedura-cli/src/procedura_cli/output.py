"""Where things are written: data as JSON on standard output, messages on standard error.

JSON is indented for a person at a terminal and one line per value when piped,
so ``procedura run ... | jq`` and ``> file`` get compact, parseable output.
"""

from __future__ import annotations

import sys
from typing import Any

import click


def is_terminal(stream: Any) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


def to_json(value: Any, *, indent: bool) -> str:
    import json

    if indent:
        return json.dumps(value, indent=2, ensure_ascii=False, default=str)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def emit_json(value: Any, *, indent: bool | None = None) -> None:
    """Write ``value`` to standard output; ``indent=None`` means "indent on a terminal"."""
    if indent is None:
        indent = is_terminal(sys.stdout)
    click.echo(to_json(value, indent=indent))
    sys.stdout.flush()


def say(message: str) -> None:
    """A message for the person, on standard error."""
    click.echo(message, err=True)
