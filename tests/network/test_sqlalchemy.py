"""SQLAlchemyStore on real databases: SQLite files (embedded, always available) and the
PostgreSQL server from `.ci/services.sh` (through psycopg 3).

Statements are counted with SQLAlchemy's own ``before_cursor_execute`` event on the real engine;
processes are real subprocesses.
"""

from __future__ import annotations

import pickle
import secrets
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from beaker.caching import compose
from beaker.entry import Entry
from beaker.errors import ComponentTypeError, ConfigError, StoreError, StoreUnavailable
from beaker.locks.null import NullLock
from beaker.stores.sqlalchemy import SQLAlchemyStore, make_cache_table
from beaker.testing import StoreMachine
from tests._threads import run_threads
from tests.network._servers import machine_case

REPO = Path(__file__).resolve().parents[2]


def fresh(prefix: str = "ns") -> str:
    return f"{prefix}_{secrets.token_hex(4)}"


def entry(value: bytes = b"v", ttl: float | None = None, now: float | None = None) -> Entry:
    now = time.time() if now is None else now
    return Entry(value, now, None if ttl is None else now + ttl)


@pytest.fixture(scope="module")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('sqlstore') / 'cache.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def any_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    """Each test taking this runs on a SQLite file and on PostgreSQL."""
    if request.param == "sqlite":
        return sqlite_url
    return str(request.getfixturevalue("postgresql_url"))


def with_table(url: str, table: str) -> SQLAlchemyStore:
    return SQLAlchemyStore(url, table_name=table)


def drop(store: SQLAlchemyStore) -> None:
    """Drop the store's table (tests that made a table of their own)."""
    store._prepared().table.drop(store.connection.live_engine(), checkfirst=True)
    store.close()


# -- conformance ---------------------------------------------------------------------------------


class SQLiteMachine(StoreMachine):
    where = ""

    def make_store(self) -> SQLAlchemyStore:
        return SQLAlchemyStore(self.where)


class PostgreSQLMachine(SQLiteMachine):
    """The same machine on PostgreSQL (a class of its own: its own ``where``)."""


TestSQLiteConformance = machine_case(SQLiteMachine, "sqlite_url", examples=25, steps=20)
TestPostgreSQLConformance = machine_case(PostgreSQLMachine, "postgresql_url", examples=25, steps=20)


# -- one statement per operation -----------------------------------------------------------------


def count_statements(store: SQLAlchemyStore) -> list[str]:
    """The statements the store's engine runs from now on (their first word), counted by the
    driver on SQLite (whose reads bypass SQLAlchemy's cursor events) and by SQLAlchemy
    elsewhere."""
    engine = store.connection.live_engine()
    seen: list[str] = []

    def record(statement: str) -> None:
        word = statement.split(None, 1)[0].upper()
        if word in ("SELECT", "INSERT", "UPDATE", "DELETE"):
            seen.append(word)

    if engine.dialect.name == "sqlite":
        engine.dispose()  # from now on new connections, each traced

        def trace(dbapi_connection: sqlite3.Connection, _: object) -> None:
            dbapi_connection.set_trace_callback(record)

        sa.event.listen(engine, "connect", trace)
    else:

        def before(conn: object, cursor: object, statement: str, *args: object) -> None:
            record(statement)

        sa.event.listen(engine, "before_cursor_execute", before)
    return seen


def test_get_is_one_select_and_set_one_upsert(any_url: str) -> None:
    store = SQLAlchemyStore(any_url)
    ns = fresh()
    store.set(ns, "k", entry(b"one"))  # creates the table
    seen = count_statements(store)
    got = store.get(ns, "k")
    assert got is not None and got.value == b"one"
    assert store.get(ns, "absent") is None
    assert seen == ["SELECT", "SELECT"]
    seen.clear()
    store.set(ns, "k", entry(b"two"))  # an overwrite: still one statement
    assert seen == ["INSERT"]
    seen.clear()
    cache = compose(store, lock=NullLock(), namespace=ns)
    cache.set("c", [1, 2])
    assert cache.get("c") == [1, 2]
    assert seen == ["INSERT", "SELECT"]
    store.clear(ns)
    store.close()


# -- across processes -----------------------------------------------------------------------------

_CHILD = """
import sys
from beaker.entry import Entry
from beaker.stores.sqlalchemy import SQLAlchemyStore
url, ns, table = sys.argv[1:4]
store = SQLAlchemyStore(url, table_name=table)
got = store.get(ns, "shared")
print(got.value.decode() if got else "MISS")
store.set(ns, "shared", Entry(b"from child", 2.0, None))
store.close()
"""


