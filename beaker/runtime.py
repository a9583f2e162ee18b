"""The holders of a component's runtime resources: :class:`Lazy` (one value, built on first
use), and :class:`PerLoop` (one value per event loop, for a resource that belongs to a loop: an
asyncio client's connections); :func:`lazy_field` and :func:`per_loop_field` declare them on an
``attrs`` component.

A frozen component keeps its configuration as data; what it opens at run time (a connection
pool, an open database handle, a registry of thread locks, a circuit breaker's counters) lives
in a :class:`Lazy` in a private field, built on first use, never part of ``repr``, equality or
hashing, and empty again in a pickled copy (a copy in another process builds its own).

Any package of ``beaker`` may import this module; it imports only the standard library and
``attrs``.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import attrs

__all__ = ["Lazy", "PerLoop", "lazy_field", "per_loop_field"]

T = TypeVar("T")


class Lazy(Generic[T]):
    """A value built once, on first use, by the function the caller hands to :meth:`get`.

    Thread-safe: concurrent first calls build the value once (under a mutex); later calls read
    it without locking. :meth:`drop` forgets the value (e.g. on ``close()``) so that the next
    :meth:`get` builds a new one. Pickles as an empty holder. ``None`` cannot be held (it means
    "not built").
    """

    __slots__ = ("_mutex", "value")

    def __init__(self) -> None:
        #: The value, or ``None`` before the first :meth:`get` (read it directly on a hot path:
        #: ``holder.value or holder.get(build)``).
        self.value: T | None = None
        self._mutex = threading.Lock()

    def get(self, build: Callable[[], T]) -> T:
        """The value, built with ``build()`` if there is none yet.

        Raises:
            Whatever ``build`` raises; nothing is kept then and the next call tries again.
        """
        value = self.value
        if value is None:
            with self._mutex:
                value = self.value
                if value is None:
                    value = self.value = build()
        return value

    def drop(self) -> T | None:
        """Forget the value and return it (``None`` if none was built), for the caller to
        close."""
        with self._mutex:
            value, self.value = self.value, None
        return value

    def __reduce__(self) -> tuple[type[Lazy[Any]], tuple[()]]:
        return (Lazy, ())

    def __repr__(self) -> str:
        return f"<Lazy {'built' if self.value is not None else 'empty'}>"


def lazy_field() -> Any:
    """An ``attrs`` field holding a fresh :class:`Lazy` for each instance: not an ``__init__``
    argument, left out of ``repr``, equality and hashing. A copy made by ``attrs.evolve`` gets
    its own (empty) holder; parts meant to share a resource share the component holding it
    (e.g. a store and a lock taking one connection)."""
    return attrs.field(init=False, factory=Lazy, repr=False, eq=False, hash=False)


class PerLoop(Generic[T]):
    """One value per event loop, built on first use in each (``asyncio`` connections belong to
    the loop that opened them); a loop's value is forgotten with the loop. Declare it with
    :func:`per_loop_field` and read it as ``holder.get(build)``. Pickles as an empty holder.
    """

    __slots__ = ("_last", "_values")

    def __init__(self) -> None:
        self._values: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, T] = (
            weakref.WeakKeyDictionary()
        )
        #: (weak reference to the loop, value) of the last lookup: one loop's hot path skips
        #: the dictionary.
        self._last: tuple[weakref.ref[asyncio.AbstractEventLoop], T] | None = None

    def get(self, build: Callable[[], T]) -> T:
        """The running loop's value, built with ``build()`` if it has none yet.

        Raises:
            RuntimeError: no event loop is running.
            Whatever ``build`` raises.
        """
        loop = asyncio.get_running_loop()
        last = self._last
        if last is not None and last[0]() is loop:
            return last[1]
        value = self._values.get(loop)
        if value is None:  # setdefault is atomic: loops in other threads may race here
            value = self._values.setdefault(loop, build())
        self._last = (weakref.ref(loop), value)
        return value

    def pop_running(self) -> T | None:
        """Forget the running loop's value and return it (``None`` if it had none), for the
        caller to close; other loops keep theirs."""
        self._last = None
        return self._values.pop(asyncio.get_running_loop(), None)

    def __reduce__(self) -> tuple[type[PerLoop[Any]], tuple[()]]:
        return (PerLoop, ())

    def __repr__(self) -> str:
        return f"<PerLoop {len(self._values)} loops>"


def per_loop_field() -> Any:
    """An ``attrs`` field holding a fresh :class:`PerLoop` for each instance, as
    :func:`lazy_field` holds a :class:`Lazy` (not an ``__init__`` argument, out of ``repr``,
    equality and hashing; empty in a copy made by ``attrs.evolve`` or pickling). Read on the
    hot path of every async network call: one lookup, no holder to build first."""
    return attrs.field(init=False, factory=PerLoop, repr=False, eq=False, hash=False)
