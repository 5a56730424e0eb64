"""What can be stored: JSON with exact types, refused with a TypeError naming the key."""

from __future__ import annotations

import collections
import enum
import math

import pytest
from deltaram.values import check_key, checked_copy, same
from hypothesis import given

from .strategies import values


class Colour(enum.IntEnum):
    RED = 1


@pytest.mark.parametrize(
    "bad",
    [
        (1, 2),
        {1, 2},
        b"bytes",
        math.nan,
        math.inf,
        -math.inf,
        {"nested": [1, {"deep": object()}]},
        {1: "int key"},
        collections.OrderedDict(a=1),
        Colour.RED,
        "lone \ud800 surrogate",
        {"k\udfff": 1},
    ],
)
def test_non_json_values_raise_type_error_naming_the_key(bad):
    with pytest.raises(TypeError, match="'the_key'"):
        checked_copy("the_key", bad)


def test_error_names_the_path_inside_the_value():
    with pytest.raises(TypeError, match=r"'cfg'\['a'\]\[1\]"):
        checked_copy("cfg", {"a": [0, (1,)]})


def test_cycles_are_refused():
    d: dict = {}
    d["self"] = d
    with pytest.raises(TypeError, match="contains itself"):
        checked_copy("k", d)
    shared = [1]
    assert checked_copy("k", [shared, shared]) == [[1], [1]]  # sharing is not a cycle


@pytest.mark.parametrize("key", [1, None, b"k", ("a",), "\ud800"])
def test_keys_must_be_str(key):
    with pytest.raises(TypeError):
        check_key(key)


@given(values)
def test_checked_copy_is_equal_and_independent(v):
    c = checked_copy("k", v)
    assert same(c, v)
    if isinstance(v, (dict, list)):
        assert c is not v


def test_same_is_exact():
    assert same({"a": [1, 2.0, None]}, {"a": [1, 2.0, None]})
    assert not same(1, True)
    assert not same(1, 1.0)
    assert not same(0.0, -0.0)
    assert not same([1], [True])
    assert not same({"a": None}, {})


def test_absurd_nesting_is_a_type_error():
    deep: list = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(TypeError, match="'k'.*nested too deeply"):
        checked_copy("k", deep)
