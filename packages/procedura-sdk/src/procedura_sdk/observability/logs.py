"""Application logs under ``logs/``: what the SDK did (``system/``) and what failed (``failures/``).

Handlers hang on the ``procedura_sdk`` logger only (the application's root
logger is left alone), rotate by size, and pass every message through the
shared redactor before it is formatted to disk.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
import threading
import warnings
from pathlib import Path

from .paths import DataPaths
from .redaction import Redactor, default_redactor

SDK_LOGGER = "procedura_sdk"
MAX_BYTES = 1 << 20
BACKUPS = 5
_FORMAT = "%(asctime)s %(levelname)s %(name)s pid=%(process)d %(message)s"

_attached: dict[Path, list[logging.Handler]] = {}
_attach_lock = threading.Lock()


class RedactingFilter(logging.Filter):
    """Replaces a record's message (and traceback text) with its redacted form."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redactor.redact_text(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redactor.redact_text(record.exc_text)
        return True


class LogFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating log file whose write failures (a full disk) become one warning naming the
    file, instead of the logging module's traceback on the user's terminal."""

    def __init__(self, path: Path, *, level: int, redactor: Redactor) -> None:
        super().__init__(path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8", delay=True)
        self.setLevel(level)
        self.addFilter(RedactingFilter(redactor))
        self.setFormatter(logging.Formatter(_FORMAT))
        self._warned = False

    def handleError(self, record: logging.LogRecord) -> None:
        if self._warned:  # said once for this file; repeating it per line would drown the output
            return
        self._warned = True
        from .recorder import RecordingWarning

        exc = sys.exc_info()[1]
        warnings.warn(
            RecordingWarning(
                f"Procedura could not write its log {self.baseFilename} "
                f"({type(exc).__name__}: {exc}); further failures of this file are not repeated. "
                "Free space or fix permissions there to resume logging."
            ),
            stacklevel=2,
        )


def attach_log_files(paths: DataPaths, redactor: Redactor = default_redactor) -> None:
    """Write the SDK's logs under ``paths.logs`` (once per data root; safe to call again).

    Raises ``OSError`` when the directories cannot be created; the recorder turns
    that into a warning.
    """
    with _attach_lock:
        if paths.logs in _attached:
            return
        paths.system_logs.mkdir(parents=True, exist_ok=True)
        paths.failure_logs.mkdir(parents=True, exist_ok=True)
        handlers: list[logging.Handler] = [
            LogFileHandler(paths.system_logs / "procedura.log", level=logging.INFO, redactor=redactor),
            LogFileHandler(paths.failure_logs / "failures.log", level=logging.ERROR, redactor=redactor),
        ]
        logger = logging.getLogger(SDK_LOGGER)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.INFO)
        for handler in handlers:
            logger.addHandler(handler)
        _attached[paths.logs] = handlers


def detach_log_files(paths: DataPaths) -> None:
    """Close and remove the handlers attached for ``paths`` (tests and long-lived programs)."""
    with _attach_lock:
        handlers = _attached.pop(paths.logs, [])
        logger = logging.getLogger(SDK_LOGGER)
        for handler in handlers:
            logger.removeHandler(handler)
            handler.close()
