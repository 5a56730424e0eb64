"""FileLock: the project's one cross-process lock (an exclusive ``flock`` on a lock file).

The lock is tied to an open file description, so the kernel releases it when the holding
process dies, however it dies: there are no stale lock files to clean up.
"""

from __future__ import annotations

import errno
import fcntl
import os
import threading
import time

from .errors import ChainPermissionError, LockTimeout


class FileLock:
    """An exclusive, blocking, cross-process lock on the file at ``path``.

    - ``with FileLock(p):`` or ``acquire()``/``release()``; ``acquire(timeout=s)`` (or the
      constructor's ``timeout``) raises :class:`LockTimeout` after ``s`` seconds instead of
      waiting forever.
    - Re-entrant for the thread that holds it through the same object: nested acquires only
      count. Other threads using the same object wait, as do other objects and processes.
      Two *different* FileLock objects on one path exclude each other even in one thread.
    - The lock file is created if missing and never deleted (deleting it would let two
      processes lock two different files). Its contents are not used.
    - Released when the process exits or is killed. Not inherited meaningfully across
      ``fork``: do not hold it while forking.
    """

    def __init__(self, path: str | os.PathLike[str], *, timeout: float | None = None) -> None:
        self.path = os.fspath(path)
        self.timeout = timeout
        self._fd: int | None = None
        self._thread_lock = threading.RLock()
        self._depth = 0

    def _open(self) -> int:
        if self._fd is None:
            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
            except PermissionError:
                try:  # flock works on a read-only descriptor; a reader may lack write access
                    self._fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
                except PermissionError as exc:
                    raise ChainPermissionError(
                        f"cannot open lock file {self.path}: permission denied; run as a user "
                        "who can read it, or fix the directory's owner and mode"
                    ) from exc
        return self._fd

    @property
    def locked(self) -> bool:
        """True while this object holds the lock (in any thread)."""
        return self._depth > 0

    def acquire(self, timeout: float | None = None) -> None:
        timeout = self.timeout if timeout is None else timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        if not self._thread_lock.acquire(timeout=-1 if timeout is None else max(timeout, 0)):
            raise self._timeout_error(timeout)
        try:
            if self._depth == 0:
                self._flock(deadline, timeout)
            self._depth += 1
        except BaseException:
            self._thread_lock.release()
            raise

    def _flock(self, deadline: float | None, timeout: float | None) -> None:
        fd = self._open()
        if deadline is None:
            fcntl.flock(fd, fcntl.LOCK_EX)
            return
        delay = 0.0005
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._timeout_error(timeout)
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, 0.05)

    def _timeout_error(self, timeout: float | None) -> LockTimeout:
        return LockTimeout(
            f"could not lock {self.path} within {timeout} s: another process (or thread) holds "
            "it; wait for it to finish, or raise the timeout"
        )

    def release(self) -> None:
        if self._depth == 0:
            raise RuntimeError(f"release of {self.path} which is not held")
        self._depth -= 1
        try:
            if self._depth == 0 and self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()

    def close(self) -> None:
        """Close the lock file (releasing the lock if held)."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            self._depth = 0
            os.close(fd)

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"FileLock({self.path!r}, locked={self.locked})"
