"""``python -m procedura_cli`` runs the ``procedura`` command."""

from .main import cli

if __name__ == "__main__":
    cli(prog_name="procedura")
