"""store_from_url: the accepted forms and the errors for everything else."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from hoiivr.errors import ConfigError
from hoiivr.stores import MemoryStore, RedisStore, SQLiteStore, store_from_url


def test_memory_url_makes_a_memory_store() -> None:
    with store_from_url("memory://") as store:
        assert isinstance(store, MemoryStore)


def test_sqlite_url_with_three_slashes_is_relative_to_the_working_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with store_from_url("sqlite:///data/calls.sqlite3") as store:
        assert isinstance(store, SQLiteStore)
        assert store.path == "data/calls.sqlite3"
    assert (tmp_path / "data" / "calls.sqlite3").is_file()


def test_sqlite_url_with_four_slashes_is_absolute(tmp_path: Path) -> None:
    path = tmp_path / "new" / "dir" / "calls.sqlite3"
    with store_from_url(f"sqlite:///{path}") as store:
        assert isinstance(store, SQLiteStore)
        assert store.path == str(path)
    assert path.is_file()


def test_redis_url_takes_the_prefix_from_the_query(redis_prefix: str) -> None:
    with store_from_url(f"redis://127.0.0.1:6379/0?prefix={redis_prefix}") as store:
        assert isinstance(store, RedisStore)
        assert store.prefix == redis_prefix
        assert store.key_for("call", "S1") == f"{redis_prefix}call:S1"


def test_redis_url_without_prefix_uses_hoiivr() -> None:
    with store_from_url("redis://127.0.0.1:6379/0") as store:
        assert isinstance(store, RedisStore)
        assert store.prefix == "hoiivr:"


@pytest.mark.parametrize("url, why", [
    ("postgres://db/calls", "unknown scheme 'postgres'"),
    ("calls.sqlite3", "not a URL"),
    ("", "not a URL"),
    ("memory://somewhere", "memory:// takes no"),
    ("sqlite://host/calls.sqlite3", "no host"),
    ("sqlite://", "no host"),
    ("sqlite:///", "no file path"),
    ("sqlite:///calls.sqlite3?timeout=5", "no options"),
    ("redis://127.0.0.1:6379/0?prefix=a&prefix=b", "more than once"),
])
def test_bad_urls_raise_config_error_listing_the_accepted_forms(url: str, why: str) -> None:
    with pytest.raises(ConfigError, match="Accepted forms: memory://, sqlite:///") as info:
        store_from_url(url)
    assert why in str(info.value)


def test_redis_url_without_the_redis_package_says_what_to_install(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)  # makes `import redis` fail
    with pytest.raises(ConfigError, match=r"pip install -e '\.\[redis\]' \(from a clone of hoiivr\)"):
        store_from_url("redis://127.0.0.1:6379/0")


def test_bad_redis_port_raises_config_error() -> None:
    with pytest.raises(ConfigError, match="bad Redis URL"):
        store_from_url("redis://127.0.0.1:port/0")


@pytest.mark.parametrize("url, why", [
    ("redis://127.0.0.1:6379/0?prefx=app:", "unexpected keyword argument 'prefx'"),
    ("redis://127.0.0.1:6379/0?socket_timeout=soon", "socket_timeout"),
    ("redis://127.0.0.1:6379/l", "the database 'l' is not a number"),
    ("redis://:hunter2/x@127.0.0.1:6379/0", "percent-encode it (/ as %2F"),
    ("redis://:hunter2@127.0.0.1:port/0", "bad Redis URL 'redis://:***@127.0.0.1:port/0'"),
    ("redis://:hunter2@127.0.0.1:6379/0?prefix=a&prefix=b", "'redis://:***@127.0.0.1"),
    ("redis://127.0.0.1:6379/0?password=hunter2&prefx=a", "?password=***&prefx=a'"),
    ("redis://127.0.0.1:port/0?password=hunter2", "?password=***'"),
])
def test_a_redis_url_redis_py_would_take_and_fail_on_later_is_refused_now_without_its_password(
        url: str, why: str) -> None:
    """A misspelt option would fail every notification, from the first; a password is
    never shown."""
    with pytest.raises(ConfigError) as info:
        store_from_url(url)
    assert why in str(info.value) and "hunter2" not in str(info.value)
