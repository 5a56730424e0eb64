"""RemoteAgent.run against the local world engine over real loopback sockets: results, records, faults."""

from __future__ import annotations

import json
import re

import pytest
from procedura_sdk import (
    AckTimeoutError,
    AuthenticationError,
    ConnectionLostError,
    EmptyWorldError,
    FinalTimeoutError,
    ProtocolViolationError,
    ServerError,
)


def assert_wall_clock(ts):
    assert isinstance(ts, str) and ts.endswith("+00:00")


def test_run_returns_result_and_records_once(agent, recorder):
    assert agent.run("echo", ["a", "--b=1"]) == {"args": ["a", "--b=1"]}
    record = recorder.only
    assert record.cmd == "echo" and record.args == ["a", "--b=1"] and record.mode == "sync"
    assert record.status == "finished" and record.result_code == "OK"
    assert record.result == {"args": ["a", "--b=1"]} and record.error is None
    assert re.fullmatch(r"[0-9a-f]{8}", record.msg_id)
    assert record.job_id and record.job_id.startswith("job_")
    for ts in (record.ts, record.ack_ts, record.final_ts):
        assert_wall_clock(ts)
    assert record.ts <= record.ack_ts <= record.final_ts
    assert 0 <= record.ack_latency_ms <= record.final_latency_ms
    assert record.payload_size == len(
        json.dumps({"id": record.msg_id, "job_id": record.job_id, "status": "finished",
                    "result": {"args": ["a", "--b=1"]}}, separators=(",", ":"))
    )
    assert record.agent_version.startswith("procedura-sdk/")
    assert set(record.env) >= {"python", "platform"}
    assert record.url == agent.url


def test_one_connection_is_reused(agent, recorder):
    agent.run("echo")
    first = agent._channel._sock
    agent.run("echo")
    agent.worldstate_snapshot()
    assert agent._channel._sock is first
    assert len(recorder.records) == 3
    assert len({r.msg_id for r in recorder.records}) == 3


def test_connection_is_lazy(make_agent, token):
    agent = make_agent(token=token)
    assert not agent.connected
    agent.run("echo")
    assert agent.connected


def test_on_phase_reports_progress(make_agent, token):
    phases = []
    agent = make_agent(token=token, on_phase=phases.append)
    agent.run("echo")
    assert phases == ["connecting", "waiting for ack", "running"]
    agent.run("echo")
    assert phases[3:] == ["waiting for ack", "running"]


def test_a_failing_on_phase_does_not_fail_the_command(make_agent, token, caplog):
    def broken(name):
        raise RuntimeError("display broke")

    agent = make_agent(token=token, on_phase=broken)
    assert agent.run("echo", ["x"]) == {"args": ["x"]}
    assert "on_phase" in caplog.text


def test_server_error_carries_whole_frame(agent, recorder):
    with pytest.raises(ServerError) as caught:
        agent.run("fail", ["--code=NO_GLYPH", "--coord=-12817304,4324025,0"])
    err = caught.value
    assert err.code == "NO_GLYPH"
    assert err.frame["coord"] == [-12817304, 4324025, 0]
    assert err.message == "No glyph_prompt found at this coordinate."
    record = recorder.only
    assert record.status == "error" and record.result_code == "NO_GLYPH"
    assert record.error["type"] == "ServerError"
    assert record.error["frame"] == err.frame
    assert record.ack_ts is not None and record.final_ts is not None


def test_server_error_without_code(agent, recorder):
    with pytest.raises(ServerError) as caught:
        agent.run("fail")
    assert caught.value.code == "SERVER_ERROR"
    assert recorder.only.result_code == "SERVER_ERROR"


def test_unknown_module_is_a_server_error(agent, recorder):
    with pytest.raises(ServerError) as caught:
        agent.run("no_such_module")
    assert caught.value.code == "UNKNOWN_MODULE"
    assert recorder.only.ack_ts is None


# -- faults -------------------------------------------------------------------------


