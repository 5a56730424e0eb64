"""The structural diff/patch engine: exact round trips, small deltas, None versus delete."""

from __future__ import annotations

import copy

import pytest
from deltaram.delta import PatchError, apply, check_op, diff, patch, rebase
from deltaram.record import decode_record, encode_record
from deltaram.values import copy_value, same
from hypothesis import given
from hypothesis import strategies as st

from .strategies import nearby_pairs, values


@given(values, values)
def test_patch_of_diff_is_exactly_the_target(a, b):
    a0, b0 = copy.deepcopy(a), copy.deepcopy(b)
    ops = diff(a, b)
    assert same(patch(a, ops), b)
    assert same(a, a0) and same(b, b0)  # neither input is touched


@given(nearby_pairs())
def test_patch_of_diff_on_nearby_values(pair):
    a, b = pair
    assert same(patch(a, diff(a, b)), b)


@given(values)
def test_no_change_no_ops(a):
    assert diff(a, copy.deepcopy(a)) == []


@given(nearby_pairs())
def test_ops_survive_the_record_encoding(pair):
    a, b = pair
    ops = diff({"k": a}, {"k": b})
    t, decoded = decode_record(encode_record(1.5, ops))
    assert t == 1.5
    for op in decoded:
        check_op(op)
    assert same(apply(copy_value({"k": a}), decoded), {"k": b})


@pytest.mark.parametrize(
    ("a", "b"),
    [(1, True), (1, 1.0), (0, False), (0.0, -0.0), (None, 0), ("1", 1), ([], {}), ({"x": 1}, {"x": 1.0})],
)
def test_exact_types_are_changes(a, b):
    assert not same(a, b)
    ops = diff({"k": a}, {"k": b})
    assert ops
    assert same(patch({"k": a}, ops)["k"], b)


def test_set_none_and_delete_are_different_ops():
    assert diff({"a": 1}, {"a": None}) == [["s", ["a"], None]]
    assert diff({"a": 1}, {}) == [["d", ["a"]]]
    assert diff({"a": None}, {}) == [["d", ["a"]]]
    assert diff({}, {"a": None}) == [["s", ["a"], None]]
    nested = diff({"a": {"b": 1}}, {"a": {"b": None}})
    assert nested == [["s", ["a", "b"], None]]


def test_one_field_of_a_wide_dict_writes_that_field():
    wide = {f"field{i}": i for i in range(10_000)}
    changed = dict(wide, field1234=-1)
    assert diff({"k": wide}, {"k": changed}) == [["s", ["k", "field1234"], -1]]


def test_nested_paths():
    a = {"cfg": {"ui": {"theme": "light", "size": 3}, "n": 1}}
    b = {"cfg": {"ui": {"theme": "dark", "size": 3}, "n": 1}}
    assert diff(a, b) == [["s", ["cfg", "ui", "theme"], "dark"]]


def test_lists_append_remove_and_edit_in_place():
    big = list(range(1000))
    assert diff({"l": big}, {"l": [*big, 1000]}) == [["l", ["l"], 1000, 1000, [1000]]]
    assert diff({"l": big}, {"l": big[1:]}) == [["l", ["l"], 0, 1, []]]
    rows = [{"id": i, "n": 0} for i in range(100)]
    edited = copy.deepcopy(rows)
    edited[42]["n"] = 1
    assert diff({"l": rows}, {"l": edited}) == [["s", ["l", 42, "n"], 1]]
    assert diff({"l": [1, 2, 3]}, {"l": [1, 9, 3]}) == [["s", ["l", 1], 9]]


def test_patch_rejects_ops_that_do_not_fit():
    with pytest.raises(PatchError):
        patch({"a": 1}, [["d", ["b"]]])
    with pytest.raises(PatchError):
        patch({"a": [1]}, [["s", ["a", 5], 0]])
    with pytest.raises(PatchError):
        patch({"a": [1]}, [["l", ["a"], 0, 3, []]])
    with pytest.raises(PatchError):
        patch({"a": 1}, [["s", ["a", "x"], 0]])
    with pytest.raises(PatchError):
        check_op(["s", [], 1])
    with pytest.raises(PatchError):
        check_op(["l", ["a"], True, 1, []])
    with pytest.raises(PatchError):
        decode_record(b'{"t": 1, "ops": [["x", ["a"]]]}')


@given(nearby_pairs())
def test_rebase_without_concurrent_change_is_the_plain_patch(pair):
    old, work = {"k": pair[0]}, {"k": pair[1]}
    assert same(rebase(diff(old, work), old, work, copy_value(old)), work)


@given(nearby_pairs(), nearby_pairs(), st.data())
def test_rebase_keeps_disjoint_concurrent_changes(mine, theirs, data):
    old = {"mine": mine[0], "theirs": theirs[0], "shared": {"x": 1}}
    work = dict(old, mine=mine[1])
    latest = dict(copy_value(old), theirs=theirs[1])
    result = rebase(diff(old, work), old, work, copy_value(latest))
    assert same(result, {**latest, "mine": mine[1]})


@given(nearby_pairs(), nearby_pairs())
def test_rebase_last_writer_wins_where_both_changed(mine, theirs):
    # Both sides change the same top-level value from the same start: whatever rebase
    # does, every path this writer changed ends with this writer's value.
    old = {"k": mine[0]}
    work = {"k": mine[1]}
    latest = {"k": patch(mine[0], diff(mine[0], theirs[1]))}
    result = rebase(diff(old, work), old, work, copy_value(latest))
    for op in diff(old, work):
        if op[0] == "s":
            assert same(_at(result, op[1]), op[2])


def test_rebase_merges_fields_and_widens_over_deleted_parents():
    old = {"cfg": {"a": 1, "b": 1}}
    work = {"cfg": {"a": 2, "b": 1}}
    latest = {"cfg": {"a": 1, "b": 5}}
    assert rebase(diff(old, work), old, work, copy_value(latest)) == {"cfg": {"a": 2, "b": 5}}
    gone = {}
    assert rebase(diff(old, work), old, work, gone) == work
    # Both appended to one list: the list is a unit, this writer's whole list wins.
    old = {"l": [1]}
    work = {"l": [1, 2]}
    latest = {"l": [1, 3]}
    assert rebase(diff(old, work), old, work, copy_value(latest)) == {"l": [1, 2]}


def _at(root, path):
    for p in path:
        root = root[p]
    return root
