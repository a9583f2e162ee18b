"""AsyncRedisLock and AsyncRedisClusterLock: the asyncio twins of
:class:`~beaker.locks.RedisLock` and :class:`~beaker.locks.RedisClusterLock`.

The same lease: ``SET key token NX PX expire``, released by the same Lua compare-and-delete,
under the same key names, so sync and async processes exclude each other. The tasks of one
event loop queue for a name in the loop first (:class:`~beaker.locks._polling.AsyncPollingTwin`),
so one task per process polls the server for it. The client is the connection's
:meth:`~beaker.stores.RedisConnection.async_client` (one pool per event loop, the connection's
time budget and breaker).

Imports ``redis`` (the ``redis`` extra) through :mod:`beaker.locks.redis`; must not import
``beaker.caching``, ``beaker.sessions`` or ``beaker.compat``.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import attrs

from beaker.locks._polling import AsyncPollingTwin
from beaker.locks.base import Scope
from beaker.locks.loop import AsyncioLock
from beaker.locks.redis import RELEASE, RedisClusterLock, RedisLock
from beaker.stores.redis_connection import UNREACHABLE, RedisConnection


@attrs.frozen(init=False)
class AsyncRedisLock(AsyncPollingTwin[str]):
    """Leases held in Redis like :class:`~beaker.locks.RedisLock` (scope ``"cluster"``),
    awaited.

    Args:
        connection, prefix, expire, max_pause, url, socket_timeout, ...: as
            :class:`~beaker.locks.RedisLock` (a ``connection`` may be the store's: one pool per
            loop, one breaker).

    A task cancelled while it waits holds nothing afterwards (a token its last try may have
    stored is removed); a lease left by cancellation is released (its compare-and-delete is
    shielded from a second cancellation). Picklable with a ``url``.

    Raises:
        ConfigError, ComponentTypeError: as :class:`~beaker.locks.RedisLock`.
        StoreUnavailable: (from :meth:`acquire` and releases) the server cannot be reached.
    """

    scope: ClassVar[Scope] = "cluster"
    _sync_type: ClassVar[type[RedisLock]] = RedisLock

    sync: RedisLock
    _tasks: AsyncioLock = attrs.field(init=False, factory=AsyncioLock, eq=False, repr=False)

    def __init__(self, *, connection: RedisConnection | None = None, **options: Any) -> None:
        self.__attrs_init__(self._sync_type(connection=connection, **options))

    @property
    def connection(self) -> RedisConnection:
        """The :class:`~beaker.stores.RedisConnection` shared with :attr:`sync`."""
        return self.sync.connection

    async def close(self) -> None:
        """Close the running loop's client; the lock may be used again (in any loop)."""
        await self.sync.connection.aclose()

    async def _take(self, name: str, target: str, token: str) -> bool:
        """``SET target token NX PX expire``."""
        expire_ms = max(1, math.ceil(self.sync.expire * 1000.0))
        connection = self.sync.connection
        try:
            taken = await connection.async_client().set(target, token, nx=True, px=expire_ms)
        except UNREACHABLE as exc:
            raise connection.unavailable(exc) from exc
        connection.answered()
        return bool(taken)

    async def _give_back(self, name: str, target: str, token: str) -> bool:
        """Compare-and-delete lock key ``target`` (the sync lock's Lua script)."""
        connection = self.sync.connection
        try:
            done = await RELEASE.run_async(connection.async_client(), [target], [token])
        except UNREACHABLE as exc:
            raise connection.unavailable(exc) from exc
        connection.answered()
        return bool(done)


@attrs.frozen(init=False)
class AsyncRedisClusterLock(AsyncRedisLock):
    """:class:`AsyncRedisLock` on a Redis Cluster, the twin of
    :class:`~beaker.locks.RedisClusterLock`."""

    _sync_type: ClassVar[type[RedisLock]] = RedisClusterLock
