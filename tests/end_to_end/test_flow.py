"""The main path: log in, run with module options, and find the same redacted event everywhere."""

from __future__ import annotations

import json
import os
import stat

DEMO = "demo@procedura.dev:demo-password"  # the devserver's demo account
PASSWORD = DEMO.split(":", 1)[1]


def test_login_by_argument_saves_a_private_token_and_never_prints_it(workspace, devserver):
    devserver()
    done = workspace.procedura("login", DEMO, "--device", "e2e", "--ttl", "120")
    assert done.returncode == 0, done.stderr
    token = workspace.token_file.read_text().strip()
    assert token
    assert stat.S_IMODE(os.stat(workspace.token_file).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(workspace.token_file.parent).st_mode) == 0o700
    assert "demo@procedura.dev" in done.stderr
    assert str(workspace.token_file) in done.stderr
    assert "expires" in done.stderr
    assert token not in done.stdout + done.stderr
    assert PASSWORD not in done.stdout + done.stderr


def test_login_from_stdin_then_logout(workspace, devserver):
    devserver()
    done = workspace.procedura("login", "-", input=DEMO + "\n")
    assert done.returncode == 0, done.stderr
    assert workspace.token_file.exists()
    done = workspace.procedura("logout")
    assert done.returncode == 0
    assert not workspace.token_file.exists()
    done = workspace.procedura("run", "echo")
    assert done.returncode == 6
    assert "not logged in" in done.stderr


def test_run_passes_module_options_and_prints_one_json_line(logged_in):
    done = logged_in.procedura(
        "run",
        "echo",
        "--terse",
        "--n",
        "4",
        "--gen-guidance=a b",
        "--ack-timeout",
        "5",
        "--",
        "--help",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("\n") == 1  # piped: one line
    assert json.loads(done.stdout) == {
        "args": ["--terse", "--n", "4", "--gen-guidance=a b", "--help"]
    }


def test_worldstate_snapshot_terse_as_in_the_guide(logged_in):
    done = logged_in.procedura("run", "worldstate_snapshot", "--terse")
    assert done.returncode == 0, done.stderr
    snapshot = json.loads(done.stdout)
    assert snapshot["entities"]


def test_the_same_redacted_event_is_in_the_chain_and_events_json(logged_in):
    for args in (["echo", "one"], ["worldstate_snapshot", "--terse"]):
        done = logged_in.procedura("run", *args)
        assert done.returncode == 0, done.stderr
    chain, mirror = logged_in.chain(), logged_in.events_json()
    assert chain == mirror
    assert [e["cmd"] for e in chain] == ["login_password", "echo", "worldstate_snapshot"]
    login = chain[0]
    assert PASSWORD not in json.dumps(login)
    assert login["args"][0] == "demo@procedura.dev:<redacted>"  # the account stays readable
    token = logged_in.token_file.read_text().strip()
    for path in logged_in.data.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert PASSWORD.encode() not in data, path
            assert token.encode() not in data, path
    echo = chain[1]
    assert echo["status"] == "finished"
    assert echo["args"] == ["one"]
    assert echo["msg_id"] and echo["ack_ts"] and echo["final_ts"]


def test_secrets_passed_to_a_module_never_reach_the_disk(logged_in):
    """echo returns its arguments, so the secret is in the request, the result and the
    record; the decoded chain, events.json and every raw file must all lack it."""
    secret = "pass-through-s3cret-9f2c"
    done = logged_in.procedura("run", "echo", f"--password={secret}", "--api-key", secret, "ok")
    assert done.returncode == 0, done.stderr
    assert secret in done.stdout  # the user asked for it on standard output: theirs to see
    (event,) = [e for e in logged_in.chain() if e["cmd"] == "echo"]
    assert event["args"] == ["--password=<redacted>", "--api-key", "<redacted>", "ok"]
    assert secret not in json.dumps(logged_in.chain()) + json.dumps(logged_in.events_json())
    for path in logged_in.data.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path


def test_stats_and_last_login_are_counted(logged_in):
    logged_in.procedura("run", "echo")
    logged_in.procedura("run", "echo")
    logged_in.procedura("run", "fail", "--message", "nope")
    state = logged_in.stats()
    assert state["last_login"]["account"] == "demo@procedura.dev"
    assert json.dumps(state).count(PASSWORD) == 0
    stats = json.dumps(state["cli_stats"])
    assert "echo" in stats and "fail" in stats
    done = logged_in.procedura("state")
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    (store_state,) = shown.values()
    assert store_state == state


def test_stream_prints_every_frame_as_a_json_line(logged_in):
    done = logged_in.procedura("stream", "long_job", "--steps", "3", "--interval", "0")
    assert done.returncode == 0, done.stderr
    frames = [json.loads(line) for line in done.stdout.splitlines()]
    statuses = [f["status"] for f in frames]
    assert statuses[0] == "started" and statuses[-1] == "finished"
    assert statuses.count("running") == 3


def test_python_dash_m_is_the_same_command(logged_in):
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "procedura_cli", "--url", logged_in.url, "run", "echo", "x"],
        capture_output=True, text=True, env=logged_in.env, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"args": ["x"]}


def test_a_login_whose_token_cannot_be_saved_fails_and_says_what_to_fix(workspace, devserver):
    devserver()
    blocker = workspace.root / "not-a-directory"
    blocker.write_text("")
    workspace.env["PROCEDURA_TOKEN_FILE"] = str(blocker / "token")
    done = workspace.procedura("login", "-", input=DEMO + "\n")
    assert done.returncode == 1
    assert "PROCEDURA_TOKEN_FILE" in done.stderr and "None" not in done.stderr
    assert "could not be saved" in done.stderr
