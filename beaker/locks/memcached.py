"""MemcachedLock: mutual exclusion for every process that shares a memcached server (scope
``"cluster"``).

A lease is an item created with ``add`` (which stores only if the name is free) holding a random
token (from :mod:`secrets`), with an expiry so that a holder that dies (``SIGKILL``, a lost
machine) blocks the others for at most ``expire`` seconds. Release reads the item with ``gets``
and, if it still holds our token, overwrites it with ``cas`` and an expiry in the past: the
``cas`` succeeds only if nobody changed the item since the ``gets``, so a holder whose lease
already expired can never remove its successor's lease. There is no window between the two
commands: if the lease expires and is taken in between, the ``cas`` fails and nothing changes.

memcached counts whole seconds, so a lease lives between ``expire`` and ``expire + 2`` seconds.

The servers, pools, time budget and circuit breaker are a
:class:`~beaker.stores.MemcachedConnection`, which the lock may share with the store whose
entries it guards. Imports ``pymemcache`` (the ``memcached`` extra) through
:mod:`beaker.stores.memcached_connection`, the item names of
:mod:`beaker.stores.memcached_names` and the token lease of :mod:`beaker.locks._polling`
(waiting with backoff, release); must not import ``beaker.caching``, ``beaker.sessions`` or
``beaker.compat``.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any, ClassVar

import attrs

from beaker.locks._polling import ServerLock, max_pause_field
from beaker.locks.base import Scope
from beaker.stores.memcached_connection import MemcachedConnection
from beaker.stores.memcached_names import expire_seconds, item_name, item_prefix
from beaker.validators import seconds

log = logging.getLogger("beaker.locks.memcached")

#: memcached keeps expiry times as 32-bit unix times.
_MAX_EXPIRE = 2**31 - 1


@attrs.frozen(init=False)
class MemcachedLock(ServerLock[bytes]):
    """Hands out leases held in memcached: exclusion across processes and machines sharing the
    servers (scope ``"cluster"``). Not re-entrant.

    Args:
        servers: ``"host:port;host:port"`` as for :class:`~beaker.stores.MemcachedStore` (a
            lock name always lives on the same server).
        prefix: put in front of every lock's item name; default ``"beaker:lock:"``. Names that
            are not printable ASCII without spaces, or too long, are replaced by their SHA-1.
        expire: seconds a lease lives unless released first: the most a dead holder can block
            the others. Choose it above the slowest creator.
        connection: the :class:`~beaker.stores.MemcachedConnection`, e.g. the store's
            (``MemcachedLock(connection=store.connection)``: one pool, one breaker), instead
            of ``servers``; or
        client, socket_timeout, connect_timeout, breaker: the other arguments of a connection
            built for this lock.
        max_pause: the longest pause (seconds) between tries while waiting; pauses start at
            2 ms and double, with jitter.

    Picklable without a ``client`` (a copy in another process opens its own connections).

    Raises:
        ConfigError: malformed ``servers``, bad prefix or numbers; both ``connection`` and
            ``servers``/``client``.
        ComponentTypeError: ``client`` is not a pymemcache client.
        StoreUnavailable: (from :meth:`acquire` and release) a server cannot be reached, did
            not answer within the budget, or its circuit is open.
    """

    scope: ClassVar[Scope] = "cluster"

    connection: MemcachedConnection
    prefix: str = attrs.field(default="beaker:lock:", validator=item_prefix)
    expire: float = attrs.field(default=30.0, validator=seconds(positive=True, maximum=_MAX_EXPIRE))
    max_pause: float = max_pause_field()

    _kind: ClassVar[type[MemcachedConnection]] = MemcachedConnection

    def __init__(
        self, servers: str | None = None, prefix: str = "beaker:lock:", **options: Any
    ) -> None:
        if servers is not None:
            options["servers"] = servers
        super().__init__(prefix=prefix, **options)

    def close(self) -> None:
        """Close the connection's pools (see :meth:`~beaker.stores.MemcachedConnection.close`)."""
        self.connection.close()

    def item_name(self, name: str) -> str:
        """The memcached item name of lock ``name``."""
        return item_name(self.prefix, name)

    # -- the server commands of PollingLock ----------------------------------------------------

    _log: ClassVar[logging.Logger] = log

    def _target(self, name: str) -> str:
        return self.item_name(name)

    def _new_token(self) -> bytes:
        return secrets.token_hex(16).encode()

    def _take(self, name: str, target: str, token: bytes) -> bool:
        """``add`` item ``target`` (stored only if absent) with the lease's expiry."""
        expire = expire_seconds(self.expire)
        return bool(
            self.connection.run(
                target,
                lambda client: client.add(target, token, expire=expire, noreply=False),
                f"acquire lock {name!r}",
            )
        )

    def _give_back(self, name: str, target: str, token: bytes) -> bool:
        """``gets`` item ``target``, then a ``cas`` that expires it if it still holds ``token``."""

        def release(client: Any) -> bool:
            value, cas = client.gets(target)
            return bool(value == token and client.cas(target, b"", cas, expire=-1, noreply=False))

        return self.connection.run(target, release, f"release lock {name!r}")
