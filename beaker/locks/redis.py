"""RedisLock: mutual exclusion for every process that shares a Redis server (scope
``"cluster"``).

A lease is a key set with ``SET name token NX PX expire``: ``NX`` makes one holder win, the
random token (from :mod:`secrets`) proves ownership, and the expiry means a holder that dies
(``SIGKILL``, a lost machine) blocks the others for at most ``expire`` seconds. Release is
compare-and-delete in one Lua script, so a holder whose lease already expired cannot delete its
successor's lease.

Names the cache hands over (``"{len}:{namespace}:{key}"``) get the same hash tag as
:class:`~beaker.stores.redis.RedisClusterStore` gives that namespace's keys, so on a cluster
the lock lives on the slot of the data it guards.

The server, pool, time budget and circuit breaker are a
:class:`~beaker.stores.RedisConnection`, which the lock may share with the store whose entries it
guards (one pool, one breaker). Imports ``redis`` (the ``redis`` extra) through
:mod:`beaker.stores.redis_connection`, and the token lease of :mod:`beaker.locks._polling`
(waiting with backoff, release); must not import ``beaker.caching``, ``beaker.sessions`` or
``beaker.compat``.
"""

from __future__ import annotations

import logging
import math
import secrets
from typing import ClassVar, Final

import attrs

from beaker.locks._polling import ServerLock, max_pause_field
from beaker.locks.base import Scope
from beaker.stores.redis_connection import (
    LuaScript,
    RedisClusterConnection,
    RedisConnection,
    redis_prefix,
)
from beaker.validators import seconds

log = logging.getLogger("beaker.locks.redis")

#: KEYS[1] = lock key, ARGV[1] = token: delete only if we still own it (the async twin too).
RELEASE: Final = LuaScript("""
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
""")


@attrs.frozen(init=False)
class RedisLock(ServerLock[str]):
    """Hands out leases held in Redis: exclusion across processes and machines sharing the
    server (scope ``"cluster"``). Not re-entrant.

    Args:
        connection: the :class:`~beaker.stores.RedisConnection`, e.g. the store's
            (``RedisLock(connection=store.connection)``: one pool, one breaker); or else
            ``url``, ``client``, ``socket_timeout``, ``socket_connect_timeout``, ``retries``,
            ``health_check_interval`` and ``breaker``, the arguments of a connection built for
            this lock.
        prefix: put in front of every lock key (``str``, no braces); default ``"beaker:lock:"``.
        expire: seconds a lease lives unless released first: the most a dead holder can block
            the others. Choose it above the slowest creator.
        max_pause: the longest pause (seconds) between tries while waiting; pauses start at
            2 ms and double, with jitter.

    Picklable with a ``url`` (a copy in another process opens its own connections).

    Raises:
        ConfigError: no server, or both ``connection`` and ``url``/``client``; bad numbers.
        ComponentTypeError: ``client`` is not a ``redis.Redis``.
        StoreUnavailable: (from :meth:`acquire` and release) the server cannot be reached,
            did not answer within the budget, or its circuit is open.
    """

    scope: ClassVar[Scope] = "cluster"
    _kind: ClassVar[type[RedisConnection]] = RedisConnection

    connection: RedisConnection
    prefix: str = attrs.field(default="beaker:lock:", validator=redis_prefix)
    expire: float = attrs.field(default=30.0, validator=seconds(positive=True))
    max_pause: float = max_pause_field()

    def close(self) -> None:
        """Close the connection's pool (see :meth:`~beaker.stores.RedisConnection.close`)."""
        self.connection.close()

    def key_of(self, name: str) -> str:
        """The Redis key of lock ``name``: the namespace part of a cache's
        ``"{len}:{namespace}:{key}"`` name becomes the hash tag, as in the stores' layout."""
        head, sep, _ = name.partition(":")
        if sep and head.isascii() and head.isdigit():
            end = len(head) + 1 + int(head)
            if name[end : end + 1] == ":":
                return f"{self.prefix}{{{name[:end]}}}{name[end:]}"
        return f"{self.prefix}{{{name}}}"

    # -- the server commands of PollingLock ----------------------------------------------------

    _log: ClassVar[logging.Logger] = log

    def _target(self, name: str) -> str:
        return self.key_of(name)

    def _new_token(self) -> str:
        return secrets.token_hex(16)

    def _take(self, name: str, target: str, token: str) -> bool:
        """``SET target token NX PX expire``."""
        expire_ms = max(1, math.ceil(self.expire * 1000.0))
        return bool(
            self.connection.run(lambda client: client.set(target, token, nx=True, px=expire_ms))
        )

    def _give_back(self, name: str, target: str, token: str) -> bool:
        """Compare-and-delete lock key ``target`` (one ``EVALSHA`` of :data:`RELEASE`)."""
        return bool(self.connection.run(lambda client: RELEASE.run(client, [target], [token])))


@attrs.frozen(init=False)
class RedisClusterLock(RedisLock):
    """:class:`RedisLock` on a Redis Cluster (a :class:`~beaker.stores.RedisClusterConnection`,
    the ``url`` of any node, or a ``RedisCluster`` ``client``); a lock guarding a cache entry
    lives on that entry's slot."""

    _kind: ClassVar[type[RedisConnection]] = RedisClusterConnection
