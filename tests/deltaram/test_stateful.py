"""Random set / delete / update / commit / reopen / compact sequences against a plain dict.

Every committed state is remembered, so ``at(v)`` and a replay of ``history()`` are checked
against the states seen on the way. Checkpoints are made tiny so that snapshots are written,
loaded, pruned and (by one rule) damaged all the time.
"""

from __future__ import annotations

import shutil
import tempfile
import warnings
from pathlib import Path

from deltaram import DeltaRAM, patch
from deltaram.delta import DELETE, SET, SPLICE
from deltaram.snapshot import list_snapshots
from deltaram.values import copy_value, same
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from .strategies import keys, mutate, values


def _open(path: Path) -> DeltaRAM:
    return DeltaRAM(
        path, durability="none", checkpoint_ratio=0.5, checkpoint_min_bytes=64, keep_snapshots=2
    )


def _apply_change(state: dict, change) -> dict:
    if change.op == "set":
        op = [SET, list(change.path), change.value]
    elif change.op == "delete":
        op = [DELETE, list(change.path)]
    else:
        op = [SPLICE, list(change.path), change.start, change.stop, change.value]
    return patch(state, [op])


class StoreMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="deltaram-"))
        self.path = self.dir / "store"
        self.store = _open(self.path)
        self.committed: list[dict] = [{}]
        self.working: dict = {}

    def teardown(self) -> None:
        self.store.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    @rule(key=keys, value=values)
    def set(self, key, value):
        self.store.set(key, value)
        self.working[key] = copy_value(value)

    @precondition(lambda self: self.working)
    @rule(data=st.data())
    def edit_in_place(self, data):
        key = data.draw(st.sampled_from(sorted(self.working)))
        new = mutate(data.draw, self.working[key])
        self.store.set(key, new)
        self.working[key] = copy_value(new)

    @rule(key=keys)
    def delete(self, key):
        self.store.delete(key)
        self.working.pop(key, None)

    @rule()
    def commit(self):
        before = self.store.version
        version = self.store.commit()
        if same(self.working, self.committed[-1]):
            assert version == before
        else:
            assert version == before + 1
            self.committed.append(copy_value(self.working))

    @rule(key=keys, step=st.integers(-3, 3))
    def update(self, key, step):
        def fn(v):
            return v + step if type(v) is int else step

        new = self.store.update(key, fn, default=None)
        expected = fn(self.working.get(key))
        assert same(new, expected)
        # update commits only its key, on top of the committed state
        committed = dict(self.committed[-1], **{key: expected})
        if not same(committed, self.committed[-1]):
            self.committed.append(committed)
        self.working[key] = expected

    @rule()
    def rollback(self):
        self.store.rollback()
        self.working = copy_value(self.committed[-1])

    @rule()
    def reopen(self):
        self.store.close()  # staged changes are dropped
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.store = _open(self.path)
        self.working = copy_value(self.committed[-1])
        assert self.store.version == len(self.committed) - 1

    @rule()
    def compact(self):
        assert self.store.compact() == len(self.committed) - 1
        snaps = list_snapshots(self.path / "snapshots")
        assert len(snaps) <= 1 and all(v == self.store.version for v, _ in snaps)

    @precondition(lambda self: list_snapshots(self.path / "snapshots"))
    @rule(data=st.data())
    def damage_newest_snapshot(self, data):
        _, path = list_snapshots(self.path / "snapshots")[0]
        raw = bytearray(path.read_bytes())
        if not raw:
            return
        # Drawn as a fraction: the file's length varies (its header holds a timestamp).
        where = data.draw(st.integers(0, 999)) * len(raw) // 1000
        if data.draw(st.booleans()):
            raw[where] ^= 0x40
        else:
            del raw[where:]
        path.write_bytes(bytes(raw))

    @rule(data=st.data())
    def at(self, data):
        v = data.draw(st.integers(0, len(self.committed) - 1))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert same(self.store.at(v), self.committed[v])

    @rule()
    def history_replays(self):
        state: dict = {}
        versions = []
        for entry in self.store.history():
            for change in entry.changes:
                state = _apply_change(state, change)
            versions.append(entry.version)
            assert same(state, self.committed[entry.version])
        assert versions == list(range(1, len(self.committed)))

    @invariant()
    def state_matches_the_model(self):
        assert same(self.store.state(), self.working)
        for k, v in self.working.items():
            assert same(self.store.get(k), v)


StoreMachine.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
test_store_machine = StoreMachine.TestCase