def test_a_write_is_read_by_another_process_at_once(any_url: str) -> None:
    table = fresh("shared")
    store = with_table(any_url, table)
    ns = fresh()
    try:
        store.set(ns, "shared", entry(b"from parent"))
        out = subprocess.run(
            [sys.executable, "-c", _CHILD, any_url, ns, table],
            cwd=REPO,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        assert out.strip() == "from parent"
        got = store.get(ns, "shared")  # the same store object: no in-process copy
        assert got is not None and got.value == b"from child"
    finally:
        drop(store)


def test_concurrent_first_use_creates_the_table_once(any_url: str) -> None:
    table = fresh("race")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CHILD, any_url, "ns", table],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(4)
    ]
    outcomes = [(proc.wait(timeout=120), proc.stderr.read()) for proc in procs]  # type: ignore[union-attr]
    for proc in procs:
        proc.stdout.close()  # type: ignore[union-attr]
        proc.stderr.close()  # type: ignore[union-attr]
    assert [code for code, _ in outcomes] == [0] * 4, outcomes
    store = with_table(any_url, table)
    got = store.get("ns", "shared")
    assert got is not None and got.value == b"from child"
    drop(store)


# -- connections ----------------------------------------------------------------------------------


def test_ten_thousand_operations_leave_no_connection_checked_out(any_url: str) -> None:
    store = SQLAlchemyStore(any_url)
    ns = fresh()

    def work(worker: int) -> None:
        for i in range(2500):
            key = f"{worker}-{i % 50}"
            step = i % 5
            if step == 0:
                store.set(ns, key, entry(str(i).encode(), ttl=60))
            elif step in (1, 2):
                store.get(ns, key)
            elif step == 3:
                store.delete(ns, key)
            elif i % 250 == 4:
                list(store.keys(ns))
            else:
                store.get(ns, "absent")

    run_threads(work)
    with pytest.raises(TypeError):
        store.set(ns, "not bytes", Entry("text", 1.0, None))  # refused before any checkout
    pool = store.connection.live_engine().pool
    assert pool.checkedout() == 0  # type: ignore[attr-defined]
    store.clear(ns)
    assert pool.checkedout() == 0  # type: ignore[attr-defined]
    store.close()


def test_pooled_connections_killed_by_the_server_are_replaced(postgresql_url: str) -> None:
    # pool_pre_ping: connections the server closed (restart, idle timeout, admin kill) are
    # noticed at checkout and replaced, so the next operation succeeds.
    name = fresh("victim")
    store = SQLAlchemyStore(f"{postgresql_url}?application_name={name}")
    ns = fresh()
    store.set(ns, "k", entry(b"before"))
    admin = sa.create_engine(postgresql_url)
    with admin.begin() as conn:
        killed = conn.execute(
            sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = :name"
            ),
            {"name": name},
        ).scalar()
    admin.dispose()
    assert killed and killed >= 1
    got = store.get(ns, "k")
    assert got is not None and got.value == b"before"
    store.clear(ns)
    store.close()


def test_sqlite_reads_hold_one_connection_per_thread_outside_the_pool(sqlite_url: str) -> None:
    store = with_table(sqlite_url, fresh("held"))
    ns = fresh()
    store.set(ns, "k", entry(b"v"))
    live = store.connection.live()
    held: list[object] = []

    def reader(worker: int) -> None:
        for _ in range(50):
            got = store.get(ns, "k")
            assert got is not None and got.value == b"v"
        first = live.read_connection()
        assert store.get(ns, "k") is not None and live.read_connection() is first
        held.append(first)

    run_threads(reader)
    assert len({id(connection) for connection in held}) == 4  # one each, all still alive
    assert store.connection.live_engine().pool.checkedout() == 0  # type: ignore[attr-defined]

    # A failed read drops this thread's connection; the next read takes a fresh one.
    assert store.get(ns, "k") is not None
    before = live.read_connection()
    table = store._prepared().table
    table.drop(store.connection.live_engine())
    with pytest.raises(StoreError):
        store.get(ns, "k")
    table.create(store.connection.live_engine())
    store.set(ns, "k", entry(b"again"))
    got = store.get(ns, "k")
    assert got is not None and got.value == b"again"
    assert live.read_connection() is not before
    drop(store)


_FORKED_READ = """
import multiprocessing, sys
from beaker.entry import Entry
from beaker.stores.sqlalchemy import SQLAlchemyStore
url, ns, table = sys.argv[1:4]
store = SQLAlchemyStore(url, table_name=table)
store.set(ns, "k", Entry(b"v", 1.0, None))
assert store.get(ns, "k").value == b"v"  # this thread now holds a read connection
parent = store.connection.live().read_connection()

def child(pipe):
    live = store.connection.live()
    fresh = getattr(live.held, "driver", None) is None  # the parent's is forgotten
    pipe.send((fresh, store.get(ns, "k").value, live.read_connection() is not parent))

ours, theirs = multiprocessing.Pipe()
process = multiprocessing.get_context("fork").Process(target=child, args=(theirs,))
process.start()
print(ours.recv())
process.join()
store.close()
"""


