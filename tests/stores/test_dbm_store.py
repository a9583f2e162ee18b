"""DBMStore: conformance, visibility of other processes' writes, kept-open handles, damage
handling, removed directories, bounded handles."""

from __future__ import annotations

import dbm
import hashlib
import logging
import multiprocessing
import os
import pathlib
import pickle
import shutil
import tempfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beaker import compose
from beaker.entry import Entry
from beaker.errors import ConfigError
from beaker.stores.dbm import DBMStore
from tests import _file_backed as shared
from tests._file_backed import make_entry as _entry
from tests._threads import run_threads

SPAWN = multiprocessing.get_context("spawn")


class DBMStoreMachine(shared.TempDirStoreMachine):
    prefix = "beaker-dbmstore-"

    def make_store_in(self, directory: str) -> DBMStore:
        return DBMStore(directory)


TestDBMStoreConformance = DBMStoreMachine.TestCase


def _base(store: DBMStore, namespace: str) -> pathlib.Path:
    return pathlib.Path(store.data_dir) / hashlib.sha1(namespace.encode()).hexdigest()


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.fixture
def store(tmp_path: pathlib.Path) -> DBMStore:
    store = DBMStore(tmp_path / "dbm")
    yield store  # type: ignore[misc]
    store.close()


def test_uses_the_dbm_module_of_this_python(store: DBMStore) -> None:
    store.set("ns", "k", _entry())
    # Whatever dbm picked for a new database (dbm.dumb on our CI image).
    assert dbm.whichdb(str(_base(store, "ns"))) in ("dbm.gnu", "dbm.ndbm", "dbm.dumb")


