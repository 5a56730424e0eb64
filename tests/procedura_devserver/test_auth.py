"""Accounts, login and session tokens over real loopback sockets."""

from __future__ import annotations

import base64
import time

import pytest
import websockets.exceptions
from procedura_devserver import DEMO_EMAIL, DEMO_PASSWORD, WorldEngine
from procedura_devserver.accounts import CredentialError, decode_credential
from procedura_devserver.sessions import SessionStore

DEMO = f"{DEMO_EMAIL}:{DEMO_PASSWORD}"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


async def login(wire, url, credential=DEMO, *flags, mode="sync", **connect):
    return await wire.call(url, "login_password", [credential, *flags], mode, **connect)


@pytest.mark.parametrize(
    "credential", [DEMO, b64(DEMO), "b64:" + b64(DEMO), "b64:" + b64(DEMO).rstrip("=")]
)
def test_login_plain_and_base64(engine, wire, arun, credential):
    ack, final = arun(login(wire, engine.url, credential, "--replace", "--device=cli", "--ttl=600"))
    assert ack["status"] == "ack" and ack["job_id"] == final["job_id"]
    result = final["result"]
    assert set(result) == {"session_token", "account", "device", "ttl", "expires_at", "attached"}
    assert (result["account"], result["device"], result["ttl"], result["attached"]) == (
        DEMO_EMAIL,
        "cli",
        600,
        False,
    )
    assert result["expires_at"].endswith("+00:00")
    assert [s.token for s in engine.live_sessions()] == [result["session_token"]]


def test_accounts_from_options_and_passwords_with_colons(engine, wire, arun):
    (_, final) = arun(login(wire, engine.url, "ada@example.org:pa:ss word"))
    assert final["result"]["account"] == "ada@example.org"


@pytest.mark.parametrize(
    "credential",
    [f"{DEMO_EMAIL}:wrong", "nobody@x.org:demo-password", "b64:%%%", b64("no-colon-inside")],
)
def test_bad_credentials_fail_at_once_without_ack(engine, wire, arun, credential):
    (frame,) = arun(login(wire, engine.url, credential))
    assert frame["status"] == "error" and frame["code"] == "AUTH_FAILED"
    assert engine.live_sessions() == []


def test_login_args_are_checked(engine, wire, arun):
    (frame,) = arun(login(wire, engine.url, DEMO, "--replace", "--attach"))
    assert frame["code"] == "BAD_ARGS"
    (frame,) = arun(login(wire, engine.url, DEMO, "--ttl=0"))
    assert frame["code"] == "BAD_ARGS"


def test_login_in_async_mode_starts_then_finishes(engine, wire, arun):
    started, final = arun(login(wire, engine.url, mode="async"))
    assert started["status"] == "started" and final["result"]["account"] == DEMO_EMAIL


def test_replace_revokes_only_that_devices_sessions(engine, wire, arun):
    async def scenario():
        first = (await login(wire, engine.url, DEMO, "--replace", "--device=laptop"))[-1]["result"]
        other = (await login(wire, engine.url, DEMO, "--replace", "--device=phone"))[-1]["result"]
        second = (await login(wire, engine.url, DEMO, "--replace", "--device=laptop"))[-1]["result"]
        return first, other, second

    first, other, second = arun(scenario())
    live = {s.token for s in engine.live_sessions()}
    assert live == {other["session_token"], second["session_token"]}
    assert first["session_token"] not in live


def test_attach_reuses_the_live_session_of_that_device(engine, wire, arun):
    async def scenario():
        made = (await login(wire, engine.url, DEMO, "--attach", "--device=box"))[-1]["result"]
        again = (await login(wire, engine.url, DEMO, "--attach", "--device=box", "--ttl=5"))[-1][
            "result"
        ]
        elsewhere = (await login(wire, engine.url, DEMO, "--attach", "--device=tv"))[-1]["result"]
        return made, again, elsewhere

    made, again, elsewhere = arun(scenario())
    assert made["attached"] is False and again["attached"] is True
    assert again["session_token"] == made["session_token"]
    assert again["expires_at"] == made["expires_at"] and again["ttl"] == 3600
    assert elsewhere["session_token"] != made["session_token"] and elsewhere["attached"] is False


