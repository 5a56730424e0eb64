"""How the command line is parsed: global options, pass-through of module options, usage errors."""

from __future__ import annotations

import json

import pytest
from procedura_cli.__about__ import __version__


def module_calls(calls):
    return [c for c in calls if c["op"] in ("run", "stream")]


@pytest.mark.parametrize(
    ("argv", "module_args"),
    [
        (["run", "worldstate_snapshot", "--terse"], ["--terse"]),
        (["run", "place_ooi_sprites", "--dry-run", "--n", "4", "--radius", "400"],
         ["--dry-run", "--n", "4", "--radius", "400"]),
        (["run", "init_character", "--gen-guidance=a b", "--objective-text=x=y"],
         ["--gen-guidance=a b", "--objective-text=x=y"]),
        (["run", "echo", "-x", "-5", "plain", "-h"], ["-x", "-5", "plain", "-h"]),
        (["run", "echo", "--", "--ack-timeout", "3", "--help"], ["--ack-timeout", "3", "--help"]),
        (["run", "echo", "a", "--", "--", "b"], ["a", "--", "b"]),
    ],
)  # fmt: skip
def test_unknown_options_reach_the_module_unchanged(invoke, fake_agent, argv, module_args):
    result = invoke("--token", "t", *argv)
    assert result.exit_code == 0, result.stderr
    (call,) = module_calls(fake_agent)
    assert call["module"] == argv[1]
    assert call["args"] == module_args


def test_cli_options_are_taken_wherever_they_stand(invoke, fake_agent):
    result = invoke(
        "--token", "t", "run", "echo", "--terse", "--ack-timeout", "2.5", "x", "--final-timeout=7"
    )
    assert result.exit_code == 0, result.stderr
    (call,) = module_calls(fake_agent)
    assert call["args"] == ["--terse", "x"]
    assert call["ack_timeout"] == 2.5
    assert call["final_timeout"] == 7.0


def test_default_timeouts_are_the_guides(invoke, fake_agent):
    invoke("--token", "t", "run", "echo")
    (call,) = module_calls(fake_agent)
    assert (call["ack_timeout"], call["final_timeout"]) == (10.0, 600.0)


def test_stream_passes_module_options_too(invoke, fake_agent):
    result = invoke("--token", "t", "stream", "place_ooi_sprites", "--dry-run", "--n", "4")
    assert result.exit_code == 0, result.stderr
    (call,) = module_calls(fake_agent)
    assert call["args"] == ["--dry-run", "--n", "4"]


def test_url_and_token_come_from_options_or_the_environment(invoke, fake_agent, monkeypatch):
    invoke("--url", "ws://a:1", "--token", "tok", "run", "echo")
    monkeypatch.setenv("PROCEDURA_URL", "ws://b:2")
    monkeypatch.setenv("PROCEDURA_TOKEN", "env-tok")
    invoke("run", "echo")
    connects = [c for c in fake_agent if c["op"] == "connect"]
    assert [(c["url"], c["token"]) for c in connects] == [
        ("ws://a:1", "tok"),
        ("ws://b:2", "env-tok"),
    ]


def test_default_url_is_the_guides(invoke, fake_agent):
    invoke("--token", "t", "run", "echo")
    assert fake_agent[0]["url"] == "wss://vt.vm.scorchedserver.com:33000"


def test_the_saved_token_is_used_when_none_is_given(invoke, fake_agent, isolated):
    from procedura_sdk.token_store import TokenStore

    TokenStore().save("saved-token")
    invoke("run", "echo")
    assert fake_agent[0]["token"] == "saved-token"


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"], ["-h"], ["run", "--help"], ["stream", "--help"], ["login", "--help"],
        ["logout", "--help"], ["events", "--help"], ["state", "--help"], ["completion", "--help"],
    ],
)  # fmt: skip
def test_help_works_everywhere(invoke, argv):
    result = invoke(*argv)
    assert result.exit_code == 0
    assert "Usage: " in result.stdout


def test_version(invoke):
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"procedura {__version__}"


@pytest.mark.parametrize(
    "argv",
    [
        ["run"],  # no MODULE
        ["run", "echo", "--ack-timeout", "soon"],
        ["run", "echo", "--ack-timeout", "0"],
        ["nosuchcommand"],
        ["login", "--ttl", "0", "-"],
        ["completion", "tcsh"],
        ["--url"],
    ],
)
def test_bad_usage_exits_2_with_clicks_message(invoke, fake_agent, argv):
    result = invoke(*argv)
    assert result.exit_code == 2
    assert "Error:" in result.stderr
    assert result.stdout == ""
    assert module_calls(fake_agent) == []


def test_completion_scripts(invoke):
    for shell in ("bash", "zsh", "fish"):
        result = invoke("completion", shell)
        assert result.exit_code == 0
        assert "_PROCEDURA_COMPLETE" in result.stdout


def test_result_is_one_json_line_when_piped(invoke, fake_agent):
    result = invoke("--token", "t", "run", "echo", "a", "b")
    assert result.stdout == '{"args":["a","b"]}\n'
    assert json.loads(result.stdout) == {"args": ["a", "b"]}


def test_result_is_indented_on_a_terminal(invoke, fake_agent, monkeypatch):
    from procedura_cli import output

    monkeypatch.setattr(output, "is_terminal", lambda stream: True)
    result = invoke("--token", "t", "run", "echo", "a")
    assert result.stdout == json.dumps({"args": ["a"]}, indent=2) + "\n"


def test_stream_prints_one_json_line_per_frame_when_piped(invoke, fake_agent):
    result = invoke("--token", "t", "stream", "long_job")
    assert result.exit_code == 0
    frames = [json.loads(line) for line in result.stdout.splitlines()]
    assert [f["status"] for f in frames] == ["started", "running", "finished"]


def test_stream_prints_only_the_result_on_a_terminal(invoke, fake_agent, monkeypatch):
    from procedura_cli import output

    monkeypatch.setattr(output, "is_terminal", lambda stream: True)
    from procedura_cli.commands import stream

    monkeypatch.setattr(stream, "is_terminal", lambda s: True)
    result = invoke("--token", "t", "stream", "long_job")
    assert json.loads(result.stdout) == {"ok": True}


def test_the_lazy_command_table_matches_the_commands():
    import click
    from procedura_cli.main import COMMANDS, cli

    ctx = click.Context(cli)
    for name, (_module, _attr, short_help) in COMMANDS.items():
        command = cli.get_command(ctx, name)
        assert command is not None and command.name == name
        assert command.get_short_help_str(limit=200) == short_help


def test_help_does_not_import_the_commands_or_the_sdk():
    import subprocess
    import sys

    code = (
        "import sys; from procedura_cli.main import cli\n"
        "try:\n    cli(['--help'])\nexcept SystemExit:\n    pass\n"
        "loaded = [m for m in sys.modules if m.startswith(('procedura_sdk', 'procedura_cli.commands', 'websockets'))]\n"
        "print(loaded, file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stderr.strip().splitlines()[-1] == "[]"
