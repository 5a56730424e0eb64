"""Logging in: the ``login_password`` arguments, the account behind a credential, and the result.

The credential is ``email:password`` or base64 of it (optionally prefixed
``b64:``). It is sent as given; it is decoded here only to learn the account
name, and it never appears in a record, a log line or an exception.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from ..observability.redaction import Redactor, default_redactor

LOGIN_MODULE = "login_password"


@dataclass(frozen=True)
class LoginResult:
    """A successful login. The token is kept (for handing to another agent) but never shown."""

    account: str
    expires_at: str
    ttl: float
    device: str
    token_file: Path | None
    attached: bool = False
    token: str = field(default="", repr=False, compare=False)


def account_of(credential: str) -> str:
    """The email in ``credential``; ValueError (never quoting it) when it is neither form."""
    if not isinstance(credential, str) or not credential:
        raise ValueError("the credential must be 'email:password' or base64 of it (b64:...)")
    text = credential
    if text.startswith("b64:") or ":" not in text:
        decoded = _b64decode(text[4:] if text.startswith("b64:") else text)
        if decoded is None:
            raise ValueError(
                "the credential is not 'email:password' and does not decode as base64 of it"
            )
        text = decoded
    email, sep, password = text.partition(":")
    if not sep or not email or not password:
        raise ValueError("the credential must be 'email:password' (or base64 of it) with both parts")
    return email


def login_args(credential: str, *, replace: bool, device: str, ttl: float) -> list[str]:
    """The module's arguments: ``[CREDENTIAL, --replace|--attach, --device=…, --ttl=…]``."""
    return [credential, "--replace" if replace else "--attach", f"--device={device}", f"--ttl={_number(ttl)}"]


def recorded_args(args: list[str]) -> list[str]:
    """The arguments as they go into the record: the credential keeps only its account."""
    return default_redactor.redact_args(LOGIN_MODULE, args)


def secrets_of(credential: str) -> list[str]:
    """Every form of the credential that must not leak (as given, decoded, the password alone)."""
    found = {credential}
    text = credential[4:] if credential.startswith("b64:") else credential
    found.add(text)
    if credential.startswith("b64:") or ":" not in text:
        decoded = _b64decode(text)
        if decoded is None:
            return sorted(found, key=len, reverse=True)
        text = decoded
        found.add(text)
    password = text.partition(":")[2]
    if len(password) >= 4:
        found.add(password)
    return sorted((s for s in found if s), key=len, reverse=True)


def scrub(value: Any, secrets: list[str]) -> Any:
    """``value`` (a frame, a string) redacted, with every occurrence of ``secrets`` replaced."""
    return Redactor(secrets, min_secret_length=1).redact(value)


def expiry(result: dict[str, Any], ttl: float) -> tuple[str, float]:
    """``(expires_at, ttl)`` from the server's answer, computing what it left out."""
    server_ttl = result.get("ttl")
    if isinstance(server_ttl, (int, float)) and not isinstance(server_ttl, bool):
        ttl = server_ttl
    expires_at = result.get("expires_at")
    if isinstance(expires_at, (int, float)) and not isinstance(expires_at, bool):
        expires_at = datetime.fromtimestamp(expires_at, tz=timezone.utc).isoformat()
    if not isinstance(expires_at, str) or not expires_at:
        expires_at = (datetime.now(timezone.utc) + timedelta(seconds=float(ttl))).isoformat()
    return expires_at, ttl


def _b64decode(text: str) -> str | None:
    """Standard or URL-safe base64, padding optional (as the server takes it); None if it is not."""
    text = text.strip()
    padded = text + "=" * (-len(text) % 4)
    for alphabet in (None, b"-_"):
        try:
            return base64.b64decode(padded, altchars=alphabet, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            continue
    return None


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
