"""The Dispatcher without sockets: request text in, actions out."""

from __future__ import annotations

import json

import pytest
from procedura_devserver.accounts import DEMO_EMAIL, AccountBook
from procedura_devserver.faults import FaultSet
from procedura_devserver.protocol import Abort, Dispatcher, Send, Sleep, handshake_token
from procedura_devserver.sessions import SessionStore
from procedura_devserver.world import WorldStore


@pytest.fixture
def dispatcher() -> Dispatcher:
    return Dispatcher(AccountBook(), SessionStore(), WorldStore(), FaultSet())


@pytest.fixture
def token(dispatcher: Dispatcher) -> str:
    return dispatcher.sessions.issue(DEMO_EMAIL, "test", 3600).token


def request(cmd, args=(), mode="sync", rid="abc123"):
    return json.dumps({"id": rid, "cmd": cmd, "args": list(args), "mode": mode})


def frames(actions):
    """Decode sent frames; keep sleeps and aborts as they are."""
    out = []
    for action in actions:
        out.append(json.loads(action.text) if isinstance(action, Send) else action)
    return out


def test_sync_answer_is_ack_then_finished_sharing_the_job_id(dispatcher, token):
    ack, final = frames(dispatcher.answer(request("echo", ["a", "b"]), token))
    assert ack == {"id": "abc123", "status": "ack", "job_id": ack["job_id"]}
    assert final == {
        "id": "abc123",
        "job_id": ack["job_id"],
        "status": "finished",
        "result": {"args": ["a", "b"]},
    }


def test_job_ids_differ_between_requests(dispatcher, token):
    first = frames(dispatcher.answer(request("echo"), token))[0]["job_id"]
    second = frames(dispatcher.answer(request("echo"), token))[0]["job_id"]
    assert first != second


def test_async_long_job_streams_progress_between_waits(dispatcher, token):
    out = frames(
        dispatcher.answer(request("long_job", ["--steps=2", "--interval=0.5"], "async"), token)
    )
    started, wait1, run1, wait2, run2, final = out
    assert started["status"] == "started" and started["id"] == "abc123"
    assert wait1 == wait2 == Sleep(0.5)
    assert [run1["progress"], run2["progress"]] == [
        {"done": 1, "total": 2},
        {"done": 2, "total": 2},
    ]
    assert run1["job_id"] == final["job_id"] == started["job_id"]
    assert final["result"] == {"steps": 2, "interval": 0.5}


def test_sync_long_job_waits_but_sends_no_running_frames(dispatcher, token):
    out = frames(dispatcher.answer(request("long_job", ["--steps", "3", "--interval", "1"]), token))
    assert [f if isinstance(f, Sleep) else f["status"] for f in out] == [
        "ack",
        Sleep(1.0),
        Sleep(1.0),
        Sleep(1.0),
        "finished",
    ]


def test_fail_errors_after_the_ack_with_context(dispatcher, token):
    ack, error = frames(dispatcher.answer(request("fail"), token))
    assert ack["status"] == "ack"
    assert error == {
        "id": "abc123",
        "job_id": ack["job_id"],
        "status": "error",
        "message": "No glyph_prompt found at this coordinate.",
        "coord": [-12817304, 4324025, 0],
    }


@pytest.mark.parametrize(
    ("text", "has_id"),
    [
        ("not json", False),
        ("[1]", False),
        ('{"cmd": "echo"}', False),
        ('{"id": "x", "args": []}', True),
        ('{"id": "x", "cmd": "echo", "args": "a"}', True),
        ('{"id": "x", "cmd": "echo", "mode": "later"}', True),
    ],
)
def test_bad_requests_get_one_bad_request_error(dispatcher, token, text, has_id):
    (frame,) = frames(dispatcher.answer(text, token))
    assert frame["status"] == "error" and frame["code"] == "BAD_REQUEST"
    assert ("id" in frame) is has_id


def test_mode_defaults_to_sync_and_args_to_empty(dispatcher, token):
    out = frames(dispatcher.answer(json.dumps({"id": 7, "cmd": "echo"}), token))
    assert [f["status"] for f in out] == ["ack", "finished"]
    assert out[1]["id"] == 7 and out[1]["result"] == {"args": []}


def test_unknown_module_is_refused_at_once(dispatcher, token):
    (frame,) = frames(dispatcher.answer(request("teleport"), token))
    assert frame["code"] == "UNKNOWN_MODULE" and frame["id"] == "abc123"


def test_bad_module_args_are_refused_at_once(dispatcher, token):
    (frame,) = frames(dispatcher.answer(request("long_job", ["--steps=-1"]), token))
    assert frame["code"] == "BAD_ARGS" and "job_id" not in frame


@pytest.mark.parametrize("cmd", ["echo", "worldstate_snapshot", "teleport"])
def test_without_token_only_login_is_allowed(dispatcher, cmd):
    (frame,) = frames(dispatcher.answer(request(cmd), None))
    assert frame == {
        "id": "abc123",
        "status": "error",
        "code": "AUTH_REQUIRED",
        "message": frame["message"],
    }


def test_revoked_token_is_refused_on_the_open_connection(dispatcher, token):
    dispatcher.sessions.revoke(token)
    (frame,) = frames(dispatcher.answer(request("echo"), token))
    assert frame["code"] == "AUTH_REQUIRED"
    assert not dispatcher.admits(token) and dispatcher.admits(None)


