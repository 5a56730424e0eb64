"""Property-based round trips: a chain behaves like a list of bytes through any mix of
appends, batches, reads, tails, iteration and reopening in every durability mode."""

from __future__ import annotations

import json
import shutil
import tempfile

from bitstream import BitStream, verify
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

# JSON-ish records make dictionary training kick in (at 12 and 40 records, on these settings);
# arbitrary binary ones exercise raw blocks and empty records.
json_records = st.builds(
    lambda cmd, n, text: json.dumps(
        {"cmd": cmd, "n": n, "text": text, "client": "procedura-cli", "status": "ok"}
    ).encode(),
    st.sampled_from(["login", "move", "look", "craft"]),
    st.integers(0, 10**9),
    st.text(max_size=120),
)
records = st.one_of(json_records, st.binary(max_size=300))
OPTIONS = {"segment_bytes": 2048, "index_stride": 4, "train_at": (12, 40), "train_records": 64}


class ChainMachine(RuleBasedStateMachine):
    @initialize(durability=st.sampled_from(["fsync", "flush", "none"]))
    def open_chain(self, durability: str) -> None:
        self.dir = tempfile.mkdtemp(prefix="bitstream-prop-")
        self.path = f"{self.dir}/chain"
        self.model: list[bytes] = []
        self.chain = BitStream(self.path, durability=durability, **OPTIONS)

    @rule(data=records)
    def append(self, data: bytes) -> None:
        assert self.chain.append(data) == len(self.model)
        self.model.append(data)

    @rule(batch=st.lists(records, max_size=60))
    def append_many(self, batch: list[bytes]) -> None:
        got = self.chain.append_many(batch)
        assert got == range(len(self.model), len(self.model) + len(batch))
        self.model.extend(batch)

    @rule(n=st.integers(1, 120), seed=st.integers(0, 2**16), many=st.booleans())
    def append_events(self, n: int, seed: int, many: bool) -> None:
        """Volume cheaply: enough records to train dictionaries and fill segments."""
        batch = [
            json.dumps({"cmd": "move", "seed": seed, "i": i, "pad": "x" * (i % 97)}).encode()
            for i in range(n)
        ]
        if many:
            self.chain.append_many(batch)
        else:
            for r in batch:
                self.chain.append(r)
        self.model.extend(batch)

    @precondition(lambda self: self.model)
    @rule(i=st.integers(min_value=-(10**6), max_value=10**6))
    def read(self, i: int) -> None:
        seq = i % len(self.model)
        assert self.chain.read(seq) == self.model[seq]
        assert self.chain.read(seq - len(self.model)) == self.model[seq]

    @rule(n=st.integers(0, 50))
    def tail(self, n: int) -> None:
        assert self.chain.tail(n) == (self.model[-n:] if n else [])

    @rule(start=st.integers(0, 200))
    def iterate(self, start: int) -> None:
        assert list(self.chain.iter(start=start)) == self.model[start:]

    @rule(durability=st.sampled_from(["fsync", "flush", "none"]))
    def reopen(self, durability: str) -> None:
        self.chain.close()
        self.chain = BitStream(self.path, durability=durability, **OPTIONS)

    @invariant()
    def length_and_head(self) -> None:
        if not hasattr(self, "chain"):
            return
        assert len(self.chain) == len(self.model)
        head = self.chain.head
        assert (head.seq if head else -1) == len(self.model) - 1

    def teardown(self) -> None:
        if hasattr(self, "chain"):
            head = self.chain.head
            self.chain.close()
            report = verify(self.path, trusted_head=head)
            assert report.ok, report
            assert report.count == len(self.model)
            with BitStream(self.path, readonly=True) as chain:
                assert list(chain) == self.model
            shutil.rmtree(self.dir)


ChainMachine.TestCase.settings = settings(
    max_examples=35,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestChain = ChainMachine.TestCase
