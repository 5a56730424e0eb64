"""The redaction rules, one by one: keys, arguments, values, registered secrets."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from procedura_sdk.observability.redaction import (
    REDACTED,
    Redactor,
    is_sensitive_key,
    key_words,
    redact_credential,
)


@pytest.mark.parametrize(
    "key",
    [
        "password", "PASSWORD", "passwd", "token", "secret", "session_token", "sessionToken",
        "X-Api-Key", "api_key", "apikey", "Authorization", "auth", "credentials", "private_key",
        "privateKey", "cookie", "Set-Cookie", "session", "sessionid", "csrftoken", "client_secret",
        "db.password", "accessToken", "refresh-token", "mysql_pwd", "X-Forwarded-For",
    ],
)
def test_sensitive_keys(key: str) -> None:
    assert is_sensitive_key(key)


@pytest.mark.parametrize(
    "key",
    [
        "tokens_used", "tokens", "token_count", "max_tokens", "token_type", "token_file",
        "password_expires_at", "author", "keyboard", "key", "monkey", "entities", "status",
        "session_ttl", "cmd", "args", "result_summary", "coord", "message", "passage",
    ],
)
def test_harmless_keys(key: str) -> None:
    assert not is_sensitive_key(key)


def test_key_words_split_on_separators_and_camel_case() -> None:
    assert key_words("X-Api-Key") == ["x", "api", "key"]
    assert key_words("sessionToken") == ["session", "token"]
    assert key_words("HTTPAuthHeader") == ["http", "auth", "header"]


def test_nested_values_under_sensitive_keys_are_hidden_whole() -> None:
    r = Redactor()
    out = r.redact({"outer": {"credentials": {"user": "a", "pw": "b"}, "n": [1, {"token": 5}]}})
    assert out == {"outer": {"credentials": REDACTED, "n": [1, {"token": REDACTED}]}}


def test_url_userinfo_password_is_hidden_but_user_kept() -> None:
    r = Redactor()
    assert r.redact_text("wss://alice:s3cret@vt.example:33000/x") == f"wss://alice:{REDACTED}@vt.example:33000/x"
    assert r.redact_text("wss://vt.example:33000/x") == "wss://vt.example:33000/x"


def test_bearer_and_basic_credentials() -> None:
    r = Redactor()
    assert r.redact_text("Authorization: Bearer abc.def-ghi") == f"Authorization: Bearer {REDACTED}"
    assert r.redact_text("basic dXNlcjpwYXNz") == f"basic {REDACTED}"


def test_key_value_pairs_in_text() -> None:
    r = Redactor()
    assert r.redact_text("GET /?token=abc&page=2") == f"GET /?token={REDACTED}&page=2"
    assert r.redact_text("tokens_used=12") == "tokens_used=12"
    assert r.redact_text("{'password': 'hunter2', 'x': 'y'}") == f"{{'password': '{REDACTED}', 'x': 'y'}}"
    assert r.redact_text('{"api_key": "a\\"b", "ok": 1}') == f'{{"api_key": "{REDACTED}", "ok": 1}}'


def test_secret_flags_inside_text_and_results() -> None:
    r = Redactor()
    assert r.redact({"args": ["--password=hunter2", "hi"]}) == {"args": [f"--password={REDACTED}", "hi"]}
    assert r.redact_text("ran with -token=abc and --tokens-used=3") == (
        f"ran with -token={REDACTED} and --tokens-used=3"
    )


def test_registered_secrets_vanish_everywhere() -> None:
    r = Redactor()
    token = "Zm9vYmFyLXNlc3Npb24tdG9rZW4"
    r.add_secret(token)
    assert token not in json.dumps(r.redact({"note": f"sent {token} twice: {token}", "list": [token]}))
    r.add_secret("ab")  # too short to be a secret worth hiding; ordinary text must survive
    assert r.redact_text("abc") == "abc"


def test_a_registered_secret_used_as_a_key_is_hidden() -> None:
    r = Redactor(["00000123"])
    assert r.redact({"00000123": None, "ok": 1}) == {REDACTED: None, "ok": 1}


def test_login_credential_keeps_only_the_account() -> None:
    r = Redactor()
    args = ["user@example.com:hunter2", "--replace", "--device=cli", "--ttl=3600"]
    assert r.redact_args("login_password", args) == [
        f"user@example.com:{REDACTED}", "--replace", "--device=cli", "--ttl=3600",
    ]
    assert redact_credential("b64:dXNlckBleGFtcGxlLmNvbTpodW50ZXIy") == REDACTED
    assert redact_credential("dXNlckBleGFtcGxlLmNvbTpodW50ZXIy") == REDACTED
    assert redact_credential("no-colon-here") == REDACTED


def test_secret_flags_in_any_module() -> None:
    r = Redactor()
    args = ["--password=pw", "--token", "tok", "--n", "4", "--api-key=k", "--tokens-used=3"]
    assert r.redact_args("place_ooi_sprites", args) == [
        f"--password={REDACTED}", "--token", REDACTED, "--n", "4", f"--api-key={REDACTED}", "--tokens-used=3",
    ]


def test_credential_position_rule_applies_only_to_login() -> None:
    r = Redactor()
    assert r.redact_args("echo", ["user@example.com:x"]) == ["user@example.com:x"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)


@given(json_values)
def test_redaction_is_idempotent_and_keeps_json_shape(value: object) -> None:
    r = Redactor()
    once = r.redact(value)
    assert r.redact(once) == once
    json.dumps(once)  # still JSON


@given(st.text(min_size=8, max_size=40).filter(lambda s: s.strip() == s and len(set(s)) > 3), json_values)
def test_a_registered_secret_never_survives(secret: str, value: object) -> None:
    r = Redactor([secret])
    wrapped = {"a": [value, f"x{secret}y"], "b": secret}
    assert secret not in json.dumps(r.redact(wrapped), ensure_ascii=False)


_ADVERSARIAL = r'''
import sys
from procedura_sdk.observability.redaction import Redactor
r = Redactor(["a-registered-secret"])
n = 1_000_000
for text in ("x" * n + "=", "x" * n + "://u:p", "a" * n + ":b@", ("ab=" * (n // 3)), ("tok " * (n // 4)),
             '"password": "' + "y" * n, "Bearer " + "z" * n):
    out = r.redact_text(text)
    assert len(out) <= len(text) + 16
print("ok")
'''


def test_large_values_are_redacted_in_linear_time() -> None:
    """An 8 MiB answer must not stall recording: the patterns are anchored, not retried at
    every position of a long run. (A bound on a subprocess, not a speed assertion: the
    quadratic patterns this replaces needed hours on these inputs.)"""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", _ADVERSARIAL], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_anchored_patterns_still_match_inside_text() -> None:
    r = Redactor()
    assert r.redact_text("see wss://u:pw@h/x and more") == f"see wss://u:{REDACTED}@h/x and more"
    assert r.redact_text("a&password=1&b") == f"a&password={REDACTED}&b"
    assert r.redact_text("x.password=1") == f"x.password={REDACTED}"
    # a value runs to the next & ; , or space: redacting a trailing bracket beats leaking a password
    assert r.redact_text("(password=a)b c") == f"(password={REDACTED} c"


def test_values_hidden_in_the_arguments_are_hidden_in_the_rest_of_the_record() -> None:
    r = Redactor()
    record = {"args": [], "result_summary": {"args": ["--api-key", "k-12345", "x"]}, "note": "k-12345!"}
    out = r.redact_record(record, "echo", ["--api-key", "k-12345", "x"])
    assert out["args"] == ["--api-key", REDACTED, "x"]
    assert out["result_summary"] == {"args": ["--api-key", REDACTED, "x"]}
    assert out["note"] == f"{REDACTED}!"
    # scoped to that record: the shared redactor did not learn the value
    assert r.redact_text("k-12345") == "k-12345"


def test_a_login_record_redacted_twice_keeps_its_account() -> None:
    """The agent redacts the credential before the recorder redacts the whole record again."""
    r = Redactor()
    once = r.redact_args("login_password", ["user@example.com:hunter2", "--replace"])
    record = {"args": once, "result_summary": {"account": "user@example.com"}}
    twice = r.redact_record(record, "login_password", once)
    assert twice["args"] == ["user@example.com:<redacted>", "--replace"]
    assert twice["result_summary"] == {"account": "user@example.com"}


arg_lists = st.lists(
    st.sampled_from(["--password=pw1234", "--token", "tok-123456", "user@example.com:hunter2", "b64:abcd",
                     "--n", "4", "plain", "--api-key", "k-999999", "x=1"]),
    max_size=6,
)


@given(st.sampled_from(["login_password", "echo"]), arg_lists)
def test_redact_record_is_idempotent(cmd: str, args: list[str]) -> None:
    r = Redactor()
    record = {"args": list(args), "result_summary": {"echo": list(args)}}
    once = r.redact_record(record, cmd, args)
    assert r.redact_record(once, cmd, once["args"]) == once
    secrets = {"pw1234"} if "--password=pw1234" in args else set()
    takes_value = False  # a value after its flag is secret everywhere in the record
    for arg in args:
        if takes_value and arg in ("tok-123456", "k-999999"):
            secrets.add(arg)
        takes_value = not takes_value and arg in ("--token", "--api-key")
    if cmd == "login_password" and args[:1] == ["user@example.com:hunter2"]:
        secrets.add("hunter2")
    for secret in secrets:
        assert secret not in json.dumps(once)
