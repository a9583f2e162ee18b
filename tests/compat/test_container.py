"""Differential tests of Beaker's cache-side modules: the same code runs under real Beaker
1.14.1 (its own virtualenv) and here, and must give the same results and exceptions.
Deliberate differences are tested as such, each named in its test."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.compat import _real_beaker


def _both(code: str, tmp_path: Path) -> tuple[Any, Any]:
    """``result`` of ``code`` (with ``DIR`` a fresh directory) here and under Beaker 1.14.1."""
    code = textwrap.dedent(code)
    theirs_dir, ours_dir = tmp_path / "theirs", tmp_path / "ours"
    theirs_dir.mkdir()
    ours_dir.mkdir()
    theirs = _real_beaker.run(f"DIR = {str(theirs_dir)!r}\n" + code, cwd=tmp_path)
    namespace: dict[str, Any] = {"DIR": str(ours_dir)}
    exec(code, namespace)  # noqa: S102 - our own test code
    return _real_beaker.canon(namespace["result"]), theirs


def _same(code: str, tmp_path: Path) -> None:
    ours, theirs = _both(code, tmp_path)
    assert ours == theirs


OUTCOME = """
def outcome(call, *args, **kwargs):
    try:
        return ["ok", call(*args, **kwargs)]
    except Exception as exc:  # ours may raise a subclass of Beaker's class
        from beaker.exceptions import MissingCacheParameter
        kind = MissingCacheParameter if isinstance(exc, MissingCacheParameter) else type(exc)
        return ["raised", kind.__name__]
"""


@pytest.mark.parametrize(
    "container", ["MemoryContainer", "FileContainer", "DBMContainer", "DbmContainer"]
)
def test_container_values(container: str, tmp_path: Path) -> None:
    _same(
        OUTCOME
        + f"""
import time
from beaker.container import {container} as C, Value
context = {{}}
kw = {{"data_dir": DIR}}
calls = []
def create():
    calls.append(1)
    return {{"n": len(calls)}}
v = C("k", context, "ns-{container}", createfunc=create, expiretime=60, **kw)
out = [isinstance(v, Value), v.has_value(), v.has_current_value(), v.can_have_value()]
out += [v.get_value(), v.get_value(), len(calls), v.has_value(), v.has_current_value()]
plain = C("p", context, "ns-{container}", **kw)
out += [outcome(plain.get_value), plain.can_have_value()]
plain.set_value("x")
out += [plain.get_value(), plain.has_current_value()]
plain.clear_value()
out += [outcome(plain.get_value), plain.has_value()]
old = C("k", context, "ns-{container}", starttime=time.time() + 10, **kw)
out += [old.has_value(), old.has_current_value(), outcome(old.get_value)]
result = out
""",
        tmp_path,
    )


def test_namespace_manager_base_and_open_resource_contract(tmp_path: Path) -> None:
    _same(
        OUTCOME
        + """
from beaker.container import NamespaceManager, OpenResourceNamespaceManager
from beaker.synchronization import null_synchronizer
base = NamespaceManager("ns")
out = [base.namespace, base.acquire_write_lock(), base.acquire_read_lock()]
for name in ("do_remove", "keys", "remove"):
    out.append(outcome(getattr(base, name)))
for call in (lambda: base["k"], lambda: "k" in base, lambda: base.get_creation_lock("k")):
    out.append(outcome(call))

class Dict(NamespaceManager):
    def __init__(self, namespace):
        NamespaceManager.__init__(self, namespace)
        self.d = {}
    def __setitem__(self, key, value): self.d[key] = value
    def __getitem__(self, key): return self.d[key]
    def __contains__(self, key): return key in self.d
    def do_remove(self): self.d.clear()
m = Dict("ns")
m.set_value("a", 1, expiretime=5)
out += [m["a"], m.has_key("a"), m.has_key("b")]
m.remove()
out.append(m.has_key("a"))

log = []
class Opened(OpenResourceNamespaceManager):
    def get_access_lock(self): return null_synchronizer()
    def do_open(self, flags, replace): log.append(("open", flags, replace))
    def do_close(self): log.append("close")
    def do_remove(self): log.append("remove")
o = Opened("ns")
o.acquire_read_lock(); o.acquire_read_lock(); o.release_read_lock(); o.release_read_lock()
out.append(o.acquire_write_lock(replace=True)); o.release_write_lock()
o.open("r"); o.remove()
result = out + [log, o.openers]
""",
        tmp_path,
    )


def test_synchronizer_state_machine(tmp_path: Path) -> None:
    _same(
        OUTCOME
        + """
import threading
from beaker.synchronization import (
    ConditionSynchronizer, FileSynchronizer, NameLock, SynchronizerImpl, file_synchronizer,
    mutex_synchronizer, null_synchronizer,
)
log = []
class Recorder(SynchronizerImpl):
    def do_acquire_read_lock(self, wait): log.append(("r", wait)); return True
    def do_acquire_write_lock(self, wait): log.append(("w", wait)); return True
    def do_release_read_lock(self): log.append("-r")
    def do_release_write_lock(self): log.append("-w")
s = Recorder()
out = [outcome(s.release_read_lock), outcome(s.release_write_lock)]
out += [s.acquire_write_lock(), s.acquire_write_lock(), outcome(s.acquire_read_lock)]
s.release_write_lock(); s.release_write_lock()
out += [s.acquire_read_lock(wait=False), outcome(s.acquire_write_lock), outcome(s.release)]
s.release_read_lock()
out.append(log)

