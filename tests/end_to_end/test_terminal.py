"""What a person at a terminal sees, on a real pseudo-terminal; and Ctrl-C."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess


def _read_all(fd: int, process: subprocess.Popen, timeout: float = 30) -> str:
    chunks = []
    while True:
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            break
        try:
            data = os.read(fd, 4096)
        except OSError:  # the other side closed (Linux: EIO)
            break
        if not data:
            break
        chunks.append(data)
    process.wait(timeout=timeout)
    return b"".join(chunks).decode("utf-8", "replace")


def test_spinner_shows_the_phase_on_a_terminal_and_the_result_stays_clean(logged_in):
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [*logged_in.start_argv(), "run", "echo", "hi"],
        stdout=subprocess.PIPE, stderr=terminal, env=logged_in.env, cwd=logged_in.root,
    )  # fmt: skip
    os.close(terminal)
    shown = _read_all(controller, process)
    os.close(controller)
    assert process.returncode == 0
    assert "echo" in shown and "connecting" in shown
    assert json.loads(process.stdout.read()) == {"args": ["hi"]}


def test_result_is_indented_on_a_terminal(logged_in):
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [*logged_in.start_argv(), "run", "echo", "hi"],
        stdout=terminal, stderr=subprocess.DEVNULL, env=logged_in.env, cwd=logged_in.root,
    )  # fmt: skip
    os.close(terminal)
    shown = _read_all(controller, process).replace("\r\n", "\n")
    os.close(controller)
    assert process.returncode == 0
    assert shown.strip() == json.dumps({"args": ["hi"]}, indent=2)


def test_no_spinner_when_piped(logged_in):
    done = logged_in.procedura("run", "echo", "hi")
    assert done.stderr == ""


def test_ctrl_c_exits_130_and_is_recorded(logged_in):
    process = subprocess.Popen(
        [*logged_in.start_argv(), "--debug", "run", "long_job", "--steps", "100", "--interval", "0.2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=logged_in.env,
        cwd=logged_in.root,
    )  # fmt: skip
    # --debug logs the ack; once it is there the job is running on the server.
    seen = []
    for line in process.stderr:
        seen.append(line)
        if "ack after" in line:
            break
    process.send_signal(signal.SIGINT)
    rest = process.stderr.read()
    process.wait(timeout=30)
    assert process.returncode == 130, "".join(seen) + rest
    assert "Interrupted" in rest
    entry = logged_in.errors_json()[-1]
    assert (entry["cmd"], entry["code"]) == ("long_job", "INTERRUPTED")


def test_stream_draws_a_progress_bar_on_a_terminal(logged_in):
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [*logged_in.start_argv(), "stream", "long_job", "--steps", "4", "--interval", "0"],
        stdout=subprocess.PIPE, stderr=terminal, env=logged_in.env, cwd=logged_in.root,
    )  # fmt: skip
    os.close(terminal)
    shown = _read_all(controller, process)
    os.close(controller)
    assert process.returncode == 0
    assert "4/4" in shown and "100%" in shown
    frames = [json.loads(line) for line in process.stdout.read().splitlines()]
    assert frames[-1]["status"] == "finished"
