"""Each fault as a client observes it over real loopback sockets; faults change while running."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets.exceptions
from procedura_devserver import DEMO_EMAIL, DEMO_PASSWORD, FAULT_NAMES, FaultError, WorldEngine


async def frames_in_order(wire, ws, count):
    return [await wire.recv(ws) for _ in range(count)]


def test_the_documented_fault_names():
    assert FAULT_NAMES == (
        "ack-delay",
        "no-ack",
        "final-delay",
        "drop-after-ack",
        "empty-world",
        "malformed-frame",
        "oversized-frame",
        "error-without-ack",
        "foreign-frames",
        "final-by-job-id-only",
    )


@pytest.mark.parametrize(
    "bad",
    [
        {"no-such-fault": True},
        {"ack-delay": True},
        {"oversized-frame": "big"},
        {"no-ack": 3},
        ["final-delay=-1"],
    ],
)
def test_bad_fault_settings_are_refused(bad):
    with pytest.raises(FaultError):
        WorldEngine(faults=bad)


LOGIN = ["login_password", [f"{DEMO_EMAIL}:{DEMO_PASSWORD}"]]


async def send_login(wire, ws):
    # Faults never apply to login, so its answer is a marker that comes at once.
    return await wire.send(ws, *LOGIN)


def test_no_ack_answers_nothing(engine, wire, arun, token):
    engine.faults.set("no-ack")

    async def scenario():
        async with wire.connect(engine.url, token=token) as ws:
            silent = await wire.send(ws, "echo")
            marker = await send_login(wire, ws)
            answered = await frames_in_order(wire, ws, 2)
            try:
                # Bounded wait for a frame that must never come.
                extra = await asyncio.wait_for(ws.recv(), 0.3)
            except asyncio.TimeoutError:
                extra = None
            return silent, marker, answered, extra

    silent, marker, answered, extra = arun(scenario())
    assert [(f["id"], f["status"]) for f in answered] == [(marker, "ack"), (marker, "finished")]
    assert extra is None


def test_ack_delay_lets_an_undelayed_request_answer_first(engine, wire, arun, token):
    engine.faults.set("ack-delay", 0.3)

    async def scenario():
        async with wire.connect(engine.url, token=token) as ws:
            late = await wire.send(ws, "echo")
            marker = await send_login(wire, ws)
            return late, marker, await frames_in_order(wire, ws, 4)

    late, marker, frames = arun(scenario())
    assert [(f["id"], f["status"]) for f in frames] == [
        (marker, "ack"),
        (marker, "finished"),
        (late, "ack"),
        (late, "finished"),
    ]


def test_final_delay_comes_between_ack_and_final(engine, wire, arun, token):
    engine.faults.set("final-delay", 0.3)

    async def scenario():
        async with wire.connect(engine.url, token=token) as ws:
            late = await wire.send(ws, "echo")
            first = await wire.recv(ws)  # the ack is not delayed
            marker = await send_login(wire, ws)
            return late, marker, [first, *await frames_in_order(wire, ws, 3)]

    late, marker, frames = arun(scenario())
    assert [(f["id"], f["status"]) for f in frames] == [
        (late, "ack"),
        (marker, "ack"),
        (marker, "finished"),
        (late, "finished"),
    ]


def test_faults_set_while_running_apply_to_the_next_requests(engine, wire, arun, token):
    assert arun(wire.call(engine.url, "echo", token=token))[0]["status"] == "ack"
    engine.faults.set("error-without-ack")
    assert arun(wire.call(engine.url, "echo", token=token))[0]["status"] == "error"
    engine.faults.clear()
    assert arun(wire.call(engine.url, "echo", token=token))[0]["status"] == "ack"


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_drop_after_ack_closes_the_connection_without_a_close_frame(
    engine, wire, arun, token, mode
):
    engine.faults.set("drop-after-ack")

    async def scenario():
        async with wire.connect(engine.url, token=token) as ws:
            request_id = await wire.send(ws, "echo", [], mode)
            first = await wire.recv(ws)
            with pytest.raises(websockets.exceptions.ConnectionClosedError) as closed:
                await wire.recv(ws)
            return request_id, first, closed.value

    request_id, first, closed = arun(scenario())
    assert first["id"] == request_id and first["status"] in ("ack", "started")
    assert closed.rcvd is None  # no close frame: the TCP connection just went away


def test_empty_world_empties_only_the_entities(engine, wire, arun, token):
    engine.faults.set("empty-world")
    for args in ([], ["--terse"]):
        world = arun(wire.call(engine.url, "worldstate_snapshot", args, token=token))[-1]["result"]
        assert world["entities"] == {} and world["meta"]["version"] == 3
        assert "location" in world and "environment" in world


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_malformed_frame_arrives_instead_of_the_final_one(engine, wire, arun, token, mode):
    engine.faults.set("malformed-frame")

    async def scenario():
        async with wire.connect(engine.url, token=token) as ws:
            await wire.send(ws, "echo", [], mode)
            return await wire.recv(ws), await ws.recv()

    first, raw = arun(scenario())
    assert first["status"] in ("ack", "started")
    assert isinstance(raw, str)
    with pytest.raises(ValueError):
        json.loads(raw)


def test_oversized_frame_exceeds_a_default_client_limit(engine, wire, arun, token):
    size = 2 * 1024 * 1024  # websockets clients refuse more than 1 MiB unless told otherwise
    engine.faults.set("oversized-frame", size)

    async def read_with(max_size):
        async with wire.connect(engine.url, token=token, max_size=max_size) as ws:
            await wire.send(ws, "echo", ["x"])
            ack = await wire.recv(ws)
            return ack, await ws.recv()

    ack, raw = arun(read_with(None))
    assert len(raw.encode()) == size
    final = json.loads(raw)
    assert final["status"] == "finished" and final["result"]["args"] == ["x"]
    with pytest.raises(websockets.exceptions.ConnectionClosedError) as closed:
        arun(read_with(2**20))
    assert closed.value.sent.code == 1009  # the client closed: message too big


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_error_without_ack_is_the_first_and_only_frame(engine, wire, arun, token, mode):
    engine.faults.set("error-without-ack")
    (frame,) = arun(wire.call(engine.url, "echo", [], mode, token=token))
    assert frame["status"] == "error" and frame["code"] == "INJECTED_FAULT"


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_foreign_frames_come_before_and_between_the_real_ones(engine, wire, arun, token, mode):
    engine.faults.set("foreign-frames")

    async def scenario():
        async with wire.connect(engine.url, token=token) as ws:
            request_id = await wire.send(ws, "long_job", ["--steps=2", "--interval=0"], mode)
            seen = []
            while not (
                seen
                and seen[-1].get("status") in ("finished", "error")
                and (seen[-1].get("id") == request_id)
            ):
                seen.append(await wire.recv(ws))
            return request_id, seen

    request_id, seen = arun(scenario())
    mine = [i for i, f in enumerate(seen) if f.get("id") == request_id]
    job_id = seen[mine[0]]["job_id"]
    assert mine[0] > 0, "foreign frames come first"
    assert all(b - a > 1 for a, b in zip(mine, mine[1:], strict=False)), (
        "and between every real frame"
    )
    foreign = [f for f in seen if f.get("id") != request_id]
    assert all(f.get("job_id") != job_id for f in foreign)
    assert any("id" in f for f in foreign)  # for another request
    assert any("id" not in f and "job_id" in f for f in foreign)  # for another job
    assert any("id" not in f and "job_id" not in f for f in foreign)  # for nobody


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_final_by_job_id_only(engine, wire, arun, token, mode):
    engine.faults.set("final-by-job-id-only")
    frames = arun(
        wire.call(engine.url, "long_job", ["--steps=1", "--interval=0"], mode, token=token)
    )
    first, *later = frames
    assert first["id"] and first["job_id"]
    assert later[-1]["status"] == "finished"
    assert all("id" not in f and f["job_id"] == first["job_id"] for f in later)


def test_faults_never_touch_login(wire, arun):
    faults = ["no-ack", "error-without-ack", "malformed-frame", "drop-after-ack", "foreign-frames"]
    with WorldEngine(faults=faults).running() as engine:
        frames = arun(wire.call(engine.url, "login_password", [f"{DEMO_EMAIL}:{DEMO_PASSWORD}"]))
    assert [f["status"] for f in frames] == ["ack", "finished"]


def test_faults_given_at_start_and_changed_while_running(wire, arun):
    with WorldEngine(faults=["empty-world", "ack-delay=0.01"]).running() as engine:
        assert engine.faults.snapshot().active() == {"empty-world": True, "ack-delay": 0.01}
        token = engine.issue_session(DEMO_EMAIL)
        world = arun(wire.call(engine.url, "worldstate_snapshot", token=token))[-1]["result"]
        assert world["entities"] == {}
        engine.faults.clear("empty-world")
        world = arun(wire.call(engine.url, "worldstate_snapshot", token=token))[-1]["result"]
        assert world["entities"] != {}
