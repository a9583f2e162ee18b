"""`beaker sessions purge`: removes exactly the expired sessions (fake clock), reports the
count, honours --older-than and --dry-run, and parses store specs."""

from __future__ import annotations

import io
import secrets
from typing import Any

import pytest
from webtest import TestApp

from beaker.entry import Entry
from beaker.errors import ConfigError
from beaker.sessions import SessionMiddleware, server_side
from beaker.sessions.purge import is_expired, main, open_store, purge
from beaker.sessions.store import DEFAULT_NAMESPACE
from beaker.stores import registry
from beaker.stores.base import Versioned
from beaker.stores.dbm import DBMStore
from beaker.stores.file import FileStore
from beaker.testing import FakeClock

from .conftest import RecordingStore, counter_app


def make_sessions(store: Any, clock: FakeClock, count: int, **options: Any) -> list[str]:
    """Create ``count`` sessions through the middleware, one browser each; return their ids."""
    app = TestApp(SessionMiddleware(counter_app, server_side(store, clock=clock, **options)))
    ids = []
    for _ in range(count):
        app.cookiejar.clear()
        ids.append(app.get("/").json["id"])
    return ids


def test_purge_removes_exactly_the_expired(store: Any, clock: FakeClock) -> None:
    old = make_sessions(store, clock, 3, timeout=100)
    clock.advance(60)
    young = make_sessions(store, clock, 2, timeout=100)
    forever = make_sessions(store, clock, 2)  # no timeout: never expires by itself
    clock.advance(50)  # old: idle 110 s > 100; young: 50 s
    report = purge(store, now=clock())
    # SQL stores purge with one DELETE (purge_expired), which examines only the expired rows.
    assert (report.examined, report.expired, report.unreadable) in ((7, 3, 0), (3, 3, 0))
    assert sorted(store.keys(DEFAULT_NAMESPACE)) == sorted(young + forever)
    assert set(old).isdisjoint(store.keys(DEFAULT_NAMESPACE))
    assert purge(store, now=clock()).expired == 0  # nothing left to do


def test_absolute_timeout_is_purged_too(store: Any, clock: FakeClock) -> None:
    ids = make_sessions(store, clock, 2, absolute_timeout=30)
    clock.advance(30)
    assert purge(store, now=clock()).expired == 2
    assert not set(ids) & set(store.keys(DEFAULT_NAMESPACE))


def test_older_than_removes_sessions_not_written_for_that_long(
    store: Any, clock: FakeClock
) -> None:
    stale = make_sessions(store, clock, 2)
    clock.advance(1000)
    fresh = make_sessions(store, clock, 1)
    clock.advance(10)
    assert purge(store, now=clock(), older_than=500).expired == 2
    assert list(store.keys(DEFAULT_NAMESPACE)) == fresh
    assert set(stale).isdisjoint(store.keys(DEFAULT_NAMESPACE))


def test_dry_run_removes_nothing(store: Any, clock: FakeClock) -> None:
    make_sessions(store, clock, 2, timeout=10)
    clock.advance(11)
    report = purge(store, now=clock(), dry_run=True)
    assert report.expired == 2 and report.dry_run
    assert len(list(store.keys(DEFAULT_NAMESPACE))) == 2


def test_other_namespaces_are_left_alone(store: Any, clock: FakeClock) -> None:
    store.set("cache", "k", Entry(b"v", clock() - 100, clock() - 50))
    make_sessions(store, clock, 1, timeout=10)
    clock.advance(11)
    assert purge(store, now=clock()).expired == 1
    assert list(store.keys("cache")) == ["k"]


def test_is_expired() -> None:
    assert is_expired(Entry(b"", 0.0, 10.0), now=10.0)
    assert not is_expired(Entry(b"", 0.0, 10.0), now=9.9)
    assert not is_expired(Entry(b"", 0.0, None), now=1e12)
    assert is_expired(Entry(b"", 0.0, None), now=100.0, older_than=100.0)
    assert not is_expired(Entry(b"", 0.0, None), now=100.0, older_than=101.0)


