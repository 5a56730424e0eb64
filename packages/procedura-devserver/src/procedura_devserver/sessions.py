"""Session tokens: issued at login, bound to an account and a device, ending at their ttl."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone


@dataclass(frozen=True)
class Session:
    """One issued session. `expires` is wall-clock seconds since the epoch."""

    token: str = field(repr=False)  # never in logs or test output
    account: str
    device: str
    ttl: float
    issued: float
    expires: float

    @property
    def expires_at(self) -> str:
        """Expiry as ISO-8601 UTC with an explicit offset (parseable by Python 3.10's fromisoformat)."""
        moment = datetime.fromtimestamp(self.expires, tz=timezone.utc)
        return moment.isoformat(timespec="milliseconds")


class SessionStore:
    """The engine's sessions, keyed by token; safe to use from any thread.

    `clock` returns wall-clock seconds; tests may pass their own to expire
    sessions without sleeping.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._by_token: dict[str, Session] = {}

    def issue(self, account: str, device: str, ttl: float) -> Session:
        """A new session; the account's other sessions are left alone."""
        if not ttl > 0:
            raise ValueError("ttl must be a positive number of seconds")
        now = self._clock()
        # token_urlsafe's alphabet is a valid HTTP token, so it can travel as a subprotocol.
        session = Session(secrets.token_urlsafe(32), account, device, ttl, now, now + ttl)
        with self._lock:
            self._by_token[session.token] = session
        return session

    def replace(self, account: str, device: str, ttl: float) -> Session:
        """Revoke the account's sessions on this device, then issue a new one."""
        with self._lock:
            for token, session in list(self._by_token.items()):
                if session.account == account and session.device == device:
                    del self._by_token[token]
        return self.issue(account, device, ttl)

    def attach(self, account: str, device: str, ttl: float) -> tuple[Session, bool]:
        """The newest live session of the account on this device, else a new one.

        Returns (session, attached) where `attached` says an existing one was reused.
        """
        now = self._clock()
        with self._lock:
            live = [
                s
                for s in self._by_token.values()
                if s.account == account and s.device == device and s.expires > now
            ]
        if live:
            return max(live, key=lambda s: s.issued), True
        return self.issue(account, device, ttl), False

    def lookup(self, token: str) -> Session | None:
        """The live session for this token, or None if unknown, revoked or expired."""
        with self._lock:
            session = self._by_token.get(token)
            if session is not None and session.expires <= self._clock():
                del self._by_token[token]
                session = None
        return session

    def revoke(self, token: str) -> bool:
        with self._lock:
            return self._by_token.pop(token, None) is not None

    def live(self) -> list[Session]:
        """Every unexpired, unrevoked session, oldest first."""
        now = self._clock()
        with self._lock:
            return sorted(
                (s for s in self._by_token.values() if s.expires > now), key=lambda s: s.issued
            )
