"""AsyncMemcachedLock: the asyncio twin of :class:`~beaker.locks.MemcachedLock`.

The same lease: an item created with ``add`` holding a random token, released by ``gets`` and
a ``cas`` that expires it only while it still holds our token, under the same item names, so
sync and async processes exclude each other. The tasks of one event loop queue for a name in
the loop first (:class:`~beaker.locks._polling.AsyncPollingTwin`), so one task per process
polls the server for it. The clients are the connection's
:meth:`~beaker.stores.MemcachedConnection.async_client_for` (``emcache``, per server and loop).

Imports :mod:`beaker.locks.memcached` and :mod:`beaker.stores.async_memcached`; must not
import ``beaker.caching``, ``beaker.sessions`` or ``beaker.compat``.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import attrs

from beaker.locks._polling import AsyncPollingTwin
from beaker.locks.base import Scope
from beaker.locks.loop import AsyncioLock
from beaker.locks.memcached import MemcachedLock
from beaker.stores.async_memcached import REFUSED, run_command
from beaker.stores.memcached_connection import MemcachedConnection
from beaker.stores.memcached_names import expire_seconds


@attrs.frozen(init=False)
class AsyncMemcachedLock(AsyncPollingTwin[bytes]):
    """Leases held in memcached like :class:`~beaker.locks.MemcachedLock` (scope
    ``"cluster"``), awaited.

    Args:
        servers, prefix, expire, connection, max_pause, socket_timeout, ...: as
            :class:`~beaker.locks.MemcachedLock` (a ``connection`` may be the store's).

    A task cancelled while it waits holds nothing afterwards (a token its last try may have
    stored is removed); a lease left by cancellation is released. Picklable without a
    ``client``.

    Raises:
        ConfigError, ComponentTypeError: as :class:`~beaker.locks.MemcachedLock`.
        StoreUnavailable: (from :meth:`acquire` and releases) a server cannot be reached.
    """

    scope: ClassVar[Scope] = "cluster"

    sync: MemcachedLock
    _tasks: AsyncioLock = attrs.field(init=False, factory=AsyncioLock, eq=False, repr=False)

    def __init__(
        self, servers: str | None = None, *, connection: MemcachedConnection | None = None, **options: Any
    ) -> None:
        self.__attrs_init__(MemcachedLock(servers, connection=connection, **options))

    @property
    def connection(self) -> MemcachedConnection:
        """The :class:`~beaker.stores.MemcachedConnection` shared with :attr:`sync`."""
        return self.sync.connection

    async def close(self) -> None:
        """Close the running loop's clients and the connection's sync pools; the lock may be
        used again (in any loop)."""
        await self.sync.connection.aclose()
        await asyncio.to_thread(self.sync.connection.close)

    async def _take(self, name: str, target: str, token: bytes) -> bool:
        """``add`` item ``target`` (stored only if absent) with the lease's expiry."""
        exptime = expire_seconds(self.sync.expire)
        doing = f"acquire lock {name!r}"
        taken = await run_command(self.sync.connection, target, "add", doing, token, exptime=exptime)
        return taken is not REFUSED

    async def _give_back(self, name: str, target: str, token: bytes) -> bool:
        """``gets`` item ``target``, then a ``cas`` that expires it if it still holds ``token``."""
        connection = self.sync.connection
        doing = f"release lock {name!r}"
        item = await run_command(connection, target, "gets", doing)
        if item is None or item.value != token:
            return False
        expired = await run_command(connection, target, "cas", doing, b"", item.cas, exptime=-1)
        return expired is not REFUSED
