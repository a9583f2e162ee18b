"""FileStore (and its asyncio twin AsyncFileStore, which runs it in a worker thread): one file
per entry under a directory, written atomically; shared by the processes of one host.

Layout under ``data_dir``::

    <sha1(namespace)>/namespace              the namespace's name (for people and tools)
    <sha1(namespace)>/<2 hex>/<sha1(key)>    one entry

Each entry file is a 16-byte header (magic ``BKf1``, key length, body length, CRC-32 of the
body), the key in UTF-8 (so :meth:`FileStore.keys` can list original keys) and the
:func:`~beaker.entry.pack_entry` record. Files are written to a temporary name in the same
directory and renamed over the old one, so a reader sees the old entry or the new one, never
a mix; temporary names never look like entry names, so a crashed writer's leftovers are
never read as entries.

Also holds :func:`prepare_directory`, the ``data_dir`` / ``lock_dir`` check, and
:func:`open_regular` / :func:`remove_node`, how every file-backed part meets what it finds on
disk, shared with :mod:`beaker.stores.dbm` and :mod:`beaker.locks.file`.

Imports only :mod:`beaker.errors`, :mod:`beaker.entry`, :mod:`beaker.stores.base` and the twin
base :mod:`beaker.stores._twins`; must not import from
``beaker.caching``, ``beaker.sessions`` or ``beaker.compat``.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import logging
import os
import shutil
import stat
import struct
import zlib
from collections.abc import Iterator
from typing import ClassVar, Final

import attrs

from beaker.entry import Entry, pack_entry, unpack_entry
from beaker.errors import ComponentTypeError, ConfigError, DeserializationError
from beaker.stores._twins import ThreadTwin
from beaker.stores.base import LoopBatch, Versioned
from beaker.validators import instance_of

log = logging.getLogger("beaker.stores.file")

_MAGIC: Final = b"BKf1"
_HEADER: Final = struct.Struct("!4sIII")  # magic, key length, body length, crc32(body)
_HEX: Final = frozenset("0123456789abcdef")
_MARKER: Final = "namespace"
_READ_CHUNK: Final = 16384
_MAX_REMEMBERED_NAMESPACES: Final = 4096


def _text_bytes(text: str) -> bytes:
    # surrogatepass: any Python str is a valid key, even one with lone surrogates.
    return text.encode("utf-8", "surrogatepass")


def _digest(text: str) -> str:
    return hashlib.sha1(_text_bytes(text)).hexdigest()


def _is_digest(name: str) -> bool:
    return len(name) == 40 and _HEX.issuperset(name)


def _temp_name(base: str) -> str:
    """A unique name beside ``base`` that is never a 40-hex entry name."""
    return f"{base}.{os.getpid()}.{os.urandom(6).hex()}.tmp"


def directory_path(argument: str, value: object) -> str:
    """Accept a directory given as ``str`` or ``os.PathLike[str]``; return it as ``str``.

    Raises:
        ComponentTypeError: naming ``argument``, for any other type or an empty path.
    """
    if isinstance(value, (str, os.PathLike)):
        path = os.fspath(value)
        if isinstance(path, str) and path:
            return path
    raise ComponentTypeError(argument, value, "a non-empty str or os.PathLike[str] path")


def _data_dir(value: object) -> str:
    return directory_path("data_dir", value)


def prepare_directory(option: str, path: str) -> None:
    """Create ``path`` if missing and prove it writable by creating and removing a file.

    Args:
        option: the argument's name for the error (``"data_dir"``, ``"lock_dir"``).
        path: the directory.

    Raises:
        ConfigError: the directory cannot be created or written (e.g. a path under a regular
            file, a read-only file system, missing permissions).
    """
    probe = os.path.join(path, _temp_name(".probe"))
    try:
        os.makedirs(path, exist_ok=True)
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, b"beaker")
        finally:
            os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ConfigError(
            option, path, f"a writable directory (it could not be used: {exc.strerror or exc})"
        ) from exc


# open() fails with these where a symlink (O_NOFOLLOW), a directory or a socket stands.
_STRAY_ERRNOS: Final = frozenset((errno.ELOOP, errno.EISDIR, errno.ENXIO, errno.EOPNOTSUPP))


def open_regular(path: str, flags: int, mode: int = 0o666) -> int | None:
    """Open ``path`` only if it is a regular file: never following a symlink at ``path``
    (``O_NOFOLLOW``), never blocking on a FIFO (``O_NONBLOCK``), checked with ``fstat`` after
    opening. Returns the descriptor (close-on-exec), or ``None`` when something else stands
    there (a symlink, FIFO, directory, socket or device): a stray node, not ours.

    Args:
        path: the file.
        flags: ``os.open`` flags (``os.O_RDONLY``, ``os.O_RDWR | os.O_CREAT`` ...).
        mode: permission bits for a file created with ``O_CREAT``.

    Raises:
        OSError: any other failure (``FileNotFoundError`` and ``NotADirectoryError`` for a
            missing file or a non-directory above it, permissions, ...).
    """
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, mode)
    except OSError as exc:
        if exc.errno in _STRAY_ERRNOS:
            return None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return None
    return fd


def is_directory(path: str) -> bool:
    """Whether ``path`` is a real directory (a symlink to one is not)."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except (FileNotFoundError, NotADirectoryError):
        return False


