"""Real processes: eight updaters on one counter, and SIGKILL in the middle of commits."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from deltaram import DeltaRAM

UPDATER = textwrap.dedent(
    """
    import sys
    from deltaram import DeltaRAM

    path, me, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    sys.stdin.readline()  # start together
    s = DeltaRAM(path, checkpoint_min_bytes=4096)
    for j in range(1, n + 1):
        s.update("counter", lambda v: v + 1, default=0)
        if j % 25 == 0:
            # A read-modify-write of one field of a shared dict, through staging: the
            # commit rebases it onto the others' fields instead of overwriting them.
            shared = s.get("shared", {})
            shared[me] = j
            s.set("shared", shared)
            s.commit()
        if j % 100 == 0:  # like separate CLI runs: reopen now and then
            s.close()
            s = DeltaRAM(path, checkpoint_min_bytes=4096)
    s.close()
    """
)


def test_eight_processes_five_hundred_updates_each(tmp_path):
    path = tmp_path / "s"
    with DeltaRAM(path) as s:
        s.set("counter", 1000)
        s.commit()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", UPDATER, str(path), f"w{i}", "500"],
            stdin=subprocess.PIPE,
            text=True,
        )
        for i in range(8)
    ]
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    for p in procs:
        p.stdin.close()
        assert p.wait(timeout=300) == 0
    with DeltaRAM(path) as s:
        assert s.get("counter") == 1000 + 8 * 500
        assert s.get("shared") == {f"w{i}": 500 for i in range(8)}
        assert s.version == 1 + 8 * 500 + 8 * 20
        assert s.at(s.version) == s.state()


# The state at version v is a function of v alone, so a reopened store can be checked
# exactly, whichever process wrote which commit.
STEP = """
def step(s, v):
    s.set("counter", v)
    s.set(f"k{v % 7}", {"v": v, "pad": "x" * (v % 200), "l": list(range(v % 13))})
    s.delete(f"k{(v + 3) % 7}")
    s.set("none", None if v % 2 else v)
"""

CRASHER = STEP + textwrap.dedent(
    """
    import sys
    from deltaram import DeltaRAM

    with DeltaRAM(sys.argv[1], checkpoint_min_bytes=3000) as s:
        while True:
            step(s, s.version + 1)
            print(s.commit(), flush=True)
    """
)


class _Model:
    def __init__(self):
        self.data = {}

    def set(self, k, v):
        self.data[k] = v

    def delete(self, k):
        self.data.pop(k, None)


def expected_states(upto: int) -> list[dict]:
    namespace: dict = {}
    exec(STEP, namespace)
    model, states = _Model(), [{}]
    for v in range(1, upto + 1):
        namespace["step"](model, v)
        states.append(dict(model.data))
    return states


@pytest.mark.slow
def test_sigkill_during_commits_leaves_old_or_new_version(tmp_path):
    path = tmp_path / "s"
    rng = random.Random(1234)
    confirmed = 0
    for _round in range(15):
        proc = subprocess.Popen(
            [sys.executable, "-c", CRASHER, str(path)], stdout=subprocess.PIPE, text=True
        )
        time.sleep(rng.uniform(0.15, 0.5))
        os.kill(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        printed = [int(line) for line in out.split()]
        if printed:
            confirmed = max(confirmed, printed[-1])
        with DeltaRAM(path) as s:
            # Every commit that returned is there; the one being written is all or nothing.
            assert s.version >= confirmed
            assert s.version <= confirmed + 1
            states = expected_states(s.version)
            assert s.state() == states[s.version]
            for v in {0, 1, s.version // 2, s.version - 1, s.version} - {-1}:
                if 0 <= v <= s.version:
                    assert s.at(v) == states[v]
            confirmed = s.version
    assert confirmed > 15  # the children did get to commit
