"""The recorder against real storage: the dual write, the error channel, state, logs, faults."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import jsonschema
import procedura_sdk.observability as obs
import pytest
from procedura_sdk.observability import (
    DataPaths,
    EventLog,
    EventRecord,
    Recorder,
    RecordingWarning,
    utc_now_iso,
)
from procedura_sdk.observability.logs import detach_log_files

SCHEMA = json.loads((Path(obs.__file__).parent / "event.schema.json").read_text())
PASSWORD = "hunter2-very-secret"
TOKEN = "tok_9f8e7d6c5b4a39281706f5e4d3c2b1a0"


@pytest.fixture
def paths(tmp_path: Path):
    p = DataPaths.from_env(tmp_path)
    yield p
    detach_log_files(p)


def _record(cmd: str = "echo", status: str = "finished", **kw) -> EventRecord:
    base = dict(cmd=cmd, args=kw.pop("args", ["a"]), ts=utc_now_iso(), msg_id="1a2b3c4d",
                status=status, agent_version="0.1.0", env={"python": "3"})
    base.update(kw)
    return EventRecord(**base)


def _chain_events(paths: DataPaths) -> list[dict]:
    return list(EventLog(paths))


def test_one_record_is_written_to_chain_and_mirror_identically(paths: DataPaths) -> None:
    record = _record(result={"echo": ["a"]}, final_latency_ms=1.5)
    with Recorder(paths) as rec:
        rec.record(record)
        written = rec.redact_event(record)
    chain = _chain_events(paths)
    mirror = json.loads(paths.events_json.read_text())
    assert chain == mirror == [written]
    jsonschema.validate(written, SCHEMA)
    assert not paths.errors_json.exists()


def test_every_record_is_new_even_for_the_same_command(paths: DataPaths) -> None:
    with Recorder(paths) as rec:
        rec.record(_record(msg_id="00000001"))
        rec.record(_record(msg_id="00000002"))
    assert [e["msg_id"] for e in _chain_events(paths)] == ["00000001", "00000002"]


def test_credentials_and_tokens_never_reach_the_disk(paths: DataPaths) -> None:
    with Recorder(paths) as rec:
        rec.redactor.add_secret(TOKEN)
        rec.record(_record(
            cmd="login_password",
            args=[f"user@example.com:{PASSWORD}", "--replace", "--device=cli", "--ttl=60"],
            result={"session_token": TOKEN, "account": "user@example.com"},
            url=f"wss://user:{PASSWORD}@127.0.0.1:1",
        ))
        rec.record(_record(status="error", error={"type": "ServerError", "message": f"bad token {TOKEN}"}))
        rec.note_login(url="ws://127.0.0.1:1", account="user@example.com", ttl=60, expires_at=utc_now_iso())
    events = _chain_events(paths)
    assert events[0]["args"][0] == "user@example.com:<redacted>"
    assert events[0]["result_summary"]["session_token"] == "<redacted>"
    decoded = json.dumps(events)
    assert PASSWORD not in decoded and TOKEN not in decoded
    for f in paths.base.rglob("*"):
        if f.is_file():
            raw = f.read_bytes()
            assert PASSWORD.encode() not in raw and TOKEN.encode() not in raw, f


def test_server_errors_keep_the_whole_frame(paths: DataPaths) -> None:
    frame = {"id": "1a2b3c4d", "status": "error", "message": "No glyph_prompt found at this coordinate.",
             "coord": [-12817304, 4324025, 0]}
    with Recorder(paths) as rec:
        rec.record(_record(cmd="fail", status="error", result_code="SERVER_ERROR",
                           error={"type": "ServerError", "message": frame["message"], "frame": frame}))
    (entry,) = json.loads(paths.errors_json.read_text())
    assert entry["frame"] == frame
    assert entry["status"] == "error" and entry["cmd"] == "fail" and entry["message"] == frame["message"]


def test_empty_world_entry_matches_the_guide(paths: DataPaths) -> None:
    result = {"meta": {"version": 3}, "entities": {}, "location": {}, "environment": {}}
    with Recorder(paths) as rec:
        rec.record(_record(cmd="worldstate_snapshot", status="error", result_code="EMPTY_WORLD", result=result,
                           error={"type": "EmptyWorldError", "message": "World not initialized: entities is empty"}))
    (entry,) = json.loads(paths.errors_json.read_text())
    assert {k: entry[k] for k in ("status", "code", "message", "cmd", "result")} == {
        "status": "error", "code": "EMPTY_WORLD", "message": "World not initialized: entities is empty",
        "cmd": "worldstate_snapshot", "result": result,
    }
    assert entry["timestamp"]


def test_timeouts_and_client_failures_go_to_the_error_channel(paths: DataPaths) -> None:
    with Recorder(paths) as rec:
        rec.record(_record(status="timeout", result_code="ACK_TIMEOUT",
                           error={"type": "AckTimeoutError", "message": "no ack within 1s"}))
        rec.record(_record(status="finished"))
    errors = json.loads(paths.errors_json.read_text())
    assert [(e["status"], e["code"], e["type"]) for e in errors] == [("timeout", "ACK_TIMEOUT", "AckTimeoutError")]


def test_stats_and_last_login_live_in_the_state_store(paths: DataPaths) -> None:
    from deltaram import DeltaRAM

    with Recorder(paths) as rec:
        rec.record(_record(cmd="echo"))
        rec.record(_record(cmd="echo"))
        rec.record(_record(cmd="fail", status="error", result_code="BOOM", error={"type": "ServerError", "message": "x"}))
        rec.note_login(url="ws://127.0.0.1:9", account="user@example.com", ttl=60, expires_at="2030-01-01T00:00:00+00:00")
    with DeltaRAM(paths.state) as state:
        stats = state.get("cli_stats")
        login = state.get("last_login")
    assert stats["total_runs"] == 3
    assert stats["commands"] == {"echo": 2, "fail": 1}
    assert stats["errors"] == 1 and stats["errors_by_code"] == {"BOOM": 1}
    assert stats["last_run"]["cmd"] == "fail"
    assert login["account"] == "user@example.com" and login["ttl"] == 60 and "password" not in json.dumps(login)


def test_logs_are_written_and_redacted(paths: DataPaths) -> None:
    with Recorder(paths) as rec:
        rec.record(_record(status="error", error={"type": "ConnectionFailedError",
                                                  "message": f"wss://u:{PASSWORD}@h refused"}))
    for handler in __import__("logging").getLogger("procedura_sdk").handlers:
        handler.flush()
    system = (paths.system_logs / "procedura.log").read_text()
    failures = (paths.failure_logs / "failures.log").read_text()
    assert "cmd=echo" in system and "ConnectionFailedError" in failures
    assert PASSWORD not in system + failures


def test_a_sink_that_cannot_be_written_warns_and_the_others_still_work(tmp_path: Path) -> None:
    """runtime_ram/cli_events is a plain file: the chain cannot open, the mirror still gets the event."""
    paths = DataPaths.from_env(tmp_path)
    paths.runtime.mkdir(parents=True)
    paths.events_chain.write_text("in the way")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with Recorder(paths, log_files=False) as rec:
            record = _record()
            rec.record(record)
            event = rec.redact_event(record)
    messages = [str(w.message) for w in caught if issubclass(w.category, RecordingWarning)]
    assert any(str(paths.events_chain) in m for m in messages), messages
    assert json.loads(paths.events_json.read_text()) == [event]
    assert paths.events_chain.read_text() == "in the way"  # nothing stored was touched


def test_an_unwritable_data_root_never_raises(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with Recorder(DataPaths.from_env(blocker)) as rec:
            rec.record(_record())
    assert caught and all(issubclass(w.category, RecordingWarning) for w in caught)
    assert all(str(blocker) in str(w.message) for w in caught)


def test_last_n_and_rebuild_from_the_chain(paths: DataPaths) -> None:
    with Recorder(paths, log_files=False) as rec:
        for i in range(30):
            rec.record(_record(cmd="echo" if i % 3 else "fail", status="finished" if i % 3 else "error",
                               msg_id=f"{i:08x}", error=None if i % 3 else {"type": "ServerError", "message": "x"}))
    log = EventLog(paths)
    assert [e["msg_id"] for e in log.last(3)] == [f"{i:08x}" for i in (27, 28, 29)]
    assert [e["msg_id"] for e in log.last(2, cmd="fail")] == [f"{i:08x}" for i in (24, 27)]
    before_events = paths.events_json.read_text()
    before_errors = json.loads(paths.errors_json.read_text())
    paths.events_json.write_text("[\n{\"torn")
    paths.errors_json.unlink()
    assert log.rebuild_mirrors() == (30, 10)
    assert json.loads(paths.events_json.read_text()) == json.loads(before_events)
    assert json.loads(paths.errors_json.read_text()) == before_errors


_WRITER = textwrap.dedent(
    """
    import sys, warnings
    warnings.simplefilter("error")
    from procedura_sdk.observability import DataPaths, EventRecord, Recorder, utc_now_iso
    with Recorder(DataPaths.from_env(sys.argv[1]), log_files=False) as rec:
        for i in range(int(sys.argv[3])):
            rec.record(EventRecord(cmd="echo", args=[sys.argv[2], str(i)], ts=utc_now_iso(), status="finished"))
    """
)


def test_concurrent_recorders_lose_nothing(tmp_path: Path) -> None:
    from deltaram import DeltaRAM

    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path), f"w{w}", "40"]) for w in range(3)]
    for p in procs:
        assert p.wait(timeout=180) == 0
    paths = DataPaths.from_env(tmp_path)
    chain = _chain_events(paths)
    mirror = json.loads(paths.events_json.read_text())
    assert len(chain) == len(mirror) == 120
    assert sorted(map(json.dumps, chain)) == sorted(map(json.dumps, mirror))
    with DeltaRAM(paths.state) as state:
        assert state.get("cli_stats")["total_runs"] == 120


def test_background_mode_writes_everything_in_order_by_flush(paths: DataPaths) -> None:
    with Recorder(paths, background=True, log_files=False) as rec:
        for i in range(200):
            rec.record(_record(msg_id=f"{i:08x}", status="finished" if i % 5 else "error",
                               error=None if i % 5 else {"type": "ServerError", "message": "x"}))
        rec.note_login(url="ws://127.0.0.1:9", account="a@b.c", ttl=5, expires_at="2030-01-01T00:00:00+00:00")
        rec.flush()
        chain = _chain_events(paths)
        assert [e["msg_id"] for e in chain] == [f"{i:08x}" for i in range(200)]
        assert json.loads(paths.events_json.read_text()) == chain
        assert len(json.loads(paths.errors_json.read_text())) == 40
    from deltaram import DeltaRAM

    with DeltaRAM(paths.state) as state:
        assert state.get("cli_stats")["total_runs"] == 200
        assert state.get("last_login")["account"] == "a@b.c"


def test_background_problems_surface_as_warnings_in_the_callers_thread(tmp_path: Path) -> None:
    paths = DataPaths.from_env(tmp_path)
    paths.runtime.mkdir(parents=True)
    paths.events_chain.write_text("in the way")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rec = Recorder(paths, background=True, log_files=False)
        rec.record(_record())
        rec.flush()
        rec.close()
    assert any(str(paths.events_chain) in str(w.message) for w in caught if issubclass(w.category, RecordingWarning))


_EXITING_WRITER = textwrap.dedent(
    """
    import sys
    from procedura_sdk.observability import DataPaths, EventRecord, Recorder, utc_now_iso
    rec = Recorder(DataPaths.from_env(sys.argv[1]), background=True, log_files=False)
    for i in range(50):
        rec.record(EventRecord(cmd="echo", args=[str(i)], ts=utc_now_iso(), status="finished"))
    # no flush, no close: the interpreter's exit must still write everything
    """
)


def test_background_records_reach_the_disk_at_interpreter_exit(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-c", _EXITING_WRITER, str(tmp_path)], check=True, timeout=120)
    assert len(_chain_events(DataPaths.from_env(tmp_path))) == 50


_FORKING_WRITER = textwrap.dedent(
    """
    import os, sys
    from procedura_sdk.observability import DataPaths, EventRecord, Recorder, utc_now_iso
    rec = Recorder(DataPaths.from_env(sys.argv[1]), background=True, log_files=False)
    rec.record(EventRecord(cmd="echo", args=["parent"], ts=utc_now_iso(), status="finished"))
    rec.flush()
    pid = os.fork()
    if pid == 0:  # the child has no writer thread: its records must still be written
        rec.record(EventRecord(cmd="echo", args=["child"], ts=utc_now_iso(), status="finished"))
        os._exit(0)
    os.waitpid(pid, 0)
    rec.close()
    """
)


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_a_forked_child_records_without_the_parents_writer_thread(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-c", _FORKING_WRITER, str(tmp_path)], check=True, timeout=120)
    args = [e["args"] for e in _chain_events(DataPaths.from_env(tmp_path))]
    assert args == [["parent"], ["child"]]


def test_a_log_file_that_cannot_be_written_warns_once_without_a_traceback(tmp_path: Path, capfd) -> None:
    paths = DataPaths.from_env(tmp_path)
    (paths.system_logs / "procedura.log").mkdir(parents=True)  # in the way of the log file
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with Recorder(paths) as rec:
                rec.record(_record())
                rec.record(_record())
        messages = [str(w.message) for w in caught if issubclass(w.category, RecordingWarning)]
        assert len([m for m in messages if "procedura.log" in m]) == 1, messages
        assert "Logging error" not in capfd.readouterr().err
        assert len(_chain_events(paths)) == 2  # the records themselves were written
    finally:
        detach_log_files(paths)


def test_an_append_cut_short_by_a_full_disk_leaves_the_array_as_it_was(tmp_path: Path, monkeypatch) -> None:
    """ENOSPC part-way through the write (injected at os.pwrite: a full disk cannot be made
    here portably; tests/bitstream/test_disk_full_real.py shows the real one for the chain)."""
    import errno
    import os as os_module

    from procedura_sdk.observability import JsonArrayFile
    from procedura_sdk.observability import json_array as json_array_module

    path = tmp_path / "events.json"
    target = JsonArrayFile(path)
    target.extend([{"n": 1}, {"n": 2}])
    before = path.read_bytes()
    real_pwrite = os_module.pwrite
    calls = {"n": 0}

    def pwrite_then_full(fd, data, offset):
        calls["n"] += 1
        if calls["n"] == 1:  # the append's first write lands only in part
            return real_pwrite(fd, bytes(data)[: len(data) // 2], offset)
        if calls["n"] == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_pwrite(fd, data, offset)  # restoring the old tail

    monkeypatch.setattr(json_array_module.os, "pwrite", pwrite_then_full)
    with pytest.raises(OSError):
        target.append({"n": 3, "pad": "x" * 100})
    monkeypatch.setattr(json_array_module.os, "pwrite", real_pwrite)
    assert path.read_bytes() == before
    target.append({"n": 4})
    assert json.loads(path.read_text()) == [{"n": 1}, {"n": 2}, {"n": 4}]


def test_events_can_be_read_from_a_read_only_filesystem(small_filesystem) -> None:
    fs = small_filesystem("20m")
    paths = DataPaths.from_env(fs.path)
    with Recorder(paths, log_files=False) as rec:
        rec.record(_record(msg_id="0000000a"))
        rec.record(_record(msg_id="0000000b"))
    with fs.read_only():
        log = EventLog(paths)
        assert [e["msg_id"] for e in log.last(1)] == ["0000000b"]
        assert [e["msg_id"] for e in log] == ["0000000a", "0000000b"]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with Recorder(paths, log_files=False) as rec:
                rec.record(_record(msg_id="0000000c"))  # cannot be written: warned, not raised
        assert caught and all(issubclass(w.category, RecordingWarning) for w in caught)
    assert [e["msg_id"] for e in EventLog(paths)] == ["0000000a", "0000000b"]


def test_a_lost_events_json_is_reported_with_the_way_back(paths: DataPaths) -> None:
    with Recorder(paths, log_files=False) as rec:
        rec.record(_record(msg_id="00000001"))
        rec.record(_record(msg_id="00000002"))
    paths.events_json.unlink()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with Recorder(paths, log_files=False) as rec:
            rec.record(_record(msg_id="00000003"))
    (message,) = [str(w.message) for w in caught if issubclass(w.category, RecordingWarning)]
    assert "2 earlier events are in the chain" in message and "--rebuild-json" in message
    assert EventLog(paths).rebuild_mirrors() == (3, 0)
    assert [e["msg_id"] for e in json.loads(paths.events_json.read_text())] == ["00000001", "00000002", "00000003"]