@pytest.mark.parametrize("scheme", ["file", "dbm"])
def test_command_line(scheme: str, tmp_path: Any, clock: FakeClock) -> None:
    data_dir = tmp_path / "sessions"
    store = FileStore(str(data_dir)) if scheme == "file" else DBMStore(str(data_dir))
    make_sessions(store, clock, 4, timeout=100)
    clock.advance(50)
    make_sessions(store, clock, 1, timeout=100)
    clock.advance(60)
    store.close()
    spec = f"{scheme}://{data_dir}"
    out, err = io.StringIO(), io.StringIO()
    args = ["--store", spec, "--dry-run", "--no-progress"]
    assert main(args, clock=clock, stdout=out, stderr=err) == 0
    assert out.getvalue() == "would remove 4 expired session(s) of 5\n"
    out = io.StringIO()
    assert main(["--store", spec], clock=clock, stdout=out, stderr=err) == 0
    assert out.getvalue() == "removed 4 expired session(s) of 5\n"
    assert "session" in err.getvalue()  # the progress, on stderr
    reopened = FileStore(str(data_dir)) if scheme == "file" else DBMStore(str(data_dir))
    assert len(list(reopened.keys(DEFAULT_NAMESPACE))) == 1
    out = io.StringIO()
    assert main(["--store", spec, "--older-than", "1"], clock=clock, stdout=out, stderr=err) == 0
    assert out.getvalue() == "removed 1 expired session(s) of 1\n"


def test_command_line_errors(tmp_path: Any) -> None:
    err = io.StringIO()
    assert main(["--store", f"file://{tmp_path}/missing"], stdout=io.StringIO(), stderr=err) == 1
    assert "existing directory" in err.getvalue()
    err = io.StringIO()
    assert main(["--store", "ftp://x/y"], stdout=io.StringIO(), stderr=err) == 1
    assert "file://" in err.getvalue()
    with pytest.raises(SystemExit) as caught:
        main(["--store", "file:///tmp", "--older-than", "-5"], stderr=io.StringIO())
    assert caught.value.code == 2
    with pytest.raises(SystemExit):
        main([])


def test_open_store(tmp_path: Any) -> None:
    assert isinstance(open_store(f"file://{tmp_path}"), FileStore)
    assert isinstance(open_store(f"dbm://{tmp_path}"), DBMStore)
    assert open_store(f"file://localhost{tmp_path}").data_dir == str(tmp_path)
    with pytest.raises(ConfigError):
        open_store(f"file://otherhost{tmp_path}")
    with pytest.raises(ConfigError):
        open_store("file://")
    assert {"file", "dbm", "redis", "memcached", "sqlalchemy"} <= set(registry.names())
    # a new store is one registration, under a type name and its URL scheme
    kind = registry.BackendType(
        store=lambda data_dir: FileStore(data_dir),
        lock=registry.backend_type("file").lock,
        options=frozenset({"data_dir"}),
        from_url=lambda url: {"data_dir": str(tmp_path)},
    )
    registry.register(f"mine-{id(kind)}", kind, schemes=("mine",))
    assert isinstance(open_store("mine://anything"), FileStore)


def test_line_progress_without_tqdm(clock: FakeClock) -> None:
    from beaker.sessions.purge import line_progress
    from beaker.stores.memory import MemoryStore

    store = MemoryStore()
    make_sessions(store, clock, 150, timeout=1)
    clock.advance(2)
    err = io.StringIO()
    assert purge(store, now=clock(), progress=line_progress(err)).expired == 150
    assert err.getvalue() == "\rsessions: 100\rsessions: 150\n"


