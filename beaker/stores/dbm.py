"""DBMStore (and its asyncio twin AsyncDBMStore, which runs it in a worker thread): one stdlib
:mod:`dbm` database per namespace, shared by the processes of a host.

Files under ``data_dir`` for a namespace whose name hashes (SHA-1) to ``H``::

    H.lock              the sidecar lock (``fcntl.flock``) and a 64-bit write generation
    H, H.dat, H.dir …   the database, in whatever format ``dbm`` chose when it created it

Readers hold the lock shared, writers exclusive. Each process keeps a read-only handle per
namespace and reopens it only when the database changed: every write bumps the generation
in the lock file, and the handle's signature (generation plus ``(st_ino, st_size,
st_mtime_ns)`` of the database files) is compared under the shared lock. Writes open the
database, write, and close it before the lock is released, so the index of ``dbm.dumb``
(kept in memory until closed) is on disk before anyone else can read. A ``dbm.dumb``
database's write handle is synced (its index written) instead of closed, and kept for the
process's next write while its signature, checked under the exclusive lock, says nobody
else wrote: a write then neither reopens the files nor parses the index.

Records are framed (magic ``BKd1``, length, CRC-32) around :func:`~beaker.entry.pack_entry`,
so a truncated or damaged value is detected as a miss rather than returned.

Imports only :mod:`beaker.errors`, :mod:`beaker.entry`, :mod:`beaker.runtime`,
:mod:`beaker.stores.base`, :mod:`beaker.stores.file` (for the directory check) and the twin
base :mod:`beaker.stores._twins`; must not import from ``beaker.caching``, ``beaker.sessions`` or
``beaker.compat``.
"""

from __future__ import annotations

import dbm
import fcntl
import hashlib
import importlib
import logging
import os
import stat
import struct
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar, Final, TypeVar

import attrs

from beaker.entry import Entry, pack_entry, unpack_entry
from beaker.errors import DeserializationError
from beaker.runtime import Lazy, lazy_field
from beaker.stores._twins import ThreadTwin
from beaker.stores.base import LoopBatch, Versioned
from beaker.stores.file import directory_path, open_regular, prepare_directory, remove_node
from beaker.validators import positive_int

log = logging.getLogger("beaker.stores.dbm")

_MAGIC: Final = b"BKd1"
_FRAME: Final = struct.Struct("!4sII")  # magic, record length, crc32(record)
_GENERATION: Final = struct.Struct("!Q")
# Files the dbm modules create for a base name: gdbm the name itself, ndbm .db or .pag/.dir,
# dbm.dumb .dat/.dir (and .bak, a stale index copy that is never read back).
_DB_SUFFIXES: Final = ("", ".db", ".pag", ".dat", ".dir")
_ALL_SUFFIXES: Final = (*_DB_SUFFIXES, ".bak")
# The files each module opens (dbm.dumb renames and unlinks its .bak but never opens it): the
# only ones to look at before opening a database of a known module.
_OPENED_SUFFIXES: Final = {
    "dbm.dumb": (".dat", ".dir"),
    "dbm.gnu": ("",),
    "dbm.ndbm": (".db", ".pag", ".dir"),
}

T = TypeVar("T")


def _key_bytes(key: str) -> bytes:
    return key.encode("utf-8", "surrogatepass")


def _lookup(db: Any, raw_key: bytes) -> bytes | None:
    try:
        return bytes(db[raw_key])
    except KeyError:
        return None


def _frame(record: bytes) -> bytes:
    return _FRAME.pack(_MAGIC, len(record), zlib.crc32(record)) + record


def _unframe(data: bytes) -> bytes:
    if len(data) < _FRAME.size:
        raise DeserializationError("record shorter than its header (truncated or foreign)")
    magic, length, crc = _FRAME.unpack_from(data)
    record = data[_FRAME.size :]
    if magic != _MAGIC:
        raise DeserializationError("not a beaker dbm record (bad magic)")
    if len(record) != length:
        raise DeserializationError(f"record is {len(record)} bytes, header says {length}")
    if zlib.crc32(record) != crc:
        raise DeserializationError("checksum mismatch (corrupt record)")
    return record


