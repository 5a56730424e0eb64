"""``python -m deltaram``: read-only inspection with clear errors and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

from deltaram import DeltaRAM


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "deltaram", *map(str, args)], capture_output=True, text=True
    )


def make(path):
    with DeltaRAM(path) as s:
        s.set("theme", "dark")
        s.set("stats", {"runs": 1, "last": None})
        s.commit()
        s.set("stats", {"runs": 2, "last": None})
        s.delete("theme")
        s.commit()


def test_show_history_at(tmp_path):
    make(tmp_path / "s")
    out = run("show", tmp_path / "s")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"version": 2, "state": {"stats": {"runs": 2, "last": None}}}
    key = run("show", tmp_path / "s", "--key", "stats")
    assert json.loads(key.stdout) == {"runs": 2, "last": None}
    hist = run("history", tmp_path / "s")
    assert hist.returncode == 0
    assert "v1" in hist.stdout and "set     stats/runs = 2" in hist.stdout
    assert "delete  theme" in hist.stdout
    lines = run("history", tmp_path / "s", "--json", "--key", "theme").stdout.splitlines()
    assert [json.loads(x)["version"] for x in lines] == [1, 2]
    at = run("at", tmp_path / "s", 1)
    assert json.loads(at.stdout)["state"] == {
        "theme": "dark",
        "stats": {"runs": 1, "last": None},
    }


def test_errors_exit_non_zero_with_a_clear_message(tmp_path):
    missing = run("show", tmp_path / "nope")
    assert missing.returncode == 1 and "no deltaram store" in missing.stderr
    assert not (tmp_path / "nope").exists()  # inspecting never creates
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "file").write_text("x")
    assert "not a deltaram store" in run("show", tmp_path / "junk").stderr
    make(tmp_path / "s")
    bad = run("at", tmp_path / "s", 9)
    assert bad.returncode == 1 and "version must be" in bad.stderr
    assert run("show", tmp_path / "s", "--key", "zz").returncode == 1
    (tmp_path / "s" / "deltaram.json").write_text("{broken")
    damaged = run("history", tmp_path / "s")
    assert damaged.returncode == 1 and "unreadable" in damaged.stderr
    assert run("frobnicate", tmp_path / "s").returncode == 2


def test_damaged_snapshot_is_a_warning_not_a_failure(tmp_path):
    with DeltaRAM(tmp_path / "s") as s:
        s.set("a", 1)
        s.commit()
        s.compact()
    (snap,) = (tmp_path / "s" / "snapshots").iterdir()
    snap.write_bytes(snap.read_bytes()[:-3])
    out = run("show", tmp_path / "s")
    assert out.returncode == 0 and json.loads(out.stdout)["state"] == {"a": 1}
    assert "warning" in out.stderr and "ignored snapshot" in out.stderr


def test_damaged_log_exits_non_zero(tmp_path):
    path = tmp_path / "s"
    with DeltaRAM(path, checkpoint_min_bytes=10**9) as s:
        for i in range(30):
            s.set("k", {"i": i, "pad": "y" * 50})
            s.commit()
    # the largest file of the chain holds the records (bitstream's layout is its own)
    segment = max((path / "log").iterdir(), key=lambda p: p.stat().st_size)
    raw = bytearray(segment.read_bytes())
    raw[600] ^= 0xFF
    segment.write_bytes(bytes(raw))
    out = run("show", path)
    assert out.returncode == 1 and "damaged" in out.stderr
