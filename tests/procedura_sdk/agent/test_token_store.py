"""The token file: where it lives, its permissions, atomic replacement."""

from __future__ import annotations

import os
import stat
import warnings

import pytest
from procedura_sdk.token_store import TOKEN_FILE_ENV, TokenFileWarning, TokenStore

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_path_resolution(tmp_path, monkeypatch):
    monkeypatch.delenv(TOKEN_FILE_ENV, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert TokenStore().path == tmp_path / ".procedura" / "token"
    monkeypatch.setenv(TOKEN_FILE_ENV, str(tmp_path / "env-token"))
    assert TokenStore().path == tmp_path / "env-token"
    assert TokenStore(tmp_path / "arg").path == tmp_path / "arg"


def test_load_without_file_is_none(tmp_path):
    assert TokenStore(tmp_path / "missing").load() is None


@posix_only
def test_save_creates_0600_file_in_0700_directory(tmp_path):
    old = os.umask(0o022)
    try:
        store = TokenStore(tmp_path / "deep" / "dir" / "token")
        assert store.save("tok-123") == store.path
    finally:
        os.umask(old)
    assert mode(store.path) == 0o600
    assert mode(store.path.parent) == 0o700
    assert store.load() == "tok-123"
    assert os.listdir(store.path.parent) == ["token"]


@posix_only
def test_save_replaces_and_keeps_0600(tmp_path):
    store = TokenStore(tmp_path / "token")
    store.save("first")
    store.save("second")
    assert store.load() == "second" and mode(store.path) == 0o600


@posix_only
def test_leftover_temp_file_with_loose_mode_is_not_reused(tmp_path):
    store = TokenStore(tmp_path / "token")
    leftover = tmp_path / f".token.{os.getpid()}.tmp"
    leftover.write_text("junk")
    os.chmod(leftover, 0o644)
    store.save("fresh")
    assert mode(store.path) == 0o600 and not leftover.exists()


@posix_only
def test_loose_permissions_are_warned_about(tmp_path):
    path = tmp_path / "token"
    path.write_text("tok\n")
    os.chmod(path, 0o644)
    with pytest.warns(TokenFileWarning, match="chmod 600"):
        assert TokenStore(path).load() == "tok"


@posix_only
def test_tight_permissions_do_not_warn(tmp_path):
    store = TokenStore(tmp_path / "token")
    store.save("tok")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert store.load() == "tok"


def test_warning_never_contains_the_token(tmp_path, recwarn):
    path = tmp_path / "token"
    path.write_text("very-secret-token\n")
    os.chmod(path, 0o666)
    TokenStore(path).load()
    assert all("very-secret-token" not in str(w.message) for w in recwarn)


def test_clear(tmp_path):
    store = TokenStore(tmp_path / "token")
    assert store.clear() is False
    store.save("x")
    assert store.clear() is True
    assert store.load() is None


@pytest.mark.parametrize("bad", ["", "   ", "a\nb", "a\rb"])
def test_save_rejects_unusable_tokens(tmp_path, bad):
    with pytest.raises(ValueError):
        TokenStore(tmp_path / "t").save(bad)


def test_empty_file_loads_as_none(tmp_path):
    path = tmp_path / "token"
    path.write_text("\n")
    os.chmod(path, 0o600)
    assert TokenStore(path).load() is None


def test_repr_shows_path_only(tmp_path):
    store = TokenStore(tmp_path / "token")
    store.save("secret-value")
    assert "secret-value" not in repr(store)