def test_login_without_token_issues_a_session(dispatcher):
    ack, final = frames(
        dispatcher.answer(request("login_password", [f"{DEMO_EMAIL}:demo-password"]), None)
    )
    result = final["result"]
    assert ack["status"] == "ack"
    assert result["account"] == DEMO_EMAIL and result["device"] == "cli" and result["ttl"] == 3600
    assert dispatcher.admits(result["session_token"])


def test_wrong_password_fails_without_ack(dispatcher):
    (frame,) = frames(dispatcher.answer(request("login_password", [f"{DEMO_EMAIL}:nope"]), None))
    assert frame["code"] == "AUTH_FAILED" and frame["status"] == "error"
    assert "nope" not in json.dumps(frame)


# -- faults ---------------------------------------------------------------------


def with_faults(dispatcher, **faults):
    dispatcher.faults.update({k.replace("_", "-"): v for k, v in faults.items()})
    return dispatcher


def test_no_ack_answers_nothing(dispatcher, token):
    assert list(with_faults(dispatcher, no_ack=True).answer(request("echo"), token)) == []


def test_delays_come_before_the_ack_and_before_the_final(dispatcher, token):
    with_faults(dispatcher, ack_delay=2, final_delay=3)
    out = frames(dispatcher.answer(request("echo"), token))
    assert [f if isinstance(f, Sleep) else f["status"] for f in out] == [
        Sleep(2.0),
        "ack",
        Sleep(3.0),
        "finished",
    ]


def test_drop_after_ack_aborts_after_the_ack(dispatcher, token):
    out = frames(with_faults(dispatcher, drop_after_ack=True).answer(request("echo"), token))
    assert out[0]["status"] == "ack" and out[1:] == [Abort()]


def test_error_without_ack_is_the_only_frame(dispatcher, token):
    (frame,) = frames(
        with_faults(dispatcher, error_without_ack=True).answer(request("echo"), token)
    )
    assert frame["status"] == "error" and frame["id"] == "abc123" and "job_id" not in frame


def test_malformed_frame_replaces_the_final_frame(dispatcher, token):
    ack, bad = list(with_faults(dispatcher, malformed_frame=True).answer(request("echo"), token))
    assert json.loads(ack.text)["status"] == "ack"
    with pytest.raises(ValueError):
        json.loads(bad.text)


@pytest.mark.parametrize("size", [1, 500, 100_000])
def test_oversized_frame_has_exactly_the_asked_size_or_its_natural_one(dispatcher, token, size):
    ack, final = list(with_faults(dispatcher, oversized_frame=size).answer(request("echo"), token))
    natural = len(
        json.dumps(
            {
                "id": "abc123",
                "job_id": json.loads(ack.text)["job_id"],
                "status": "finished",
                "result": {"args": [], "padding": ""},
            },
            separators=(",", ":"),
        )
    )
    assert len(final.text.encode()) == max(size, natural)
    assert json.loads(final.text)["result"]["args"] == []


def test_final_by_job_id_only_drops_the_id_after_the_start(dispatcher, token):
    with_faults(dispatcher, final_by_job_id_only=True)
    started, *rest = frames(
        dispatcher.answer(request("long_job", ["--steps=1", "--interval=0"], "async"), token)
    )
    running, final = [f for f in rest if not isinstance(f, Sleep)]
    assert started["id"] == "abc123"
    assert "id" not in running and "id" not in final
    assert running["job_id"] == final["job_id"] == started["job_id"]


def test_foreign_frames_precede_every_real_frame_and_never_match(dispatcher, token):
    out = frames(with_faults(dispatcher, foreign_frames=True).answer(request("echo"), token))
    ours = [f for f in out if f.get("id") == "abc123"]
    assert [f["status"] for f in ours] == ["ack", "finished"]
    job_id = ours[0]["job_id"]
    foreign = [f for f in out if f.get("id") != "abc123"]
    assert foreign and all(f.get("job_id") != job_id for f in foreign)
    assert any("id" not in f and "job_id" not in f for f in foreign)  # addressed to nobody
    assert any("id" not in f and "job_id" in f for f in foreign)  # another job
    assert out[0].get("id") != "abc123" and out.index(ours[1]) > out.index(ours[0]) + 1


def test_empty_world_empties_entities_only(dispatcher, token):
    with_faults(dispatcher, empty_world=True)
    _, final = frames(dispatcher.answer(request("worldstate_snapshot"), token))
    assert final["result"]["entities"] == {} and final["result"]["meta"]["version"] == 3


def test_faults_never_touch_login(dispatcher):
    with_faults(dispatcher, no_ack=True, error_without_ack=True, ack_delay=5, malformed_frame=True)
    out = frames(
        dispatcher.answer(request("login_password", [f"{DEMO_EMAIL}:demo-password"]), None)
    )
    assert [f["status"] for f in out] == ["ack", "finished"]


# -- handshake ------------------------------------------------------------------


def test_handshake_prefers_the_subprotocol_over_the_bearer_header():
    assert handshake_token(["tok1"], "Bearer tok2") == ("tok1", True)
    assert handshake_token([], "Bearer tok2") == ("tok2", False)
    assert handshake_token([], "bearer  tok3 ") == ("tok3", False)
    assert handshake_token([], "Basic abc") == (None, False)
    assert handshake_token([], None) == (None, False)
