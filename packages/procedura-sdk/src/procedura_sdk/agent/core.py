"""What both faces of the agent share, free of I/O: settings, the token, and one record per command.

:class:`AgentCore` holds an agent's configuration (URL, connection options,
token store, recorder) and the steps of a command that do not touch the
network: issuing request ids, reporting phases, turning a terminal event into
the exception to raise, finishing a login, and handing each command's record
to the recorder. The asyncio face (:mod:`.async_agent`) and the blocking face
(:mod:`.sync_agent`) add the waiting.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from ..errors import ProceduraError, ProtocolViolationError
from ..observability.redaction import REDACTED, default_redactor
from ..token_store import TokenStore
from . import login as _login
from . import outcomes
from .connection import DEFAULT_MAX_SIZE, ConnectionOptions, check_url, display_url
from .conversation import Conversation
from .protocol import Event, RequestIds
from .trace import CommandTrace

logger = logging.getLogger("procedura_sdk.agent")


def hide_secret(secret: str | None) -> None:
    """Register a live token with the shared redactor, so no log or record can show it."""
    default_redactor.add_secret(secret)


class AgentCore:
    """The configuration and the I/O-free steps of an agent (see the faces for the options)."""

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        ca_file: str | None = None,
        recorder: Any = None,
        record: bool = True,
        on_phase: Callable[[str], None] | None = None,
        token_store: TokenStore | None = None,
        max_size: int = DEFAULT_MAX_SIZE,
        open_timeout: float = 5.0,
        ping_interval: float | None = 20.0,
        ping_timeout: float | None = 60.0,
        close_timeout: float = 1.0,
    ) -> None:
        self.url = check_url(url)
        self._shown_url = display_url(url)
        self.token_store = token_store if token_store is not None else TokenStore()
        self._options = ConnectionOptions(
            max_size=max_size,
            open_timeout=open_timeout,
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            close_timeout=close_timeout,
            ca_file=ca_file,
        )
        self._record = record
        self._recorder = recorder
        self._owns_recorder = False
        self._on_phase = on_phase
        self._initial_token = token if token is not None else self.token_store.load()
        hide_secret(self._initial_token)
        self._ids = RequestIds()

    def __repr__(self) -> str:
        state = "connected" if self.connected else "not connected"
        return f"<{type(self).__name__} {self._shown_url} {state}>"

    @property
    def connected(self) -> bool:
        raise NotImplementedError

    # Commands, before and after the waiting ---------------------------------------

    def _trace(self, module: str, args: Sequence[str] | None, mode: str) -> CommandTrace:
        return CommandTrace(module, list(args or ()), mode=mode, url=self._shown_url)

    def _conversation(
        self, trace: CommandTrace, mode: str, ack_timeout: float, final_timeout: float,
        args: list[str] | None = None,
    ) -> Conversation:
        record = trace.record
        return Conversation(
            trace,
            self._ids.next(),
            record.cmd,
            record.args if args is None else args,
            mode,
            ack_timeout=ack_timeout,
            final_timeout=final_timeout,
            on_phase=self._phase,
        )

    def _failure(
        self, event: Event, trace: CommandTrace, *, secrets: list[str] | None = None
    ) -> ProceduraError:
        return outcomes.failure(
            event, trace, url=self._shown_url, max_size=self._options.max_size, secrets=secrets
        )

    def _login_result(
        self, trace: CommandTrace, result: Any, *, account: str, device: str, ttl: float
    ) -> _login.LoginResult:
        """Check a finished login's result and save its token; the face then reconnects with it."""
        token = result.get("session_token") if isinstance(result, dict) else None
        if not isinstance(token, str) or not token:
            raise ProtocolViolationError(
                "login_password finished without a session_token; check that the URL "
                "points at a Procedura server.",
                code="PROTOCOL_VIOLATION",
            )
        expires_at, granted_ttl = _login.expiry(result, ttl)
        token_file = self._save_token(token)
        hide_secret(token)
        shown = {k: v for k, v in result.items() if k != "session_token"}
        trace.succeeded({**shown, "session_token": REDACTED})
        return _login.LoginResult(
            account=str(result.get("account") or account),
            expires_at=expires_at,
            ttl=granted_ttl,
            device=str(result.get("device") or device),
            token_file=token_file,
            attached=bool(result.get("attached", False)),
            token=token,
        )

    def _login_trace(
        self, credential: str, *, replace: bool, device: str, ttl: float
    ) -> tuple[str, list[str], list[str], CommandTrace]:
        """The account, the request's arguments, the secrets in them, and the (redacted) trace."""
        account = _login.account_of(credential)
        args = _login.login_args(credential, replace=replace, device=device, ttl=ttl)
        secrets = _login.secrets_of(credential)
        trace = self._trace(_login.LOGIN_MODULE, _login.recorded_args(args), "sync")
        return account, args, secrets, trace

    def _note_login(self, login: _login.LoginResult) -> None:
        if self._recorder is not None and self._record:
            self._call_recorder(
                "note_login",
                url=self._shown_url,
                account=login.account,
                ttl=login.ttl,
                expires_at=login.expires_at,
            )

    # Side channels ----------------------------------------------------------------

    def _phase(self, name: str) -> None:
        if self._on_phase is None:
            return
        try:
            self._on_phase(name)
        except Exception:  # noqa: BLE001 - a broken progress display must not fail the command
            logger.warning("on_phase(%r) raised; ignoring it", name, exc_info=True)

    def _recorder_or_none(self) -> Any:
        if not self._record:
            return None
        if self._recorder is None:
            from ..observability.recorder import Recorder

            self._recorder = Recorder(background=True)
            self._owns_recorder = True
        return self._recorder

    def _while_waiting(self) -> None:
        """The command has sent its request and is about to wait: lend that time to the recorder."""
        recorder = self._recorder
        if recorder is None or not self._record:
            return
        work = getattr(recorder, "work_while_waiting", None)
        if work is not None:
            try:
                work()
            except Exception as exc:  # noqa: BLE001 - recording must not fail the command
                logger.error("recorder.work_while_waiting failed: %s", exc, exc_info=True)
                warnings.warn(f"could not record a command: {exc}", stacklevel=3)

    def _emit(self, trace: CommandTrace) -> None:
        if self._recorder_or_none() is None:
            return
        self._call_recorder("record", trace.record)

    def _close_recorder(self) -> None:
        """Close the recorder this agent made; flush one it was given."""
        if self._owns_recorder and self._recorder is not None:
            self._recorder.close()
            self._recorder = None
            self._owns_recorder = False
        elif self._recorder is not None and hasattr(self._recorder, "flush"):
            self._call_recorder("flush")

    def _call_recorder(self, method: str, *args: Any, **kwargs: Any) -> None:
        # Recorder.record never raises by contract; a recorder that does must not
        # hide the command's own outcome, and must not go unnoticed either.
        try:
            getattr(self._recorder, method)(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001
            logger.error("recorder.%s failed: %s", method, exc, exc_info=True)
            warnings.warn(
                f"could not record the command: recorder.{method} failed: {exc}", stacklevel=4
            )

    def _save_token(self, token: str) -> Any:
        try:
            return self.token_store.save(token)
        except OSError as exc:
            message = (
                f"logged in, but could not save the session token to {self.token_store.path}: "
                f"{exc.strerror or exc}. It is used for this agent only."
            )
            logger.warning(message)
            warnings.warn(message, stacklevel=5)
            return None
