"""Dictionaries: trained from the chain's own records, stored content-addressed beside the
segments, declared in the chain, retrained later; every older block stays readable."""

from __future__ import annotations

import os

from bitstream import BitStream, verify
from bitstream import format as fmt


def dict_files(path: str) -> list[str]:
    return sorted(n for n in os.listdir(path) if n.endswith(".zdict"))


def test_trained_then_retrained_old_blocks_readable(chain_path, event):
    records = [event(5, i) for i in range(700)]
    with BitStream(chain_path, durability="flush", train_at=(100, 400), train_records=300) as chain:
        for r in records[:150]:
            chain.append(r)
        assert chain.info()["dictionaries"] == 1
        chain.append_many(records[150:])  # crosses 400 inside the batch: retrained there
        assert chain.info()["dictionaries"] == 2
    names = dict_files(chain_path)
    assert [n[:12] for n in names] == ["dict-000000-", "dict-000001-"]
    for name in names:  # content-addressed: the name is the BLAKE2b-256 of the bytes
        ordinal, digest = fmt.parse_dict_name(name)
        assert fmt.blake(open(os.path.join(chain_path, name), "rb").read()) == digest
    with BitStream(chain_path, readonly=True) as chain:  # a fresh reader, no caches
        assert list(chain) == records
        assert chain.read(50) == records[50] and chain.read(250) == records[250]
    assert verify(chain_path).ok


def test_explicit_retrain(chain_path, event):
    with BitStream(chain_path, train_at=()) as chain:
        chain.append_many(event(6, i) for i in range(200))
        assert chain.info()["dictionaries"] == 0
        head = chain.head
        assert chain.retrain() is True
        assert chain.head == head  # a declaration is not a record
        chain.append_many(event(6, i) for i in range(200, 260))
        assert chain.retrain() is True
        chain.append(event(6, 260))
        assert chain.info()["dictionaries"] == 2
    with BitStream(chain_path) as chain:
        assert list(chain) == [event(6, i) for i in range(261)]
    report = verify(chain_path, trusted_head=head)
    assert report.ok and report.count == 261


def test_dictionary_makes_records_small(chain_path, event):
    """The size target in miniature (the benchmark measures the real one)."""
    records = [event(9, i) for i in range(3000)]
    with BitStream(chain_path, durability="flush") as chain:
        for r in records:
            chain.append(r)
        data = chain.info()["data_bytes"]
    assert data < 0.30 * sum(map(len, records))


def test_random_records_train_no_dictionary(chain_path):
    with BitStream(chain_path, durability="flush", train_at=(50,)) as chain:
        for _ in range(120):
            chain.append(os.urandom(300))
        assert chain.info()["dictionaries"] == 0
        assert chain.retrain() is False
    assert dict_files(chain_path) == []


def test_leftover_dictionary_of_a_dead_writer_is_replaced(chain_path, event):
    with BitStream(chain_path, train_at=()) as chain:
        chain.append_many(event(10, i) for i in range(100))
    orphan = fmt.dict_name(0, fmt.blake(b"never declared"))
    open(os.path.join(chain_path, orphan), "wb").write(b"never declared")
    with BitStream(chain_path) as chain:
        assert chain.retrain()
        chain.append(event(10, 100))
    names = dict_files(chain_path)
    assert len(names) == 1 and names[0] != orphan
    assert verify(chain_path).ok
