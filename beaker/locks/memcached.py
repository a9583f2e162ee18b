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

Imports ``pymemcache`` (the ``memcached`` extra) and :mod:`beaker.stores.memcached`'s client
plumbing; must not import ``beaker.caching``, ``beaker.sessions`` or ``beaker.compat``.
"""

from __future__ import annotations

import logging
import random
import secrets
import time
from typing import Any, ClassVar, Final

import attrs

from beaker.errors import ConfigError, LockError, LockTimeout
from beaker.locks.base import LeaseBase, Scope
from beaker.stores.memcached import (
    MAX_NAME,
    MemcachedClientMixin,
    _check_prefix,
    _positive,
    digest_name,
    expire_seconds,
    safe_name_part,
)

log = logging.getLogger("beaker.locks.memcached")

_FIRST_PAUSE: Final = 0.002  # seconds before the first retry; doubles up to max_pause


class _MemcachedLease(LeaseBase):
    __slots__ = ("_item", "_lock", "_name", "_token")

    def __init__(self, lock: MemcachedLock, name: str, item: str, token: bytes) -> None:
        self._lock = lock
        self._name = name
        self._item = item
        self._token: bytes | None = token

    def release(self) -> None:
        """Give the lock up (``gets``, then a ``cas`` that expires the item if still ours).

        Raises:
            LockError: the lease was already released.
            StoreUnavailable: the server cannot be reached (the lease then expires by itself).
        """
        token = self._token
        if token is None:
            raise LockError(f"lock {self._name!r} released twice")
        self._token = None
        lock = self._lock
        try:
            client = lock.live_client()
            value, cas = client.gets(self._item)
            released = value == token and client.cas(self._item, b"", cas, expire=-1, noreply=False)
        except Exception as exc:
            raise lock._failed(exc, f"release lock {self._name!r}") from exc
        if not released:
            log.warning(
                "lock %r expired before it was released (held longer than expire=%gs): "
                "another holder may have run meanwhile",
                self._name,
                lock.expire,
            )


def _check_expire(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    _positive(instance, attribute, value)
    if not value < 2**31:
        raise ConfigError(attribute.name, value, "a finite number of seconds")


@attrs.frozen
class MemcachedLock(MemcachedClientMixin):
    """Hands out leases held in memcached: exclusion across processes and machines sharing the
    servers (scope ``"cluster"``). Not re-entrant.

    Args:
        servers: ``"host:port;host:port"`` as for :class:`~beaker.stores.memcached.MemcachedStore`
            (a lock name always lives on the same server); ignored when ``client`` is given.
        prefix: put in front of every lock's item name; default ``"beaker:lock:"``. Names that
            are not printable ASCII without spaces, or too long, are replaced by their SHA-1.
        expire: seconds a lease lives unless released first: the most a dead holder can block
            the others. Choose it above the slowest creator.
        max_pause: the longest pause (seconds) between tries while waiting; pauses start at
            2 ms and double, with jitter.
        client: a pymemcache client you built (:meth:`close` leaves it open).
        socket_timeout: seconds to connect and to wait for a reply (clients built here).

    Picklable without a ``client`` (a copy in another process opens its own connections).

    Raises:
        ConfigError: malformed ``servers``, bad prefix or numbers.
        ComponentTypeError: ``client`` is not a pymemcache client.
    """

    scope: ClassVar[Scope] = "cluster"

    prefix: str = attrs.field(default="beaker:lock:", validator=_check_prefix)
    expire: float = attrs.field(default=30.0, validator=_check_expire)
    max_pause: float = attrs.field(default=0.1, kw_only=True, validator=_positive)

    def item_name(self, name: str) -> str:
        """The memcached item name of lock ``name``."""
        if safe_name_part(name, MAX_NAME - len(self.prefix)):
            return self.prefix + name
        return self.prefix + digest_name(name)

    def acquire(self, name: str, timeout: float | None = None) -> _MemcachedLease:
        """Hold ``name`` until the lease is released or ``expire`` seconds pass.

        Args:
            name: the lock's name (``str``).
            timeout: seconds to wait at most; ``None`` waits forever, ``0`` tries once.

        Raises:
            LockTimeout: ``timeout`` passed while another holder kept the lock.
            StoreUnavailable: the server cannot be reached.
        """
        item = self.item_name(name)
        token = secrets.token_hex(16).encode()
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = _FIRST_PAUSE
        while True:
            try:
                won = self.live_client().add(
                    item, token, expire=expire_seconds(self.expire), noreply=False
                )
            except Exception as exc:
                raise self._failed(exc, f"acquire lock {name!r}") from exc
            if won:
                return _MemcachedLease(self, name, item, token)
            wait = pause * (0.5 + random.random())  # jitter: waiters do not retry in step
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise LockTimeout(name, timeout or 0.0)
                wait = min(wait, left)
            time.sleep(wait)
            pause = min(pause * 2, self.max_pause)