def remove_node(path: str) -> None:
    """Remove whatever stands at ``path`` (file, symlink, FIFO, socket, or a directory tree);
    nothing there is not an error."""
    if is_directory(path):
        shutil.rmtree(path, ignore_errors=True)
        return
    try:
        os.unlink(path)
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        pass  # gone already, or replaced by a directory meanwhile


def _frame(key: bytes, record: bytes) -> bytes:
    body = key + record
    return _HEADER.pack(_MAGIC, len(key), len(body), zlib.crc32(body)) + body


def _unframe(data: bytes) -> tuple[bytes, bytes]:
    """Split a file into (key bytes, entry record).

    Raises:
        DeserializationError: foreign, truncated or corrupt content.
    """
    if len(data) < _HEADER.size:
        raise DeserializationError("file shorter than its header (truncated or foreign)")
    magic, key_len, body_len, crc = _HEADER.unpack_from(data)
    if magic != _MAGIC:
        raise DeserializationError("not a beaker entry file (bad magic)")
    body = data[_HEADER.size :]
    if len(body) != body_len or key_len > body_len:
        raise DeserializationError(f"file body is {len(body)} bytes, header says {body_len}")
    if zlib.crc32(body) != crc:
        raise DeserializationError("checksum mismatch (corrupt file)")
    return body[:key_len], body[key_len:]


def _read_file(path: str) -> bytes | None:
    """The whole file, with plain system calls (a buffered ``open()`` costs twice as much);
    ``None`` when something other than a regular file stands at ``path``."""
    fd = open_regular(path, os.O_RDONLY)
    if fd is None:
        return None
    try:
        data = os.read(fd, _READ_CHUNK)
        if len(data) < _READ_CHUNK:
            return data
        chunks = [data]
        while chunk := os.read(fd, _READ_CHUNK):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@attrs.frozen
