"""FileStore: conformance, atomic one-file-per-entry layout, damage handling, bad data_dir."""

from __future__ import annotations

import logging
import os
import pathlib
import shutil
import tempfile
import threading

import attrs
import pytest
from hypothesis import settings

from beaker import compose
from beaker.entry import Entry
from beaker.errors import ComponentTypeError
from beaker.stores.file import FileStore
from tests import _file_backed as shared
from tests._file_backed import make_entry as _entry


class FileStoreMachine(shared.TempDirStoreMachine):
    prefix = "beaker-filestore-"

    def make_store_in(self, directory: str) -> FileStore:
        return FileStore(directory)


TestFileStoreConformance = FileStoreMachine.TestCase


def _entry_files(root: pathlib.Path) -> list[pathlib.Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and len(p.name) == 40)


@pytest.fixture
def store(tmp_path: pathlib.Path) -> FileStore:
    return FileStore(tmp_path / "cache")


@settings(max_examples=50, deadline=None)
@shared.given_any_entry
def test_round_trip_any_key_and_value(
    namespace: str, key: str, value: bytes, stored_at: float, expires_at: float | None
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = FileStore(tmp)
        shared.check_round_trip(store, namespace, key, value, stored_at, expires_at)
        assert list(store.keys(namespace)) == []


def test_one_small_file_per_entry_under_hashed_paths(store: FileStore) -> None:
    store.set("ns", "a", _entry(b"1"))
    store.set("ns", "b", _entry(b"2"))
    store.set("other", "a", _entry(b"3"))
    root = pathlib.Path(store.data_dir)
    files = _entry_files(root)
    assert len(files) == 3
    for path in files:
        assert path.parent.name == path.name[:2]
    # The namespace's name is recorded beside its entries.
    markers = sorted(p.read_text() for p in root.glob("*/namespace"))
    assert markers == ["ns", "other"]


def test_overwrite_replaces_and_leaves_no_temp_files(store: FileStore) -> None:
    for size in (10, 5000, 1):
        store.set("ns", "k", _entry(b"x" * size))
    entry = store.get("ns", "k")
    assert entry is not None and entry.value == b"x"
    all_files = [p for p in pathlib.Path(store.data_dir).rglob("*") if p.is_file()]
    assert all(not p.name.endswith(".tmp") for p in all_files)


def test_keys_and_clear_stay_within_their_namespace(store: FileStore) -> None:
    shared.check_namespaces_kept_apart(store)
    store.set("one", "again", _entry())
    assert list(store.keys("one")) == ["again"]
    # Nothing left behind by the clear (the renamed-aside directory is gone).
    assert sorted(os.listdir(store.data_dir)) == sorted(
        p.name for p in pathlib.Path(store.data_dir).iterdir() if len(p.name) == 40
    )


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda data: b"garbage", id="garbage"),
        pytest.param(lambda data: b"", id="empty"),
        pytest.param(lambda data: data[: len(data) // 2], id="truncated"),
        pytest.param(lambda data: data[:-1] + bytes([data[-1] ^ 1]), id="bit-flip"),
        pytest.param(lambda data: data + b"tail", id="extended"),
        pytest.param(lambda data: b"BKf2" + data[4:], id="wrong-magic"),
    ],
)
def test_damaged_file_is_a_miss_with_a_warning(
    store: FileStore, caplog: pytest.LogCaptureFixture, damage: object
) -> None:
    store.set("ns", "k", _entry(b"some value bytes"))
    (path,) = _entry_files(pathlib.Path(store.data_dir))
    path.write_bytes(damage(path.read_bytes()))  # type: ignore[operator]
    with caplog.at_level(logging.WARNING, logger="beaker.stores.file"):
        assert store.get("ns", "k") is None
    assert any(
        r.name == "beaker.stores.file" and r.levelno == logging.WARNING for r in caplog.records
    )
    with caplog.at_level(logging.WARNING, logger="beaker.stores.file"):
        assert list(store.keys("ns")) in ([], ["k"])  # never raises
    store.set("ns", "k", _entry(b"fresh"))  # a write repairs it
    assert store.get("ns", "k") == _entry(b"fresh")


