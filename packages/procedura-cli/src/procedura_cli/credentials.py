"""Getting a login credential without exposing it: argument, standard input, or a hidden prompt.

A password typed on the command line shows in ``ps`` and in shell history, so
``-`` reads it from standard input and, at a terminal, leaving it out prompts
for the email and then the password without echo.
"""

from __future__ import annotations

import sys

import click

from .output import is_terminal

FORMAT_HINT = "CREDENTIAL is EMAIL:PASSWORD, or its base64 with an optional b64: prefix"


class CredentialFormatError(ValueError):
    """The credential is neither ``email:password`` nor base64 of it."""


def obtain(argument: str | None) -> str:
    """The credential from ``argument``, ``-`` (standard input) or an interactive prompt."""
    if argument == "-":
        text = sys.stdin.read()
        credential = text.strip("\r\n")
        if not credential:
            raise click.UsageError("standard input was empty: " + FORMAT_HINT + ".")
        return credential
    if argument is not None:
        return argument
    if not is_terminal(sys.stdin):
        raise click.UsageError(
            "no CREDENTIAL given and standard input is not a terminal to prompt on. "
            "Pass `-` to read it from standard input."
        )
    email = click.prompt("Email", err=True).strip()
    password = click.prompt("Password", hide_input=True, err=True)
    return f"{email}:{password}"


def check_format(credential: str) -> None:
    """Raise :class:`CredentialFormatError` unless the server could accept ``credential``.

    The message never repeats the credential.
    """
    if _decoded(credential) is None:
        raise CredentialFormatError(
            f"the credential is not in a form the server accepts: {FORMAT_HINT}"
        )


def _decoded(credential: str) -> str | None:
    """``email:password`` from any accepted form, or None."""
    import base64
    import binascii

    encoded = credential[4:] if credential.startswith("b64:") else None
    if encoded is None:
        if _plain_ok(credential):
            return credential
        encoded = credential
    try:
        text = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return text if _plain_ok(text) else None


def _plain_ok(text: str) -> bool:
    email, sep, password = text.partition(":")
    return bool(sep and email.strip() and password)
