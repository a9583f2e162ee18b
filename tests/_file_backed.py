"""Helpers shared by the tests of the components that keep files in a directory
(``tests/stores/test_file_store.py``, ``tests/stores/test_dbm_store.py``,
``tests/locks/test_file_lock.py``): the Hypothesis text that reaches every Python ``str``, an
entry builder, a conformance machine on a temporary directory, and the checks they run alike.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import socket
import tempfile
import threading
from collections.abc import Callable
from typing import TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from beaker.entry import Entry
from beaker.errors import ComponentTypeError, ConfigError
from beaker.stores.base import Store
from beaker.testing import StoreMachine

T = TypeVar("T")

# Any Python str, lone surrogates included.
ANY_TEXT = st.text(st.one_of(st.characters(), st.characters(categories=["Cs"])), max_size=30)


def make_entry(
    value: bytes = b"value", stored_at: float = 100.0, expires_at: float | None = None
) -> Entry:
    """An entry of bytes, as a byte store receives it."""
    return Entry(value, stored_at, expires_at)


class TempDirStoreMachine(StoreMachine):
    """The conformance machine on a store in a fresh temporary directory, removed afterwards.
    Subclasses give :meth:`make_store_in` (and may change :attr:`prefix`)."""

    prefix = "beaker-store-"

    def make_store_in(self, directory: str) -> Store:
        raise NotImplementedError("override make_store_in() in your subclass")

    def make_store(self) -> Store:
        self.tmp = tempfile.mkdtemp(prefix=self.prefix)
        return self.make_store_in(self.tmp)

    def teardown(self) -> None:
        super().teardown()
        shutil.rmtree(self.tmp, ignore_errors=True)


#: Hypothesis's ``@given`` for the arguments of :func:`check_round_trip` (beyond the store):
#: any namespace and key, values up to 3000 bytes, any finite or infinite times.
given_any_entry = given(
    namespace=ANY_TEXT,
    key=ANY_TEXT,
    value=st.binary(max_size=3000),
    stored_at=st.floats(allow_nan=False),
    expires_at=st.none() | st.floats(allow_nan=False),
)


def check_round_trip(
    store: Store, namespace: str, key: str, value: bytes, stored_at: float, expires_at: float | None
) -> None:
    """An entry set under (``namespace``, ``key``) reads back equal, is the namespace's only
    key, and is gone after ``delete``."""
    written = Entry(value, stored_at, expires_at)
    store.set(namespace, key, written)
    read = store.get(namespace, key)
    assert read == written, f"wrote {written!r}, read {read!r}"
    keys = list(store.keys(namespace))
    assert keys == [key], f"keys {keys!r} after setting only {key!r}"
    store.delete(namespace, key)
    read = store.get(namespace, key)
    assert read is None, f"read {read!r} after delete"


def check_namespaces_kept_apart(store: Store) -> None:
    """``keys`` and ``clear`` of one namespace leave another alone; clearing a namespace never
    written is no error."""
    for key in ("a", "b", "c"):
        store.set("one", key, make_entry())
    store.set("two", "a", make_entry(b"other"))
    keys = sorted(store.keys("one")), list(store.keys("two"))
    assert keys == (["a", "b", "c"], ["a"]), f"keys of 'one', 'two': {keys}"
    store.clear("one")
    keys_left = list(store.keys("one"))
    assert keys_left == [], f"keys {keys_left!r} after clear"
    cleared, kept = store.get("one", "a"), store.get("two", "a")
    assert cleared is None, f"read {cleared!r} from the cleared namespace"
    assert kept == make_entry(b"other"), f"read {kept!r} from the other namespace"
    store.clear("never-written")


def check_unusable_dir(
    make: Callable[[pathlib.Path], object], tmp_path: pathlib.Path, option: str
) -> list[ConfigError]:
    """A regular file, or a path below one, as the directory is a ``ConfigError`` naming
    ``option`` and asking for a writable directory; returns the errors, in that order."""
    regular = tmp_path / "a-file"
    regular.write_text("x")
    errors = []
    for bad in (regular, regular / "below"):
        with pytest.raises(ConfigError) as info:
            make(bad)
        assert info.value.option == option, f"{info.value!r} does not name {option!r}"
        assert "writable directory" in str(info.value), str(info.value)
        errors.append(info.value)
    return errors


def check_wrong_type(make: Callable[[object], object], bad: object, argument: str) -> None:
    """``make(bad)`` is a ``ComponentTypeError`` naming ``argument``."""
    with pytest.raises(ComponentTypeError) as info:
        make(bad)
    assert info.value.argument == argument, f"{info.value!r} does not name {argument!r}"


STRAY_KINDS = ("fifo", "symlink", "directory", "socket")


def make_stray(path: pathlib.Path, kind: str) -> None:
    """Put a node of ``kind`` (``"fifo"``, ``"symlink"``, ``"directory"``, ``"socket"`` or
    ``"file"``) at ``path``, replacing what is there; the symlink points at a regular file
    holding ``b"bait"``, so following it would be noticed."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "symlink":
        bait = path.with_name(path.name + ".bait")
        bait.write_bytes(b"bait")
        path.symlink_to(bait)
    elif kind == "directory":
        path.mkdir()
        (path / "inside").write_bytes(b"x")
    elif kind == "socket":
        short = tempfile.mkdtemp()  # socket paths must be short: bind there, then move it
        with socket.socket(socket.AF_UNIX) as server:
            server.bind(os.path.join(short, "s"))
        os.rename(os.path.join(short, "s"), path)
        os.rmdir(short)
    else:
        path.write_bytes(b"a regular file, not ours")


def finishes(action: Callable[[], T]) -> T:
    """Run ``action`` in a daemon thread and return its result; fail (instead of hanging the
    test run) if it is still blocked after a minute: a liveness guard, not a speed check."""
    results: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(action())
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            errors.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(60)
    assert not worker.is_alive(), "blocked: the call hangs on what it found on disk"
    if errors:
        raise errors[0]
    return results[0]