class _CorruptDatabase(Exception):
    """The database files exist but cannot be opened."""


def _open_existing(base: str, readonly: bool, kind: str | None = None) -> Any:
    """Open the database at ``base`` with the module that wrote it; ``None`` if there is none.

    Args:
        kind: the module's name when already known (skips ``dbm.whichdb``, which reads the
            files to find out).

    Raises:
        _CorruptDatabase: files are there but unrecognised or unreadable.
    """
    for suffix in _ALL_SUFFIXES if kind is None else _OPENED_SUFFIXES.get(kind, _ALL_SUFFIXES):
        # The dbm modules follow links and block on a FIFO: look before they open anything.
        try:
            mode = os.lstat(base + suffix).st_mode
        except FileNotFoundError:
            continue
        if not stat.S_ISREG(mode):
            raise _CorruptDatabase(f"{base + suffix} is not a regular file")
    if kind is None:
        kind = dbm.whichdb(base)
    if kind is None:
        if any(os.path.exists(base + suffix) for suffix in _ALL_SUFFIXES):
            raise _CorruptDatabase("database files present but their format is unrecognised")
        return None
    if kind == "":
        raise _CorruptDatabase("unrecognised database format")
    flag = "r" if readonly else "w"
    if kind == "dbm.gnu":
        flag += "u"  # no gdbm-level lock: the sidecar flock already orders access
    try:
        module = importlib.import_module(kind)
        return module.open(base, flag)
    except Exception as exc:  # a damaged index can raise almost anything while parsed
        raise _CorruptDatabase(f"{type(exc).__name__}: {exc}") from exc


def _create(base: str) -> Any:
    """Create (or open) the database at ``base`` for writing with ``dbm``'s default module.

    Raises:
        _CorruptDatabase: leftover files could not be parsed.
        OSError: the files cannot be created.
    """
    try:
        return dbm.open(base, "c")
    except OSError:
        raise
    except Exception as exc:
        raise _CorruptDatabase(f"{type(exc).__name__}: {exc}") from exc