def test_a_file_holding_another_key_is_a_miss(
    store: FileStore, caplog: pytest.LogCaptureFixture
) -> None:
    store.set("ns", "a", _entry(b"for a"))
    store.set("ns", "b", _entry(b"for b"))
    root = pathlib.Path(store.data_dir)
    files = {p.name: p for p in _entry_files(root)}
    path_a, path_b = (files[n] for n in sorted(files))
    # Copy one entry's file over the other's path: a foreign file for that key.
    shutil.copyfile(path_a, path_b)
    with caplog.at_level(logging.WARNING, logger="beaker.stores.file"):
        results = {store.get("ns", "a"), store.get("ns", "b")}
        keys = list(store.keys("ns"))
    assert None in results
    assert len(keys) == 1
    assert caplog.records


def test_a_directory_where_a_file_should_be_is_a_miss(
    store: FileStore, caplog: pytest.LogCaptureFixture
) -> None:
    store.set("ns", "k", _entry())
    (path,) = _entry_files(pathlib.Path(store.data_dir))
    path.unlink()
    path.mkdir()
    with caplog.at_level(logging.WARNING, logger="beaker.stores.file"):
        assert store.get("ns", "k") is None
    assert caplog.records
    store.set("ns", "k", _entry(b"back"))  # the write replaces the directory
    assert store.get("ns", "k") == _entry(b"back")
    store.delete("ns", "k")
    path.mkdir()
    store.delete("ns", "k")
    assert not path.exists()


def test_temp_files_of_crashed_writers_are_never_entries(store: FileStore) -> None:
    store.set("ns", "k", _entry(b"real"))
    (path,) = _entry_files(pathlib.Path(store.data_dir))
    # A writer that died after writing a complete temp file but before the rename.
    crashed = path.with_name(f"{path.name}.12345.abcdef.tmp")
    shutil.copyfile(path, crashed)
    store.set("ns", "other", _entry(b"x"))
    store.delete("ns", "k")
    assert store.get("ns", "k") is None
    assert list(store.keys("ns")) == ["other"]
    store.clear("ns")
    assert not crashed.exists()


def test_directories_removed_under_the_store(store: FileStore) -> None:
    store.set("ns", "k", _entry(b"before"))
    shutil.rmtree(store.data_dir)
    assert store.get("ns", "k") is None
    assert list(store.keys("ns")) == []
    store.delete("ns", "k")
    store.clear("ns")
    store.set("ns", "k", _entry(b"after"))
    assert store.get("ns", "k") == _entry(b"after")
    # Only a namespace's bucket directory removed.
    (path,) = _entry_files(pathlib.Path(store.data_dir))
    shutil.rmtree(path.parent)
    assert store.get("ns", "k") is None
    store.set("ns", "k2", _entry(b"again"))
    assert list(store.keys("ns")) == ["k2"]


def test_a_file_where_a_directory_should_be_is_replaced(
    store: FileStore, caplog: pytest.LogCaptureFixture
) -> None:
    store.set("ns", "k", _entry())
    (path,) = _entry_files(pathlib.Path(store.data_dir))
    shutil.rmtree(path.parent)
    path.parent.write_bytes(b"not a directory")
    assert store.get("ns", "k") is None
    with caplog.at_level(logging.WARNING, logger="beaker.stores.file"):
        store.set("ns", "k", _entry(b"back"))
    assert store.get("ns", "k") == _entry(b"back")


def test_unusable_data_dir_is_a_config_error(tmp_path: pathlib.Path) -> None:
    errors = shared.check_unusable_dir(FileStore, tmp_path, "data_dir")
    regular = tmp_path / "a-file"
    assert [error.value for error in errors] == [str(regular), str(regular / "below")]


def test_data_dir_is_created_and_accepts_path_like(tmp_path: pathlib.Path) -> None:
    target = tmp_path / "deep" / "er"
    store = FileStore(target)
    assert store.data_dir == str(target) and target.is_dir()
    assert os.listdir(target) == []  # the writability probe cleaned up after itself
    assert FileStore(str(target)) == store


