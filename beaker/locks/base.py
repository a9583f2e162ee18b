"""The :class:`Lock` protocol: named mutual exclusion, the basis of dogpile protection.

A lock is a factory of :class:`Lease` objects: ``acquire(name)`` blocks until the caller holds
``name`` within the lock's :attr:`~Lock.scope`, and the lease releases it. Leases are context
managers::

    with lock.acquire("ns:key", timeout=5.0):
        ...

Must not import from ``beaker.caching``, ``beaker.sessions`` or ``beaker.compat``.
"""

from __future__ import annotations

from types import TracebackType
from typing import ClassVar, Literal, Protocol, TypeVar, runtime_checkable

_L = TypeVar("_L", bound="Lease")
_B = TypeVar("_B", bound="LeaseBase")

#: How far a lock's mutual exclusion reaches.
Scope = Literal["none", "thread", "host", "cluster"]


@runtime_checkable
class Lease(Protocol):
    """A held lock. Release it exactly once (or leave its ``with`` block)."""

    def release(self) -> None:
        """Give the lock up. Raises :class:`~beaker.errors.LockError` if already released."""

    def __enter__(self: _L) -> _L: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


@runtime_checkable
class Lock(Protocol):
    """Hands out :class:`Lease` objects for names.

    Attributes:
        scope: ``"none"`` (no exclusion), ``"thread"`` (threads of one process), ``"host"``
            (processes of one machine) or ``"cluster"`` (every process sharing a server).
    """

    scope: ClassVar[Scope]

    def acquire(self, name: str, timeout: float | None = None) -> Lease:
        """Block until ``name`` is held and return its lease.

        Args:
            name: the lock's name; any string.
            timeout: seconds to wait at most; ``None`` waits forever, ``0`` tries once.

        Raises:
            LockTimeout: ``timeout`` passed before the lock was free.
        """


class LeaseBase:
    """Gives a lease class ``__enter__``/``__exit__`` in terms of its ``release()``."""

    __slots__ = ()

    def release(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def __enter__(self: _B) -> _B:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