class _Namespace:
    """One namespace's lock file descriptor and cached read handle. Every method but
    :meth:`close` runs with :attr:`mutex` held by the caller."""

    __slots__ = (
        "base",
        "closed",
        "db",
        "db_files",
        "kind",
        "lock_fd",
        "lock_id",
        "mutex",
        "signature",
        "writer",
        "writer_signature",
    )

    def __init__(self, base: str) -> None:
        self.base = base
        self.kind: str | None = None  # the dbm module of the files, once seen
        self.mutex = threading.Lock()
        self.closed = False
        self.lock_fd: int | None = None
        self.lock_id: tuple[int, int] = (0, 0)
        self.db: Any = None
        self.db_files: tuple[str, ...] = ()
        self.signature: object = None
        # A dbm.dumb write handle, synced, and the signature of the files it wrote last.
        self.writer: Any = None
        self.writer_signature: object = None

    # -- the sidecar lock --------------------------------------------------------------------

    def lock(self, exclusive: bool) -> bool:
        """Take the sidecar lock. Returns ``False`` (holding nothing) for a shared lock on a
        namespace that has no lock file, i.e. no database."""
        path = self.base + ".lock"
        while True:
            if self.lock_fd is None:
                flags = os.O_RDWR | (os.O_CREAT if exclusive else 0)
                try:
                    fd = open_regular(path, flags)
                except (FileNotFoundError, NotADirectoryError):
                    if not exclusive:
                        return False
                    os.makedirs(os.path.dirname(path), exist_ok=True)
                    continue
                if fd is None:
                    if not exclusive:
                        log.warning("%s is not a regular file: empty until the next write", path)
                        return False
                    log.warning("replacing %s, not a regular file, by a lock file", path)
                    remove_node(path)
                    continue
                info = os.fstat(fd)
                self.lock_fd, self.lock_id = fd, (info.st_dev, info.st_ino)
            fcntl.flock(self.lock_fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            try:
                info = os.stat(path)
                if (info.st_dev, info.st_ino) == self.lock_id:
                    return True
            except (FileNotFoundError, NotADirectoryError):
                pass
            # The lock file was removed or replaced under us (its directory deleted): a lock
            # on the old file excludes nobody. Start again with the file now at the path.
            self.drop()

    def unlock(self) -> None:
        if self.lock_fd is not None:
            fcntl.flock(self.lock_fd, fcntl.LOCK_UN)

    def generation(self) -> int:
        assert self.lock_fd is not None
        data = os.pread(self.lock_fd, _GENERATION.size, 0)
        return _GENERATION.unpack(data)[0] if len(data) == _GENERATION.size else 0

    def bump_generation(self) -> None:
        assert self.lock_fd is not None
        next_generation = (self.generation() + 1) % (1 << 64)
        os.pwrite(self.lock_fd, _GENERATION.pack(next_generation), 0)

    # -- the database ------------------------------------------------------------------------

    def _stat_files(self, paths: tuple[str, ...]) -> tuple[tuple[int, int, int] | None, ...]:
        found: list[tuple[int, int, int] | None] = []
        for path in paths:
            try:
                info = os.stat(path)
            except FileNotFoundError:
                found.append(None)
            else:
                found.append((info.st_ino, info.st_size, info.st_mtime_ns))
        return tuple(found)

    def reader(self) -> Any:
        """The read handle, reopened if the database changed; ``None`` if there is none.
        Needs the shared (or exclusive) lock.

        Raises:
            _CorruptDatabase: the database cannot be opened.
        """
        generation = self.generation()
        if self.db is not None and self.signature == (generation, self._stat_files(self.db_files)):
            return self.db
        self.close_db()
        db = self._open_known_kind(readonly=True)
        if db is None:
            db = _open_existing(self.base, readonly=True)
        if db is not None:
            self.db = db
            self.db_files = tuple(
                self.base + suffix for suffix in _DB_SUFFIXES if os.path.exists(self.base + suffix)
            )
            self.signature = (generation, self._stat_files(self.db_files))
        return db

    def _writer_files(self) -> tuple[str, ...]:
        return tuple(self.base + suffix for suffix in _OPENED_SUFFIXES["dbm.dumb"])

    def _kept_writer(self) -> Any:
        """The kept ``dbm.dumb`` write handle if nobody wrote since it did (same generation
        and files), else ``None`` (a stale one is closed: it was synced, so closing writes
        nothing). Needs the exclusive lock."""
        writer, self.writer = self.writer, None
        if writer is None:
            return None
        if self.writer_signature == (self.generation(), self._stat_files(self._writer_files())):
            return writer
        writer.close()
        return None

    def write(self, action: Callable[[Any], None], create: bool) -> None:
        """Open the database for writing (or take the kept ``dbm.dumb`` handle), apply
        ``action``, sync or close it (so its index is on disk) and bump the generation.
        Needs the exclusive lock."""
        self.close_db()
        db = self._kept_writer()
        try:
            if db is None:
                try:
                    db = self._open_known_kind(readonly=False)
                    if db is None:
                        db = _open_existing(self.base, readonly=False)
                    if db is None and create:
                        db = _create(self.base)
                except _CorruptDatabase as exc:
                    log.warning("corrupt dbm database %s (%s): starting it afresh", self.base, exc)
                    self.remove_files()
                    db = _create(self.base) if create else None
                if db is None:
                    return
            try:
                action(db)
                if self.kind == "dbm.dumb" and isinstance(getattr(db, "_modified", None), bool):
                    db.sync()  # the index on disk, under the lock
                    # Unmodified now, as Python 3.13's sync() leaves it by itself (3.10-3.12's
                    # do not): closing this handle later (stale, evicted, collected, at exit;
                    # the lock held or not) writes no index back.
                    db._modified = False
                    self.writer = db
            finally:
                if self.writer is None:
                    db.close()
            if self.kind is None:
                self.kind = dbm.whichdb(self.base) or None
        finally:
            self.bump_generation()
        if self.writer is not None:
            self.writer_signature = (self.generation(), self._stat_files(self._writer_files()))

    def _open_known_kind(self, readonly: bool) -> Any:
        """Open with the module seen last time, or ``None`` when that fails (the files were
        removed or replaced): the caller then detects the format afresh."""
        if self.kind is None:
            return None
        try:
            return _open_existing(self.base, readonly=readonly, kind=self.kind)
        except _CorruptDatabase:
            self.kind = None
            return None

    def remove_files(self) -> None:
        self.close_writer()
        self.kind = None
        for suffix in _ALL_SUFFIXES:
            remove_node(self.base + suffix)

    def close_db(self) -> None:
        db, self.db, self.signature = self.db, None, None
        if db is not None:
            db.close()  # a read-only handle: closing writes nothing

    def close_writer(self) -> None:
        writer, self.writer = self.writer, None
        if writer is not None:
            writer.close()  # synced after its last write: closing writes nothing

    def drop(self) -> None:
        """Forget every resource (the lock fd is closed, which also releases its lock)."""
        try:
            self.close_db()
            self.close_writer()
        finally:
            fd, self.lock_fd = self.lock_fd, None
            if fd is not None:
                os.close(fd)

    def close(self) -> None:
        with self.mutex:
            self.closed = True
            self.drop()


class _Handles:
    """A bounded, thread-safe registry of open namespaces (least recently used first).

    Held by the store's :class:`~beaker.runtime.Lazy` (so a pickled copy starts empty), and
    starts afresh in a forked child, whose inherited descriptors would otherwise share the
    parent's locks."""

    __slots__ = ("limit", "mutex", "pid", "spaces")

    def __init__(self, limit: int = 64) -> None:
        self.limit = limit
        self.mutex = threading.Lock()
        self.pid = os.getpid()
        self.spaces: OrderedDict[str, _Namespace] = OrderedDict()

    def get(self, base: str) -> _Namespace:
        evicted: list[_Namespace] = []
        with self.mutex:
            if self.pid != os.getpid():
                # After fork: the parent's mutexes may be held by threads that do not exist
                # here; close our copies of the descriptors without touching those mutexes.
                for space in self.spaces.values():
                    space.closed = True
                    space.drop()
                self.spaces.clear()
                self.pid = os.getpid()
            known = self.spaces.get(base)
            if known is not None:
                self.spaces.move_to_end(base)
                return known
            space = self.spaces[base] = _Namespace(base)
            while len(self.spaces) > self.limit:
                evicted.append(self.spaces.popitem(last=False)[1])
        for old in evicted:
            old.close()
        return space

    def close_all(self) -> None:
        with self.mutex:
            spaces = list(self.spaces.values())
            self.spaces.clear()
        for space in spaces:
            space.close()


def _data_dir(value: object) -> str:
    return directory_path("data_dir", value)


@attrs.frozen
class DBMStore(LoopBatch):
    """Keeps each namespace in its own stdlib ``dbm`` database under ``data_dir`` (as Beaker's
    ``dbm`` type, without reopening the database on every access).

    Args:
        data_dir: the directory (``str`` or path-like); created if missing.
        max_open: how many namespaces keep an open handle and lock descriptor in this
            process (``int`` > 0, default 64); the least recently used is closed beyond it.

    Works with whichever module ``dbm`` picks (``dbm.gnu``, ``dbm.ndbm`` or ``dbm.dumb``);
    an existing database is opened with the module that wrote it.

    Process safety: readers hold a shared ``fcntl.flock`` on the namespace's lock file and
    writers an exclusive one, and a write is on disk before its lock is released, so every
    process's next read sees it. Thread-safe (one namespace's calls are serialised per
    process). A forked child starts with fresh handles. A damaged database or record is a
    miss with a warning on the ``beaker.stores.dbm`` logger; the next write to a damaged
    database starts it afresh. ``dbm.dumb`` never reuses the space of overwritten values:
    :meth:`clear` is what reclaims it. Not for network file systems (``flock``).

    Cost on ``dbm.dumb`` (the only module of a Python built without gdbm/ndbm): a get is
    flat in the namespace's size while nobody writes (the read handle is kept), but every
    write, and the first read after another write, costs the namespace's size. Opening
    ``dbm.dumb`` parses its whole index file, one ``ast.literal_eval`` per key (about 90% of
    a write that opens it at 10^5 keys, profiled), and a write rewrites that file whole (the
    other 10%). The process that wrote last keeps its write handle, synced and marked
    unmodified (so that closing it never writes an index back), and its next write skips the
    opening; a write by another process in between (a new generation or changed files, seen
    under the exclusive lock) makes it reopen, so a stale index is never written. Large or
    busy namespaces belong on
    ``dbm.gnu`` (a Python with gdbm), :class:`~beaker.stores.file.FileStore` or SQLite. A
    :class:`~beaker.stores.base.VersionedStore`: the version is the stored record, compared
    under the exclusive lock.

    Raises:
        ComponentTypeError: ``data_dir`` is not a path.
        ConfigError: ``max_open`` is not a positive ``int``.
        ConfigError: ``data_dir`` cannot be created or written.
    """

    holds_objects: ClassVar[bool] = False

    data_dir: str = attrs.field(converter=_data_dir)
    max_open: int = attrs.field(default=64, validator=positive_int(unit="open namespaces"))
    _handles: Lazy[_Handles] = lazy_field()

    def __attrs_post_init__(self) -> None:
        prepare_directory("data_dir", self.data_dir)

    def _open(self, base: str) -> _Namespace:
        return (self._handles.value or self._handles.get(self._new_handles)).get(base)

    def _new_handles(self) -> _Handles:
        return _Handles(self.max_open)

    def _base(self, namespace: str) -> str:
        return os.path.join(self.data_dir, hashlib.sha1(_key_bytes(namespace)).hexdigest())

    def _read(self, namespace: str, use: Callable[[Any], T], empty: T) -> T:
        """Run ``use(db)`` under the shared lock; ``empty`` when there is no usable database."""
        base = self._base(namespace)
        while True:
            space = self._open(base)
            with space.mutex:
                if space.closed:
                    continue  # evicted by another thread meanwhile
                if not space.lock(exclusive=False):
                    return empty
                try:
                    try:
                        db = space.reader()
                        return empty if db is None else use(db)
                    except _CorruptDatabase as exc:
                        log.warning("corrupt dbm database %s (%s): treated as empty", base, exc)
                        return empty
                    except OSError as exc:
                        # Files removed by something that ignores the lock (e.g. a cleanup
                        # job deleting data_dir) between our check and the read.
                        log.warning("cannot read dbm database %s (%s): treated as empty", base, exc)
                        space.close_db()
                        return empty
                finally:
                    space.unlock()

    def _write(self, namespace: str, action: Callable[[_Namespace], None]) -> None:
        base = self._base(namespace)
        while True:
            space = self._open(base)
            with space.mutex:
                if space.closed:
                    continue
                space.lock(exclusive=True)
                try:
                    action(space)
                    return
                finally:
                    space.unlock()

    # -- Store protocol -----------------------------------------------------------------------

    def get(self, namespace: str, key: str) -> Entry | None:
        raw_key = _key_bytes(key)
        data = self._read(namespace, lambda db: _lookup(db, raw_key), None)
        return None if data is None else self._decode(namespace, key, data)

    def _decode(self, namespace: str, key: str, data: bytes) -> Entry | None:
        try:
            return unpack_entry(_unframe(data))
        except DeserializationError as exc:
            log.warning(
                "unreadable record %r in dbm database %s (%s): treated as a miss",
                key,
                self._base(namespace),
                exc,
            )
            return None

    def set(self, namespace: str, key: str, entry: Entry) -> None:
        """Write the entry; it is on disk (index included) when this returns.

        Raises:
            TypeError: ``entry.value`` is not bytes.
            OSError: the disk is full or ``data_dir`` became unwritable.
        """
        raw_key, record = _key_bytes(key), _frame(pack_entry(entry))

        def store(db: Any) -> None:
            db[raw_key] = record

        self._write(namespace, lambda space: space.write(store, create=True))

    def set_many(self, namespace: str, entries: Mapping[str, Entry]) -> None:
        """Write every entry of ``{key: entry}`` in one opening of the database, under one
        exclusive lock: the index is read and written once for the batch (``dbm.dumb``
        rewrites it whole on every opening for writing, so a loop of :meth:`set` costs the
        namespace's size per entry). On disk when this returns.

        Raises:
            TypeError: a value is not bytes.
            OSError: the disk is full or ``data_dir`` became unwritable.
        """
        records = [(_key_bytes(key), _frame(pack_entry(entry))) for key, entry in entries.items()]
        if not records:
            return

        def store(db: Any) -> None:
            for raw_key, record in records:
                db[raw_key] = record

        self._write(namespace, lambda space: space.write(store, create=True))

    def get_versioned(self, namespace: str, key: str) -> Versioned:
        """The entry and, as its version, its stored record (``None``: absent)."""
        raw_key = _key_bytes(key)
        data = self._read(namespace, lambda db: _lookup(db, raw_key), None)
        return Versioned(None if data is None else self._decode(namespace, key, data), data)

    def compare_and_set(self, namespace: str, key: str, entry: Entry, version: object) -> bool:
        """Write ``entry`` if the stored record is still the one ``version`` names, compared
        and written under the namespace's exclusive lock (so against every process).

        Raises:
            TypeError: ``entry.value`` is not bytes.
            OSError: the disk is full or ``data_dir`` became unwritable.
        """
        raw_key, record = _key_bytes(key), _frame(pack_entry(entry))
        written = False

        def swap(db: Any) -> None:
            nonlocal written
            if _lookup(db, raw_key) == version:
                db[raw_key] = record
                written = True

        self._write(namespace, lambda space: space.write(swap, create=True))
        return written

    def compare_and_delete(self, namespace: str, key: str, version: object) -> bool:
        """Remove the record if it is still the one ``version`` names, under the namespace's
        exclusive lock."""
        if version is None:
            return False
        raw_key = _key_bytes(key)
        removed = False

        def remove(db: Any) -> None:
            nonlocal removed
            if _lookup(db, raw_key) == version:
                del db[raw_key]
                removed = True

        self._write(namespace, lambda space: space.write(remove, create=False))
        return removed

    def delete(self, namespace: str, key: str) -> None:
        raw_key = _key_bytes(key)

        def remove(db: Any) -> None:
            try:
                del db[raw_key]
            except KeyError:
                pass

        self._write(namespace, lambda space: space.write(remove, create=False))

    def clear(self, namespace: str) -> None:
        """Remove the namespace's database files (which also reclaims their space)."""

        def wipe(space: _Namespace) -> None:
            space.close_db()
            try:
                space.remove_files()
            finally:
                space.bump_generation()

        self._write(namespace, wipe)

    def keys(self, namespace: str) -> Iterator[str]:
        """The keys of ``namespace``, decoded one at a time from the read handle's keys as the
        shared lock saw them: on ``dbm.dumb`` its in-memory index itself (a read-only handle's
        index never changes, and outlives the handle's closing), so no list of the keys is
        made; ``dbm.gnu`` and ``dbm.ndbm`` handles are not iterable and give a list."""

        def raw_keys(db: Any) -> Iterator[bytes]:
            try:
                return iter(db)
            except TypeError:
                return iter(db.keys())  # gdbm and ndbm objects are not iterable

        nothing: Iterator[bytes] = iter(())
        for raw in self._read(namespace, raw_keys, nothing):
            yield bytes(raw).decode("utf-8", "surrogatepass")

    def close(self) -> None:
        """Close every handle and lock descriptor; the store reopens them when used again."""
        handles = self._handles.drop()
        if handles is not None:
            handles.close_all()


@attrs.frozen(init=False)
class AsyncDBMStore(ThreadTwin[DBMStore]):
    """The asyncio twin of :class:`DBMStore`, taking its arguments (``data_dir``,
    ``max_open``) and raising its errors: the same databases and locks, each call run in a
    worker thread (``asyncio.to_thread``), so sync and async processes share one ``data_dir``.
    ``AsyncDBMStore.of(store)`` is the twin of an existing :class:`DBMStore`."""

    holds_objects: ClassVar[bool] = False

    sync: DBMStore

    def __init__(self, data_dir: str | os.PathLike[str], max_open: int = 64) -> None:
        self.__attrs_init__(DBMStore(data_dir, max_open))