def test_token_via_subprotocol_is_echoed(engine, wire, arun, token):
    async def scenario():
        async with wire.connect(engine.url, token=token) as ws:
            assert ws.subprotocol == token
            return await wire.answer(ws, await wire.send(ws, "echo", ["hi"]))

    assert arun(scenario())[-1]["result"] == {"args": ["hi"]}


def test_token_via_bearer_header(engine, wire, arun, token):
    async def scenario():
        async with wire.connect(engine.url, bearer=token) as ws:
            assert ws.subprotocol is None
            return await wire.answer(ws, await wire.send(ws, "echo", ["hi"]))

    assert arun(scenario())[-1]["status"] == "finished"


def test_logged_in_token_opens_a_connection(engine, wire, arun):
    async def scenario():
        token = (await login(wire, engine.url))[-1]["result"]["session_token"]
        return await wire.call(engine.url, "echo", ["x"], token=token, bearer=token)

    assert arun(scenario())[-1]["result"] == {"args": ["x"]}


def test_no_token_connects_but_only_login_is_allowed(engine, wire, arun):
    async def scenario():
        async with wire.connect(engine.url) as ws:
            refused = await wire.answer(ws, await wire.send(ws, "worldstate_snapshot"))
            allowed = await wire.answer(ws, await wire.send(ws, "login_password", [DEMO]))
            still_refused = await wire.answer(ws, await wire.send(ws, "echo"))
            return refused, allowed, still_refused

    (refused,), allowed, (still_refused,) = arun(scenario())
    assert refused["code"] == still_refused["code"] == "AUTH_REQUIRED"
    assert allowed[-1]["status"] == "finished"


@pytest.mark.parametrize("how", ["token", "bearer"])
def test_unknown_token_is_refused_at_the_handshake_with_401(engine, wire, arun, how):
    async def scenario():
        async with wire.connect(engine.url, **{how: "not-a-session"}):
            pass

    with pytest.raises(websockets.exceptions.InvalidStatusCode) as refused:
        arun(scenario())
    assert refused.value.status_code == 401


def test_tiny_ttl_expires_the_session_for_new_and_open_connections(engine, wire, arun):
    async def scenario():
        token = (await login(wire, engine.url, DEMO, "--ttl=0.3"))[-1]["result"]["session_token"]
        async with wire.connect(engine.url, token=token) as ws:
            before = await wire.answer(ws, await wire.send(ws, "echo"))
            time.sleep(0.4)  # just past the ttl
            after = await wire.answer(ws, await wire.send(ws, "echo"))
        return token, before, after

    token, before, (after,) = arun(scenario())
    assert before[-1]["status"] == "finished"
    assert after["code"] == "AUTH_REQUIRED"
    with pytest.raises(websockets.exceptions.InvalidStatusCode):
        arun(wire.call(engine.url, "echo", token=token))


def test_expiry_follows_the_engine_clock(wire, arun):
    now = [1_000_000.0]
    with WorldEngine(clock=lambda: now[0]).running() as engine:
        token = engine.issue_session(DEMO_EMAIL, ttl=60)
        assert arun(wire.call(engine.url, "echo", token=token))[-1]["status"] == "finished"
        now[0] += 60
        assert engine.live_sessions() == []
        with pytest.raises(websockets.exceptions.InvalidStatusCode):
            arun(wire.call(engine.url, "echo", token=token))


# -- the pieces, without sockets ------------------------------------------------


def test_decode_credential_forms():
    assert decode_credential("a@b.c:p:q") == ("a@b.c", "p:q")
    assert decode_credential(b64("a@b.c:p")) == ("a@b.c", "p")
    urlsafe = base64.urlsafe_b64encode("a@b.c:p>?~é".encode()).decode().rstrip("=")
    assert "_" in urlsafe or "-" in urlsafe
    assert decode_credential("b64:" + urlsafe) == ("a@b.c", "p>?~é")
    for bad in ["", "plain", "b64:", ":password", "b64:!!"]:
        with pytest.raises(CredentialError):
            decode_credential(bad)


def test_session_store_replace_attach_and_expiry_with_a_fake_clock():
    now = [0.0]
    store = SessionStore(clock=lambda: now[0])
    a = store.replace("x", "cli", 10)
    b, attached = store.attach("x", "cli", 99)
    assert attached and b == a
    now[0] = 10.0
    assert store.lookup(a.token) is None
    c, attached = store.attach("x", "cli", 5)
    assert not attached and c.token != a.token and c.expires == 15.0
    assert c.token not in repr(c)
