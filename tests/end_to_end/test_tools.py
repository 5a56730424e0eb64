"""The developer tools read what the CLI wrote (run as `python tools/...` from the checkout)."""

from __future__ import annotations

import csv
import io
import json


def _run_some(ws):
    for args in (["echo", "a"], ["echo", "b"], ["worldstate_snapshot", "--terse"], ["echo", "c"]):
        assert ws.procedura("run", *args).returncode == 0


def test_events_dump_last_n_in_time_order(logged_in):
    _run_some(logged_in)
    done = logged_in.tool("events_dump.py", "--last", "2", "--root", str(logged_in.data))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == logged_in.events_json()[-2:]


def test_events_dump_filters_by_command_and_writes_csv(logged_in):
    _run_some(logged_in)
    out = logged_in.root / "report.csv"
    done = logged_in.tool(
        "events_dump.py", "--last", "2", "--cmd", "echo", "--csv", "--out", str(out),
        "--root", str(logged_in.data),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [json.loads(r["args"]) for r in rows] == [["b"], ["c"]]
    assert {r["cmd"] for r in rows} == {"echo"}
    assert list(rows[0])[:3] == ["schema", "ts", "cmd"]


def test_events_dump_uses_the_data_root_from_the_environment(logged_in):
    _run_some(logged_in)
    done = logged_in.tool("events_dump.py", "--last", "1")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)[0]["args"] == ["c"]
    assert json.loads(logged_in.procedura("events", "--last", "1").stdout) == json.loads(
        done.stdout
    )


def test_events_dump_says_when_there_is_nothing(logged_in):
    done = logged_in.tool("events_dump.py", "--cmd", "nosuchmodule")
    assert done.returncode == 0
    assert done.stdout == ""
    assert done.stderr.strip() == "No events found."


def test_events_dump_missing_chain(workspace):
    done = workspace.tool("events_dump.py", "--root", str(workspace.root / "nowhere"))
    assert done.returncode == 1
    assert "No event chain" in done.stderr
    assert "Traceback" not in done.stderr


def test_events_dump_damaged_chain(logged_in):
    _run_some(logged_in)
    for path in (logged_in.runtime / "cli_events").rglob("*"):
        if path.is_file() and path.stat().st_size > 64:
            data = bytearray(path.read_bytes())
            middle = len(data) // 2
            data[middle : middle + 16] = b"\xff" * 16
            path.write_bytes(bytes(data))
    done = logged_in.tool("events_dump.py")
    assert done.returncode == 1
    assert "damaged" in done.stderr or "Cannot" in done.stderr
    assert "Traceback" not in done.stderr


def test_inspect_state_shows_stats_and_history(logged_in):
    _run_some(logged_in)
    store = logged_in.runtime / "cli_state"
    done = logged_in.tool("inspect_state.py", str(store))
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert shown == {str(store): logged_in.stats()}
    done = logged_in.tool("inspect_state.py", str(logged_in.runtime), "--history")
    assert done.returncode == 0, done.stderr
    (commits,) = json.loads(done.stdout).values()
    assert commits and {"version", "time", "changes"} <= set(commits[0])


def test_inspect_state_missing_or_not_a_store(workspace):
    done = workspace.tool("inspect_state.py", str(workspace.root / "nowhere"))
    assert done.returncode == 1
    assert "does not exist" in done.stderr
    (workspace.root / "empty").mkdir()
    done = workspace.tool("inspect_state.py", str(workspace.root / "empty"))
    assert done.returncode == 1
    assert "no deltaram store" in done.stderr


def test_tools_help(workspace):
    for tool in ("events_dump.py", "inspect_state.py"):
        done = workspace.tool(tool, "--help")
        assert done.returncode == 0
        assert "Usage:" in done.stdout


def test_events_rebuild_json_restores_the_mirrors_from_the_chain(logged_in):
    _run_some(logged_in)
    assert logged_in.procedura("run", "fail").returncode == 3
    before_events, before_errors = logged_in.events_json(), logged_in.errors_json()
    (logged_in.runtime / "events.json").write_text('[\n{"torn')
    (logged_in.runtime / "errors.json").unlink()
    done = logged_in.procedura("events", "--rebuild-json")
    assert done.returncode == 0, done.stderr
    assert "Rebuilt" in done.stderr and done.stdout == ""
    assert logged_in.events_json() == before_events == logged_in.chain()
    assert logged_in.errors_json() == before_errors