@settings(max_examples=40, deadline=None)
@shared.given_any_entry
def test_round_trip_any_key_and_value(
    namespace: str, key: str, value: bytes, stored_at: float, expires_at: float | None
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = DBMStore(tmp)
        shared.check_round_trip(store, namespace, key, value, stored_at, expires_at)
        store.close()


@settings(max_examples=30, deadline=None)
@given(sizes=st.lists(st.integers(min_value=0, max_value=2000), min_size=1, max_size=12))
def test_overwrites_of_any_size_read_back_exactly(sizes: list[int]) -> None:
    # dbm.dumb overwrites in place when the value fits its old blocks, else appends.
    with tempfile.TemporaryDirectory() as tmp:
        store = DBMStore(tmp)
        for n, size in enumerate(sizes):
            value = bytes([n % 256]) * size
            store.set("ns", "k", _entry(value))
            assert store.get("ns", "k") == _entry(value)
        store.close()


def test_keys_and_clear_stay_within_their_namespace(store: DBMStore) -> None:
    shared.check_namespaces_kept_apart(store)
    store.delete("never-written", "k")
    assert list(store.keys("never-written")) == []
    store.set("one", "again", _entry())
    assert list(store.keys("one")) == ["again"]


def _generation(store: DBMStore, namespace: str) -> int:
    """The write generation at the start of the namespace's lock file."""
    data = pathlib.Path(f"{_base(store, namespace)}.lock").read_bytes()[:8]
    return int.from_bytes(data, "big")


def test_set_many_is_one_write_of_the_database(store: DBMStore) -> None:
    store.set("ns", "first", _entry(b"0"))
    before = _generation(store, "ns")
    store.set_many("ns", {f"k{i}": _entry(str(i).encode()) for i in range(50)})
    assert _generation(store, "ns") == before + 1  # one opening for writing, not fifty
    assert store.get_many("ns", ["k0", "k49", "first"]).keys() == {"k0", "k49", "first"}
    store.set_many("ns", {})
    assert _generation(store, "ns") == before + 1


def test_keys_are_listed_lazily_while_the_namespace_changes(store: DBMStore) -> None:
    store.set_many("ns", {f"k{i}": _entry() for i in range(100)})
    listed = store.keys("ns")
    first = next(listed)
    for i in range(50):  # writes and deletes meanwhile (as a purge does) break nothing
        store.delete("ns", f"k{i}")
        store.set("ns", f"new{i}", _entry())
    assert sorted([first, *listed]) == sorted(f"k{i}" for i in range(100))  # as first read
    assert set(store.keys("ns")) == {f"k{i}" for i in range(50, 100)} | {
        f"new{i}" for i in range(50)
    }


def test_reads_do_not_create_files(store: DBMStore) -> None:
    assert store.get("ns", "k") is None
    assert list(store.keys("ns")) == []
    assert os.listdir(store.data_dir) == []


def test_handle_is_kept_open_while_nothing_changes(store: DBMStore) -> None:
    store.set("ns", "k", _entry(b"v"))
    store.get("ns", "k")
    handles = store._handles.value
    assert handles is not None
    space = handles.spaces[str(_base(store, "ns"))]
    handle = space.db
    assert handle is not None
    for _ in range(5):
        assert store.get("ns", "k") == _entry(b"v")
        assert list(store.keys("ns")) == ["k"]
    assert space.db is handle
    store.set("ns", "k", _entry(b"w"))  # a write: the next read reopens
    assert store.get("ns", "k") == _entry(b"w")
    assert space.db is not handle


def _write_in_child(data_dir: str, operations: list[tuple[str, str, bytes | None]]) -> None:
    store = DBMStore(data_dir)
    for action, key, value in operations:
        if action == "set":
            assert value is not None
            store.set("ns", key, Entry(value, 1.0, None))
        elif action == "delete":
            store.delete("ns", key)
        else:
            store.clear("ns")
    store.close()


def _in_child(data_dir: str, *operations: tuple[str, str, bytes | None]) -> None:
    child = SPAWN.Process(target=_write_in_child, args=(data_dir, list(operations)))
    child.start()
    child.join(60)
    assert child.exitcode == 0


def test_sees_another_process_write_on_next_read(store: DBMStore) -> None:
    store.set("ns", "k", _entry(b"a" * 100))
    assert store.get("ns", "k") == _entry(b"a" * 100)  # our handle is open now
    # Same size: dbm.dumb overwrites the value in place, index text unchanged.
    _in_child(store.data_dir, ("set", "k", b"b" * 100))
    assert store.get("ns", "k") == Entry(b"b" * 100, 1.0, None)
    # Same block, other size: the index line changes but keeps its length.
    _in_child(store.data_dir, ("set", "k", b"c" * 200))
    assert store.get("ns", "k") == Entry(b"c" * 200, 1.0, None)
    # Larger: moved to the end of the data file.
    _in_child(store.data_dir, ("set", "k", b"d" * 5000), ("set", "new", b"n"))
    assert store.get("ns", "k") == Entry(b"d" * 5000, 1.0, None)
    assert sorted(store.keys("ns")) == ["k", "new"]
    _in_child(store.data_dir, ("delete", "k", None))
    assert store.get("ns", "k") is None
    _in_child(store.data_dir, ("clear", "", None))
    assert list(store.keys("ns")) == []
    assert store.get("ns", "new") is None
    store.set("ns", "mine", _entry(b"m"))
    _in_child(store.data_dir, ("set", "theirs", b"t"))
    assert sorted(store.keys("ns")) == ["mine", "theirs"]


def test_a_kept_write_handle_never_writes_back_a_stale_index(store: DBMStore) -> None:
    # dbm.dumb: a store keeps its synced write handle between its own writes; a write by
    # anyone else (a process; here also a second store, with its own handles and lock
    # descriptor) makes that handle stale, and the next write reopens the database instead of
    # syncing an index that lacks the other's write.
    other = DBMStore(store.data_dir)
    for turn in range(3):
        store.set("ns", f"mine{turn}", _entry(b"m"))
        store.set("ns", f"mine{turn}+", _entry(b"m"))  # through the kept handle, if dumb
        handles = store._handles.value
        assert handles is not None
        space = handles.spaces[str(_base(store, "ns"))]
        kept = space.writer
        assert (kept is not None) == (dbm.whichdb(str(_base(store, "ns"))) == "dbm.dumb")
        other.set("ns", f"other{turn}", _entry(b"o"))
        _in_child(store.data_dir, ("set", f"child{turn}", b"c"))
    store.set("ns", "last", _entry(b"m"))
    expected = sorted(
        [f"{who}{turn}" for who in ("mine", "other", "child") for turn in range(3)]
        + [f"mine{turn}+" for turn in range(3)]
        + ["last"]
    )
    assert sorted(store.keys("ns")) == sorted(other.keys("ns")) == expected
    assert store.get("ns", "other2") == _entry(b"o")
    assert other.get("ns", "mine2+") == _entry(b"m")
    other.close()


def test_forked_child_uses_its_own_descriptors(store: DBMStore) -> None:
    store.set("ns", "k", _entry(b"parent"))
    assert store.get("ns", "k") is not None  # lock fd and handle open in the parent

    def child() -> None:
        store.set("ns", "k", Entry(b"child", 2.0, None))
        store.set("ns", "k2", Entry(b"child", 2.0, None))

    process = multiprocessing.get_context("fork").Process(target=child)
    process.start()
    process.join(60)
    assert process.exitcode == 0
    assert store.get("ns", "k") == Entry(b"child", 2.0, None)
    assert sorted(store.keys("ns")) == ["k", "k2"]


def test_pickled_store_works_and_shares_no_handles(store: DBMStore) -> None:
    store.set("ns", "k", _entry())
    copy = pickle.loads(pickle.dumps(store))
    assert copy == store
    assert copy._handles is not store._handles
    assert copy.get("ns", "k") == _entry()


def test_damaged_index_is_a_miss_with_a_warning_then_rebuilt(
    store: DBMStore, caplog: pytest.LogCaptureFixture
) -> None:
    store.set("ns", "k", _entry())
    store.set("other", "k", _entry(b"safe"))
    index = pathlib.Path(str(_base(store, "ns")) + ".dir")
    for damage in (b"'unterminated\n", b"garbage that is no index\n"):
        caplog.clear()
        index.write_bytes(damage)
        with caplog.at_level(logging.WARNING, logger="beaker.stores.dbm"):
            assert store.get("ns", "k") is None
            assert list(store.keys("ns")) == []
        assert any(r.name == "beaker.stores.dbm" for r in caplog.records)
        with caplog.at_level(logging.WARNING, logger="beaker.stores.dbm"):
            store.set("ns", "k2", _entry(b"after"))
        assert store.get("ns", "k2") == _entry(b"after")
        assert list(store.keys("ns")) == ["k2"]
    assert store.get("other", "k") == _entry(b"safe")


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda data: data[: len(data) - 3], id="truncated"),
        pytest.param(lambda data: data[:-1] + bytes([data[-1] ^ 1]), id="bit-flip"),
        pytest.param(lambda data: b"\0" * len(data), id="zeroed"),
    ],
)
def test_damaged_record_is_a_miss_with_a_warning(
    store: DBMStore, caplog: pytest.LogCaptureFixture, damage: object
) -> None:
    store.set("ns", "k", _entry(b"some value bytes"))
    data_file = pathlib.Path(str(_base(store, "ns")) + ".dat")
    data_file.write_bytes(damage(data_file.read_bytes()))  # type: ignore[operator]
    store.close()  # forget handles (the damage bypassed the generation counter)
    with caplog.at_level(logging.WARNING, logger="beaker.stores.dbm"):
        assert store.get("ns", "k") is None
    assert any(r.name == "beaker.stores.dbm" for r in caplog.records)
    store.set("ns", "k", _entry(b"fresh"))
    assert store.get("ns", "k") == _entry(b"fresh")