class FileStore(LoopBatch):
    """Keeps each entry in its own file under ``data_dir`` (as Beaker's ``file`` type, but
    with atomic writes and without reading a whole namespace per access).

    Args:
        data_dir: the directory (``str`` or path-like); created if missing.
        fsync: ``bool``; when true each write is flushed to disk (file and directory) before
            it returns, surviving a power loss at the cost of speed. Default ``False``: atomic
            against crashes of the process, not of the machine.

    Process safety: any number of processes and threads may read and write one ``data_dir``
    at once; writes are atomic renames, so readers never see a torn entry; the last rename
    wins. Directories removed under the store are recreated by the next write (reads of a
    missing directory are misses). A file that is corrupt, truncated or not ours is a miss
    with a warning on the ``beaker.stores.file`` logger. Files are created with the process
    umask: make ``data_dir`` itself private (mode 0700) to keep entries from other users.
    A :class:`~beaker.stores.base.VersionedStore`: :meth:`compare_and_set` compares the
    file's bytes under a ``flock`` of its directory.

    Raises:
        ComponentTypeError: ``data_dir`` is not a path, ``fsync`` not a ``bool``.
        ConfigError: ``data_dir`` cannot be created or written.
    """

    holds_objects: ClassVar[bool] = False

    data_dir: str = attrs.field(converter=_data_dir)
    fsync: bool = attrs.field(default=False, validator=instance_of(bool, "a bool"))

    # namespace -> its directory; namespaces are few, so hashing each once pays off on every get.
    _namespace_dirs: dict[str, str] = attrs.field(init=False, factory=dict, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        prepare_directory("data_dir", self.data_dir)

    # -- paths ------------------------------------------------------------------------------

    def _namespace_dir(self, namespace: str) -> str:
        folder = self._namespace_dirs.get(namespace)
        if folder is None:
            if len(self._namespace_dirs) >= _MAX_REMEMBERED_NAMESPACES:
                self._namespace_dirs.clear()
            folder = self._namespace_dirs[namespace] = os.path.join(
                self.data_dir, _digest(namespace)
            )
        return folder

    def _entry_path(self, namespace: str, key: str) -> str:
        name = _digest(key)
        return f"{self._namespace_dir(namespace)}/{name[:2]}/{name}"

    # -- Store protocol -----------------------------------------------------------------------

    def get(self, namespace: str, key: str) -> Entry | None:
        """Read the entry's file; missing directories or file are a miss, and so (with a
        warning) is anything else where the file or its directories belong."""
        path = self._entry_path(namespace, key)
        data = self._raw(path)
        return None if data is None else self._decode(path, key, data)

    def _raw(self, path: str) -> bytes | None:
        """The entry file's bytes; ``None`` when missing or unreadable (logged)."""
        try:
            data = _read_file(path)
        except FileNotFoundError:
            return None
        except OSError as exc:  # NotADirectoryError: a file where a directory of ours belongs
            log.warning("cannot read cache file %s (%s): a miss until the next write", path, exc)
            return None
        if data is None:
            log.warning("%s is not a regular file: a miss until the next write", path)
        return data

    def _decode(self, path: str, key: str, data: bytes) -> Entry | None:
        try:
            stored_key, record = _unframe(data)
            if stored_key != _text_bytes(key):
                raise DeserializationError("file holds another key")
            return unpack_entry(record)
        except DeserializationError as exc:
            log.warning("unreadable cache file %s (%s): treated as a miss", path, exc)
            return None

    def set(self, namespace: str, key: str, entry: Entry) -> None:
        """Write the entry to a temporary file, then rename it over the entry's file.

        Raises:
            TypeError: ``entry.value`` is not bytes.
            OSError: the disk is full or ``data_dir`` became unwritable.
        """
        data = _frame(_text_bytes(key), pack_entry(entry))
        path = self._entry_path(namespace, key)
        folder = os.path.dirname(path)
        for attempt in range(5):
            temp = _temp_name(path)
            try:
                fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
            except (FileNotFoundError, NotADirectoryError):
                self._make_dirs(namespace, folder)
                continue
            try:
                try:
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fd, view) :]
                    if self.fsync:
                        os.fsync(fd)
                finally:
                    os.close(fd)
                os.replace(temp, path)
            except (FileNotFoundError, NotADirectoryError):
                # The directory went away between creating the temp file and renaming it
                # (a concurrent clear): start again in a fresh directory.
                _unlink_quietly(temp)
                continue
            except IsADirectoryError:
                # A foreign directory stands where the entry goes: remove it and retry. (The
                # rename replaces any other node, a symlink, FIFO or socket, by itself.)
                _unlink_quietly(temp)
                log.warning("replacing foreign directory %s in the cache directory", path)
                remove_node(path)
                continue
            except BaseException:
                _unlink_quietly(temp)
                raise
            if self.fsync:
                _fsync_dir(folder)
            return
        raise FileNotFoundError(f"directory {folder} kept disappearing while writing {path}")

    def get_versioned(self, namespace: str, key: str) -> Versioned:
        """The entry and, as its version, the file's bytes (``None``: no file)."""
        path = self._entry_path(namespace, key)
        data = self._raw(path)
        return Versioned(None if data is None else self._decode(path, key, data), data)

    def compare_and_set(self, namespace: str, key: str, entry: Entry, version: object) -> bool:
        """Write ``entry`` if the file still holds the bytes ``version`` names, holding an
        exclusive ``flock`` on the entry's directory (so against every process's
        ``compare_and_set`` on that directory), then renaming as :meth:`set` does.

        Raises:
            TypeError: ``entry.value`` is not bytes.
            OSError: the disk is full or ``data_dir`` became unwritable.
        """
        path = self._entry_path(namespace, key)
        with self._locked_dir(namespace, os.path.dirname(path)):
            if self._raw(path) != version:
                return False
            self.set(namespace, key, entry)
            return True

    def compare_and_delete(self, namespace: str, key: str, version: object) -> bool:
        """Remove the entry's file if it still holds the bytes ``version`` names, under the
        directory ``flock`` :meth:`compare_and_set` holds."""
        if version is None:
            return False
        path = self._entry_path(namespace, key)
        with self._locked_dir(namespace, os.path.dirname(path)):
            if self._raw(path) != version:
                return False
            remove_node(path)
            return True

    @contextlib.contextmanager
    def _locked_dir(self, namespace: str, folder: str) -> Iterator[None]:
        """Hold an exclusive ``flock`` on ``folder`` (created if missing)."""
        try:
            fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except (FileNotFoundError, NotADirectoryError):
            self._make_dirs(namespace, folder)
            fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the flock

    def delete(self, namespace: str, key: str) -> None:
        remove_node(self._entry_path(namespace, key))

    def clear(self, namespace: str) -> None:
        """Remove the namespace's directory: it is renamed aside first (so the namespace is
        empty at once for every process), then deleted."""
        source = self._namespace_dir(namespace)
        trash = os.path.join(self.data_dir, _temp_name(".trash"))
        try:
            os.rename(source, trash)
        except (FileNotFoundError, NotADirectoryError):
            return
        if not is_directory(trash):
            remove_node(trash)  # a stray node where the directory belongs
            return
        for _ in range(3):
            # A writer that created a temp file in the old directory just before the rename
            # may still be writing there; retry, then leave the rest (it is never read).
            shutil.rmtree(trash, ignore_errors=True)
            if not os.path.lexists(trash):
                return
        log.warning("could not remove all of %s (cleared namespace %r)", trash, namespace)

    def keys(self, namespace: str) -> Iterator[str]:
        """Iterate the original keys of ``namespace``, one bucket directory at a time (never
        the whole key set in memory); reads every entry file, skipping unreadable ones with a
        warning. Entries written or removed while iterating may or may not be seen."""
        root = self._namespace_dir(namespace)
        for bucket in _scandir(root):
            if len(bucket.name) != 2 or not _HEX.issuperset(bucket.name):
                continue
            for item in _scandir(bucket.path):
                if not _is_digest(item.name):
                    continue  # temp files, foreign files
                try:
                    data = _read_file(item.path)
                    if data is None:
                        log.warning("%s is not a regular file: skipped", item.path)
                        continue
                    raw_key, _ = _unframe(data)
                    key = raw_key.decode("utf-8", "surrogatepass")
                except FileNotFoundError:
                    continue  # deleted meanwhile
                except (OSError, DeserializationError, UnicodeDecodeError) as exc:
                    log.warning("unreadable cache file %s (%s): skipped", item.path, exc)
                    continue
                if _digest(key) == item.name:
                    yield key

    def close(self) -> None:
        """Nothing to release: the store holds no open files between calls."""

    # -- helpers ------------------------------------------------------------------------------

    def _make_dirs(self, namespace: str, folder: str) -> None:
        """Make the namespace directory and the entry's bucket in it, replacing anything that
        is not a real directory where one of them belongs (a file, a symlink ...)."""
        os.makedirs(self.data_dir, exist_ok=True)
        for path in (os.path.dirname(folder), folder):
            try:
                os.mkdir(path)
            except FileExistsError:
                if is_directory(path):
                    continue
                log.warning("replacing non-directory %s in the cache directory", path)
                remove_node(path)
                try:
                    os.mkdir(path)
                except FileExistsError:
                    pass  # another writer made it meanwhile; the next attempt checks again
        marker = os.path.join(os.path.dirname(folder), _MARKER)
        if not os.path.exists(marker):
            temp = _temp_name(marker)
            try:
                with open(temp, "wb") as handle:
                    handle.write(_text_bytes(namespace))
                os.replace(temp, marker)
            except OSError:
                _unlink_quietly(temp)  # the marker is informative only


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except (FileNotFoundError, NotADirectoryError):
        pass


def _scandir(path: str) -> Iterator[os.DirEntry[str]]:
    """The entries of directory ``path`` as the system lists them, one at a time (none when
    it is missing or not a directory); entries removed meanwhile may or may not appear."""
    try:
        entries = os.scandir(path)
    except (FileNotFoundError, NotADirectoryError):
        return
    with entries:
        yield from entries


@attrs.frozen(init=False)
class AsyncFileStore(ThreadTwin[FileStore]):
    """The asyncio twin of :class:`FileStore`: the same directory layout and files, each call
    run in a worker thread (``asyncio.to_thread``), so sync and async processes share one
    ``data_dir``. ``AsyncFileStore.of(store)`` is the twin of an existing :class:`FileStore`.

    Args:
        data_dir, fsync: as :class:`FileStore`.

    Raises:
        ComponentTypeError, ConfigError: as :class:`FileStore`.
    """

    holds_objects: ClassVar[bool] = False

    sync: FileStore

    def __init__(self, data_dir: str | os.PathLike[str], fsync: bool = False) -> None:
        self.__attrs_init__(FileStore(data_dir, fsync))
