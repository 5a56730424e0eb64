"""``procedura login`` and ``procedura logout``: start and end the saved session."""

from __future__ import annotations

from datetime import datetime, timezone

import click

from .. import credentials
from ..failures import CommandFailed, ExitCode, Request, explained
from ..output import say
from ..settings import Settings, pass_settings
from ..status_line import StatusLine


@click.command()
@click.argument("credential", required=False, metavar="[CREDENTIAL|-]")
@click.option(
    "--attach", is_flag=True, help="Join the account's existing session instead of replacing it."
)
@click.option(
    "--device", default="cli", show_default=True, metavar="LABEL", help="Label for this session."
)
@click.option(
    "--ttl",
    default=3600,
    show_default=True,
    type=click.IntRange(min=1),
    metavar="SECONDS",
    help="How long the session lasts.",
)
@pass_settings
def login(settings: Settings, credential: str | None, attach: bool, device: str, ttl: int) -> None:
    """Log in and save the session token for later commands.

    CREDENTIAL is EMAIL:PASSWORD, or its base64 (optionally prefixed b64:).
    A password on the command line shows in `ps` and shell history: pass `-`
    to read it from standard input, or leave it out at a terminal to be
    prompted (the password is not echoed).

    The token is saved to ~/.procedura/token (or $PROCEDURA_TOKEN_FILE),
    readable only by you. It is never printed.

    \b
    Examples:
      procedura login -  < credential.txt
      procedura login                      # prompts for email and password
      procedura login --ttl 7200 --device laptop -
    """
    secret = credentials.obtain(credential)
    try:
        credentials.check_format(secret)
    except credentials.CredentialFormatError as exc:
        message = f"{exc}."
        settings.record_failure("login_password", [], code="BAD_CREDENTIAL", message=message)
        raise CommandFailed(message, ExitCode.USAGE) from None

    request = Request(url=settings.url, module="login_password")
    with StatusLine("login") as line, explained(request):
        # No token on the way in: a stale saved one must not stand in the way of a new login.
        with settings.agent(token="", on_phase=line.phase) as agent:
            result = agent.login_password(secret, replace=not attach, device=device, ttl=ttl)
    how = "attached to the current session" if getattr(result, "attached", False) else "new session"
    if result.token_file is None:
        # The SDK has already warned why; without a saved token the next command has none.
        raise CommandFailed(
            f"logged in to {settings.url} as {result.account}, but the session token could not be "
            "saved, so later commands cannot use it. Point PROCEDURA_TOKEN_FILE at a writable "
            "path and log in again.",
            ExitCode.FAILURE,
        )
    say(
        f"Logged in to {settings.url} as {result.account} (device {result.device}, {how}).\n"
        f"Token saved to {result.token_file}.\n"
        f"Session expires {_when(result.expires_at, result.ttl)}."
    )


@click.command()
def logout() -> None:
    """Forget the saved session token.

    Deletes the file `login` wrote; the session itself ends when its ttl runs out.
    """
    from procedura_sdk.token_store import TokenStore

    store = TokenStore()
    had_token = store.load() is not None
    try:
        store.clear()
    except OSError as exc:
        raise CommandFailed(
            f"could not remove the token at {store.path}: {exc.strerror or exc}. "
            "Check the file's permissions.",
            ExitCode.FAILURE,
        ) from exc
    if had_token:
        say(f"Logged out: removed the token at {store.path}.")
    else:
        say(f"Not logged in: no token at {store.path}.")


def _when(expires_at: object, ttl: object) -> str:
    """``2026-11-25 03:44:54 UTC (in 1h 0m)`` from whatever the SDK gives (ISO text or epoch)."""
    moment: datetime | None = None
    if isinstance(expires_at, datetime):
        moment = expires_at
    elif isinstance(expires_at, (int, float)):
        moment = datetime.fromtimestamp(expires_at, tz=timezone.utc)
    elif isinstance(expires_at, str):
        try:
            moment = datetime.fromisoformat(expires_at.replace("Z", "+00:00"))
        except ValueError:
            return expires_at
    if moment is None:
        return f"in {ttl}s" if ttl else "at an unknown time"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    left = int((moment - datetime.now(timezone.utc)).total_seconds())
    stamp = moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    if left <= 0:
        return f"{stamp} (already expired)"
    hours, rest = divmod(left, 3600)
    return f"{stamp} (in {hours}h {rest // 60}m)"
