"""login_password: the token file, switching the connection, the record, and never leaking the credential."""

from __future__ import annotations

import base64
import json
import os
import stat

import pytest
from procedura_devserver import DEMO_EMAIL, DEMO_PASSWORD
from procedura_sdk import AuthenticationError, LoginResult, ServerError, TokenStore
from procedura_sdk.agent.login import account_of, login_args


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def dump(record) -> str:
    return json.dumps(record.to_dict(), default=str)


def test_login_saves_token_and_switches_to_it(make_agent, recorder, token_store, demo_credential, world):
    agent = make_agent(token="")
    result = agent.login_password(demo_credential, ttl=120, device="laptop")
    assert isinstance(result, LoginResult)
    assert result.account == DEMO_EMAIL and result.device == "laptop" and result.ttl == 120
    assert result.token_file == token_store.path
    saved = token_store.load()
    assert saved and saved == result.token
    assert any(s.token == saved for s in world.live_sessions())
    if os.name == "posix":
        assert mode(token_store.path) == 0o600
        assert mode(token_store.path.parent) == 0o700
    # The token is never shown.
    assert saved not in repr(result) and saved not in str(result)
    # The next command runs on a connection that carries the new token.
    assert not agent.connected
    assert agent.run("echo", ["after login"]) == {"args": ["after login"]}
    assert agent.has_token


def test_login_record_and_note_login(make_agent, recorder, demo_credential):
    agent = make_agent(token="")
    result = agent.login_password(demo_credential)
    record = recorder.only
    assert record.cmd == "login_password" and record.status == "finished"
    assert record.args == ["demo@procedura.dev:<redacted>", "--replace", "--device=cli", "--ttl=3600"]
    text = dump(record)
    assert DEMO_PASSWORD not in text and result.token not in text
    assert recorder.logins == [
        {"url": agent.url, "account": DEMO_EMAIL, "ttl": result.ttl, "expires_at": result.expires_at}
    ]


def test_login_with_base64_credential_and_attach(make_agent, demo_credential):
    agent = make_agent(token="")
    encoded = base64.b64encode(demo_credential.encode()).decode()
    first = agent.login_password("b64:" + encoded, device="tablet")
    second = make_agent(token="").login_password(encoded, replace=False, device="tablet")
    assert second.attached and second.token == first.token
    assert second.account == DEMO_EMAIL


def test_wrong_password(make_agent, recorder):
    agent = make_agent(token="")
    credential = f"{DEMO_EMAIL}:wrong-horse-battery"
    with pytest.raises(AuthenticationError) as caught:
        agent.login_password(credential)
    assert caught.value.code == "AUTH_FAILED"
    assert "wrong-horse-battery" not in str(caught.value)
    assert "wrong-horse-battery" not in json.dumps(caught.value.frame)
    record = recorder.only
    assert record.result_code == "AUTH_FAILED" and record.status == "error"
    assert "wrong-horse-battery" not in dump(record)
    assert recorder.logins == []


def test_bad_login_arguments_are_a_server_error(make_agent, demo_credential):
    agent = make_agent(token="")
    with pytest.raises(ServerError) as caught:
        agent.login_password(demo_credential, ttl=-5)
    assert caught.value.code == "BAD_ARGS"


def test_login_with_a_stale_saved_token_falls_back_to_anonymous(make_agent, token_store, demo_credential):
    token_store.save("stale-token-from-last-week")
    agent = make_agent()  # token=None: the saved (stale) token
    result = agent.login_password(demo_credential)
    assert token_store.load() == result.token != "stale-token-from-last-week"
    assert agent.run("echo", ["x"]) == {"args": ["x"]}


def test_saved_token_is_used_by_default(make_agent, token, token_store):
    token_store.save(token)
    agent = make_agent()
    assert agent.has_token
    assert agent.run("echo", ["x"]) == {"args": ["x"]}


def test_token_file_from_environment(world, recorder, tmp_path, monkeypatch, demo_credential):
    from procedura_sdk import RemoteAgent

    path = tmp_path / "env" / "token"
    monkeypatch.setenv("PROCEDURA_TOKEN_FILE", str(path))
    with RemoteAgent(world.url, token="", recorder=recorder) as agent:
        result = agent.login_password(demo_credential)
    assert result.token_file == path and TokenStore().load() == result.token


def test_unsavable_token_warns_but_logs_in(make_agent, tmp_path, demo_credential):
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("x")
    agent = make_agent(token="", token_store=TokenStore(blocker / "token"))
    with pytest.warns(UserWarning, match="could not save the session token"):
        result = agent.login_password(demo_credential)
    assert result.token_file is None
    assert agent.run("echo", ["x"]) == {"args": ["x"]}


@pytest.mark.parametrize("bad", ["", "no-colon-and-not-base64!", "b64:!!!", ":pw-secret-1", "zz@x.y:"])
def test_unusable_credentials_are_refused_locally_without_quoting_them(make_agent, recorder, bad):
    agent = make_agent(token="")
    with pytest.raises(ValueError) as caught:
        agent.login_password(bad)
    if bad:
        assert bad not in str(caught.value)
    assert recorder.records == []


def test_account_of_forms():
    plain = "a@b.c:pw"
    assert account_of(plain) == "a@b.c"
    encoded = base64.b64encode(plain.encode()).decode()
    assert account_of(encoded) == account_of("b64:" + encoded) == "a@b.c"
    urlsafe = base64.urlsafe_b64encode(b"x@y.z:p?>~").decode().rstrip("=")
    assert account_of("b64:" + urlsafe) == "x@y.z"


def test_login_args():
    assert login_args("c", replace=True, device="cli", ttl=3600) == [
        "c", "--replace", "--device=cli", "--ttl=3600",
    ]
    assert login_args("c", replace=False, device="d", ttl=1.5) == [
        "c", "--attach", "--device=d", "--ttl=1.5",
    ]


def test_debug_logs_never_hold_the_token_or_the_password(make_agent, caplog, demo_credential):
    import logging

    caplog.set_level(logging.DEBUG)
    agent = make_agent(token="")
    result = agent.login_password(demo_credential)
    agent.run("echo", ["x"])
    with pytest.raises(AuthenticationError):
        make_agent(token="").login_password(f"{DEMO_EMAIL}:wrong-horse-battery")
    # The engine runs in this process and logs too: look only at the client side.
    ours = [r for r in caplog.records if r.name.startswith(("websockets.client", "procedura_sdk"))]
    text = "\n".join(r.getMessage() for r in ours)
    # websockets did log the handshakes and the frames...
    assert "Sec-WebSocket-Protocol" in text and "TEXT" in text
    # ...but not the secrets in them.
    assert result.token not in text
    assert DEMO_PASSWORD not in text and "wrong-horse-battery" not in text
