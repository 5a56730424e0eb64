"""``procedura run``: one module in sync mode, its result as JSON on standard output."""

from __future__ import annotations

import click

from ..failures import Request, explained
from ..output import emit_json
from ..settings import Settings, pass_settings
from ..status_line import StatusLine

# Options the CLI does not know are the module's: `run worldstate_snapshot --terse`.
# Only the long --help is ours, so a module's short options (-h included) pass through.
PASS_THROUGH = {"ignore_unknown_options": True, "help_option_names": ["--help"]}


ack_timeout_option = click.option(
    "--ack-timeout",
    default=10.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="How long to wait for the server to acknowledge the request.",
)
final_timeout_option = click.option(
    "--final-timeout",
    default=600.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="How long to wait for the result once acknowledged.",
)


@click.command(context_settings=PASS_THROUGH)
@click.argument("module")
@click.argument("module_args", nargs=-1, type=click.UNPROCESSED, metavar="[MODULE_ARGS]...")
@ack_timeout_option
@final_timeout_option
@pass_settings
def run(
    settings: Settings,
    module: str,
    module_args: tuple[str, ...],
    ack_timeout: float,
    final_timeout: float,
) -> None:
    """Run MODULE on the server and print its result as JSON.

    Options the CLI does not know are passed to the module unchanged; after
    `--` everything is (use it for a module option named like one of ours).
    The result is indented at a terminal and on one line when piped.

    \b
    Examples:
      procedura run worldstate_snapshot --terse
      procedura run init_character --gen-guidance=... --final-timeout 900
      procedura run echo -- --help
    """
    from procedura_sdk.errors import EmptyWorldError

    args = list(module_args)
    token = settings.session_token(module, args)
    request = Request(settings.url, module, ack_timeout=ack_timeout, final_timeout=final_timeout)
    with StatusLine(module) as line, explained(request):
        with settings.agent(token=token, on_phase=line.phase) as agent:
            try:
                result = agent.run(
                    module, args, ack_timeout=ack_timeout, final_timeout=final_timeout
                )
            except EmptyWorldError as exc:
                # The snapshot is still the answer asked for; the exit code flags it.
                line.close()
                emit_json(exc.result)
                raise
    emit_json(result)
