"""Each module in sync and async mode, over real loopback sockets."""

from __future__ import annotations

import pytest

SYNC, ASYNC = "sync", "async"


def statuses(frames):
    return [f["status"] for f in frames]


@pytest.mark.parametrize("mode", [SYNC, ASYNC])
def test_echo_returns_its_args(engine, wire, arun, token, mode):
    frames = arun(wire.call(engine.url, "echo", ["a", "--b=c", ""], mode, token=token))
    assert statuses(frames) == ["ack" if mode == SYNC else "started", "finished"]
    assert frames[0]["job_id"] == frames[1]["job_id"]
    assert frames[1]["result"] == {"args": ["a", "--b=c", ""]}


@pytest.mark.parametrize("mode", [SYNC, ASYNC])
def test_worldstate_snapshot_full_form(engine, wire, arun, token, mode):
    world = arun(wire.call(engine.url, "worldstate_snapshot", [], mode, token=token))[-1]["result"]
    assert world["meta"]["version"] == 3
    assert 6 <= len(world["entities"]) <= 10
    for entity_id, entity in world["entities"].items():
        assert entity["id"] == entity_id and {"kind", "name", "coord"} <= set(entity)
    assert world["location"]["coord"] == [-12817304, 4324025, 0]
    assert {"time_of_day", "weather"} <= set(world["environment"])


def test_worldstate_snapshot_terse_is_shorter_and_stable(engine, wire, arun, token):
    full = arun(wire.call(engine.url, "worldstate_snapshot", [], token=token))[-1]["result"]
    terse = arun(wire.call(engine.url, "worldstate_snapshot", ["--terse"], token=token))[-1][
        "result"
    ]
    again = arun(wire.call(engine.url, "worldstate_snapshot", ["--terse"], token=token))[-1][
        "result"
    ]
    assert terse == again
    assert set(terse) == {"meta", "entities", "location", "environment"}
    assert set(terse["entities"]) == set(full["entities"])
    assert len(str(terse)) < len(str(full))


def test_long_job_sync_acks_then_finishes_without_updates(engine, wire, arun, token):
    frames = arun(
        wire.call(engine.url, "long_job", ["--steps", "3", "--interval", "0.01"], token=token)
    )
    assert statuses(frames) == ["ack", "finished"]
    assert frames[1]["result"] == {"steps": 3, "interval": 0.01}


def test_long_job_async_streams_progress(engine, wire, arun, token):
    frames = arun(
        wire.call(engine.url, "long_job", ["--steps=3", "--interval=0.01"], ASYNC, token=token)
    )
    assert statuses(frames) == ["started", "running", "running", "running", "finished"]
    assert [f["progress"] for f in frames[1:4]] == [{"done": n, "total": 3} for n in (1, 2, 3)]
    assert len({f["job_id"] for f in frames}) == 1


@pytest.mark.parametrize("mode", [SYNC, ASYNC])
def test_fail_gives_an_error_with_context_after_the_ack(engine, wire, arun, token, mode):
    first, error = arun(wire.call(engine.url, "fail", [], mode, token=token))
    assert first["status"] == ("ack" if mode == SYNC else "started")
    assert error["status"] == "error" and error["job_id"] == first["job_id"]
    assert error["message"] == "No glyph_prompt found at this coordinate."
    assert error["coord"] == [-12817304, 4324025, 0]


def test_fail_takes_its_message_code_and_coord(engine, wire, arun, token):
    args = ["--message=Nope.", "--code=NO_GLYPH", "--coord=1,2,3"]
    error = arun(wire.call(engine.url, "fail", args, token=token))[-1]
    assert (error["message"], error["code"], error["coord"]) == ("Nope.", "NO_GLYPH", [1, 2, 3])


