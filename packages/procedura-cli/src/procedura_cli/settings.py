"""The global options every command shares, and what is built from them (token, agent, recorder)."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

import click

from .failures import CommandFailed, ExitCode

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from procedura_sdk import RemoteAgent
    from procedura_sdk.observability import DataPaths, Recorder


class Settings:
    """``procedura [--url] [--token] [--ca-file] [--data-root] [--max-size] [--debug]``, as parsed."""

    def __init__(
        self,
        url: str,
        token: str | None = None,
        ca_file: str | None = None,
        data_root: str | None = None,
        debug: bool = False,
        max_size: int | None = None,
    ) -> None:
        self.url = url
        self.token = token
        self.ca_file = ca_file
        self.data_root = data_root
        self.debug = debug
        self.max_size = max_size

    @property
    def paths(self) -> DataPaths:
        """The data layout: ``--data-root``, else ``$PROCEDURA_DATA_ROOT``, else the working directory."""
        from procedura_sdk.observability.paths import DataPaths

        return DataPaths.from_env(self.data_root)

    def recorder(self) -> Recorder:
        from procedura_sdk.observability import Recorder

        return Recorder(self.paths)

    def session_token(self, cmd: str, args: list[str]) -> str:
        """The token to send: ``--token``/``$PROCEDURA_TOKEN``, else the one ``login`` saved.

        Without one, the command fails here (recorded like any other failure)
        rather than letting the server turn an anonymous request away.
        """
        if self.token:
            return self.token
        from procedura_sdk.token_store import TokenStore

        store = TokenStore()
        token = store.load()
        if token:
            return token
        message = (
            f"not logged in: no --token, no PROCEDURA_TOKEN and no saved token at {store.path}. "
            "Run `procedura login` first."
        )
        self.record_failure(cmd, args, code="NOT_LOGGED_IN", message=message)
        raise CommandFailed(message, ExitCode.AUTH)

    @contextlib.contextmanager
    def agent(
        self,
        *,
        token: str | None = None,
        on_phase: Callable[[str], None] | None = None,
    ) -> Iterator[RemoteAgent]:
        """A connected-on-demand agent recording into the data root; closed (with its
        recorder) when the block ends. ``token=""`` connects without one (for login)."""
        from procedura_sdk import RemoteAgent

        options: dict[str, Any] = {}
        if self.max_size is not None:
            options["max_size"] = self.max_size
        with self.recorder() as recorder:
            try:
                agent = RemoteAgent(
                    self.url,
                    token=token,
                    ca_file=self.ca_file,
                    recorder=recorder,
                    on_phase=on_phase,
                    **options,
                )
            except ValueError as exc:  # the URL: not ws:// or wss://, or no host
                raise click.BadParameter(str(exc), param_hint="'--url'") from None
            with agent:
                yield agent

    def record_failure(self, cmd: str, args: list[str], *, code: str, message: str) -> None:
        """Record a failure the CLI found before the SDK was involved (no token, bad input).

        It goes through the same recorder as everything else, so it lands in the
        chain, ``events.json`` and ``errors.json`` and is counted in ``cli_stats``.
        """
        import warnings

        try:
            from procedura_sdk.observability import EventRecord, Recorder, utc_now_iso
        except ImportError as exc:  # a broken install must not hide the failure being reported
            warnings.warn(f"could not record this failure: {exc}", stacklevel=2)
            return
        record = EventRecord(
            cmd=cmd,
            args=list(args),
            ts=utc_now_iso(),
            url=self.url,
            status="error",
            result_code=code,
            error={"type": "CLIError", "code": code, "message": message},
            agent_version=_cli_version(),
            env=_environment(),
        )
        # Recorder.record never raises: what it cannot write becomes a RecordingWarning.
        with Recorder(self.paths) as recorder:
            recorder.record(record)


def _cli_version() -> str:
    from .__about__ import __version__

    return f"procedura-cli/{__version__}"


def _environment() -> dict[str, Any]:
    import platform

    # The same keys as the SDK's own records.
    return {
        "python": platform.python_version(),
        "platform": platform.system() or "unknown",
        "implementation": platform.python_implementation(),
    }


# The group always makes the Settings (procedura_cli.main.cli).
pass_settings = click.make_pass_decorator(Settings)
