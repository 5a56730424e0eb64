"""The one JSON-array file writer: appends in constant time, and the file stays valid JSON.

``events.json`` and ``errors.json`` are arrays a person opens in an editor. The
earlier client read, extended and rewrote the whole file on every command; here
an append reads only the last few bytes, overwrites the closing bracket with
``,\\n<element>\\n]\\n`` in one ``write`` call and never touches what came before.

Layout written by this module (any valid JSON array is accepted on input)::

    [
    {"element": 1},
    {"element": 2}
    ]

Each element is one line. A writer that died mid-append (power loss; a killed
process finishes its ``write`` call) leaves a torn last line: the next append
cuts the file back to the last complete element, restores the bracket and
reports what it cut. A file that is not a JSON array at all is moved aside,
never overwritten, a new array is started, and the caller is told where the old
file went (see ``repairs``). POSIX only (``pread``/``pwrite``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from bitstream import FileLock

_EMPTY = b"[\n]\n"
_TAIL_PROBE = 64


class JsonArrayError(Exception):
    """The file cannot be appended to; the message says what was found and what was done."""


class JsonArrayFile:
    """A JSON array on disk, appended to by any number of processes (serialised by a file lock)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = FileLock(self.path.with_name(f".{self.path.name}.lock"))
        self.repairs: list[str] = []  # what the last append had to repair, for the caller to report

    # -- writing ----------------------------------------------------------------
    def append(self, element: Any) -> None:
        """Append one element (anything ``json.dumps`` accepts)."""
        self.extend([element])

    def extend(self, elements: Iterable[Any]) -> None:
        """Append several elements in one write."""
        lines = [_encode(e) for e in elements]
        if not lines:
            return
        self.repairs = []
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                found = self._find_closing_bracket(fd)
                if found is None:  # moved aside: start a new array
                    os.close(fd)
                    fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
                    found = self._find_closing_bracket(fd)
                    assert found is not None
                close_at, has_elements = found
                body = b",\n".join(lines)
                chunk = (b",\n" if has_elements else b"") + body + b"\n]\n"
                _pwrite_all(fd, chunk, close_at)
                os.ftruncate(fd, close_at + len(chunk))
            finally:
                os.close(fd)

    def rewrite(self, elements: Iterable[Any]) -> int:
        """Replace the whole file atomically with ``elements`` (used to rebuild from the chain)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.rebuild")
        count = 0
        with self._lock:
            with open(tmp, "wb") as out:
                out.write(b"[\n")
                for element in elements:
                    out.write((b",\n" if count else b"") + _encode(element))
                    count += 1
                out.write(b"\n]\n" if count else b"]\n")
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
        return count

    # -- reading ----------------------------------------------------------------
    def read(self) -> list[Any]:
        """The whole array (raises ``JsonArrayError`` if the file is not a JSON array)."""
        try:
            data = json.loads(self.path.read_bytes() or b"[]")
        except FileNotFoundError:
            return []
        except ValueError as exc:
            raise JsonArrayError(f"{self.path} is not valid JSON ({exc}); rebuild it from the event chain") from exc
        if not isinstance(data, list):
            raise JsonArrayError(f"{self.path} holds a JSON {type(data).__name__}, not an array")
        return data

    def __iter__(self) -> Iterator[Any]:
        return iter(self.read())

    # -- the tail ---------------------------------------------------------------
    def _find_closing_bracket(self, fd: int) -> tuple[int, bool] | None:
        """Offset of the array's closing ``]`` and whether the array has elements.

        Repairs a torn tail first; returns ``None`` when the file was moved aside.
        """
        size = os.fstat(fd).st_size
        if size == 0:
            _pwrite_all(fd, _EMPTY, 0)
            return 2, False  # the bracket after "[\n"
        probe = min(size, _TAIL_PROBE)
        tail = os.pread(fd, probe, size - probe)
        stripped = tail.rstrip()
        if stripped.endswith(b"]"):
            close_at = size - probe + len(stripped) - 1
            before = _last_non_space_before(fd, close_at)
            if before is None:
                return self._move_aside(fd, "it holds a closing bracket but no opening one")
            return close_at, before != ord("[")
        return self._repair_torn_tail(fd, size)

    def _repair_torn_tail(self, fd: int, size: int) -> tuple[int, bool] | None:
        """Cut a torn last line back to the last complete element and report it."""
        pos = size
        window = 4096
        while pos > 0:
            start = max(0, pos - window)
            block = os.pread(fd, pos - start, start)
            newline = block.rfind(b"\n")
            while newline != -1:
                line_start = start + newline + 1
                line = os.pread(fd, size - line_start, line_start).split(b"\n", 1)[0]
                candidate = line.rstrip().rstrip(b",")
                is_open = candidate == b"["
                if is_open or _parses(candidate):
                    end = line_start + len(candidate)
                    cut = size - end
                    os.ftruncate(fd, end)
                    _pwrite_all(fd, b"\n]\n", end)
                    self.repairs.append(
                        f"{self.path}: restored the closing bracket after an interrupted write "
                        f"(cut {cut} bytes of a torn last element; rebuild from the chain to restore it)"
                    )
                    return end + 1, not is_open
                newline = block.rfind(b"\n", 0, newline)
            if start == 0:
                break
            pos = start
            window *= 2
        first = os.pread(fd, 1, 0)
        if first == b"[":  # only the opening bracket survived
            os.ftruncate(fd, 0)
            _pwrite_all(fd, _EMPTY, 0)
            self.repairs.append(f"{self.path}: held no complete element; reset to an empty array")
            return 2, False
        return self._move_aside(fd, "it is not a JSON array")

    def _move_aside(self, fd: int, why: str) -> None:
        aside = self.path.with_name(f"{self.path.name}.damaged-{os.fstat(fd).st_mtime_ns}")
        os.replace(self.path, aside)
        self.repairs.append(
            f"{self.path} could not be appended to because {why}; it was moved to {aside} "
            "(nothing was deleted) and a new array was started. Rebuild the mirror from the "
            "event chain with `procedura events --rebuild-json`."
        )
        return None


def _encode(element: Any) -> bytes:
    return json.dumps(element, ensure_ascii=False, separators=(", ", ": "), default=str).encode()


def _parses(line: bytes) -> bool:
    if not line.startswith((b"{", b"[", b'"')) and not line[:1].isdigit():
        return False
    try:
        json.loads(line)
    except ValueError:
        return False
    return True


def _last_non_space_before(fd: int, offset: int) -> int | None:
    """The last non-whitespace byte before ``offset``, reading backwards in small steps."""
    pos = offset
    while pos > 0:
        start = max(0, pos - _TAIL_PROBE)
        block = os.pread(fd, pos - start, start).rstrip()
        if block:
            return block[-1]
        pos = start
    return None


def _pwrite_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written
