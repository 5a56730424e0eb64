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
reports what it cut. An append that fails part-way (a full disk) puts the old
tail back before raising. A file that is not a JSON array at all is moved aside,
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
_MAX_REPAIR_LINES = 64


class JsonArrayError(Exception):
    """The file cannot be appended to; the message says what was found and what was done."""


class JsonArrayFile:
    """A JSON array on disk, appended to by any number of processes (serialised by a file lock)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = FileLock(self.path.with_name(f".{self.path.name}.lock"))
        self.repairs: list[str] = []  # what the last append had to repair, for the caller to report
        self.started = False  # whether the last append began a new (empty or missing) file

    # -- writing ----------------------------------------------------------------
    def append(self, element: Any) -> None:
        """Append one element (anything ``json.dumps`` accepts; the constant-cost path
        recognises a file whose last element is a JSON object, as records are)."""
        self.extend([element])

    def extend(self, elements: Iterable[Any]) -> None:
        """Append several elements in one write."""
        self.extend_encoded([encode_element(e) for e in elements])

    def extend_encoded(self, lines: list[bytes]) -> None:
        """Append elements already encoded by :func:`encode_element`, in one write."""
        if not lines:
            return
        self.repairs = []
        self.started = False
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
                self._write_at_close(fd, close_at, chunk)
            finally:
                os.close(fd)

    def _write_at_close(self, fd: int, close_at: int, chunk: bytes) -> None:
        """Overwrite the closing bracket with ``chunk``; if that fails part-way (a full disk),
        put the old tail back, so the file is the valid array it was before the append."""
        size = os.fstat(fd).st_size
        old_tail = os.pread(fd, size - close_at, close_at)  # "]\n": a few bytes
        try:
            _pwrite_all(fd, chunk, close_at)
            os.ftruncate(fd, close_at + len(chunk))
        except OSError:
            # The old tail's blocks are still the file's, so restoring it needs no new space.
            os.ftruncate(fd, size)
            _pwrite_all(fd, old_tail, close_at)
            raise

    def rewrite(self, elements: Iterable[Any]) -> int:
        """Replace the whole file atomically with ``elements`` (used to rebuild from the chain)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.rebuild")
        count = 0
        with self._lock:
            with open(tmp, "wb") as out:
                out.write(b"[\n")
                for element in elements:
                    out.write((b",\n" if count else b"") + encode_element(element))
                    count += 1
                out.write(b"\n]\n" if count else b"]\n")
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
        return count

    def close(self) -> None:
        """Release the lock file's descriptor (the file stays usable: the next append reopens it)."""
        self._lock.close()

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

        The fast path reads only the tail and recognises this module's own layout:
        the bracket alone on the last line, right after a complete element line
        (``}``) or the opening bracket. Anything else (an array another program
        wrote, or a torn tail) is read whole, once. Repairs a torn tail; returns
        ``None`` when the file was moved aside.
        """
        size = os.fstat(fd).st_size
        if size == 0:
            _pwrite_all(fd, _EMPTY, 0)
            self.started = True
            return 2, False  # the bracket after "[\n"
        probe = min(size, _TAIL_PROBE)
        stripped = os.pread(fd, probe, size - probe).rstrip()
        if stripped.endswith(b"\n]") and stripped[-3:-2] in (b"}", b"["):
            return size - probe + len(stripped) - 1, stripped[-3:-2] == b"}"
        return self._inspect_whole(fd, size)

    def _inspect_whole(self, fd: int, size: int) -> tuple[int, bool] | None:
        data = _pread_all(fd, size)
        value = _loads_or_none(data)
        if isinstance(value, list):
            return len(data.rstrip()) - 1, bool(value)
        if value is not None:
            return self._move_aside(fd, f"it holds a JSON {type(value).__name__}, not an array")
        # A torn tail: cut back, one line at a time, to the longest prefix that closes
        # into a valid array. The candidate is checked before the file is touched.
        end = len(data)
        for _ in range(_MAX_REPAIR_LINES):
            head = data[:end].rstrip().rstrip(b",")
            repaired = _loads_or_none(head + b"\n]\n")
            if isinstance(repaired, list):
                os.ftruncate(fd, len(head))
                _pwrite_all(fd, b"\n]\n", len(head))
                self.repairs.append(
                    f"{self.path}: restored the closing bracket after an interrupted write "
                    f"(cut {size - len(head)} bytes of a torn last element; rebuild the file "
                    "from the event chain to restore it)"
                )
                return len(head) + 1, bool(repaired)
            end = data.rfind(b"\n", 0, end)
            if end < 0:
                break
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


def encode_element(element: Any) -> bytes:
    """One element as this file writes it: a single line of JSON."""
    return json.dumps(element, ensure_ascii=False, separators=(", ", ": "), default=str).encode()


def _loads_or_none(data: bytes) -> Any:
    """The decoded value, or None when ``data`` is not JSON (a JSON ``null`` is no array either)."""
    try:
        return json.loads(data)
    except ValueError:
        return None


def _pread_all(fd: int, size: int) -> bytes:
    chunks, offset = [], 0
    while offset < size:
        chunk = os.pread(fd, size - offset, offset)
        if not chunk:
            break
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def _pwrite_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written
