"""Beaker's Cache / CacheManager API over every backend type, against real files and servers."""

from __future__ import annotations

import threading
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

import pytest

from beaker.cache import Cache, CacheManager, cache_region, cache_regions, region_invalidate
from beaker.compat.exceptions import (
    BackendNotProvided,
    BeakerException,
    InvalidCacheBackendError,
    MissingCacheParameter,
    RegionNotConfigured,
    UnknownBackendType,
)
from beaker.errors import BeakerError, ConfigError
from beaker.util import parse_cache_config_options
from tests.compat import _real_beaker


@pytest.fixture(
    params=[
        "memory",
        "file",
        "dbm",
        "ext:redis",
        "ext:rediscluster",
        "ext:memcached",
        "ext:database",
        "ext:database-postgresql",
    ]
)
def options(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    kind = request.param
    if kind in ("file", "dbm"):
        return {
            "type": kind,
            "data_dir": str(tmp_path / "data"),
            "lock_dir": str(tmp_path / "lock"),
        }
    if kind == "ext:redis":
        return {"type": kind, "url": request.getfixturevalue("redis_url")}
    if kind == "ext:rediscluster":
        return {"type": kind, "url": request.getfixturevalue("redis_cluster_url")}
    if kind == "ext:memcached":
        return {"type": kind, "url": request.getfixturevalue("memcached_client")}
    if kind == "ext:database":
        return {
            "type": kind,
            "url": f"sqlite:///{tmp_path / 'cache.db'}",
            "sa.pool_recycle": "3600",
        }
    if kind == "ext:database-postgresql":
        return {"type": "ext:database", "url": request.getfixturevalue("postgresql_url")}
    return {"type": kind}


def _namespace() -> str:
    return f"compat-test-{uuid.uuid4().hex}"


def test_get_put_remove_clear_and_aliases(options: dict[str, Any]) -> None:
    cache = Cache(_namespace(), **options)
    with pytest.raises(KeyError):
        cache.get("missing")
    cache.put("a", {"x": [1, 2]})
    assert cache.get("a") == {"x": [1, 2]}
    assert cache.get_value("a") == {"x": [1, 2]}
    cache.set_value("b", None)  # None is a value
    assert cache.get("b") is None
    assert "b" in cache and cache.has_key("b")
    cache["c"] = 3
    assert cache["c"] == 3
    del cache["c"]
    assert "c" not in cache
    cache.remove_value("b")
    cache.remove("nothing-there")  # not an error
    assert not cache.has_key("b")
    cache.put("d", 4)
    cache.clear()
    assert "a" not in cache and "d" not in cache


def test_unicode_and_non_str_keys(options: dict[str, Any]) -> None:
    cache = Cache(_namespace(), **options)
    cache.put("caf\u00e9 \u2603", 1)
    assert cache.get("caf\u00e9 \u2603") == 1
    cache.put(42, "int key")
    assert cache.get(42) == "int key"


def test_createfunc_called_on_miss_only(options: dict[str, Any]) -> None:
    cache = Cache(_namespace(), **options)
    calls: list[int] = []

    def create() -> str:
        calls.append(1)
        return "made"

    assert cache.get(key="gophers", createfunc=create) == "made"
    assert cache.get(key="gophers", createfunc=create) == "made"
    assert calls == [1]
    cache.remove_value(key="gophers")
    assert cache.get("gophers", createfunc=create) == "made"
    assert calls == [1, 1]


def test_expiretime_zero_means_always_stale(options: dict[str, Any]) -> None:
    cache = Cache(_namespace(), **options)
    cache.put("k", "v", expiretime=0)
    assert "k" not in cache
    calls: list[int] = []
    cache.get("j", createfunc=lambda: calls.append(1), expiretime=0)
    cache.get("j", createfunc=lambda: calls.append(1), expiretime=0)
    assert calls == [1, 1]


def test_expire_is_written_with_the_entry(options: dict[str, Any]) -> None:
    name = _namespace()
    cache = Cache(name, expire=3600, **options)
    before = time.time()
    cache.put("k", "v")
    entry = cache._core.store.get(name, "k")
    assert entry is not None and entry.expires_at is not None
    assert entry.expires_at - entry.stored_at == pytest.approx(3600)
    assert entry.stored_at >= before - 1


def test_starttime_makes_older_values_stale() -> None:
    cache = Cache(_namespace(), type="memory")
    cache.put("k", "old")
    later = Cache(cache.namespace_name, type="memory", starttime=time.time() + 10)
    with pytest.raises(KeyError):
        later.get("k")
    assert later.get("k", createfunc=lambda: "new") == "new"


def test_same_namespace_shares_storage_across_cache_objects(options: dict[str, Any]) -> None:
    name = _namespace()
    Cache(name, **options).put("k", "shared")
    assert Cache(name, expire=10, **options).get("k") == "shared"


def test_dogpile_createfunc_runs_once_among_threads(options: dict[str, Any]) -> None:
    cache = Cache(_namespace(), **options)
    calls: list[int] = []
    started = threading.Barrier(6)
    gate = threading.Event()

    def create() -> str:
        calls.append(1)
        gate.wait(5)
        return "v"

    results: list[str] = []

    def worker() -> None:
        started.wait()
        results.append(cache.get("k", createfunc=create))

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    while not calls:
        time.sleep(0.005)
    time.sleep(0.05)  # let the others queue on the lock
    gate.set()
    for thread in threads:
        thread.join(10)
    assert results == ["v"] * 6
    assert calls == [1]


def test_enabled_false_is_for_decorators_a_cache_object_still_stores() -> None:
    # As Beaker 1.14.1: ``enabled`` switches regions and decorators; Cache ignores it.
    cache = Cache(_namespace(), type="memory", enabled=False)
    cache.put("k", "v")
    assert cache.get("k") == "v"
    assert (
        _real_beaker.run(
            """
        from beaker.cache import Cache
        cache = Cache("ns", type="memory", enabled=False)
        cache.put("k", "v")
        result = cache.get("k")
        """
        )
        == "v"
    )


def test_legacy_type_argument_still_works_with_a_deprecation_warning(tmp_path: Path) -> None:
    cache = Cache(_namespace(), type="memory", data_dir=str(tmp_path))
    with pytest.warns(DeprecationWarning):
        cache.put("k", "v", type="file")
    with pytest.warns(DeprecationWarning):
        assert cache.get("k", type="file") == "v"
    assert "k" not in cache  # the memory namespace never saw it


def test_cache_manager_get_cache_and_regions(tmp_path: Path) -> None:
    manager = CacheManager(
        **parse_cache_config_options(
            {
                "cache.type": "file",
                "cache.data_dir": str(tmp_path / "data"),
                "cache.lock_dir": str(tmp_path / "lock"),
                "cache.regions": "short_term, long_term",
                "cache.short_term.type": "memory",
                "cache.short_term.expire": "3600",
                "cache.long_term.expire": "86400",
            }
        )
    )
    assert set(cache_regions) >= {"short_term", "long_term"}
    file_cache = manager.get_cache("ns")
    assert file_cache.type == "file"
    assert manager.get_cache("ns") is file_cache  # one Cache per namespace and options
    dbm_cache = manager.get_cache("mytemplate.html", type="dbm", expire=3600)
    assert dbm_cache.type == "dbm" and dbm_cache.expiretime == 3600
    short = manager.get_cache_region("ns", "short_term")
    assert short.type == "memory" and short.expiretime == 3600
    long = manager.get_cache_region("ns", "long_term")
    assert long.type == "file" and long.expiretime == 86400
    with pytest.raises(BeakerException):
        manager.get_cache_region("ns", "nope")


def test_cache_region_before_configuration_and_disabled_region() -> None:
    calls: list[str] = []

    @cache_region("later", "tag")
    def load(term: str) -> str:
        calls.append(term)
        return term.upper()

    with pytest.raises(RegionNotConfigured) as info:
        load("x")
    assert isinstance(info.value, BeakerException) and "later" in str(info.value)
    cache_regions.update({"later": {"type": "memory", "expire": "60"}})
    assert load("x") == "X" and load("x") == "X"
    assert calls == ["x"]
    region_invalidate(load, None, "tag", "x")
    assert load("x") == "X"
    assert calls == ["x", "x"]
    # Replacing the region's options (as pyramid_beaker does) takes effect at the next call.
    cache_regions["later"] = {"type": "memory", "enabled": False}
    load("x")
    load("x")
    assert calls == ["x", "x", "x", "x"]


def test_every_change_to_cache_regions_reaches_decorated_functions() -> None:
    """Whatever dict method changes ``cache_regions``, the next call of a decorated function
    uses the region as it is now (the resolved caches are forgotten)."""
    calls: list[int] = []

    @cache_region("changing", "tag")
    def load(value: int) -> int:
        calls.append(value)
        return value

    cache_regions["changing"] = {"type": "memory", "expire": "60"}
    assert load(1) == 1 and load(1) == 1 and calls == [1]
    regions = cache_regions
    regions |= {"changing": {"type": "memory", "enabled": False}}  # in place: the same dict
    assert regions is cache_regions
    assert load(1) == 1 and calls == [1, 1]
    del cache_regions["changing"]
    with pytest.raises(RegionNotConfigured):
        load(1)
    cache_regions.setdefault("changing", {"type": "memory", "expire": "61"})
    assert load(2) == 2 and load(2) == 2 and calls == [1, 1, 2]
    cache_regions.update(changing={"type": "memory", "enabled": False})
    assert load(2) == 2 and calls == [1, 1, 2, 2]
    cache_regions.pop("changing")
    with pytest.raises(RegionNotConfigured):
        load(2)
    cache_regions["changing"] = {"type": "memory", "expire": "62"}
    assert load(3) == 3
    cache_regions.clear()
    with pytest.raises(RegionNotConfigured):
        load(3)


def test_region_invalidate_needs_a_region() -> None:
    with pytest.raises(BeakerException):
        region_invalidate("some|namespace", None, "a")
    with pytest.raises(RegionNotConfigured):
        region_invalidate("some|namespace", "unknown", "a")


def test_manager_decorator_ignores_enabled_and_respects_type(tmp_path: Path) -> None:
    # Beaker 1.14.1's CacheManager.cache caches even with enabled=False (only regions obey it).
    manager = CacheManager(type="memory", enabled=False)
    calls: list[int] = []

    @manager.cache("x")
    def f(a: int) -> int:
        calls.append(a)
        return a

    f(1)
    f(1)
    assert calls == [1]
    assert _real_beaker.run(
        """
        from beaker.cache import CacheManager
        calls = []
        @CacheManager(type="memory", enabled=False).cache("x")
        def f(a):
            calls.append(a)
            return a
        f(1)
        f(1)
        result = calls
        """
    ) == [1]
    calls.clear()
    files = CacheManager(data_dir=str(tmp_path), type="memory")

    @files.cache("mycache", type="file", expire=15)
    def load(term: str, limit: int, offset: int) -> list[Any]:
        calls.append(limit)
        return [term, limit, offset]

    assert load("rabbits", 20, 0) == ["rabbits", 20, 0]
    assert load("rabbits", 20, 0) == ["rabbits", 20, 0]
    assert calls == [20]
    files.invalidate(load, "mycache", "rabbits", 20, 0, type="file")
    load("rabbits", 20, 0)
    assert calls == [20, 20]


def test_unknown_and_not_provided_types() -> None:
    with pytest.raises(UnknownBackendType) as info:
        Cache("ns", type="ext:nosuch")
    assert isinstance(info.value, TypeError)
    for name in ("ext:mongodb", "ext:google"):
        with pytest.raises(BackendNotProvided) as not_provided:
            Cache("ns", type=name, url="mongodb://localhost")
        assert isinstance(not_provided.value, InvalidCacheBackendError)
        assert "does not provide" in str(not_provided.value)


@pytest.mark.parametrize(
    ("kind", "option"),
    [
        ("file", "data_dir"),
        ("dbm", "data_dir"),
        ("ext:redis", "url"),
        ("ext:rediscluster", "url"),
        ("ext:memcached", "url"),
        ("ext:database", "url"),
    ],
)
def test_missing_required_option_is_named(kind: str, option: str) -> None:
    with pytest.raises(MissingCacheParameter) as info:
        Cache("ns", type=kind)
    assert isinstance(info.value, ConfigError) and info.value.option == option
    assert kind in str(info.value)


def test_bad_manager_options_fail_at_construction() -> None:
    with pytest.raises(ConfigError) as info:
        CacheManager(type="memory", expire="soon")
    assert info.value.option == "expire"
    with pytest.raises(BeakerError):
        CacheManager(cache_regions={"r": {"type": "bogus"}})


def test_cache_regions_strings_from_documentation_are_coerced() -> None:
    cache_regions.update({"short_term": {"expire": "60", "type": "memory"}})
    calls: list[int] = []

    @cache_region("short_term", "load_things")
    def load(search_term: str, limit: int, offset: int) -> list[int]:
        calls.append(1)
        return list(range(offset, offset + limit))

    assert load("x", 2, 1) == [1, 2] == load("x", 2, 1)
    assert calls == [1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        region_invalidate(load, "short_term", "load_things", "x", 2, 1)
    load("x", 2, 1)
    assert calls == [1, 1]


def test_sqla_type_takes_a_bound_engine(tmp_path: Path) -> None:
    import sqlalchemy

    engine = sqlalchemy.create_engine(f"sqlite:///{tmp_path / 'sqla.db'}")
    cache = Cache(_namespace(), type="ext:sqla", bind=engine, table_name="my_cache")
    cache.put("k", [1, 2])
    assert Cache(cache.namespace_name, type="ext:sqla", bind=engine, table_name="my_cache").get(
        "k"
    ) == [1, 2]
    assert "my_cache" in sqlalchemy.inspect(engine).get_table_names()
    engine.dispose()


def test_per_call_expiry_spellings_and_unknown_keywords() -> None:
    name = _namespace()
    cache = Cache(name, type="memory")
    cache.put("a", 1, expire=0)  # ``expire`` accepted as well as Beaker's ``expiretime``
    assert "a" not in cache
    assert cache.get("b", createfunc=lambda: 2, expire=30) == 2
    entry = cache._core.store.get(name, "b")
    assert entry is not None and entry.expires_at is not None
    with pytest.raises(TypeError):
        cache.get("b", createfnuc=lambda: 3)
    with pytest.raises(TypeError):
        cache.put("b", 3, expires=5)


def test_cache_middleware_without_data_dir_fails_when_built() -> None:
    from beaker.middleware import CacheMiddleware

    with pytest.raises(MissingCacheParameter) as info:
        CacheMiddleware(lambda environ, start_response: [], {"cache.type": "file"})
    assert "data_dir" in str(info.value)


@pytest.mark.parametrize("value", ["9" * 400, 10**400, float("inf"), float("nan"), "1e999"])
def test_huge_infinite_and_nan_expire_are_refused_naming_the_option(value: Any) -> None:
    config = {"cache.regions": "short_term", "cache.short_term.expire": value}
    with pytest.raises(ConfigError) as info:
        parse_cache_config_options(config)
    assert info.value.option == "cache.short_term.expire"
    with pytest.raises(ConfigError) as info:
        parse_cache_config_options({"cache.expire": value})
    assert info.value.option == "cache.expire"


def test_option_objects_hide_secrets_and_compare_by_value() -> None:
    from beaker.compat.config import cache_options

    given = {"type": "ext:redis", "url": "redis://:hunter2@localhost/0", "password": "hunter2"}
    options = cache_options(given)
    assert "hunter2" not in repr(options)
    assert options == cache_options(dict(given)) and hash(options) == hash(cache_options(given))
    assert options != cache_options({**given, "url": "redis://localhost/1"})


@pytest.mark.parametrize("kind", ["ext:redis", "ext:rediscluster", "ext:memcached"])
def test_a_network_backend_opens_one_connection_for_its_store_and_lock(
    kind: str, request: pytest.FixtureRequest
) -> None:
    fixture = {"ext:redis": "redis_url", "ext:rediscluster": "redis_cluster_url"}
    url = request.getfixturevalue(fixture.get(kind, "memcached_client"))
    from beaker.compat.backends import backend
    from beaker.compat.config import cache_options

    parts = backend(cache_options({"type": kind, "url": url}))
    assert parts.lock.connection is parts.store.connection  # type: ignore[attr-defined]
    cache = Cache(f"one-pool-{uuid.uuid4().hex}", type=kind, url=url)
    assert cache.get("k", createfunc=lambda: 1) == 1  # the lock and the store on that one pool
    live = parts.store.connection.live_client()  # type: ignore[attr-defined]
    assert live is parts.lock.connection.live_client()  # type: ignore[attr-defined]
