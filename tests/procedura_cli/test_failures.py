"""Each SDK failure maps to its documented exit code and one line that says what to try."""

from __future__ import annotations

import pytest
from procedura_cli.failures import ExitCode, Request, describe
from procedura_sdk import errors

REQUEST = Request("ws://127.0.0.1:9", "worldstate_snapshot", ack_timeout=1, final_timeout=5)


CASES = [
    (errors.ServerError({"status": "error", "message": "No glyph_prompt found at this coordinate.",
                         "coord": [-12817304, 4324025, 0], "code": "NO_GLYPH"}),
     ExitCode.SERVER_ERROR, ["failed on the server [NO_GLYPH]", "No glyph_prompt found",
                             "coord=[-12817304, 4324025, 0]"]),
    (errors.AckTimeoutError(cmd="worldstate_snapshot", msg_id="ab12", timeout=1),
     ExitCode.TIMEOUT, ["no acknowledgement", "within 1s", "--ack-timeout"]),
    (errors.FinalTimeoutError(cmd="worldstate_snapshot", msg_id="ab12", timeout=5),
     ExitCode.TIMEOUT, ["within 5s", "--final-timeout"]),
    (errors.ConnectionFailedError("connection refused", url="ws://127.0.0.1:9", reason="refused"),
     ExitCode.CONNECTION, ["could not connect to ws://127.0.0.1:9", "--url"]),
    (errors.ConnectionFailedError("certificate verify failed", url="wss://x", reason="tls"),
     ExitCode.CONNECTION, ["--ca-file"]),
    (errors.ConnectionFailedError("could not resolve nowhere.invalid", url="wss://x", reason="dns"),
     ExitCode.CONNECTION, ["host name"]),
    (errors.ConnectionLostError("closed with 1006"),
     ExitCode.CONNECTION, ["lost the connection", "Try again"]),
    (errors.AuthenticationError("the session token expired"),
     ExitCode.AUTH, ["authentication failed", "procedura login"]),
    (errors.EmptyWorldError({"entities": {}}),
     ExitCode.EMPTY_WORLD, ["EMPTY_WORLD", "not initialised"]),
    (errors.ProtocolViolationError("frame is not JSON"),
     ExitCode.PROTOCOL, ["not the Procedura protocol", "--url"]),
    (errors.ProceduraError("something new"), ExitCode.FAILURE, ["something new", "--debug"]),
]  # fmt: skip


@pytest.mark.parametrize(("exc", "code", "phrases"), CASES)
def test_each_failure_has_its_code_and_one_line(exc, code, phrases):
    failure = describe(exc, REQUEST)
    assert failure.exit_code == code
    line = failure.format_message()
    assert "\n" not in line
    for phrase in phrases:
        assert phrase in line


def test_exit_codes_are_distinct_and_stable():
    codes = {code.name: int(code) for code in ExitCode}
    assert codes == {
        "OK": 0, "FAILURE": 1, "USAGE": 2, "SERVER_ERROR": 3, "TIMEOUT": 4, "CONNECTION": 5,
        "AUTH": 6, "EMPTY_WORLD": 7, "PROTOCOL": 8, "INTERRUPTED": 130,
    }  # fmt: skip


def test_a_login_refusal_points_at_the_credential():
    failure = describe(errors.AuthenticationError("wrong email or password"),
                       Request("ws://h", "login_password"))  # fmt: skip
    assert "Check the email and password" in failure.format_message()