@pytest.mark.parametrize("bad", [None, 3, b"/tmp/x", ""])
def test_data_dir_of_wrong_type(bad: object) -> None:
    shared.check_wrong_type(FileStore, bad, "data_dir")


def test_fsync_must_be_a_bool(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ComponentTypeError) as info:
        FileStore(tmp_path, fsync="yes")  # type: ignore[arg-type]
    assert info.value.argument == "fsync"


def test_fsync_variant_round_trips(store: FileStore) -> None:
    durable = attrs.evolve(store, fsync=True)
    durable.set("ns", "k", _entry(b"durable", 5.0, 10.0))
    assert store.get("ns", "k") == _entry(b"durable", 5.0, 10.0)


def test_values_must_be_bytes(store: FileStore) -> None:
    with pytest.raises(TypeError):
        store.set("ns", "k", Entry({"an": "object"}, 0.0))
    assert store.get("ns", "k") is None


def test_threads_never_see_a_torn_value(store: FileStore) -> None:
    values = [bytes([n]) * (1000 * (n + 1)) for n in range(8)]
    store.set("ns", "k", _entry(values[0]))
    seen: set[bytes] = set()
    problems: list[object] = []
    stop = threading.Event()

    def write(offset: int) -> None:
        for i in range(150):
            store.set("ns", "k", _entry(values[(i + offset) % len(values)]))

    def read() -> None:
        while not stop.is_set():
            entry = store.get("ns", "k")
            if entry is None or entry.value not in values:
                problems.append(entry)
            else:
                seen.add(entry.value)

    writers = [threading.Thread(target=write, args=(n,)) for n in range(2)]
    readers = [threading.Thread(target=read) for _ in range(2)]
    for thread in writers + readers:
        thread.start()
    for thread in writers:
        thread.join()
    stop.set()
    for thread in readers:
        thread.join()
    assert problems == []
    assert len(seen) > 1


@pytest.mark.parametrize("kind", shared.STRAY_KINDS)
def test_a_stray_node_where_an_entry_belongs_is_a_miss_then_replaced(
    store: FileStore, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    store.set("ns", "k", _entry(b"first"))
    (path,) = _entry_files(pathlib.Path(store.data_dir))
    shared.make_stray(path, kind)
    with caplog.at_level(logging.WARNING, logger="beaker.stores.file"):
        assert shared.finishes(lambda: store.get("ns", "k")) is None
        assert shared.finishes(lambda: list(store.keys("ns"))) == []
    assert str(path) in caplog.text
    cache = compose(store, namespace="ns")
    assert shared.finishes(lambda: cache.get_or_create("k", lambda: "made")) == "made"
    assert cache.get("k") == "made" and list(store.keys("ns")) == ["k"]
    assert path.is_file() and not path.is_symlink()


@pytest.mark.parametrize("kind", ["file", "fifo", "symlink", "socket"])
@pytest.mark.parametrize("level", ["namespace", "bucket"])
def test_a_stray_node_where_a_directory_belongs_is_a_miss_then_replaced(
    store: FileStore, kind: str, level: str, caplog: pytest.LogCaptureFixture
) -> None:
    store.set("ns", "k", _entry(b"first"))
    (path,) = _entry_files(pathlib.Path(store.data_dir))
    where = path.parent.parent if level == "namespace" else path.parent
    shared.make_stray(where, kind)
    with caplog.at_level(logging.WARNING, logger="beaker.stores.file"):
        assert shared.finishes(lambda: store.get("ns", "k")) is None
    assert caplog.records
    cache = compose(store, namespace="ns")
    for key in ("k", "k0", "k1", "k"):  # every later write works, not only the first
        assert shared.finishes(lambda key=key: cache.get_or_create(key, lambda: key)) == key  # type: ignore[misc]
    assert sorted(store.keys("ns")) == ["k", "k0", "k1"] and where.is_dir()
    store.clear("ns")
    shared.make_stray(where, kind)
    store.clear("ns")  # a stray node in the namespace's place: cleared without an error
    assert list(store.keys("ns")) == [] and store.get("ns", "k") is None
