"""Checkpoints: written by the ratio rule, loaded on open, never trusted when damaged."""

from __future__ import annotations

import os
import shutil
import time

import pytest
from deltaram import DeltaRAM, SnapshotWarning
from deltaram.snapshot import list_snapshots


def fill(path, commits, **kw) -> list[dict]:
    """Commit ``commits`` small changes; return the state after each (index = version)."""
    states = [{}]
    with DeltaRAM(path, durability="none", **kw) as s:
        for i in range(commits):
            s.set("counter", i)
            s.set(f"k{i % 5}", {"i": i, "name": f"name-{i}"})
            s.commit()
            states.append(s.state())
    return states


def snaps(path):
    return list_snapshots(path / "snapshots")


def test_ratio_rule_bounds_what_open_replays(tmp_path):
    p = tmp_path / "s"
    fill(p, 400, checkpoint_min_bytes=2000, keep_snapshots=2)
    assert len(snaps(p)) == 2  # older ones pruned
    with DeltaRAM(p) as s:
        assert s.version == 400
        assert s.checkpoint_version == snaps(p)[0][0]
        # each record is ~60 bytes: the log past the checkpoint is at most ~2000 bytes
        assert 0 < s.version - s.checkpoint_version <= 2000 // 40


def test_damaged_newest_snapshot_falls_back_to_the_older_one(tmp_path):
    p = tmp_path / "s"
    states = fill(p, 300, checkpoint_min_bytes=1000)
    (newest_v, newest), (older_v, _) = snaps(p)[:2]
    raw = newest.read_bytes()
    newest.write_bytes(raw.replace(b'"name-', b'"NAME-', 1))  # still valid JSON
    with pytest.warns(SnapshotWarning, match="checksum"), DeltaRAM(p) as s:
        assert s.state() == states[300]
        assert s.checkpoint_version == older_v
        assert any(str(newest) in problem for problem in s.problems)
    assert newest_v > older_v


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "header"])
def test_every_snapshot_damaged_means_full_replay_then_rebuild(tmp_path, damage):
    p = tmp_path / "s"
    states = fill(p, 200, checkpoint_min_bytes=1000)
    for _, path in snaps(p):
        raw = path.read_bytes()
        path.write_bytes(
            {
                "truncate": raw[: len(raw) // 2],
                "garbage": os.urandom(len(raw)),
                "empty": b"",
                "header": raw.replace(b'"version":', b'"versions":', 1),
            }[damage]
        )
    with pytest.warns(SnapshotWarning), DeltaRAM(p) as s:
        assert s.state() == states[200]
        assert s.at(150) == states[150]
    # Opening rebuilt a checkpoint from the log, so the next open trusts it again.
    with DeltaRAM(p) as s:
        assert not s.problems and s.checkpoint_version == 200


def test_snapshot_ahead_of_the_log_or_from_another_log_is_ignored(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    states_a = fill(a, 50, checkpoint_min_bytes=100)
    shutil.rmtree(a / "snapshots")
    fill(b, 48)  # same changes, other log (other timestamps)
    with DeltaRAM(b) as s:
        s.compact()
    fill(c, 120, checkpoint_min_bytes=100)
    (a / "snapshots").mkdir()
    for _, path in snaps(b) + snaps(c):
        shutil.copy(path, a / "snapshots" / path.name)
    with pytest.warns(SnapshotWarning) as record, DeltaRAM(a, readonly=True) as s:
        assert s.state() == states_a[50]
    messages = " ".join(str(w.message) for w in record)
    assert "log holds only 50" in messages and "does not follow" in messages


def test_a_failing_snapshot_write_does_not_fail_the_commit(tmp_path):
    p = tmp_path / "s"
    with DeltaRAM(p, checkpoint_min_bytes=50) as s:
        s.set("a", 1)
        s.commit()
        shutil.rmtree(p / "snapshots", ignore_errors=True)
        (p / "snapshots").write_text("in the way")
        with pytest.warns(SnapshotWarning, match="could not write"):
            for i in range(10):
                s.set("a", {"i": i, "pad": "x" * 40})
                s.commit()
        assert s.version == 11
    (p / "snapshots").unlink()
    with DeltaRAM(p) as s:
        assert s.get("a")["i"] == 9


def test_compact_checkpoints_now_and_keeps_history(tmp_path):
    p = tmp_path / "s"
    states = fill(p, 100, checkpoint_min_bytes=500)
    with DeltaRAM(p) as s:
        assert s.compact() == 100
    assert [v for v, _ in snaps(p)] == [100]
    with DeltaRAM(p) as s:
        assert s.checkpoint_version == 100
        assert s.at(3) == states[3] and s.at(99) == states[99]
        assert len(list(s.history())) == 100


def test_leftover_temp_files_are_ignored_and_cleaned(tmp_path):
    p = tmp_path / "s"
    fill(p, 10)
    old = p / "snapshots" / ".tmp-999999-dead.snap"
    old.parent.mkdir(exist_ok=True)
    old.write_bytes(b"half a snap")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    with DeltaRAM(p) as s:
        assert s.state()["counter"] == 9
        s.compact()
    assert not old.exists()
