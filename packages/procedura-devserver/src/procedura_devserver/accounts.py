"""Accounts the local world engine accepts, and the login credential format."""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path

DEMO_EMAIL = "demo@procedura.dev"
DEMO_PASSWORD = "demo-password"


class CredentialError(ValueError):
    """A login credential that is neither `email:password` nor base64 of it."""


def decode_credential(credential: str) -> tuple[str, str]:
    """Split a login credential into (email, password).

    Accepted forms, as the real server takes them: `email:password`, or the
    base64 of that text with an optional `b64:` prefix (standard or URL-safe
    alphabet, padding optional). Base64 has no `:` in its alphabet, so a
    credential with a `:` and no `b64:` prefix is always the plain form.
    """
    if credential.startswith("b64:"):
        plain = _b64decode(credential[4:])
    elif ":" in credential:
        plain = credential
    else:
        plain = _b64decode(credential)
    email, sep, password = plain.partition(":")
    if not sep or not email:
        raise CredentialError("credential must be email:password (plain or base64)")
    return email, password


def _b64decode(text: str) -> str:
    padded = text + "=" * (-len(text) % 4)
    try:
        raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
        return raw.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise CredentialError("credential is not valid base64 of email:password") from exc


def parse_account(spec: str) -> tuple[str, str]:
    """Parse the command line's `EMAIL:PASSWORD` (the password may contain `:`)."""
    email, sep, password = spec.partition(":")
    if not sep or not email or not password:
        raise ValueError(f"account must be EMAIL:PASSWORD, got {spec.split(':')[0]!r}:…")
    return email, password


def load_accounts_file(path: str | Path) -> dict[str, str]:
    """Read a JSON object mapping email to password."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise ValueError(f"{path}: expected a JSON object mapping email to password")
    return data


class AccountBook:
    """Email → password, always holding the demo account; safe to extend from any thread."""

    def __init__(self, accounts: Mapping[str, str] | None = None) -> None:
        self._lock = threading.Lock()
        self._passwords: dict[str, str] = {DEMO_EMAIL: DEMO_PASSWORD}
        for email, password in (accounts or {}).items():
            self.add(email, password)

    def add(self, email: str, password: str) -> None:
        if not email or ":" in email:
            raise ValueError(f"not a usable account email: {email!r}")
        with self._lock:
            self._passwords[email] = password

    def check(self, email: str, password: str) -> bool:
        with self._lock:
            known = self._passwords.get(email)
        return known is not None and hmac.compare_digest(known.encode(), password.encode())

    def __iter__(self) -> Iterator[str]:
        with self._lock:
            return iter(sorted(self._passwords))

    def __contains__(self, email: object) -> bool:
        with self._lock:
            return email in self._passwords