def test_ack_delay_beyond_ack_timeout(world, agent, recorder):
    world.faults.set("ack-delay", 1.0)
    with pytest.raises(AckTimeoutError) as caught:
        agent.run("echo", ack_timeout=0.2)
    assert caught.value.timeout == 0.2
    record = recorder.only
    assert record.status == "timeout" and record.result_code == "ACK_TIMEOUT"
    assert record.ack_ts is None and record.final_ts is None
    assert record.error["type"] == "AckTimeoutError"


def test_ack_delay_within_ack_timeout(world, agent):
    world.faults.set("ack-delay", 0.2)
    assert agent.run("echo", ["x"]) == {"args": ["x"]}


def test_late_answers_to_a_timed_out_request_are_not_taken_for_the_next(world, agent, recorder):
    world.faults.set("ack-delay", 0.3)
    with pytest.raises(AckTimeoutError):
        agent.run("echo", ["first"], ack_timeout=0.05)
    world.faults.clear()
    # The first request's ack and final arrive while this one waits: they must be ignored.
    world.faults.set("final-delay", 0.5)
    assert agent.run("echo", ["second"]) == {"args": ["second"]}
    assert [r.result_code for r in recorder.records] == ["ACK_TIMEOUT", "OK"]


def test_no_ack(world, agent, recorder):
    world.faults.set("no-ack")
    with pytest.raises(AckTimeoutError):
        agent.run("echo", ack_timeout=0.2)
    assert recorder.only.result_code == "ACK_TIMEOUT"


def test_final_delay_beyond_final_timeout(world, agent, recorder):
    world.faults.set("final-delay", 1.0)
    with pytest.raises(FinalTimeoutError) as caught:
        agent.run("echo", final_timeout=0.3)
    record = recorder.only
    assert caught.value.job_id == record.job_id
    assert record.status == "timeout" and record.result_code == "FINAL_TIMEOUT"
    assert record.ack_ts is not None and record.final_ts is None
    assert record.ack_latency_ms is not None and record.final_latency_ms is None


def test_drop_after_ack_is_connection_lost_then_reconnects(world, agent, recorder):
    world.faults.set("drop-after-ack")
    with pytest.raises(ConnectionLostError) as caught:
        agent.run("echo")
    record = recorder.records[0]
    assert caught.value.job_id == record.job_id is not None
    assert record.status == "error" and record.result_code == "CONNECTION_LOST"
    assert "may still have run" in str(caught.value)
    world.faults.clear()
    assert agent.run("echo", ["again"]) == {"args": ["again"]}


def test_empty_world_via_worldstate_snapshot(world, agent, recorder):
    world.faults.set("empty-world")
    with pytest.raises(EmptyWorldError) as caught:
        agent.worldstate_snapshot()
    assert caught.value.result["entities"] == {}
    record = recorder.only
    assert record.cmd == "worldstate_snapshot" and record.args == ["--terse"]
    assert record.status == "error" and record.result_code == "EMPTY_WORLD"
    assert record.error["message"] == "World not initialized: entities is empty"
    assert record.error["code"] == "EMPTY_WORLD"
    assert record.result == caught.value.result
    assert record.final_ts is not None and record.payload_size > 0


def test_empty_world_via_run(world, agent, recorder):
    world.faults.set("empty-world")
    with pytest.raises(EmptyWorldError):
        agent.run("worldstate_snapshot", [])
    assert recorder.only.result_code == "EMPTY_WORLD"


def test_populated_world_is_not_empty(agent):
    snapshot = agent.worldstate_snapshot(terse=False)
    assert snapshot["entities"]


def test_malformed_frame_is_a_protocol_violation(world, agent, recorder):
    world.faults.set("malformed-frame")
    with pytest.raises(ProtocolViolationError) as caught:
        agent.run("echo")
    assert "not JSON" in str(caught.value)
    record = recorder.only
    assert record.status == "error" and record.result_code == "PROTOCOL_VIOLATION"
    # The connection is not trusted after that: the next command opens a new one.
    assert not agent.connected
    world.faults.clear()
    assert agent.run("echo", ["ok"]) == {"args": ["ok"]}


def test_messages_up_to_8_mib_are_accepted(world, agent, recorder):
    size = 8 * 1024 * 1024 - 1024
    world.faults.set("oversized-frame", size)
    result = agent.run("echo", ["big"])
    assert result["args"] == ["big"] and len(result["padding"]) > size - 1024
    assert recorder.only.payload_size == size


