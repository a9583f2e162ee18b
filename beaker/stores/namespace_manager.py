"""Beaker-style namespace managers (third-party Beaker backends) as a native store and lock.

A *namespace manager* is any object with the methods of Beaker's ``NamespaceManager`` (one
namespace of key -> value): ``__getitem__``, ``__contains__``, ``__delitem__``,
``set_value(key, value, expiretime)``, ``keys()``, ``remove()``, the read/write lock methods
and ``get_creation_lock(key)``. :class:`NamespaceManagerStore` keeps entries in such managers,
one per namespace, in Beaker's layout (``(storedtime, expiretime, value)`` tuples under
Beaker's byte keys), so a Beaker application and ours share them; :class:`ManagerLock` is the
dogpile lock: the manager's own creation lock, or one of ours when it has none. The managers
are duck-typed: nothing here imports them.

Must not import from ``beaker.caching``, ``beaker.sessions`` or ``beaker.compat``.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from typing import Any, ClassVar, Final

import attrs

from beaker.entry import Entry
from beaker.errors import LockTimeout
from beaker.locks.base import Lease, LeaseBase, Lock, Scope

__all__ = ["ManagerLock", "NamespaceManagerStore", "beaker_key", "key_text"]


def beaker_key(key: str) -> bytes:
    """The byte key Beaker's ``Cache`` hands a manager for ``key`` (non-ASCII characters as
    ``\\x``/``\\u`` escapes)."""
    return key.encode("ascii", "backslashreplace")


def key_text(key: Any) -> str:
    """The ``str`` key whose :func:`beaker_key` is ``key`` (a ``bytes`` key from a manager;
    a ``str`` key is itself, anything else its ``str()``). An escape that ``backslashreplace``
    writes for a non-ASCII character is read as that character: a key holding the same
    escape literally (``"\\xe9"``) is the same manager key, in Beaker as here."""
    if not isinstance(key, bytes):
        return str(key)
    return _ESCAPE.sub(_unescaped, key.decode("ascii", "backslashreplace"))


#: The escapes ``backslashreplace`` writes for non-ASCII characters.
_ESCAPE: Final = re.compile(r"\\(x[89a-f][0-9a-f]|u[0-9a-f]{4}|U(?:000[0-9a-f]|0010)[0-9a-f]{4})")


def _unescaped(match: re.Match[str]) -> str:
    char = chr(int(match.group(1)[1:], 16))
    return char if beaker_key(char).decode("ascii") == match.group(0) else match.group(0)


@contextlib.contextmanager
def _holding(manager: Any, write: bool) -> Iterator[Any]:
    """``manager`` inside its write (or read) lock, as Beaker's ``Value`` holds it."""
    (manager.acquire_write_lock if write else manager.acquire_read_lock)()
    try:
        yield manager
    finally:
        (manager.release_write_lock if write else manager.release_read_lock)()


@attrs.frozen
class NamespaceManagerStore:
    """A :class:`~beaker.stores.base.Store` over namespace managers, one per namespace, each
    call inside the manager's read or write lock. Entries keep ``value``, ``stored_at`` and
    ``expires_at`` (not ``delta``: Beaker's tuple has no place for it); values are kept as
    the manager keeps them (``holds_objects``: by reference in a memory-like manager).

    Args:
        managers: ``(namespace) -> manager``, called once per namespace (e.g. a manager class
            with the backend's options bound).
    """

    holds_objects: ClassVar[bool] = True

    managers: Callable[[str], Any]
    _built: dict[str, Any] = attrs.field(init=False, factory=dict, eq=False, repr=False)

    def manager(self, namespace: str) -> Any:
        """The namespace's manager (built at first use)."""
        found = self._built.get(namespace)
        if found is None:
            found = self._built.setdefault(namespace, self.managers(namespace))
        return found

    @property
    def connection(self) -> Callable[[str], Any]:
        """:meth:`manager`, which the backend's :class:`ManagerLock` shares."""
        return self.manager

    def get(self, namespace: str, key: str) -> Entry | None:
        name = beaker_key(key)
        with _holding(self.manager(namespace), write=False) as manager:
            try:
                if name not in manager:
                    return None
                stored, expire, value = manager[name]
            except (KeyError, TypeError, ValueError):  # gone meanwhile, or not Beaker's tuple
                return None
        return Entry(value, stored, None if expire is None else stored + expire)

    def set(self, namespace: str, key: str, entry: Entry) -> None:
        expire = entry.ttl()
        with _holding(self.manager(namespace), write=True) as manager:
            manager.set_value(beaker_key(key), (entry.stored_at, expire, entry.value), expire)

    def delete(self, namespace: str, key: str) -> None:
        name = beaker_key(key)
        with (
            _holding(self.manager(namespace), write=True) as manager,
            contextlib.suppress(KeyError),
        ):
            if name in manager:
                del manager[name]

    def clear(self, namespace: str) -> None:
        self.manager(namespace).remove()

    def keys(self, namespace: str) -> Iterator[str]:
        with _holding(self.manager(namespace), write=False) as manager:
            names = list(manager.keys())
        return iter([key_text(name) for name in names])

    def close(self) -> None:
        """Forget the managers (their own resources are theirs)."""
        self._built.clear()


class _SynchronizerLease(LeaseBase):
    __slots__ = ("_synchronizer",)

    def __init__(self, synchronizer: Any) -> None:
        self._synchronizer = synchronizer

    def release(self) -> None:
        self._synchronizer.release()


@attrs.frozen
class ManagerLock:
    """The dogpile lock of a :class:`NamespaceManagerStore`: each manager's own
    ``get_creation_lock(key)`` (a Beaker synchronizer), or ``fallback`` when the manager has
    none (``NotImplementedError``, ``None`` or a ``null_synchronizer``). A synchronizer cannot
    time out: ``timeout=0`` tries once, any other timeout waits.

    Args:
        managers: ``(namespace) -> manager``, the store's :attr:`~NamespaceManagerStore.connection`.
        fallback: a :class:`~beaker.locks.base.Lock`.
    """

    scope: ClassVar[Scope] = "thread"

    managers: Callable[[str], Any]
    fallback: Lock

    def acquire(self, name: str, timeout: float | None = None) -> Lease:
        size, _, rest = name.partition(":")  # the cache names locks "<len>:<namespace>:<key>"
        namespace, key = rest[: int(size)], rest[int(size) + 1 :]
        try:
            synchronizer = self.managers(namespace).get_creation_lock(beaker_key(key))
        except NotImplementedError:
            synchronizer = None
        if synchronizer is None or type(synchronizer).__name__ == "null_synchronizer":
            return self.fallback.acquire(name, timeout)
        if timeout == 0:
            if not synchronizer.acquire(False):
                raise LockTimeout(name, 0)
        else:
            synchronizer.acquire(True)
        return _SynchronizerLease(synchronizer)