def test_external_replacement_of_the_files_is_noticed(store: DBMStore) -> None:
    # A change that bypasses the lock file's generation is still caught by the stat signature.
    store.set("ns", "k", _entry(b"old"))
    assert store.get("ns", "k") == _entry(b"old")
    elsewhere = DBMStore(pathlib.Path(store.data_dir) / "elsewhere")
    elsewhere.set("ns", "k", _entry(b"replaced" * 10))
    elsewhere.close()
    for suffix in (".dat", ".dir"):
        source = str(_base(elsewhere, "ns")) + suffix
        os.replace(source, str(_base(store, "ns")) + suffix)
    assert store.get("ns", "k") == _entry(b"replaced" * 10)


def test_directories_removed_under_the_store(store: DBMStore) -> None:
    store.set("ns", "k", _entry(b"before"))
    assert store.get("ns", "k") is not None
    shutil.rmtree(store.data_dir)
    assert store.get("ns", "k") is None
    assert list(store.keys("ns")) == []
    store.delete("ns", "k")
    store.set("ns", "k", _entry(b"after"))
    assert store.get("ns", "k") == _entry(b"after")
    # Another instance (another process, in effect) sees the recreated files under lock.
    other = DBMStore(store.data_dir)
    assert other.get("ns", "k") == _entry(b"after")
    other.close()


