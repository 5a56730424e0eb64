"""The request/ack/final state machine, exercised without sockets."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from procedura_sdk.agent.protocol import (
    Acked,
    Disconnected,
    Exchange,
    Failed,
    Finished,
    Ignored,
    Progress,
    RequestIds,
    TimedOut,
    Violation,
    encode_request,
    request_frame,
)

ID = "1a2b3c4d"


def feed(exchange: Exchange, *frames):
    events = []
    for frame in frames:
        events.extend(exchange.receive(frame))
    return events


# -- requests -----------------------------------------------------------------


def test_request_ids_are_8_hex_and_unique():
    ids = RequestIds()
    issued = [ids.next() for _ in range(5000)]
    assert len(set(issued)) == len(issued)
    for msg_id in issued:
        assert len(msg_id) == 8
        int(msg_id, 16)
        assert msg_id == msg_id.lower()


def test_request_ids_retry_on_collision(monkeypatch):
    ids = RequestIds()
    values = iter([0xAAAAAAAA, 0xAAAAAAAA, 0xBBBBBBBB])
    monkeypatch.setattr(ids._random, "getrandbits", lambda n: next(values))
    assert ids.next() == "aaaaaaaa"
    assert ids.next() == "bbbbbbbb"


def test_request_frame_shape():
    frame = request_frame(ID, "echo", ["a", "--b=1"], "sync")
    assert frame == {"id": ID, "cmd": "echo", "args": ["a", "--b=1"], "mode": "sync"}
    assert json.loads(encode_request(ID, "long_job", None, "async")) == {
        "id": ID,
        "cmd": "long_job",
        "args": [],
        "mode": "async",
    }


@pytest.mark.parametrize(
    ("cmd", "args", "mode", "error"),
    [
        ("", [], "sync", ValueError),
        ("echo", [], "batch", ValueError),
        ("echo", "not-a-list", "sync", TypeError),
        ("echo", ["ok", 3], "sync", TypeError),
    ],
)
def test_request_frame_rejects_bad_input(cmd, args, mode, error):
    with pytest.raises(error):
        request_frame(ID, cmd, args, mode)


def test_exchange_rejects_unknown_mode():
    with pytest.raises(ValueError):
        Exchange(ID, "batch")


# -- sync mode ----------------------------------------------------------------


def test_ack_then_final_by_id():
    ex = Exchange(ID)
    assert ex.awaiting == "ack"
    (acked,) = ex.receive({"id": ID, "status": "ack", "job_id": "j1"})
    assert acked == Acked("j1", {"id": ID, "status": "ack", "job_id": "j1"})
    assert ex.awaiting == "final" and ex.job_id == "j1" and ex.status == "ack" and ex.acked
    (fin,) = ex.receive({"id": ID, "status": "finished", "result": {"x": 1}})
    assert isinstance(fin, Finished) and fin.result == {"x": 1}
    assert ex.done and ex.awaiting is None and ex.status == "finished" and ex.outcome is fin


def test_final_addressed_only_by_job_id():
    ex = Exchange(ID)
    feed(ex, {"id": ID, "status": "ack", "job_id": "job-7"})
    (fin,) = ex.receive({"job_id": "job-7", "status": "finished", "result": 42})
    assert isinstance(fin, Finished) and fin.result == 42


def test_numeric_job_id_matches_its_string_form():
    ex = Exchange(ID)
    feed(ex, {"id": ID, "status": "ack", "job_id": 17})
    assert ex.job_id == "17"
    (fin,) = ex.receive({"job_id": 17, "status": "finished", "result": None})
    assert isinstance(fin, Finished)


def test_frame_by_job_id_before_any_ack_is_not_ours():
    ex = Exchange(ID)
    (ev,) = ex.receive({"job_id": "job-7", "status": "finished", "result": 1})
    assert isinstance(ev, Ignored) and ev.reason == "addressed to another job"
    assert not ex.done


def test_error_without_ack_keeps_the_whole_frame():
    ex = Exchange(ID)
    frame = {
        "id": ID,
        "status": "error",
        "code": "NO_GLYPH",
        "message": "No glyph_prompt found at this coordinate.",
        "coord": [-12817304, 4324025, 0],
    }
    (failed,) = ex.receive(frame)
    assert isinstance(failed, Failed)
    assert failed.frame is frame and failed.code == "NO_GLYPH"
    assert failed.message == "No glyph_prompt found at this coordinate."
    assert ex.done and ex.status == "error" and not ex.acked


def test_error_code_absent_or_blank():
    assert Failed({"status": "error"}).code is None
    assert Failed({"status": "error", "code": ""}).code is None
    assert Failed({"status": "error"}).message == ""


def test_finished_without_ack():
    ex = Exchange(ID)
    (fin,) = ex.receive({"id": ID, "status": "finished", "result": "r", "job_id": "j"})
    assert isinstance(fin, Finished) and ex.job_id == "j" and not ex.acked


def test_finished_without_result_key_gives_none():
    ex = Exchange(ID)
    (fin,) = ex.receive({"id": ID, "status": "finished"})
    assert fin.result is None


def test_error_after_ack_by_job_id():
    ex = Exchange(ID)
    feed(ex, {"id": ID, "status": "ack", "job_id": "j"})
    (failed,) = ex.receive({"job_id": "j", "status": "error", "message": "boom"})
    assert isinstance(failed, Failed) and ex.acked


def test_running_frames_in_sync_mode_are_progress():
    ex = Exchange(ID)
    feed(ex, {"id": ID, "status": "ack", "job_id": "j"})
    (p,) = ex.receive({"job_id": "j", "status": "running", "progress": 0.5})
    assert isinstance(p, Progress) and ex.status == "running" and ex.awaiting == "final"


def test_running_before_ack_stands_in_for_the_ack():
    ex = Exchange(ID)
    events = ex.receive({"id": ID, "status": "running", "job_id": "j"})
    assert [type(e) for e in events] == [Acked, Progress]
    assert ex.job_id == "j" and ex.status == "running" and ex.acked


def test_duplicate_ack_is_ignored():
    ex = Exchange(ID)
    feed(ex, {"id": ID, "status": "ack"})
    (ev,) = ex.receive({"id": ID, "status": "ack"})
    assert isinstance(ev, Ignored) and ev.reason == "duplicate ack"
    assert ex.awaiting == "final"


def test_ack_without_job_id_then_final_by_id():
    ex = Exchange(ID)
    (acked,) = ex.receive({"id": ID, "status": "ack"})
    assert acked.job_id is None
    # Without a job id, a job-addressed frame cannot be ours.
    (ev,) = ex.receive({"job_id": "x", "status": "finished"})
    assert isinstance(ev, Ignored)
    (fin,) = ex.receive({"id": ID, "status": "finished", "result": 1})
    assert isinstance(fin, Finished)


def test_job_id_learned_from_running_frame_after_ack_without_one():
    ex = Exchange(ID)
    feed(ex, {"id": ID, "status": "ack"}, {"id": ID, "status": "running", "job_id": "late"})
    (fin,) = ex.receive({"job_id": "late", "status": "finished"})
    assert isinstance(fin, Finished)


# -- foreign frames -----------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        ({"id": "ffffffff", "status": "finished", "result": 1}, "addressed to another request"),
        ({"id": "ffffffff", "status": "garbage"}, "addressed to another request"),
        ({"status": "finished", "result": 1}, "addressed to nobody"),
        ({"status": "error", "message": "hello"}, "addressed to nobody"),
        ({"event": "tick"}, "addressed to nobody"),
        ({}, "addressed to nobody"),
        ({"job_id": "other", "status": "finished"}, "addressed to another job"),
        ({"id": 12345678, "status": "finished"}, "addressed to another request"),
    ],
)
def test_foreign_frames_are_ignored_in_every_state(frame, reason):
    for prefix in ([], [{"id": ID, "status": "ack", "job_id": "mine"}]):
        ex = Exchange(ID)
        feed(ex, *prefix)
        before = (ex.state, ex.status, ex.job_id)
        (ev,) = ex.receive(frame)
        assert ev == Ignored(frame, reason)
        assert (ex.state, ex.status, ex.job_id) == before


def test_id_wins_over_a_foreign_job_id():
    ex = Exchange(ID)
    feed(ex, {"id": ID, "status": "ack", "job_id": "mine"})
    (ev,) = ex.receive({"id": "ffffffff", "job_id": "mine", "status": "finished"})
    assert isinstance(ev, Ignored) and ev.reason == "addressed to another request"


def test_frames_after_the_end_are_ignored():
    ex = Exchange(ID)
    feed(ex, {"id": ID, "status": "finished", "result": 1})
    (ev,) = ex.receive({"id": ID, "status": "error"})
    assert isinstance(ev, Ignored) and ev.reason == "exchange already complete"
    (ev,) = ex.receive_data("not json")
    assert isinstance(ev, Ignored)
    assert ex.expire("final") == [] and ex.connection_lost() == []
    assert ex.status == "finished"


# -- violations ---------------------------------------------------------------


@pytest.mark.parametrize("data", ["not json", "{", b"\xff\xfe", "", "{'id': 1}"])
def test_undecodable_text_is_a_violation(data):
    ex = Exchange(ID)
    (ev,) = ex.receive_data(data)
    assert isinstance(ev, Violation) and ev.frame == data
    assert ex.done and ex.outcome is ev


@pytest.mark.parametrize("frame", [[1, 2], "text", 3, None, True])
def test_non_object_json_is_a_violation(frame):
    ex = Exchange(ID)
    (ev,) = ex.receive_data(json.dumps(frame))
    assert isinstance(ev, Violation) and "not an object" in ev.reason


@pytest.mark.parametrize("status", [None, "", "done", 3, ["ack"]])
def test_our_frame_with_unknown_status_is_a_violation(status):
    ex = Exchange(ID)
    frame = {"id": ID} if status is None else {"id": ID, "status": status}
    (ev,) = ex.receive(frame)
    assert isinstance(ev, Violation) and ev.frame is frame


def test_job_addressed_frame_with_unknown_status_is_a_violation():
    ex = Exchange(ID)
    feed(ex, {"id": ID, "status": "ack", "job_id": "j"})
    (ev,) = ex.receive({"job_id": "j", "status": "??"})
    assert isinstance(ev, Violation)


def test_non_scalar_job_id_is_a_violation():
    ex = Exchange(ID)
    (ev,) = ex.receive({"id": ID, "status": "ack", "job_id": {"a": 1}})
    assert isinstance(ev, Violation)


# -- timers and disconnection ---------------------------------------------------


def test_ack_timer():
    ex = Exchange(ID)
    assert ex.expire("ack") == [TimedOut("ack")]
    assert ex.done and ex.status == "timeout"


def test_stale_ack_timer_after_ack_is_ignored():
    ex = Exchange(ID)
    feed(ex, {"id": ID, "status": "ack"})
    assert ex.expire("ack") == []
    assert ex.expire("final") == [TimedOut("final")]
    assert ex.status == "timeout" and ex.acked


def test_final_timer_before_ack_still_ends_the_exchange():
    ex = Exchange(ID)
    assert ex.expire("final") == [TimedOut("final")]


def test_expire_rejects_unknown_phase():
    with pytest.raises(ValueError):
        Exchange(ID).expire("later")


def test_connection_lost_mid_job():
    ex = Exchange(ID)
    feed(ex, {"id": ID, "status": "ack", "job_id": "j"})
    assert ex.connection_lost("closed 1006") == [Disconnected("closed 1006")]
    assert ex.done and ex.status == "ack" and ex.job_id == "j"


def test_terminal_flags():
    assert Finished(1, {}).terminal and Failed({}).terminal and TimedOut("ack").terminal
    assert Violation("x").terminal and Disconnected().terminal
    assert not Acked(None, {}).terminal and not Progress({}).terminal
    assert not Ignored({}, "x").terminal


# -- async mode ---------------------------------------------------------------


def test_async_started_running_finished():
    ex = Exchange(ID, "async")
    events = feed(
        ex,
        {"id": ID, "status": "started", "job_id": "j"},
        {"job_id": "j", "status": "running", "step": 1},
        {"id": ID, "status": "running", "step": 2},
        {"job_id": "j", "status": "finished", "result": {"steps": 2}},
    )
    assert [type(e) for e in events] == [Acked, Progress, Progress, Finished]
    assert events[-1].result == {"steps": 2}


def test_async_error_after_started():
    ex = Exchange(ID, "async")
    events = feed(
        ex,
        {"id": ID, "status": "started", "job_id": "j"},
        {"job_id": "j", "status": "error", "message": "no"},
    )
    assert [type(e) for e in events] == [Acked, Failed]


# -- property: foreign frames anywhere change nothing ---------------------------

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5))
other_ids = st.text(alphabet="0123456789abcdef", min_size=8, max_size=8).filter(lambda s: s != ID)
statuses = st.sampled_from(["ack", "started", "running", "finished", "error", "weird"])


@st.composite
def foreign_frames(draw):
    kind = draw(st.sampled_from(["other-id", "nobody", "other-job"]))
    frame = {"status": draw(statuses)}
    if kind == "other-id":
        frame["id"] = draw(other_ids)
        if draw(st.booleans()):
            frame["job_id"] = draw(st.sampled_from(["mine", "other"]))
    elif kind == "other-job":
        frame["job_id"] = draw(st.text(min_size=1, max_size=6).filter(lambda s: s != "mine"))
    if draw(st.booleans()):
        frame["result"] = draw(json_scalars)
    return frame


@st.composite
def conversations(draw):
    """A valid conversation for ID with job id 'mine', in either mode."""
    mode = draw(st.sampled_from(["sync", "async"]))
    frames = []
    with_ack = draw(st.booleans())
    if with_ack:
        frames.append({"id": ID, "status": "ack" if mode == "sync" else "started", "job_id": "mine"})
        for step in range(draw(st.integers(0, 3))):
            address = draw(st.sampled_from([{"id": ID}, {"job_id": "mine"}]))
            frames.append({**address, "status": "running", "step": step})
    end = draw(st.sampled_from(["finished", "error"]))
    address = {"id": ID}
    if with_ack and draw(st.booleans()):
        address = {"job_id": "mine"}
    final = {**address, "status": end}
    final["result" if end == "finished" else "message"] = draw(json_scalars)
    frames.append(final)
    return mode, frames


@settings(max_examples=300, deadline=None)
@given(conversations(), st.data())
def test_foreign_frames_interleaved_anywhere_change_nothing(conversation, data):
    mode, frames = conversation
    clean = Exchange(ID, mode)
    expected = feed(clean, *frames)

    noisy_frames = []
    foreign = []
    for frame in frames:
        extra = data.draw(st.lists(foreign_frames(), max_size=3))
        noisy_frames.extend(extra)
        foreign.extend(extra)
        noisy_frames.append(frame)
    noisy = Exchange(ID, mode)
    events = feed(noisy, *noisy_frames)

    assert [e for e in events if not isinstance(e, Ignored)] == expected
    ignored = [e for e in events if isinstance(e, Ignored)]
    assert [e.frame for e in ignored] == foreign
    assert (noisy.status, noisy.job_id, noisy.acked, noisy.outcome) == (
        clean.status,
        clean.job_id,
        clean.acked,
        clean.outcome,
    )
    assert expected[-1].terminal and noisy.done


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(foreign_frames(), st.dictionaries(st.text(max_size=4), json_scalars)), max_size=8))
def test_arbitrary_frame_sequences_never_crash(frames):
    ex = Exchange(ID)
    for frame in frames:
        events = ex.receive(frame)
        assert all(not e.terminal for e in events[:-1])
        if ex.done:
            assert events and events[-1].terminal
            break
