"""The status line: spinner with phase and elapsed time, progress bar, silent when not a terminal."""

from __future__ import annotations

import io

from procedura_cli.commands.stream import progress_of
from procedura_cli.status_line import StatusLine


class Terminal(io.StringIO):
    encoding = "utf-8"

    def isatty(self):
        return True


def test_spinner_shows_label_phase_and_elapsed():
    line = StatusLine("echo", stream=Terminal(), enabled=True)
    line.phase("waiting for ack")
    text = line.render(0)
    assert "echo" in text and "waiting for ack" in text
    assert text.endswith("s") and "0." in text


def test_progress_bar_replaces_the_spinner():
    line = StatusLine("long_job", stream=Terminal(), enabled=True)
    line.progress(0.5, "2/4")
    text = line.render(0)
    assert "[" + "#" * 12 + "-" * 12 + "]" in text
    assert "50%" in text and "2/4" in text


def test_drawn_then_erased_on_a_terminal():
    terminal = Terminal()
    with StatusLine("echo", stream=terminal) as line:
        line.phase("connecting")
    written = terminal.getvalue()
    assert "connecting" in written
    assert written.endswith("\r")  # the last thing written clears the line


def test_silent_when_not_a_terminal():
    piped = io.StringIO()
    with StatusLine("echo", stream=piped) as line:
        line.phase("connecting")
        line.progress(0.3)
    assert piped.getvalue() == ""


def test_progress_is_read_from_the_forms_servers_send():
    assert progress_of({"progress": {"done": 2, "total": 8}}) == (0.25, "2/8")
    assert progress_of({"step": 3, "steps": 4}) == (0.75, "3/4")
    assert progress_of({"progress": 0.5}) == (0.5, "")
    assert progress_of({"progress": 40}) == (0.4, "")
    assert progress_of({"status": "running"}) == (None, "")
    assert progress_of({"progress": True}) == (None, "")
