"""Structural deltas: diff two JSON values into path operations, apply them, and rebase them.

An operation ("op") is a small JSON array, exactly as it is stored (see FORMAT.md):

- ``["s", path, value]``: set ``path`` to ``value`` (a dict key, an existing list index, or
  the root when ``path`` is empty);
- ``["d", path]``: delete the dict key ``path``;
- ``["l", path, start, stop, items]``: in the list at ``path``, replace ``[start:stop]`` by
  ``items`` (an insertion when ``start == stop``, a removal when ``items`` is empty).

A path is a list of ``str`` (dict keys) and ``int`` (list indices). Setting ``None`` and
deleting are different ops, so a stored ``None`` is never mistaken for a missing key. The ops
from one :func:`diff` touch disjoint parts of the value, so their order does not matter.

Nothing here does I/O; the store and the tests drive it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

from .values import copy_value, same

SET = "s"
DELETE = "d"
SPLICE = "l"

Op = list  # ["s", path, value] | ["d", path] | ["l", path, start, stop, items]


class PatchError(ValueError):
    """An op does not fit the value it is applied to (wrong path, kind or bounds)."""


def diff(a: Any, b: Any, path: Iterable[str | int] = ()) -> list[Op]:
    """The ops that turn ``a`` into ``b`` (exactly: ``patch(a, diff(a, b))`` is ``b``).

    Dicts are diffed key by key, recursively. Lists lose their common prefix and suffix; what
    is left is either one splice, or, when the changed middle has the same length on both sides
    and most of its elements are containers changed in place, one nested diff per changed index.
    """
    ops: list[Op] = []
    _diff(a, b, list(path), ops)
    return ops


def _diff(a: Any, b: Any, path: list, ops: list[Op]) -> None:
    ta = type(a)
    tb = type(b)
    if ta is dict and tb is dict:
        for k in a:
            if k not in b:
                ops.append([DELETE, [*path, k]])
        for k, v in b.items():
            if k not in a:
                ops.append([SET, [*path, k], v])
                continue
            old = a[k]
            if old is v:
                continue
            to = type(old)
            if to is type(v) and (to is dict or to is list):
                _diff(old, v, [*path, k], ops)
            elif not same(old, v):
                ops.append([SET, [*path, k], v])
    elif ta is list and tb is list:
        _diff_list(a, b, path, ops)
    elif not same(a, b):
        ops.append([SET, path, b])


def _diff_list(a: list, b: list, path: list, ops: list[Op]) -> None:
    n = len(a)
    m = len(b)
    shorter = min(n, m)
    lo = 0
    while lo < shorter and same(a[lo], b[lo]):
        lo += 1
    tail = 0
    while tail < shorter - lo and same(a[n - 1 - tail], b[m - 1 - tail]):
        tail += 1
    stop_a = n - tail
    stop_b = m - tail
    width = stop_a - lo
    if width == 0 and stop_b == lo:
        return
    if width == stop_b - lo:
        changed = [i for i in range(lo, stop_a) if not same(a[i], b[i])]
        # Containers changed in place diff small; a replaced scalar costs about what it
        # would inside a splice, plus its path. Go per index unless most are replacements.
        replaced = sum(
            1
            for i in changed
            if not (type(a[i]) is type(b[i]) and type(a[i]) in (dict, list))
        )
        if width == 1 or 2 * replaced <= width:
            for i in changed:
                _diff(a[i], b[i], [*path, i], ops)
            return
    ops.append([SPLICE, path, lo, stop_a, b[lo:stop_b]])


def _resolve(root: Any, path: list) -> Any:
    node = root
    for p in path:
        t = type(node)
        if t is dict and type(p) is str and p in node:
            node = node[p]
        elif t is list and type(p) is int and 0 <= p < len(node):
            node = node[p]
        else:
            raise PatchError(f"path {path!r} does not exist")
    return node


def apply(root: Any, ops: Iterable[Op]) -> Any:
    """Apply ``ops`` to ``root`` in place and return the (possibly new) root.

    Values inside the ops are inserted as they are, not copied.
    """
    for op in ops:
        root = _apply_one(root, op)
    return root


def _apply_one(root: Any, op: Op) -> Any:
    kind = op[0]
    path = op[1]
    if kind == SET:
        if not path:
            return op[2]
        parent = _resolve(root, path[:-1])
        k = path[-1]
        if type(parent) is dict and type(k) is str:
            parent[k] = op[2]
        elif type(parent) is list and type(k) is int and 0 <= k < len(parent):
            parent[k] = op[2]
        else:
            raise PatchError(f"cannot set {path!r}")
    elif kind == DELETE:
        if not path:
            raise PatchError("cannot delete the root")
        parent = _resolve(root, path[:-1])
        k = path[-1]
        if type(parent) is not dict or k not in parent:
            raise PatchError(f"cannot delete {path!r}: no such key")
        del parent[k]
    elif kind == SPLICE:
        target = _resolve(root, path)
        start, stop = op[2], op[3]
        if type(target) is not list or not (0 <= start <= stop <= len(target)):
            raise PatchError(f"cannot splice [{start}:{stop}] at {path!r}")
        target[start:stop] = op[4]
    else:
        raise PatchError(f"unknown op {kind!r}")
    return root


def patch(value: Any, ops: Iterable[Op]) -> Any:
    """A new value: ``value`` with ``ops`` applied (``value`` and ``ops`` are left untouched)."""
    return apply(copy_value(value), [copy_value(op) for op in ops])


def rebase(ops: list[Op], old: Any, work: Any, latest: Any) -> Any:
    """Apply ``ops`` (which turn ``old`` into ``work``) onto ``latest``; return the result.

    ``latest`` is ``old`` plus changes committed meanwhile by someone else; it is modified in
    place. The rule is last writer wins, per path: an op lands where it can still mean the same
    thing, namely a dict key whose parent dict still exists, or a list index or splice in a
    list nobody else changed. Otherwise the op is widened to its nearest ancestor where that
    holds, and that whole subtree takes this writer's value from ``work`` (at worst the whole
    top-level value).
    """
    widened: list[list] = []
    for op in ops:
        path = op[1]
        if any(path[: len(w)] == w for w in widened):
            continue  # already overwritten wholesale by a widened ancestor
        if _still_applies(op, old, latest):
            if op[0] == DELETE and path[-1] not in _resolve(latest, path[:-1]):
                continue  # someone else deleted it too
            latest = _apply_one(latest, copy_value(op))
            continue
        depth = len(path) if op[0] == SPLICE else len(path) - 1
        for j in range(depth, -1, -1):
            where = path[:j]
            if _can_replace(where, old, work, latest):
                latest = _replace(where, work, latest)
                widened.append(where)
                break
    return latest


def _try_resolve(root: Any, path: list) -> tuple[bool, Any]:
    try:
        return True, _resolve(root, path)
    except PatchError:
        return False, None


def _still_applies(op: Op, old: Any, latest: Any) -> bool:
    path = op[1]
    if op[0] == SPLICE:
        ok_l, target = _try_resolve(latest, path)
        ok_o, before = _try_resolve(old, path)
        return ok_l and ok_o and type(target) is list and same(target, before)
    if not path:
        return op[0] == SET
    ok, parent = _try_resolve(latest, path[:-1])
    if not ok:
        return False
    if type(parent) is dict:
        return type(path[-1]) is str
    if type(parent) is list:
        ok_o, before = _try_resolve(old, path[:-1])
        return ok_o and same(parent, before) and op[0] == SET
    return False


def _can_replace(where: list, old: Any, work: Any, latest: Any) -> bool:
    if not where:
        return True
    ok_w, wparent = _try_resolve(work, where[:-1])
    ok_l, lparent = _try_resolve(latest, where[:-1])
    if not (ok_w and ok_l):
        return False
    if type(wparent) is dict and type(lparent) is dict:
        return True
    if type(wparent) is list and type(lparent) is list:
        ok_o, before = _try_resolve(old, where[:-1])
        k = where[-1]
        return ok_o and same(lparent, before) and len(wparent) == len(lparent) and 0 <= k < len(lparent)
    return False


def _replace(where: list, work: Any, latest: Any) -> Any:
    ok, value = _try_resolve(work, where)
    if not where:
        return copy_value(value)
    parent = _resolve(latest, where[:-1])
    k = where[-1]
    if ok:
        parent[k] = copy_value(value)
    elif type(parent) is dict:
        parent.pop(k, None)
    return latest


class Change(NamedTuple):
    """One change inside a commit, as ``history()`` reports it.

    ``op`` is ``"set"``, ``"delete"`` or ``"splice"``; ``path`` starts with the top-level key.
    For a splice, ``start``/``stop`` bound the replaced slice and ``value`` holds the new items.
    """

    op: str
    path: tuple
    value: Any = None
    start: int | None = None
    stop: int | None = None


_NAMES = {SET: "set", DELETE: "delete", SPLICE: "splice"}


def describe(op: Op) -> Change:
    """The readable :class:`Change` for a stored op."""
    if op[0] == SPLICE:
        return Change("splice", tuple(op[1]), op[4], op[2], op[3])
    return Change(_NAMES[op[0]], tuple(op[1]), op[2] if op[0] == SET else None)


def check_op(op: Any) -> None:
    """Raise ``PatchError`` unless ``op`` is well formed as a stored op (top-level path)."""
    if type(op) is not list or not op:
        raise PatchError(f"op {op!r} is not a non-empty list")
    kind = op[0]
    want = {SET: 3, DELETE: 2, SPLICE: 5}.get(kind)
    if want is None or len(op) != want:
        raise PatchError(f"op {op!r} has an unknown kind or wrong length")
    path = op[1]
    if type(path) is not list or not path or type(path[0]) is not str:
        raise PatchError(f"op {op!r} has no path starting with a key")
    for p in path:
        if type(p) is not str and type(p) is not int:
            raise PatchError(f"op {op!r} has a path element that is not str or int")
    if kind == SPLICE and not (
        type(op[2]) is int and type(op[3]) is int and type(op[4]) is list
    ):
        raise PatchError(f"splice {op!r} needs int start, int stop and a list of items")
