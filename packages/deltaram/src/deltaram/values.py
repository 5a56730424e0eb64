"""What a storable value is: JSON data with exact types, validated and copied on the way in.

A value is ``None``, ``bool``, ``int``, a finite ``float``, ``str`` (valid Unicode), ``list``
or ``dict`` with ``str`` keys, nested freely. Types are checked exactly (``type(v) is dict``),
so subclasses such as ``OrderedDict`` or ``IntEnum`` members and tuples are refused rather
than silently coming back as something else after a reopen.
"""

from __future__ import annotations

import json
import math
from typing import Any

_SCALARS = (type(None), bool, int, float, str)

# One JSON dialect for every byte deltaram writes: compact, UTF-8, no NaN.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def encode(obj: Any) -> bytes:
    """The canonical bytes of an already-validated value or record."""
    return _ENCODER.encode(obj).encode("utf-8")


def decode(data: bytes | str) -> Any:
    """Parse bytes written by :func:`encode`."""
    return json.loads(data)


def _describe(key: str, where: list[Any]) -> str:
    if not where:
        return repr(key)
    return repr(key) + "".join(f"[{p!r}]" for p in where)


def _check_str(s: str, key: str, where: list[Any], what: str) -> None:
    if not s.isascii():
        try:
            s.encode("utf-8")
        except UnicodeEncodeError:
            raise TypeError(
                f"{what} at key {_describe(key, where)} is not valid Unicode "
                "(it holds a lone surrogate); only JSON strings can be stored"
            ) from None


def checked_copy(key: str, value: Any) -> Any:
    """Return an independent copy of ``value``, or raise ``TypeError`` naming ``key``.

    Validation and copying are one pass so that ``set()`` costs one walk of the value.
    """
    try:
        return _copy(key, value, [], set())
    except RecursionError:
        raise TypeError(
            f"value at key {key!r} is nested too deeply to store (Python's recursion limit)"
        ) from None


def _copy(key: str, value: Any, where: list[Any], seen: set[int]) -> Any:
    t = type(value)
    if t is str:
        _check_str(value, key, where, "a string")
        return value
    if t is int or t is bool or value is None:
        return value
    if t is float:
        if not math.isfinite(value):
            raise TypeError(
                f"value at key {_describe(key, where)} is {value!r}; NaN and infinities "
                "are not JSON and cannot be stored"
            )
        return value
    if t is dict:
        if id(value) in seen:
            raise TypeError(f"value at key {_describe(key, where)} contains itself")
        seen.add(id(value))
        out = {}
        for k, v in value.items():
            if type(k) is not str:
                raise TypeError(
                    f"dict at key {_describe(key, where)} has a {type(k).__name__} key "
                    f"{k!r}; JSON object keys must be str"
                )
            _check_str(k, key, where, "a dict key")
            where.append(k)
            out[k] = _copy(key, v, where, seen)
            where.pop()
        seen.discard(id(value))
        return out
    if t is list:
        if id(value) in seen:
            raise TypeError(f"value at key {_describe(key, where)} contains itself")
        seen.add(id(value))
        out_list = []
        for i, v in enumerate(value):
            where.append(i)
            out_list.append(_copy(key, v, where, seen))
            where.pop()
        seen.discard(id(value))
        return out_list
    hint = " (use a list)" if t is tuple else ""
    raise TypeError(
        f"value at key {_describe(key, where)} is a {t.__module__}.{t.__qualname__}{hint}; "
        "only dict, list, str, int, float, bool and None can be stored"
    )


def check_key(key: Any) -> None:
    """Top-level keys are JSON object keys: ``str``, valid Unicode."""
    if type(key) is not str:
        raise TypeError(f"key {key!r} is a {type(key).__name__}; keys must be str")
    _check_str(key, key, [], "the key")


def copy_value(value: Any) -> Any:
    """Copy an already-validated value (no checks): containers are new, scalars shared."""
    t = type(value)
    if t is dict:
        return {k: copy_value(v) for k, v in value.items()}
    if t is list:
        return [copy_value(v) for v in value]
    return value


def same(a: Any, b: Any) -> bool:
    """Exact equality: ``True`` is not ``1``, ``1`` is not ``1.0``, ``0.0`` is not ``-0.0``."""
    # ``==`` is looser than exact equality, never stricter, so it rejects at C speed first.
    return a == b and _same(a, b)


def _same(a: Any, b: Any) -> bool:
    ta = type(a)
    if ta is not type(b):
        return False
    if ta is dict:
        if len(a) != len(b):
            return False
        for k, v in a.items():
            if k not in b or not _same(v, b[k]):
                return False
        return True
    if ta is list:
        if len(a) != len(b):
            return False
        return all(_same(x, y) for x, y in zip(a, b, strict=True))
    if ta is float:
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    return a == b
