"""DeltaRAM on real files: staging, commits, None versus delete, refusals that write nothing."""

from __future__ import annotations

import pytest
from deltaram import DeltaRAM, NotAStoreError, StoreClosedError, UnsupportedFormatError


def log_length(path) -> int:
    with DeltaRAM(path) as s:
        return len(s._chain)


def test_set_commit_reopen(tmp_path):
    with DeltaRAM(tmp_path / "s") as s:
        assert s.version == 0 and s.state() == {}
        s.set("theme", "dark")
        s.set("cfg", {"a": [1, 2.0, True, None]})
        assert s.get("theme") == "dark"  # staged changes are visible before commit
        assert s.commit() == 1
        s.set("theme", "light")
        assert s.commit() == 2
    with DeltaRAM(tmp_path / "s") as s:
        assert s.version == 2
        assert s.state() == {"theme": "light", "cfg": {"a": [1, 2.0, True, None]}}
        assert type(s.get("cfg")["a"][1]) is float
        assert s.get("missing", 7) == 7


def test_commit_without_change_writes_nothing(tmp_path):
    with DeltaRAM(tmp_path / "s") as s:
        assert s.commit() == 0
        s.set("a", {"x": 1})
        s.commit()
        s.set("a", {"x": 1})  # same value again
        s.delete("never-there")
        assert s.commit() == 1
    assert log_length(tmp_path / "s") == 1


def test_none_is_a_value_not_a_delete(tmp_path):
    with DeltaRAM(tmp_path / "s") as s:
        s.set("a", 1)
        s.set("b", {"x": 1, "y": 2})
        s.commit()
        s.set("a", None)
        s.set("b", {"x": None, "y": 2})
        s.commit()
    with DeltaRAM(tmp_path / "s") as s:
        assert "a" in s and s.get("a", "default") is None
        assert s.get("b") == {"x": None, "y": 2}
        s.delete("a")
        s.commit()
    with DeltaRAM(tmp_path / "s") as s:
        assert "a" not in s and s.get("a", "default") == "default"
        assert [c.op for e in s.history("a") for c in e.changes] == ["set", "set", "delete"]


def test_exact_types_survive(tmp_path):
    values = {"t": True, "one": 1, "f": 1.0, "neg0": -0.0, "big": 2**80, "s": "é\u2603"}
    with DeltaRAM(tmp_path / "s") as s:
        for k, v in values.items():
            s.set(k, v)
        s.commit()
        s.set("t", 1)  # True -> 1 is a change
        s.set("one", True)
        assert s.commit() == 2
    with DeltaRAM(tmp_path / "s") as s:
        st = s.state()
        assert type(st["t"]) is int and type(st["one"]) is bool and type(st["f"]) is float
        assert str(st["neg0"]) == "-0.0" and st["big"] == 2**80 and st["s"] == "é\u2603"


@pytest.mark.parametrize("bad", [(1, 2), float("nan"), {"a": {1, 2}}, {3: "x"}, b"raw"])
def test_type_error_names_the_key_and_writes_nothing(tmp_path, bad):
    with DeltaRAM(tmp_path / "s") as s:
        s.set("good", 1)
        s.commit()
        with pytest.raises(TypeError, match="'bad_key'"):
            s.set("bad_key", bad)
        assert "bad_key" not in s and not s.pending
        with pytest.raises(TypeError, match="'good'"):
            s.update("good", lambda v: bad)
        assert s.commit() == 1
    assert log_length(tmp_path / "s") == 1


def test_values_are_copied_in_and_out(tmp_path):
    with DeltaRAM(tmp_path / "s") as s:
        mine = {"l": [1]}
        s.set("k", mine)
        mine["l"].append(2)  # the caller's object is not the store's
        got = s.get("k")
        got["l"].append(3)
        assert s.get("k") == {"l": [1]}
        s.commit()
        s.state()["k"]["l"].append(4)
        assert s.get("k") == {"l": [1]}


def test_update_returns_and_commits(tmp_path):
    with DeltaRAM(tmp_path / "s") as s:
        assert s.update("n", lambda v: v + 1, default=0) == 1
        assert s.update("n", lambda v: v + 1, default=0) == 2
        s.set("other", "staged")
        s.update("n", lambda v: v * 10)
        assert s.version == 3 and s.pending  # update commits only its key
        with pytest.raises(ZeroDivisionError):
            s.update("n", lambda v: 1 / 0)
        assert s.version == 3
        s.rollback()
    with DeltaRAM(tmp_path / "s") as s:
        assert s.state() == {"n": 20}


def test_context_manager_commits_on_success_and_drops_on_error(tmp_path):
    with DeltaRAM(tmp_path / "s") as s:
        s.set("a", 1)
    with pytest.raises(RuntimeError), DeltaRAM(tmp_path / "s") as s:
        s.set("a", 2)
        raise RuntimeError
    with DeltaRAM(tmp_path / "s") as s:
        assert s.get("a") == 1 and s.version == 1


def test_closed_and_readonly(tmp_path):
    s = DeltaRAM(tmp_path / "s")
    s.set("a", 1)
    s.close()
    s.close()  # twice is fine
    with pytest.raises(StoreClosedError):
        s.get("a")
    with pytest.raises(NotAStoreError):
        DeltaRAM(tmp_path / "none", readonly=True)
    assert not (tmp_path / "none").exists()
    with DeltaRAM(tmp_path / "s", readonly=True) as r:
        with pytest.raises(PermissionError):
            r.set("a", 1)


def test_refuses_foreign_directories(tmp_path):
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(NotAStoreError, match="not a deltaram store"):
        DeltaRAM(tmp_path / "other")
    DeltaRAM(tmp_path / "s").close()
    (tmp_path / "s" / "deltaram.json").write_text('{"format": "deltaram", "version": 99}')
    with pytest.raises(UnsupportedFormatError):
        DeltaRAM(tmp_path / "s")
    (tmp_path / "empty").mkdir()
    DeltaRAM(tmp_path / "empty").close()  # an empty directory becomes a store


def test_at_and_history(tmp_path):
    seen = [{}]
    with DeltaRAM(tmp_path / "s") as s:
        for i in range(5):
            s.set("n", i)
            s.set(f"k{i}", {"i": i})
            if i % 2:
                s.delete(f"k{i - 1}")
            s.commit()
            seen.append(s.state())
        for v, expected in enumerate(seen):
            assert s.at(v) == expected
        with pytest.raises(ValueError):
            s.at(6)
        entries = list(s.history())
        assert [e.version for e in entries] == [1, 2, 3, 4, 5]
        assert [e.version for e in s.history("k0")] == [1, 2]
        assert all(c.path[0] == "k0" for e in s.history("k0") for c in e.changes)
        assert entries[0].time <= entries[-1].time


def test_other_handles_commits_are_merged(tmp_path):
    a = DeltaRAM(tmp_path / "s")
    b = DeltaRAM(tmp_path / "s")
    a.set("cfg", {"x": 1, "y": 1})
    a.commit()
    b.refresh()
    a.set("cfg", {"x": 2, "y": 1})
    b.set("cfg", {"x": 1, "y": 3})  # a different field of the same value
    b.set("mine", True)
    a.commit()
    assert b.commit() == 3
    assert b.state() == {"cfg": {"x": 2, "y": 3}, "mine": True}
    a.refresh()
    assert a.state() == b.state()
    a.close()
    b.close()