def test_unusable_data_dir_is_a_config_error(tmp_path: pathlib.Path) -> None:
    shared.check_unusable_dir(DBMStore, tmp_path, "data_dir")


@pytest.mark.parametrize("bad", [None, 3, b"/tmp/x", ""])
def test_data_dir_of_wrong_type(bad: object) -> None:
    shared.check_wrong_type(DBMStore, bad, "data_dir")


@pytest.mark.parametrize("bad", [0, -1, True, "8"])
def test_max_open_must_be_a_positive_int(tmp_path: pathlib.Path, bad: object) -> None:
    with pytest.raises(ConfigError) as info:
        DBMStore(tmp_path, max_open=bad)  # type: ignore[arg-type]
    assert info.value.option == "max_open"


def test_open_handles_are_bounded(tmp_path: pathlib.Path) -> None:
    store = DBMStore(tmp_path, max_open=4)
    for n in range(4):
        store.set(f"ns{n}", "k", _entry(str(n).encode()))
        store.get(f"ns{n}", "k")
    baseline = _open_fds()
    for n in range(4, 60):
        store.set(f"ns{n}", "k", _entry(str(n).encode()))
        assert store.get(f"ns{n}", "k") == _entry(str(n).encode())
    handles = store._handles.value
    assert handles is not None and len(handles.spaces) == 4
    assert _open_fds() <= baseline
    for n in range(60):  # evicted namespaces reopen transparently
        assert store.get(f"ns{n}", "k") == _entry(str(n).encode())
    store.close()
    assert store._handles.value is None and len(handles.spaces) == 0


def test_close_then_use_again(store: DBMStore) -> None:
    store.set("ns", "k", _entry())
    store.close()
    assert store.get("ns", "k") == _entry()
    store.close()
    store.close()


def test_threads_share_one_store(store: DBMStore) -> None:
    def work(n: int) -> None:
        for i in range(25):
            store.set("ns", f"{n}-{i}", _entry(bytes([n]) * (i * 40)))
            entry = store.get("ns", f"{n}-{i}")
            assert entry == _entry(bytes([n]) * (i * 40))

    run_threads(work)
    assert len(list(store.keys("ns"))) == 100


@pytest.mark.parametrize(
    ("which", "kind"),
    [("database", kind) for kind in (*shared.STRAY_KINDS, "file")]
    + [("lock", kind) for kind in shared.STRAY_KINDS],
)
def test_a_stray_node_where_a_file_belongs_is_empty_then_replaced(
    tmp_path: pathlib.Path, kind: str, which: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = DBMStore(tmp_path / "dbm")
    store.set("ns", "k", _entry(b"first"))
    base = _base(store, "ns")
    if which == "lock":
        targets = [base.with_name(base.name + ".lock")]
    else:
        targets = [
            p for p in base.parent.iterdir() if p.name.startswith(base.name) and p.suffix != ".lock"
        ]
    store.close()  # a fresh process would find the node at once
    for target in targets:
        shared.make_stray(target, kind)
    with caplog.at_level(logging.WARNING, logger="beaker.stores.dbm"):
        assert shared.finishes(lambda: store.get("ns", "k")) is None
        assert shared.finishes(lambda: list(store.keys("ns"))) == []
    assert caplog.records
    cache = compose(store, namespace="ns")
    for key in ("k", "j", "k"):
        assert shared.finishes(lambda key=key: cache.get_or_create(key, lambda: key)) == key  # type: ignore[misc]
    assert sorted(store.keys("ns")) == ["j", "k"]
    store.clear("ns")
    assert list(store.keys("ns")) == []
