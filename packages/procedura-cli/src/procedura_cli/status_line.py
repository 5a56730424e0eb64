"""The live status line on standard error: a spinner or a progress bar, with the elapsed time.

It is drawn only when standard error is a terminal; otherwise every method is a
no-op, so piped and logged output stays clean.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, TextIO

from .output import is_terminal

_SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
_ASCII_SPINNER = "|/-\\"
_BAR_WIDTH = 24
_TICK = 0.1


class StatusLine:
    """``with StatusLine("run echo") as line: line.phase("running"); line.progress(0.4)``."""

    def __init__(self, label: str, *, stream: TextIO | None = None, enabled: bool | None = None):
        self._stream = stream if stream is not None else sys.stderr
        self._enabled = is_terminal(self._stream) if enabled is None else enabled
        self._label = label
        self._phase = "starting"
        self._fraction: float | None = None
        self._detail = ""
        self._started = time.monotonic()
        self._lock = threading.Lock()  # guards the fields above
        self._draw_lock = threading.Lock()  # one writer of the terminal line at a time
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._width = 0
        encoding = (getattr(self._stream, "encoding", None) or "ascii").lower()
        self._frames = _SPINNER if "utf" in encoding else _ASCII_SPINNER

    @property
    def enabled(self) -> bool:
        return self._enabled

    def __enter__(self) -> StatusLine:
        if self._enabled:
            self._thread = threading.Thread(target=self._animate, name="status-line", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def phase(self, name: str) -> None:
        """The SDK's ``on_phase`` callback: "connecting", "waiting for ack", "running"."""
        with self._lock:
            self._phase = name
        self._draw()

    def progress(self, fraction: float | None, detail: str = "") -> None:
        """Switch to a progress bar at ``fraction`` (0..1); ``None`` goes back to the spinner."""
        with self._lock:
            self._fraction = None if fraction is None else min(max(fraction, 0.0), 1.0)
            self._detail = detail
        self._draw()

    def close(self) -> None:
        """Stop and erase the line, leaving the terminal as it was."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        with self._draw_lock:
            if self._enabled and self._width:
                self._write("\r" + " " * self._width + "\r")
                self._width = 0

    def render(self, tick: int = 0) -> str:
        """The text of the line (without carriage return); public so it can be tested."""
        with self._lock:
            phase, fraction, detail = self._phase, self._fraction, self._detail
        elapsed = time.monotonic() - self._started
        if fraction is None:
            head = self._frames[tick % len(self._frames)]
        else:
            filled = int(round(fraction * _BAR_WIDTH))
            head = "[" + "#" * filled + "-" * (_BAR_WIDTH - filled) + f"] {fraction * 100:3.0f}%"
        parts = [head, self._label, phase]
        if detail:
            parts.append(detail)
        return " ".join(parts) + f" {elapsed:.1f}s"

    def _animate(self) -> None:
        tick = 0
        while not self._stop.wait(_TICK):
            tick += 1
            self._draw(tick)

    def _draw(self, tick: int | None = None) -> None:
        if not self._enabled or self._stop.is_set():
            return
        if tick is None:
            tick = int((time.monotonic() - self._started) / _TICK)
        text = self.render(tick)
        with self._draw_lock:
            pad = max(self._width - len(text), 0)
            self._width = len(text)
            self._write("\r" + text + " " * pad)

    def _write(self, text: str) -> None:
        try:
            self._stream.write(text)
            self._stream.flush()
        except (OSError, ValueError):  # the terminal went away: stop drawing, keep working
            self._enabled = False
