"""Two handles on one store: staged changes rebased onto the other's commit, per path."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from deltaram import DeltaRAM, diff
from deltaram.values import same
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .strategies import mutate, states


def _at(root, path):
    for p in path:
        root = root[p]
    return root


@st.composite
def scenario(draw):
    base = draw(states)
    pool = sorted(base) + ["new1", "new2"]

    def edits():
        out = {}
        for k in draw(st.lists(st.sampled_from(pool), max_size=3, unique=True)):
            if k in base and draw(st.integers(0, 4)) == 0:
                out[k] = None  # delete
            else:
                out[k] = ("set", mutate(draw, base[k]) if k in base else draw(st.integers()))
        return out

    return base, edits(), edits()


def _stage(store, edits):
    for k, e in edits.items():
        if e is None:
            store.delete(k)
        else:
            store.set(k, e[1])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario())
def test_later_commit_wins_per_path_and_keeps_the_rest(case):
    base, mine, theirs = case
    d = Path(tempfile.mkdtemp(prefix="deltaram-"))
    try:
        with DeltaRAM(d / "s", durability="flush") as s:
            for k, v in base.items():
                s.set(k, v)
            s.commit()
        a = DeltaRAM(d / "s", durability="flush")
        b = DeltaRAM(d / "s", durability="flush")
        _stage(a, mine)
        _stage(b, theirs)
        expected_b = b.state()
        b.commit()
        a.commit()
        final = a.state()
        for k in set(base) | set(theirs) | set(mine):
            if k in mine:
                continue
            assert same(final.get(k), expected_b.get(k)) and ((k in final) == (k in expected_b))
        for k, e in mine.items():
            if e is None:
                assert k not in final  # my delete came last
                continue
            # every path I changed holds my value, whatever the other commit did
            for op in diff({k: base.get(k)} if k in base else {}, {k: e[1]}):
                if op[0] == "s":
                    assert same(_at(final, op[1]), op[2])
                elif op[0] == "l":
                    assert same(_at(final, op[1]), _at({k: e[1]}, op[1]))
        b.refresh()
        assert same(b.state(), final)
        a.close()
        b.close()
        with DeltaRAM(d / "s") as s:
            assert same(s.state(), final)
    finally:
        shutil.rmtree(d, ignore_errors=True)
