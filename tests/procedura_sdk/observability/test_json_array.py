"""The JSON-array writer: valid JSON after every append, after torn writes and after kills."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from procedura_sdk.observability.json_array import JsonArrayFile

elements = st.dictionaries(
    st.text(max_size=8),
    st.none() | st.booleans() | st.integers() | st.text(max_size=30) | st.lists(st.integers(), max_size=3),
    max_size=5,
)


@settings(max_examples=60, deadline=None)
@given(batches=st.lists(st.lists(elements, max_size=4), max_size=6))
def test_round_trip_and_valid_after_every_append(tmp_path_factory, batches) -> None:
    path = tmp_path_factory.mktemp("arr") / "a.json"
    target = JsonArrayFile(path)
    expected: list = []
    for batch in batches:
        target.extend(batch)
        expected.extend(batch)
        if path.exists():
            assert json.loads(path.read_text()) == expected
    assert target.read() == expected
    assert target.repairs == []


def test_appends_to_arrays_written_by_others(tmp_path: Path) -> None:
    for initial in ([], [{"a": 1}], [{"a": 1}, {"b": [1, 2]}]):
        for text in (json.dumps(initial), json.dumps(initial, indent=2) + "\n\n  ", "[ ]"):
            path = tmp_path / "x.json"
            path.write_text(text)
            start = json.loads(text)
            JsonArrayFile(path).append({"new": True})
            assert json.loads(path.read_text()) == start + [{"new": True}]


@settings(max_examples=80, deadline=None)
@given(st.lists(elements, min_size=0, max_size=5), elements, st.data())
def test_a_torn_last_append_is_cut_back_and_reported(tmp_path_factory, before, torn, data) -> None:
    """A write cut short (power loss) leaves a prefix of the last chunk; the next append repairs."""
    path = tmp_path_factory.mktemp("torn") / "a.json"
    target = JsonArrayFile(path)
    target.extend(before)
    good = path.read_bytes() if before else b"[\n]\n"
    target.append(torn)
    full = path.read_bytes()
    # Every cut inside the appended chunk (which starts at the old closing bracket),
    # short of the complete new closing bracket.
    cut = data.draw(st.integers(min_value=len(good) - 2, max_value=len(full) - 1))
    path.write_bytes(full[:cut])
    target.append({"after": 1})
    result = json.loads(path.read_text())
    assert result[-1] == {"after": 1}
    assert result[:-1] in (before, before + [torn])
    if result[:-1] == before:
        assert target.repairs, "a cut that lost an element must be reported"


def test_a_torn_element_ending_in_a_bracket_is_not_taken_for_the_array_end(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    target = JsonArrayFile(path)
    target.append({"ok": 1})
    target.append({"list": [0, -1000000003]})
    full = path.read_bytes()
    path.write_bytes(full[: full.rindex(b"]}") + 1])  # "...{"list": [0, -1000000003]"
    target.append({"after": 1})
    assert json.loads(path.read_text()) == [{"ok": 1}, {"after": 1}]
    assert target.repairs


def test_pretty_printed_torn_files_are_repaired_or_set_aside_never_made_invalid(tmp_path: Path) -> None:
    text = json.dumps([{"a": [1, 2]}, {"b": {"c": [3]}}], indent=2)
    for cut in range(1, len(text)):
        path = tmp_path / f"p{cut}.json"
        path.write_text(text[:cut])
        JsonArrayFile(path).append({"new": 1})
        data = json.loads(path.read_text())
        assert data[-1] == {"new": 1}
        kept = data[:-1]
        assert kept in ([], [{"a": [1, 2]}], [{"a": [1, 2]}, {"b": {"c": [3]}}])


def test_a_file_that_is_not_an_array_is_moved_aside_not_lost(tmp_path: Path) -> None:
    path = tmp_path / "events.json"
    path.write_text('{"not": "an array"}')
    target = JsonArrayFile(path)
    target.append({"n": 1})
    assert json.loads(path.read_text()) == [{"n": 1}]
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("events.json.damaged-")]
    assert len(aside) == 1 and aside[0].read_text() == '{"not": "an array"}'
    assert any("moved to" in r for r in target.repairs)


def test_rewrite_replaces_atomically(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    target = JsonArrayFile(path)
    target.extend([{"x": 1}, {"x": 2}])
    assert target.rewrite(iter([{"y": 1}])) == 1
    assert target.read() == [{"y": 1}]
    assert target.rewrite(iter([])) == 0
    assert target.read() == []
    target.append({"z": 0})
    assert target.read() == [{"z": 0}]


_APPENDER = textwrap.dedent(
    """
    import sys
    from procedura_sdk.observability.json_array import JsonArrayFile
    target = JsonArrayFile(sys.argv[1])
    tag, count = sys.argv[2], int(sys.argv[3])
    for i in range(count):
        target.append({"writer": tag, "i": i, "pad": "x" * (i % 50)})
        if count < 0:
            break
    print("done", flush=True)
    """
)


def test_concurrent_processes_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    procs = [
        subprocess.Popen([sys.executable, "-c", _APPENDER, str(path), str(w), "150"])
        for w in range(4)
    ]
    for p in procs:
        assert p.wait(timeout=120) == 0
    data = json.loads(path.read_text())
    assert len(data) == 600
    for w in range(4):
        assert [e["i"] for e in data if e["writer"] == str(w)] == list(range(150))


def test_killed_writers_leave_valid_json(tmp_path: Path) -> None:
    """SIGKILL a process appending in a loop, repeatedly: the file is valid JSON every time."""
    path = tmp_path / "a.json"
    for round_ in range(8):
        proc = subprocess.Popen(
            [sys.executable, "-c", _APPENDER, str(path), f"r{round_}", "100000"],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while (not path.exists() or path.stat().st_size < 200 * (round_ + 1)) and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.005 * round_)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        data = json.loads(path.read_text())
        assert isinstance(data, list) and data
    JsonArrayFile(path).append({"final": True})
    assert json.loads(path.read_text())[-1] == {"final": True}
