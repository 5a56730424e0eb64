"""Getting the credential: argument, `-` for standard input, prompt at a terminal; format checks."""

from __future__ import annotations

import base64

import pytest
from procedura_cli import credentials


@pytest.mark.parametrize(
    "credential",
    [
        "demo@procedura.dev:demo-password",
        "a@b:pass:with:colons",
        base64.b64encode(b"demo@procedura.dev:demo-password").decode(),
        "b64:" + base64.b64encode(b"demo@procedura.dev:demo-password").decode(),
    ],
)
def test_accepted_forms(credential):
    credentials.check_format(credential)


@pytest.mark.parametrize(
    "credential",
    ["nocolon", ":nopass", "user@x:", "b64:!!!", "b64:" + base64.b64encode(b"nocolon").decode()],
)
def test_refused_forms_never_echo_the_credential(credential):
    with pytest.raises(credentials.CredentialFormatError) as info:
        credentials.check_format(credential)
    assert credential not in str(info.value)


def test_bad_format_exits_2_is_recorded_and_never_shown(invoke, isolated):
    result = invoke("login", "-", input="not-a-credential\n")
    assert result.exit_code == 2
    assert "not-a-credential" not in result.stderr + result.stdout
    assert "EMAIL:PASSWORD" in result.stderr
    errors_json = isolated / "data" / "runtime_ram" / "errors.json"
    assert errors_json.exists()
    text = errors_json.read_text()
    assert "BAD_CREDENTIAL" in text
    assert "not-a-credential" not in text


def test_empty_stdin_is_a_usage_error(invoke):
    result = invoke("login", "-", input="")
    assert result.exit_code == 2
    assert "standard input was empty" in result.stderr


def test_no_credential_and_no_terminal_is_a_usage_error(invoke):
    result = invoke("login")
    assert result.exit_code == 2
    assert "`-`" in result.stderr


def test_terminal_prompt_hides_the_password(monkeypatch):
    prompts = []

    def prompt(text, hide_input=False, err=False):
        prompts.append((text, hide_input, err))
        return "demo@procedura.dev" if text == "Email" else "demo-password"

    monkeypatch.setattr(credentials, "is_terminal", lambda stream: True)
    monkeypatch.setattr(credentials.click, "prompt", prompt)
    assert credentials.obtain(None) == "demo@procedura.dev:demo-password"
    assert prompts == [("Email", False, True), ("Password", True, True)]


def test_stdin_keeps_inner_spaces_and_drops_the_newline(monkeypatch):
    import io

    monkeypatch.setattr(credentials.sys, "stdin", io.StringIO("a@b:p w\n"))
    assert credentials.obtain("-") == "a@b:p w"