def test_message_over_max_size_is_a_protocol_violation(world, agent, recorder):
    world.faults.set("oversized-frame", 9 * 1024 * 1024)
    with pytest.raises(ProtocolViolationError) as caught:
        agent.run("echo")
    assert caught.value.code == "MESSAGE_TOO_BIG"
    assert "max_size" in str(caught.value)
    assert recorder.only.result_code == "MESSAGE_TOO_BIG"


def test_max_size_is_an_option(world, make_agent, token):
    world.faults.set("oversized-frame", 100_000)
    small = make_agent(token=token, max_size=64 * 1024)
    with pytest.raises(ProtocolViolationError):
        small.run("echo")
    roomy = make_agent(token=token, max_size=16 * 1024 * 1024)
    world.faults.set("oversized-frame", 9 * 1024 * 1024)
    assert roomy.run("echo", ["x"])["args"] == ["x"]


def test_error_without_ack(world, agent, recorder):
    world.faults.set("error-without-ack")
    with pytest.raises(ServerError) as caught:
        agent.run("echo")
    assert caught.value.code == "INJECTED_FAULT"
    record = recorder.only
    assert record.ack_ts is None and record.final_ts is not None
    assert record.status == "error" and record.result_code == "INJECTED_FAULT"
    assert record.error["frame"]["status"] == "error"


def test_foreign_frames_are_ignored(world, agent, recorder):
    world.faults.set("foreign-frames")
    assert agent.run("echo", ["mine"]) == {"args": ["mine"]}
    assert recorder.only.result_code == "OK"


def test_final_by_job_id_only(world, agent, recorder):
    world.faults.set("final-by-job-id-only")
    assert agent.run("echo", ["mine"]) == {"args": ["mine"]}


def test_foreign_frames_and_final_by_job_id_only_together(world, agent):
    world.faults.update({"foreign-frames": True, "final-by-job-id-only": True})
    assert agent.run("echo", ["mine"]) == {"args": ["mine"]}


# -- authentication -------------------------------------------------------------------


def test_no_token_only_login_is_allowed(make_agent, recorder):
    agent = make_agent(token="")
    with pytest.raises(AuthenticationError) as caught:
        agent.run("echo")
    assert caught.value.code == "AUTH_REQUIRED"
    assert recorder.only.result_code == "AUTH_REQUIRED"
    assert recorder.only.status == "error"


def test_bad_token_is_refused_at_handshake(make_agent, recorder):
    agent = make_agent(token="not-a-real-token")
    with pytest.raises(AuthenticationError) as caught:
        agent.run("echo")
    assert "401" in str(caught.value)
    assert "not-a-real-token" not in str(caught.value)
    record = recorder.only
    assert record.result_code == "AUTH_FAILED" and record.msg_id is None
    assert "not-a-real-token" not in json.dumps(record.to_dict(), default=str)


def test_revoked_token_mid_connection(world, agent, token, recorder):
    agent.run("echo")
    assert world.sessions.revoke(token)
    with pytest.raises(AuthenticationError) as caught:
        agent.run("echo")
    assert caught.value.code == "AUTH_REQUIRED"
    assert caught.value.frame["status"] == "error"
    assert [r.result_code for r in recorder.records] == ["OK", "AUTH_REQUIRED"]


def test_expired_token_is_refused_at_handshake(recorder, token_store):
    from procedura_devserver import DEMO_EMAIL, WorldEngine
    from procedura_sdk import RemoteAgent

    now = [1_000_000.0]
    with WorldEngine(clock=lambda: now[0]).running() as engine:
        token = engine.issue_session(DEMO_EMAIL, ttl=60)
        with RemoteAgent(engine.url, token=token, recorder=recorder, token_store=token_store) as agent:
            assert agent.run("echo", ["fresh"]) == {"args": ["fresh"]}
            agent.close()
            now[0] += 61
        with RemoteAgent(engine.url, token=token, recorder=recorder, token_store=token_store) as agent:
            with pytest.raises(AuthenticationError) as caught:
                agent.run("echo")
    assert "expired" in str(caught.value)
    assert recorder.records[-1].result_code == "AUTH_FAILED"
