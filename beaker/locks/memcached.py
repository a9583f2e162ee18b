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

Imports ``pymemcache`` (the ``memcached`` extra), :mod:`beaker.stores.memcached`'s client
plumbing and the token lease of :mod:`beaker.locks._polling` (waiting with backoff, release);
must not import ``beaker.caching``, ``beaker.sessions`` or ``beaker.compat``.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any, ClassVar

import attrs

from beaker.errors import ConfigError
from beaker.locks._polling import PollingLock
from beaker.locks.base import Scope
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


def _check_expire(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    _positive(instance, attribute, value)
    if not value < 2**31:
        raise ConfigError(attribute.name, value, "a finite number of seconds")


@attrs.frozen
class MemcachedLock(PollingLock[bytes], MemcachedClientMixin):
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

    # -- the server commands of PollingLock ----------------------------------------------------

    _log: ClassVar[logging.Logger] = log

    def _target(self, name: str) -> str:
        return self.item_name(name)

    def _new_token(self) -> bytes:
        return secrets.token_hex(16).encode()

    def _take(self, name: str, target: str, token: bytes) -> bool:
        """``add`` item ``target`` (stored only if absent) with the lease's expiry."""
        try:
            return bool(
                self.live_client().add(
                    target, token, expire=expire_seconds(self.expire), noreply=False
                )
            )
        except Exception as exc:
            raise self._failed(exc, f"acquire lock {name!r}") from exc

    def _give_back(self, name: str, target: str, token: bytes) -> bool:
        """``gets`` item ``target``, then a ``cas`` that expires it if it still holds ``token``."""
        try:
            client = self.live_client()
            value, cas = client.gets(target)
            return bool(value == token and client.cas(target, b"", cas, expire=-1, noreply=False))
        except Exception as exc:
            raise self._failed(exc, f"release lock {name!r}") from exc
