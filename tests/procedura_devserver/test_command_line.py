"""The `procedura-devserver` command: first stdout line, options, clean exit on signals."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest
from procedura_devserver import DEMO_EMAIL, DEMO_PASSWORD


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_prints_the_url_first_serves_and_exits_cleanly(start_server, wire, arun, signum):
    server = start_server()
    login = arun(wire.call(server.url, "login_password", [f"{DEMO_EMAIL}:{DEMO_PASSWORD}"]))
    token = login[-1]["result"]["session_token"]
    world = arun(wire.call(server.url, "worldstate_snapshot", ["--terse"], token=token))
    assert world[-1]["result"]["meta"]["version"] == 3
    code, rest = server.stop(signum)
    assert code == 0 and rest == ""  # exactly one line on stdout
    log = server.log.read_text()
    assert "listening on" in log and token not in log and DEMO_PASSWORD not in log


def test_accounts_and_faults_from_options(start_server, wire, arun, tmp_path):
    accounts = tmp_path / "accounts.json"
    accounts.write_text(json.dumps({"file@example.org": "from-file"}))
    server = start_server(
        "--account",
        "opt@example.org:from:option",
        "--accounts",
        str(accounts),
        "--fault",
        "empty-world",
        "--fault",
        "final-by-job-id-only",
    )
    for credential in [
        "opt@example.org:from:option",
        "file@example.org:from-file",
        f"{DEMO_EMAIL}:{DEMO_PASSWORD}",
    ]:
        final = arun(wire.call(server.url, "login_password", [credential]))[-1]
        assert final["status"] == "finished", final
    token = final["result"]["session_token"]
    ack, final = arun(wire.call(server.url, "worldstate_snapshot", token=token))
    assert final["result"]["entities"] == {} and "id" not in final
    assert server.stop()[0] == 0


@pytest.mark.parametrize(
    ("options", "complaint"),
    [
        (["--fault", "gremlins"], "unknown fault"),
        (["--fault", "ack-delay"], "needs a value"),
        (["--account", "no-password"], "EMAIL:PASSWORD"),
        (["--accounts", "/nonexistent.json"], ""),
    ],
)
def test_bad_options_exit_2_with_a_message(options, complaint):
    done = subprocess.run(
        [sys.executable, "-m", "procedura_devserver", *options],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2 and done.stdout == ""
    assert complaint in done.stderr


def test_max_size_limits_incoming_messages(start_server, wire, arun):
    import websockets.exceptions

    server = start_server("--max-size", "2000")

    async def scenario():
        async with wire.connect(server.url) as ws:
            await wire.send(ws, "echo", ["x" * 5000])
            await ws.recv()

    with pytest.raises(websockets.exceptions.ConnectionClosedError) as closed:
        arun(scenario())
    assert closed.value.rcvd.code == 1009
    assert server.stop()[0] == 0