@pytest.mark.parametrize("mode", [SYNC, ASYNC])
def test_init_character_adds_a_character_to_the_world(engine, wire, arun, token, mode):
    args = [
        "--gen-guidance=brave",
        "--gen-occ=smith",
        "--objective-text=Find the glyph.",
        "--interval=0",
    ]
    frames = arun(wire.call(engine.url, "init_character", args, mode, token=token))
    expected = ["running"] * 4 if mode == ASYNC else []
    assert statuses(frames)[1:] == [*expected, "finished"]
    result = frames[-1]["result"]
    assert result["entity"]["occupation"] == "smith"
    world = arun(wire.call(engine.url, "worldstate_snapshot", [], token=token))[-1]["result"]
    assert world["entities"][result["character_id"]]["objective"] == "Find the glyph."


def test_place_ooi_sprites_streams_each_placement(engine, wire, arun, token):
    args = ["--dry-run", "--n", "4", "--radius", "400"]
    frames = arun(wire.call(engine.url, "place_ooi_sprites", args, ASYNC, token=token))
    assert statuses(frames) == ["started", *["running"] * 4, "finished"]
    result = frames[-1]["result"]
    assert result["dry_run"] is True and len(result["placed"]) == 4
    x0, y0, _ = [-12817304, 4324025, 0]
    for sprite in result["placed"]:
        x, y, _ = sprite["coord"]
        assert abs(x - x0) <= 400 and abs(y - y0) <= 400 and "entity_id" not in sprite


def test_place_ooi_sprites_for_real_adds_entities(engine, wire, arun, token):
    before = arun(wire.call(engine.url, "worldstate_snapshot", [], token=token))[-1]["result"]
    final = arun(
        wire.call(engine.url, "place_ooi_sprites", ["--n=2", "--interval=0"], token=token)
    )[-1]
    after = arun(wire.call(engine.url, "worldstate_snapshot", [], token=token))[-1]["result"]
    added = set(after["entities"]) - set(before["entities"])
    assert added == {s["entity_id"] for s in final["result"]["placed"]}


@pytest.mark.parametrize("mode", [SYNC, ASYNC])
def test_unknown_module_is_refused_without_ack(engine, wire, arun, token, mode):
    (frame,) = arun(wire.call(engine.url, "teleport", [], mode, token=token))
    assert frame["status"] == "error" and frame["code"] == "UNKNOWN_MODULE"


def test_bad_args_are_refused_without_ack(engine, wire, arun, token):
    (frame,) = arun(wire.call(engine.url, "worldstate_snapshot", ["--verbose"], token=token))
    assert frame["code"] == "BAD_ARGS"


def test_requests_on_one_connection_are_answered_independently(engine, wire, arun, token):
    async def scenario():
        async with wire.connect(engine.url, token=token) as ws:
            slow = await wire.send(ws, "long_job", ["--steps=2", "--interval=0.3"])
            quick = await wire.send(ws, "echo", ["quick"])
            order = []
            while len(order) < 4:
                frame = await wire.recv(ws)
                order.append((frame["id"], frame["status"]))
            return slow, quick, order

    slow, quick, order = arun(scenario())
    # The quick request finishes while the slow one is still working.
    assert order.index((quick, "finished")) < order.index((slow, "finished"))


def test_different_accounts_see_their_own_worlds(engine, wire, arun):
    demo = engine.issue_session("demo@procedura.dev")
    ada = engine.issue_session("ada@example.org")
    world_a = arun(wire.call(engine.url, "worldstate_snapshot", [], token=demo))[-1]["result"]
    world_b = arun(wire.call(engine.url, "worldstate_snapshot", [], token=ada))[-1]["result"]
    assert world_a["meta"]["seed"] != world_b["meta"]["seed"]


def test_engine_runs_on_the_callers_event_loop(wire, arun):
    from procedura_devserver import DEMO_EMAIL, WorldEngine

    async def scenario():
        async with WorldEngine() as engine:
            token = engine.issue_session(DEMO_EMAIL)
            frames = await wire.call(engine.url, "echo", ["same loop"], token=token)
        return frames, engine

    frames, engine = arun(scenario())
    assert frames[-1]["result"] == {"args": ["same loop"]}
    with pytest.raises(RuntimeError):
        engine.url  # noqa: B018 - stopped engines have no URL
