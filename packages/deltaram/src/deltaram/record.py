"""The delta record: one commit, as the bytes of one bitstream record (see FORMAT.md)."""

from __future__ import annotations

from typing import Any

from .delta import Op, PatchError, check_op
from .values import decode, encode


def encode_record(time: float, ops: list[Op]) -> bytes:
    return encode({"t": time, "ops": ops})


def decode_record(data: bytes) -> tuple[float, list[Op]]:
    """``(time, ops)`` of a stored record; ``PatchError`` if it is not a well-formed one."""
    try:
        obj: Any = decode(data)
    except ValueError as exc:
        raise PatchError(f"record is not JSON: {exc}") from None
    if type(obj) is not dict or type(obj.get("ops")) is not list:
        raise PatchError("record is not an object with an ops list")
    t = obj.get("t")
    if type(t) is not float and type(t) is not int:
        raise PatchError("record has no numeric time")
    for op in obj["ops"]:
        check_op(op)
    return float(t), obj["ops"]