def test_a_forked_child_reads_on_a_connection_of_its_own(sqlite_url: str) -> None:
    table = fresh("forked")
    out = subprocess.run(
        [sys.executable, "-c", _FORKED_READ, sqlite_url, fresh(), table],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        check=True,
    )
    assert out.stdout.strip() == "(True, b'v', True)"


def test_in_memory_sqlite_is_one_database_for_every_thread() -> None:
    store = SQLAlchemyStore("sqlite://")
    store.set("ns", "k", entry(b"main"))
    seen: list[Entry | None] = []
    thread = threading.Thread(target=lambda: seen.append(store.get("ns", "k")))
    thread.start()
    thread.join()
    assert seen[0] is not None and seen[0].value == b"main"
    store.close()


# -- schema -----------------------------------------------------------------------------------------


def test_make_cache_table_in_an_applications_own_metadata(any_url: str) -> None:
    table_name = fresh("app_cache")
    metadata = sa.MetaData()
    users = sa.Table(fresh("app_users"), metadata, sa.Column("id", sa.Integer, primary_key=True))
    cache_table = make_cache_table(metadata, table_name)
    engine = sa.create_engine(any_url)
    metadata.create_all(engine)  # the application creates its schema (e.g. a migration)
    try:
        store = SQLAlchemyStore(engine=engine, table_name=table_name, create_table=False)
        store.set("ns", "k", entry(b"v", ttl=10, now=100.0))
        got = store.get("ns", "k")
        assert got == Entry(b"v", 100.0, 110.0)
        inspector = sa.inspect(engine)
        assert inspector.get_pk_constraint(table_name)["constrained_columns"] == [
            "namespace",
            "key",
        ]
        indexes = {
            index["name"]: index["column_names"] for index in inspector.get_indexes(table_name)
        }
        assert indexes[f"ix_{table_name}_expires"] == ["expires"]
        columns = {column["name"]: column for column in inspector.get_columns(table_name)}
        assert set(columns) == {
            "namespace",
            "key",
            "value",
            "created",
            "accessed",
            "expires",
            "delta",
        }
        assert columns["expires"]["nullable"] and not columns["created"]["nullable"]
        assert columns["delta"]["nullable"]
        with engine.connect() as conn:
            row = conn.execute(sa.select(cache_table)).one()
        assert (row.created, row.accessed, row.expires) == (100.0, 100.0, 110.0)
        store.close()
        assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        with engine.connect():  # an engine passed in stays usable after close()
            pass
    finally:
        metadata.drop_all(engine)
        engine.dispose()
    assert users.name != table_name


def test_without_create_table_a_missing_table_is_an_error(sqlite_url: str) -> None:
    store = SQLAlchemyStore(sqlite_url, table_name=fresh("missing"), create_table=False)
    with pytest.raises(StoreError):
        store.get("ns", "k")
    store.close()


# -- values, keys, expiry ----------------------------------------------------------------------------

AWKWARD = st.text(alphabet=st.sampled_from("ab%025\x00 é:"), max_size=8)


@settings(max_examples=40, deadline=None)
@given(namespace=AWKWARD, keys=st.lists(AWKWARD, max_size=5, unique=True), data=st.binary())
def test_percent_and_nul_in_names_round_trip(
    postgresql_url: str, namespace: str, keys: list[str], data: bytes
) -> None:
    # PostgreSQL text cannot hold NUL: the store escapes it (and %) reversibly.
    store = SQLAlchemyStore(postgresql_url)
    ns = f"{fresh()}/{namespace}"
    try:
        for key in keys:
            store.set(ns, key, entry(data + key.encode()))
        assert set(store.keys(ns)) == set(keys)
        for key in keys:
            got = store.get(ns, key)
            assert got is not None and got.value == data + key.encode()
    finally:
        store.clear(ns)
        store.close()


def test_keys_stream_page_by_page_with_no_connection_held_between(any_url: str) -> None:
    store = with_table(any_url, fresh("keys"))
    awkward = ["", "%", "%25", "a%b", "\x00", "z\x00z", "é"]
    wanted = {f"k{i:04}" for i in range(2345)} | set(awkward)  # three pages and a bit
    try:
        store.set_many("ns", dict.fromkeys(wanted, entry()))
        store.set("other", "k0001", entry())
        listed = store.keys("ns")
        first = next(listed)
        pool: Any = store.connection.live_engine().pool
        assert pool.checkedout() == 0  # the page is read; nothing is held while we iterate
        store.set("ns", "zz-late", entry())  # after the first page: a later page lists it
        rest = list(listed)
        assert sorted([first, *rest]) == sorted(wanted | {"zz-late"})  # each once, ours only
        assert list(store.keys("empty")) == []
    finally:
        drop(store)