n = NameLock("shared-name")
other = []
out.append(n.acquire())
t = threading.Thread(target=lambda: other.append(NameLock("shared-name").acquire(False)))
t.start(); t.join()
n.release()
out.append(other)
r = NameLock(reentrant=True)
out += [r.acquire(), r.acquire()]
f = file_synchronizer("ident", lock_dir=DIR)
out += [type(f).__name__, f is file_synchronizer("ident", lock_dir=DIR)]
out += [f.acquire_write_lock(), outcome(f.release_write_lock)]
out += [f.acquire_read_lock(), outcome(f.release_read_lock)]
c = mutex_synchronizer("ident")
out += [type(c).__name__, type(file_synchronizer("other")).__name__]
out += [c.acquire_write_lock(), outcome(c.release_write_lock), c.acquire_write_lock(False)]
c.release_write_lock()
z = null_synchronizer()
out += [z.acquire(), z.acquire_read_lock(), z.release(), z.release_read_lock()]
result = out
""",
        tmp_path,
    )


def test_clsmap_and_ext_managers(tmp_path: Path) -> None:
    _same(
        OUTCOME
        + """
from beaker.cache import clsmap
import beaker.ext.memcached, beaker.ext.database, beaker.ext.sqla, beaker.ext.redisnm
import beaker.ext.redisclusternm, beaker.ext.mongodb, beaker.ext.google
names = ["memory", "dbm", "file", "ext:memcached", "ext:database", "ext:sqla", "ext:redis",
         "ext:rediscluster", "ext:mongodb", "ext:google"]
out = [clsmap[name].__name__ for name in names]
out.append(outcome(lambda: clsmap["ext:nosuch"]))
from beaker.ext.memcached import MemcachedNamespaceManager
from beaker.ext.memcached import MemcachedContainer
from beaker.ext.database import DatabaseNamespaceManager, DatabaseContainer
from beaker.ext.sqla import SqlaNamespaceManager, SqlaContainer, make_cache_table
from beaker.ext.redisnm import RedisNamespaceManager, RedisSynchronizer
from beaker.ext.redisclusternm import RedisClusterNamespaceManager, RedisClusterSynchronizer
from beaker.container import FileNamespaceManager, DBMNamespaceManager, NamespaceManager
out.append(outcome(lambda: MemcachedNamespaceManager("ns", url=None).namespace))
out.append(outcome(lambda: FileNamespaceManager("ns").namespace))
out.append(outcome(lambda: DBMNamespaceManager("ns").namespace))
out.append([issubclass(c, NamespaceManager) for c in (MemcachedNamespaceManager,
    DatabaseNamespaceManager, SqlaNamespaceManager, RedisNamespaceManager,
    RedisClusterNamespaceManager)])
result = out
""",
        tmp_path,
    )


def test_memory_manager_sees_what_a_cache_stored(tmp_path: Path) -> None:
    _same(
        """
from beaker.cache import Cache
from beaker.container import MemoryNamespaceManager, FileNamespaceManager
c = Cache("shared-ns", type="memory")
c.put("a", 1)
m = MemoryNamespaceManager("shared-ns")
f = Cache("file-ns", type="file", data_dir=DIR)
f.put("b", 2, expiretime=30)
stored = [m[b"a"][1:], b"a" in m, b"zz" in m, "a" in c, c.namespace.namespace]
stored += [type(c.namespace).__name__, type(f.namespace).__name__]
del m[b"a"]
result = stored + ["a" in c]
""",
        tmp_path,
    )


# -- deliberate differences ---------------------------------------------------------------


def test_mongodb_and_google_import_and_say_not_provided() -> None:
    # Difference: Beaker's fail on use with their client library's ImportError/RuntimeError;
    # ours say plainly that the backend is not provided.
    from beaker.compat.exceptions import InvalidCacheBackendError
    from beaker.ext.google import GoogleNamespaceManager
    from beaker.ext.mongodb import MongoNamespaceManager

    for manager in (MongoNamespaceManager, GoogleNamespaceManager):
        with pytest.raises(InvalidCacheBackendError, match="not provided"):
            manager("ns", url="mongodb://localhost")


def test_make_cache_table_declares_our_layout() -> None:
    # Difference: Beaker's make_cache_table declares its one-row-per-namespace table (and
    # fails before its backend is first built); ours declares the table ext:sqla writes.
    import sqlalchemy

    from beaker.ext.sqla import make_cache_table

    table = make_cache_table(sqlalchemy.MetaData(), "my_cache")
    assert table.name == "my_cache" and "expires" in table.c


def test_file_synchronizer_readers_exclude_each_other(tmp_path: Path) -> None:
    # Difference (safety over concurrency): Beaker's flock read locks are shared; ours are
    # exclusive, like the write locks.
    import threading

    from beaker.synchronization import FileSynchronizer

    held = FileSynchronizer("r", str(tmp_path))
    assert held.acquire_read_lock()
    got: list[Any] = []
    thread = threading.Thread(
        target=lambda: got.append(FileSynchronizer("r", str(tmp_path)).acquire_read_lock(False))
    )
    thread.start()
    thread.join(10)
    held.release_read_lock()
    assert got == [False]


def test_redis_synchronizers_of_one_url_share_its_connection(redis_url: str) -> None:
    # Beaker's RedisSynchronizer opened a client per synchronizer; ours take the lock of the
    # shared ext:redis backend of that url, so one connection pool serves them all.
    import secrets

    from beaker.ext.redisnm import RedisSynchronizer
    from beaker.stores import registry

    name = f"sync-{secrets.token_hex(4)}"
    held, other = RedisSynchronizer(name, redis_url), RedisSynchronizer(name, redis_url)
    assert held._lock is other._lock is registry.shared("redis", url=redis_url).lock
    assert held.acquire_write_lock()
    try:
        assert other.acquire_write_lock(False) is False
    finally:
        held.release_write_lock()
    assert other.acquire_write_lock(False) is True
    other.release_write_lock()
