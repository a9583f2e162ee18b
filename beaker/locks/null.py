"""NullLock and AsyncNullLock: no mutual exclusion at all."""

from __future__ import annotations

from typing import ClassVar

import attrs

from beaker.locks.base import AsyncLeaseBase, LeaseBase, Scope


class _NullLease(LeaseBase):
    __slots__ = ()

    def release(self) -> None:
        pass


_LEASE = _NullLease()


@attrs.frozen
class NullLock:
    """Grants every request at once (scope ``"none"``): use it when recomputing a value twice
    is cheaper than coordinating, or when a single thread uses the cache."""

    scope: ClassVar[Scope] = "none"

    def acquire(self, name: str, timeout: float | None = None) -> _NullLease:
        return _LEASE


class _AsyncNullLease(AsyncLeaseBase):
    __slots__ = ()

    async def release(self) -> None:
        pass


_ASYNC_LEASE = _AsyncNullLease()


@attrs.frozen
class AsyncNullLock:
    """The asyncio twin of :class:`NullLock`: grants every request at once (scope
    ``"none"``)."""

    scope: ClassVar[Scope] = "none"

    async def acquire(self, name: str, timeout: float | None = None) -> _AsyncNullLease:
        return _ASYNC_LEASE
