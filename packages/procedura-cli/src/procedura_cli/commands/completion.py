"""``procedura completion SHELL``: print the tab-completion script for a shell."""

from __future__ import annotations

import click

SHELLS = ("bash", "zsh", "fish")


@click.command()
@click.argument("shell", type=click.Choice(SHELLS))
@click.pass_context
def completion(ctx: click.Context, shell: str) -> None:
    """Print the tab-completion script for SHELL.

    \b
    Load it in the current shell, or add the line to your shell's start-up file:
      bash:  eval "$(procedura completion bash)"      (~/.bashrc)
      zsh:   eval "$(procedura completion zsh)"       (~/.zshrc)
      fish:  procedura completion fish | source       (~/.config/fish/config.fish)

    This is click's completion; `_PROCEDURA_COMPLETE=bash_source procedura`
    prints the same script.
    """
    from click.shell_completion import get_completion_class

    root = ctx.find_root()
    completion_class = get_completion_class(shell)
    assert completion_class is not None  # every name in SHELLS is built in
    script = completion_class(root.command, {}, "procedura", "_PROCEDURA_COMPLETE").source()
    click.echo(script)
