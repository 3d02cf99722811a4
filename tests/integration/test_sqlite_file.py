"""The SQLite store as a file: which URLs name one, refusing a missing one, and the serve lock."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from flagward.storage.sqlite_file import StoreInUse, StoreNotFound, lock_path, require_existing, serve_lock, sqlite_path


def test_only_sqlite_files_have_a_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert sqlite_path("sqlite:///./flagward.db") == tmp_path / "flagward.db"
    assert sqlite_path(f"sqlite:///{tmp_path}/a.db") == tmp_path / "a.db"
    for url in ("sqlite://", "sqlite:///:memory:", "postgresql://postgres@127.0.0.1:5432/postgres"):
        assert sqlite_path(url) is None, url
        require_existing(url)  # nothing to check
        with serve_lock(url):
            pass


def test_a_missing_file_is_named_and_not_created(tmp_path: Path) -> None:
    with pytest.raises(StoreNotFound) as info:
        require_existing(f"sqlite:///{tmp_path}/missing.db")
    assert str(tmp_path / "missing.db") in str(info.value)
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "present.db").touch()
    require_existing(f"sqlite:///{tmp_path}/present.db")


def test_the_serve_lock_is_held_once_and_released_after(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/store.db"
    with serve_lock(url):
        assert lock_path(tmp_path / "store.db").read_text() == f"{os.getpid()}\n"
        with pytest.raises(StoreInUse) as info, serve_lock(url):
            pass
        assert f"pid {os.getpid()}" in str(info.value) and "PostgreSQL" in str(info.value)
    with serve_lock(url):  # released
        pass
