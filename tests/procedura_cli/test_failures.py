"""Each SDK failure maps to its documented exit code and one line that says what to try."""

from __future__ import annotations

import pytest
from procedura_cli.failures import ExitCode, Request, describe
from procedura_sdk import errors

REQUEST = Request("ws://127.0.0.1:9", "worldstate_snapshot", ack_timeout=1, final_timeout=5)


def _refused(url="ws://127.0.0.1:9"):
    return errors.ConnectionFailedError(
        f"Could not connect to {url}: connection refused. Check the port and that the server is running.",
        url=url,
        reason="refused",
        why="connection refused",
    )


CASES = [
    (errors.ServerError({"status": "error", "message": "No glyph_prompt found at this coordinate.",
                         "coord": [-12817304, 4324025, 0], "code": "NO_GLYPH"}),
     ExitCode.SERVER_ERROR, ["failed on the server [NO_GLYPH]", "No glyph_prompt found",
                             "coord=[-12817304, 4324025, 0]"]),
    (errors.AckTimeoutError(cmd="worldstate_snapshot", msg_id="ab12", timeout=1),
     ExitCode.TIMEOUT, ["no acknowledgement", "within 1s", "--ack-timeout"]),
    (errors.FinalTimeoutError(cmd="worldstate_snapshot", msg_id="ab12", timeout=5, job_id="job_1"),
     ExitCode.TIMEOUT, ["(job job_1)", "within 5s", "--final-timeout"]),
    (_refused(), ExitCode.CONNECTION,
     ["could not connect to ws://127.0.0.1:9: connection refused. Check --url"]),
    (errors.ConnectionFailedError(
        "Could not connect to wss://x: TLS failed (CERTIFICATE_VERIFY_FAILED). If the server uses "
        "a private CA, pass its bundle as ca_file or $PROCEDURA_CA_FILE.", url="wss://x", reason="tls",
        why="TLS failed (CERTIFICATE_VERIFY_FAILED)"),
     ExitCode.CONNECTION, ["TLS failed (CERTIFICATE_VERIFY_FAILED). If", "--ca-file"]),
    (errors.ConnectionFailedError(
        "Could not connect to wss://nowhere.invalid: the host name does not resolve (Name or "
        "service not known). Check the host name in the URL.", url="wss://nowhere.invalid",
        reason="dns"),
     ExitCode.CONNECTION, ["does not resolve (Name or service not known)", "host name in --url"]),
    (errors.ConnectionLostError(
        "Lost the connection to ws://h after the server accepted 'echo' (job j): it closed "
        "without a closing handshake. The job may still have run on the server; check before "
        "retrying."),
     ExitCode.CONNECTION, ["Lost the connection", "check before retrying"]),
    (errors.AuthenticationError("ws://h refused the session token (HTTP 401)", code="AUTH_FAILED"),
     ExitCode.AUTH, ["authentication failed", "[AUTH_FAILED]", "procedura login"]),
    (errors.AuthenticationError(
        "refused", code="AUTH_REQUIRED",
        frame={"status": "error", "code": "AUTH_REQUIRED", "message": "the session token expired"}),
     ExitCode.AUTH, ["the session token expired", "procedura login"]),
    (errors.EmptyWorldError({"entities": {}}),
     ExitCode.EMPTY_WORLD, ["EMPTY_WORLD", "not initialised"]),
    (errors.ProtocolViolationError(
        "ws://h broke the protocol while answering 'echo': message is not JSON. Check that the "
        "URL points at a Procedura server."),
     ExitCode.PROTOCOL, ["broke the protocol", "message is not JSON", "Check that --url points"]),
    (errors.ProtocolViolationError(
        "The server sent a message larger than max_size (8388608 bytes); the connection was "
        "closed. Pass a larger max_size if such answers are expected.", code="MESSAGE_TOO_BIG"),
     ExitCode.PROTOCOL, ["larger than --max-size (8388608 bytes)", "raise --max-size"]),
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