def test_python_m_beaker_sessions_purge(tmp_path: Any) -> None:
    """The installed command line, as a user types it, on sessions that expired in real time."""
    import subprocess
    import sys
    import time

    data_dir = tmp_path / "sessions"
    store = FileStore(str(data_dir))
    make_sessions(store, FakeClock(time.time() - 3600), 2, timeout=60)  # idle for an hour
    make_sessions(store, FakeClock(), 1, timeout=3600)  # fresh
    store.close()
    command = [sys.executable, "-m", "beaker", "sessions", "purge", "--store", f"file://{data_dir}"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "removed 2 expired session(s) of 3\n"
    assert len(list(FileStore(str(data_dir)).keys(DEFAULT_NAMESPACE))) == 1


class RefreshOnRead:
    """A real store that, right after purge reads ``key``, lets a real request refresh that
    session (the race: purge read it expired, the browser came back before the removal)."""

    def __init__(self, inner: Any, key: str, refresh: Any) -> None:
        self.inner, self.key, self.refresh, self.refreshed = inner, key, refresh, False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def _after(self, key: str, read: Any) -> Any:
        if key == self.key and not self.refreshed:
            self.refreshed = True
            self.refresh()
        return read

    def get_versioned(self, namespace: str, key: str) -> Any:
        return self._after(key, self.inner.get_versioned(namespace, key))

    def get(self, namespace: str, key: str) -> Any:
        return self._after(key, self.inner.get(namespace, key))


class CompareAndSetOnly(RecordingStore):
    """A third party's session store: ``get_versioned`` and ``compare_and_set`` (sessions
    lose no write on it) but no ``compare_and_delete``, so not a VersionedStore."""

    def get_versioned(self, namespace: str, key: str) -> Versioned:
        return self.inner.get_versioned(namespace, key)

    def compare_and_set(self, namespace: str, key: str, entry: Entry, version: object) -> bool:
        return self.inner.compare_and_set(namespace, key, entry, version)


def _racing(store: Any, clock: FakeClock) -> tuple[list[str], RefreshOnRead, TestApp]:
    """Three sessions in ``store``; reading the second refreshes it (its browser, returned
    as well, is back while it is alive)."""
    ids = make_sessions(store, clock, 3, timeout=100)
    later = FakeClock(clock() + 60)  # the browser returns while its session is alive
    browser = TestApp(SessionMiddleware(counter_app, server_side(store, clock=later, timeout=100)))

    def refresh() -> None:
        response = browser.get("/", headers={"Cookie": f"beaker.session.id={ids[1]}"})
        assert response.json == {"count": 2, "id": ids[1], "is_new": False}

    return ids, RefreshOnRead(store, ids[1], refresh), browser


def test_a_store_without_compare_and_delete_is_refused_unless_unconditional(
    clock: FakeClock,
) -> None:
    # On such a store a delete cannot be made conditional: purge used to delete what it had
    # read expired, including a session its browser refreshed in between (lost).
    store = CompareAndSetOnly()
    ids, racing, _ = _racing(store, clock)
    with pytest.raises(ConfigError) as refused:
        purge(racing, now=clock() + 150)
    assert refused.value.option == "unconditional" and "compare_and_delete" in str(refused.value)
    assert not racing.refreshed and sorted(store.keys(DEFAULT_NAMESPACE)) == sorted(ids)
    assert purge(racing, now=clock() + 150, dry_run=True).expired == 3  # counting is safe
    assert purge(store, now=clock() + 200, unconditional=True).expired == 3  # asked for
    assert list(store.keys(DEFAULT_NAMESPACE)) == []


def test_command_line_refuses_a_store_without_compare_and_delete(clock: FakeClock) -> None:
    store = CompareAndSetOnly()
    make_sessions(store, clock, 2, timeout=10)
    clock.advance(11)
    scheme = f"tp{secrets.token_hex(4)}"
    kind = registry.BackendType(
        store=lambda: store,
        lock=registry.backend_type("memory").lock,
        options=frozenset(),
        from_url=lambda url: {},
    )
    registry.register(scheme, kind, schemes=(scheme,))
    spec = ["--store", f"{scheme}://sessions", "--no-progress"]
    out, err = io.StringIO(), io.StringIO()
    assert main(spec, clock=clock, stdout=out, stderr=err) == 1
    assert "unconditional" in err.getvalue() and out.getvalue() == ""
    assert len(list(store.keys(DEFAULT_NAMESPACE))) == 2
    assert main([*spec, "--unconditional"], clock=clock, stdout=out, stderr=err) == 0
    assert out.getvalue() == "removed 2 expired session(s) of 2\n"


def test_a_session_refreshed_between_read_and_removal_survives(
    store: Any, clock: FakeClock
) -> None:
    ids, racing, browser = _racing(store, clock)
    # Every session read is past its timeout; older_than (never true here) keeps SQL stores
    # on the read-and-compare path instead of their one DELETE.
    report = purge(racing, now=clock() + 150, older_than=10**6)
    assert racing.refreshed
    assert (report.examined, report.expired, report.refreshed) == (3, 2, 1)
    assert list(store.keys(DEFAULT_NAMESPACE)) == [ids[1]]
    assert browser.get("/", headers={"Cookie": f"beaker.session.id={ids[1]}"}).json["count"] == 3


def test_compare_and_delete_removes_only_the_entry_read(store: Any) -> None:
    namespace = f"cad-{secrets.token_hex(4)}"
    store.set(namespace, "k", Entry(b"one", 1.0, None))
    first = store.get_versioned(namespace, "k")
    store.set(namespace, "k", Entry(b"two", 2.0, None))  # rewritten since the read
    assert store.compare_and_delete(namespace, "k", first.version) is False
    assert store.get(namespace, "k").value == b"two"
    second = store.get_versioned(namespace, "k")
    assert store.compare_and_delete(namespace, "k", second.version) is True
    assert store.get(namespace, "k") is None
    absent = store.get_versioned(namespace, "k")
    assert store.compare_and_delete(namespace, "k", absent.version) is False
