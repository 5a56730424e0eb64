"""The ``procedura`` command group: global options, the subcommands, and how failures end the process.

Only click and this package's light modules are imported here; each subcommand
imports the SDK when it runs, so ``procedura --help`` stays as quick as click.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from .__about__ import __version__

DEFAULT_URL = "wss://vt.vm.scorchedserver.com:33000"

# name -> (module, attribute, the one-line help `procedura --help` shows). The modules are
# imported only when their command runs, so `procedura --help` does not pay for them;
# tests check that each line here is the command's own short help.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "login": ("session", "login", "Log in and save the session token for later commands."),
    "logout": ("session", "logout", "Forget the saved session token."),
    "run": ("run", "run", "Run MODULE on the server and print its result as JSON."),
    "stream": ("stream", "stream", "Run MODULE in async mode, following its progress."),
    "events": ("events", "events", "Show the recorded events from the event chain."),
    "state": ("state", "state", "Show the current state of deltaram stores."),
    "completion": ("completion", "completion", "Print the tab-completion script for SHELL."),
}


class ProceduraGroup(click.Group):
    """The command group: loads each subcommand on first use, and ends every failure with
    one line on standard error and its exit code."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        spec = COMMANDS.get(cmd_name)
        if spec is None:
            return None
        import importlib

        module = importlib.import_module(f"{__package__}.commands.{spec[0]}")
        command: click.Command = getattr(module, spec[1])
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        import warnings

        from .failures import CommandFailed, ExitCode

        warnings.showwarning = _show_warning
        try:
            return super().invoke(ctx)
        except (KeyboardInterrupt, click.Abort):
            after = ""
            if ctx.invoked_subcommand in ("run", "stream"):
                after = ": stopped waiting; the job may still finish on the server"
            click.echo(f"\nInterrupted{after}.", err=True)
            raise click.exceptions.Exit(ExitCode.INTERRUPTED) from None
        except CommandFailed as failure:
            _show_traceback(ctx, failure)
            raise
        except (click.exceptions.Exit, click.ClickException):
            raise
        except BrokenPipeError:
            # The reader went away (`procedura events | head`): click silences the pipe.
            raise
        except Exception as exc:
            # A bug or an environment problem nobody foresaw: still one line, and the
            # traceback only with --debug.
            _show_traceback(ctx, exc)
            what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            raise CommandFailed(
                f"unexpected failure ({what}). Re-run with --debug for the traceback and "
                "report it if it persists.",
                ExitCode.FAILURE,
            ) from exc


def _show_warning(message: Any, category: type, *_args: Any, **_kwargs: Any) -> None:
    # The SDK reports what it could not record as warnings; a person needs one line, not
    # the file and source line Python shows by default.
    click.echo(f"Warning: {message}", err=True)


def _debugging(ctx: click.Context) -> bool:
    from .settings import Settings

    settings = ctx.find_object(Settings)
    return bool(settings and settings.debug)


def _show_traceback(ctx: click.Context, exc: BaseException) -> None:
    if not _debugging(ctx):
        return
    import traceback

    from .failures import CommandFailed

    cause = exc.__cause__ if isinstance(exc, CommandFailed) and exc.__cause__ else exc
    click.echo(
        "".join(traceback.format_exception(type(cause), cause, cause.__traceback__)), err=True
    )


def _enable_debug(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    if value:
        _log_to_stderr()
    return value


def _log_to_stderr() -> None:
    """--debug: the SDK's and the CLI's own log on standard error, through the SDK's redactor.

    websockets' frame-level log is left out on purpose: it prints the handshake,
    and the handshake carries the session token.
    """
    import logging

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    try:
        from procedura_sdk.observability.logs import RedactingFilter
        from procedura_sdk.observability.redaction import default_redactor
    except ImportError:  # an SDK without it still gets a log, as the file logs would show it
        pass
    else:
        handler.addFilter(RedactingFilter(default_redactor))
    for name in ("procedura_sdk", "procedura_cli"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.DEBUG)
        logger.addHandler(handler)


@click.group(cls=ProceduraGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--url",
    envvar="PROCEDURA_URL",
    default=DEFAULT_URL,
    show_default=True,
    metavar="URL",
    help="The Procedura server (ws:// or wss://). Env: PROCEDURA_URL.",
)
@click.option(
    "--token",
    envvar="PROCEDURA_TOKEN",
    metavar="TOKEN",
    help="Session token to use instead of the saved one. Env: PROCEDURA_TOKEN.",
)
@click.option(
    "--ca-file",
    envvar="PROCEDURA_CA_FILE",
    type=click.Path(exists=True, dir_okay=False),
    metavar="FILE",
    help="CA bundle (PEM) to verify a wss:// server with. Env: PROCEDURA_CA_FILE.",
)
@click.option(
    "--data-root",
    envvar="PROCEDURA_DATA_ROOT",
    type=click.Path(file_okay=False),
    metavar="DIR",
    help="Where runtime_ram/ and logs/ live (default: the working directory). "
    "Env: PROCEDURA_DATA_ROOT.",
)
@click.option(
    "--max-size",
    envvar="PROCEDURA_MAX_SIZE",
    type=click.IntRange(min=1024),
    metavar="BYTES",
    help="Largest message accepted from the server (default 8 MiB). Env: PROCEDURA_MAX_SIZE.",
)
@click.option(
    "--debug",
    is_flag=True,
    callback=_enable_debug,
    expose_value=True,
    help="Show tracebacks and the SDK's log on standard error.",
)
@click.version_option(
    __version__, "-V", "--version", prog_name="procedura", message="%(prog)s %(version)s"
)
@click.pass_context
def cli(
    ctx: click.Context,
    url: str,
    token: str | None,
    ca_file: str | None,
    data_root: str | None,
    max_size: int | None,
    debug: bool,
) -> None:
    """Talk to a Procedura world engine: log in, run modules, inspect what was recorded.

    \b
    Start with:
      procedura login                         # prompts for email and password
      procedura run worldstate_snapshot --terse
      procedura events --last 5

    Results are JSON on standard output; messages go to standard error. Exit
    codes: 0 ok, 1 other failure, 2 bad usage, 3 server error, 4 timeout,
    5 connection failure, 6 authentication, 7 EMPTY_WORLD, 8 protocol
    violation, 130 interrupted.

    Global options go before the command. Tab completion: see
    `procedura completion --help`.
    """
    from .settings import Settings

    ctx.obj = Settings(
        url=url,
        token=token,
        ca_file=ca_file,
        data_root=data_root,
        debug=debug,
        max_size=max_size,
    )
