"""stream() on both faces, the asyncio face itself, cancellation and Ctrl-C: every path records once."""

from __future__ import annotations

import asyncio
import signal
import threading
import time

import pytest
from procedura_sdk import (
    AckTimeoutError,
    ConnectionLostError,
    EmptyWorldError,
    RemoteAgent,
    ServerError,
)

STEPS = ["--steps", "3", "--interval", "0.01"]


def statuses(frames):
    return [f["status"] for f in frames]


def test_stream_yields_started_running_finished(agent, recorder):
    frames = list(agent.stream("long_job", STEPS))
    assert statuses(frames) == ["started", "running", "running", "running", "finished"]
    assert frames[1]["progress"] == {"done": 1, "total": 3}
    assert frames[-1]["result"] == {"steps": 3, "interval": 0.01}
    record = recorder.only
    assert record.mode == "async" and record.status == "finished" and record.result_code == "OK"
    assert record.job_id == frames[0]["job_id"]
    assert record.ack_latency_ms <= record.final_latency_ms


@pytest.mark.parametrize("faults", [{"foreign-frames": True}, {"final-by-job-id-only": True}])
def test_stream_under_addressing_faults(world, agent, faults):
    world.faults.update(faults)
    frames = list(agent.stream("long_job", STEPS))
    assert statuses(frames) == ["started", "running", "running", "running", "finished"]
    assert all(not f.get("result", {}).get("foreign") for f in frames if f["status"] == "finished")


def test_stream_error_after_started(agent, recorder):
    seen = []
    with pytest.raises(ServerError) as caught:
        for frame in agent.stream("fail", ["--code=NO_GLYPH"]):
            seen.append(frame)
    assert statuses(seen) == ["started"]
    assert caught.value.frame["coord"]
    assert recorder.only.result_code == "NO_GLYPH"


def test_stream_stopped_early_records_and_frees_the_agent(agent, recorder):
    frames = agent.stream("long_job", ["--steps", "50", "--interval", "0.02"])
    for frame in frames:
        if frame["status"] == "running":
            break
    frames.close()
    record = recorder.only
    assert record.result_code == "STREAM_CLOSED" and record.status == "running"
    assert record.error is None
    # The agent is free again, and the abandoned job's frames do not confuse it.
    assert agent.run("echo", ["next"]) == {"args": ["next"]}


def test_stream_timeouts(world, agent, recorder):
    world.faults.set("no-ack")
    with pytest.raises(AckTimeoutError):
        list(agent.stream("long_job", STEPS, ack_timeout=0.2))
    assert recorder.only.status == "timeout"


def test_stream_drop_after_started(world, agent, recorder):
    world.faults.set("drop-after-ack")
    seen = []
    with pytest.raises(ConnectionLostError):
        for frame in agent.stream("long_job", STEPS):
            seen.append(frame)
    assert statuses(seen) == ["started"]
    assert recorder.only.result_code == "CONNECTION_LOST"


def test_stream_empty_world(world, agent, recorder):
    world.faults.set("empty-world")
    with pytest.raises(EmptyWorldError):
        list(agent.stream("worldstate_snapshot"))
    assert recorder.only.result_code == "EMPTY_WORLD"


# -- the asyncio face -------------------------------------------------------------------


def test_async_agent_run_and_stream(make_async_agent, token, recorder):
    async def main():
        async with make_async_agent(token=token) as agent:
            result = await agent.run("echo", ["x"])
            frames = [frame async for frame in agent.stream("long_job", STEPS)]
            snapshot = await agent.worldstate_snapshot()
        return result, frames, snapshot

    result, frames, snapshot = asyncio.run(main())
    assert result == {"args": ["x"]}
    assert statuses(frames)[-1] == "finished"
    assert snapshot["entities"]
    assert [r.result_code for r in recorder.records] == ["OK", "OK", "OK"]


def test_async_commands_on_one_agent_queue_up(make_async_agent, token, recorder):
    async def main():
        async with make_async_agent(token=token) as agent:
            return await asyncio.gather(*(agent.run("echo", [str(i)]) for i in range(5)))

    results = asyncio.run(main())
    assert results == [{"args": [str(i)]} for i in range(5)]
    assert len(recorder.records) == 5


def test_async_cancellation_is_recorded(make_async_agent, token, recorder):
    async def main():
        async with make_async_agent(token=token) as agent:
            task = asyncio.ensure_future(
                agent.run("long_job", ["--steps", "100", "--interval", "0.05"])
            )
            while not recorder.records and agent._lock.locked() is False:
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.1)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            # The connection is still usable afterwards.
            return await agent.run("echo", ["after"])

    assert asyncio.run(main()) == {"args": ["after"]}
    first = recorder.records[0]
    assert first.cmd == "long_job" and first.status == "error"
    assert first.result_code == "CANCELLED" and first.error["type"] == "CancelledError"
    assert recorder.records[1].result_code == "OK"


def test_abandoned_async_stream_records(make_async_agent, token, recorder):
    async def main():
        async with make_async_agent(token=token) as agent:
            frames = agent.stream("long_job", ["--steps", "20", "--interval", "0.02"])
            async for frame in frames:
                if frame["status"] == "running":
                    break
            await frames.aclose()
            return await agent.run("echo", ["after"])

    assert asyncio.run(main()) == {"args": ["after"]}
    assert [r.result_code for r in recorder.records] == ["STREAM_CLOSED", "OK"]


# -- the sync face where a loop already runs; Ctrl-C -------------------------------------


def test_sync_face_inside_a_running_event_loop(world, token, recorder, token_store):
    async def notebook_cell():
        assert asyncio.get_running_loop().is_running()
        with RemoteAgent(world.url, token=token, recorder=recorder, token_store=token_store) as agent:
            return agent.run("echo", ["nb"]), list(agent.stream("long_job", STEPS))

    result, frames = asyncio.run(notebook_cell())
    assert result == {"args": ["nb"]}
    assert statuses(frames)[-1] == "finished"


@pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="needs pthread_kill")
def test_ctrl_c_during_run_is_recorded_then_raised(agent, recorder):
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals reach the main thread only")
    agent.run("echo")  # connected, so the interrupt lands while waiting for the job
    main = threading.main_thread().ident

    def interrupt():
        deadline = time.monotonic() + 10
        while len(recorder.records) < 1 or not agent._lock.locked():
            if time.monotonic() > deadline:
                return
            time.sleep(0.01)
        time.sleep(0.1)
        signal.pthread_kill(main, signal.SIGINT)

    helper = threading.Thread(target=interrupt)
    helper.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            agent.run("long_job", ["--steps", "200", "--interval", "0.05"])
    finally:
        helper.join()
    record = recorder.records[1]
    assert record.cmd == "long_job"
    assert record.status == "error" and record.result_code == "INTERRUPTED"
    assert record.error["type"] == "KeyboardInterrupt"
    assert len(recorder.records) == 2
    # Still usable after the interruption.
    assert agent.run("echo", ["after"]) == {"args": ["after"]}