def test_purge_expired_removes_only_expired_rows(any_url: str) -> None:
    store = with_table(any_url, fresh("purge"))
    try:
        for i in range(10):
            store.set("a", f"old{i}", entry(ttl=10, now=1000.0))  # expires at 1010
            store.set("b", f"old{i}", entry(ttl=10, now=1000.0))
        store.set("a", "fresh", entry(ttl=10, now=5000.0))
        store.set("a", "forever", entry(now=1000.0))
        assert store.purge_expired(now=2000.0, namespace="a") == 10
        assert set(store.keys("a")) == {"fresh", "forever"}
        assert len(list(store.keys("b"))) == 10
        assert store.purge_expired(now=2000.0) == 10
        assert store.purge_expired(now=2000.0) == 0
        assert store.purge_expired() == 1  # real time is long past 5010
        assert set(store.keys("a")) == {"forever"}
    finally:
        drop(store)


def test_reads_do_not_write(any_url: str) -> None:
    store = SQLAlchemyStore(any_url)
    ns = fresh()
    store.set(ns, "k", entry(b"v", now=50.0))
    seen = count_statements(store)
    for _ in range(3):
        store.get(ns, "k")
    assert seen == ["SELECT"] * 3
    store.clear(ns)
    store.close()


# -- faults and configuration ----------------------------------------------------------------------


def test_unreachable_postgresql_raises_store_unavailable_with_the_password_masked() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"postgresql+psycopg://app:s3cr%23t@127.0.0.1:{port}/db?connect_timeout=2"
    store = SQLAlchemyStore(url)
    assert "s3cr" not in repr(store)
    for call in (
        lambda: store.get("ns", "k"),
        lambda: store.set("ns", "k", entry()),
        lambda: store.delete("ns", "k"),
        lambda: store.clear("ns"),
    ):
        with pytest.raises(StoreUnavailable) as caught:
            call()
        assert (
            caught.value.address
            == f"postgresql+psycopg://app:***@127.0.0.1:{port}/db?connect_timeout=2"
        )
        assert "s3cr" not in str(caught.value)
    cache = compose(store, lock=NullLock(), on_store_error="compute")
    assert cache.get_or_create("k", lambda: "computed") == "computed"


def test_unopenable_sqlite_file_is_unavailable(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/no/such/dir/cache.db"
    with pytest.raises(StoreUnavailable) as caught:
        SQLAlchemyStore(url).get("ns", "k")
    assert "no/such/dir" in caught.value.address


def test_configuration_is_validated(sqlite_url: str) -> None:
    with pytest.raises(ConfigError):
        SQLAlchemyStore()
    engine = sa.create_engine(sqlite_url)
    with pytest.raises(ConfigError):
        SQLAlchemyStore(sqlite_url, engine=engine)
    with pytest.raises(ComponentTypeError):
        SQLAlchemyStore(42)  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        SQLAlchemyStore("not a url")
    with pytest.raises(ComponentTypeError):
        SQLAlchemyStore(engine="sqlite://")  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        SQLAlchemyStore(sqlite_url, table_name="")
    with pytest.raises(ComponentTypeError):
        make_cache_table({}, "t")  # type: ignore[arg-type]
    assert SQLAlchemyStore(engine=engine).address == sqlite_url
    engine.dispose()


def test_store_pickles_and_reopens(sqlite_url: str) -> None:
    store = SQLAlchemyStore(sqlite_url)
    ns = fresh()
    store.set(ns, "k", entry(b"v"))
    copy = pickle.loads(pickle.dumps(store))
    assert copy == store
    got = copy.get(ns, "k")
    assert got is not None and got.value == b"v"
    store.close()
    got = store.get(ns, "k")  # usable again after close()
    assert got is not None
    store.clear(ns)
    copy.close()
    store.close()


def test_generic_upsert_fallback_replaces_the_row(sqlite_url: str) -> None:
    # Dialects without INSERT ... ON CONFLICT get delete + insert in one transaction; run that
    # path on a real SQLite database by leaving the dialect's upsert out.
    store = with_table(sqlite_url, fresh("generic"))
    try:
        store._prepared().upsert = None
        seen = count_statements(store)
        store.set("ns", "k", entry(b"one", now=1.0))
        store.set("ns", "k", entry(b"two", now=2.0))
        assert seen == ["DELETE", "INSERT", "DELETE", "INSERT"]
        assert store.get("ns", "k") == Entry(b"two", 2.0, None)
        assert list(store.keys("ns")) == ["k"]
    finally:
        drop(store)
