"""Where the session token lives between runs: one file, readable by its owner only.

The token is written atomically (a 0600 temporary file, fsync, rename) in a
0700 directory, so a crash leaves either the old token or the new one and no
other user can read it at any moment. The token itself is never logged.
"""

from __future__ import annotations

import logging
import os
import stat
import warnings
from pathlib import Path

TOKEN_FILE_ENV = "PROCEDURA_TOKEN_FILE"
DEFAULT_TOKEN_FILE = Path("~") / ".procedura" / "token"

logger = logging.getLogger("procedura_sdk.agent")


class TokenFileWarning(UserWarning):
    """The token file can be read by other users; the message says how to fix it."""


class TokenStore:
    """The saved session token: ``path`` argument, else ``$PROCEDURA_TOKEN_FILE``, else ``~/.procedura/token``."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        if path is None:
            path = os.environ.get(TOKEN_FILE_ENV) or DEFAULT_TOKEN_FILE
        self.path = Path(path).expanduser()

    def __repr__(self) -> str:
        return f"TokenStore({str(self.path)!r})"

    def load(self) -> str | None:
        """The saved token, or ``None`` when there is none (no file, or an empty one)."""
        try:
            with open(self.path, encoding="utf-8") as handle:
                self._warn_if_loose(os.fstat(handle.fileno()).st_mode)
                token = handle.read().strip()
        except FileNotFoundError:
            return None
        return token or None

    def save(self, token: str) -> Path:
        """Replace the saved token atomically; returns the file's path."""
        if not isinstance(token, str) or not token.strip():
            raise ValueError("refusing to save an empty token")
        if any(ch in token for ch in "\r\n\0"):
            raise ValueError("a session token cannot contain line breaks or NUL")
        directory = self.path.parent
        if not directory.exists():
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            # mkdir's mode is filtered through the umask; say exactly what we mean.
            os.chmod(directory, 0o700)
        tmp = directory / f".{self.path.name}.{os.getpid()}.tmp"
        # A leftover from a crashed save may have other permissions: never reuse it.
        _unlink_quietly(tmp)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW, 0o600)
        try:
            try:
                os.write(fd, (token + "\n").encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.path)
        except BaseException:
            _unlink_quietly(tmp)
            raise
        _fsync_directory(directory)
        logger.info("saved session token to %s", self.path)
        return self.path

    def clear(self) -> bool:
        """Forget the saved token; returns whether there was one."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        _fsync_directory(self.path.parent)
        logger.info("removed session token file %s", self.path)
        return True

    def _warn_if_loose(self, mode: int) -> None:
        if os.name != "posix" or not mode & (stat.S_IRWXG | stat.S_IRWXO):
            return
        message = (
            f"token file {self.path} is accessible by other users "
            f"(mode {stat.S_IMODE(mode):04o}); run: chmod 600 {self.path}"
        )
        logger.warning(message)
        warnings.warn(message, TokenFileWarning, stacklevel=3)


_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def _fsync_directory(directory: Path) -> None:
    # Makes the rename durable; not possible (nor needed) on every platform.
    if os.name != "posix":
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError as exc:
        logger.debug("could not open %s to fsync it: %s", directory, exc)
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        logger.debug("could not fsync %s: %s", directory, exc)
    finally:
        os.close(fd)


def _unlink_quietly(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        logger.warning("could not remove temporary token file %s: %s", path, exc)


__all__ = ["TOKEN_FILE_ENV", "TokenFileWarning", "TokenStore"]
