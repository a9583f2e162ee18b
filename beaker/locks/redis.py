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

Imports ``redis`` (the ``redis`` extra), :mod:`beaker.stores.redis`'s client plumbing and the
token lease of :mod:`beaker.locks._polling` (waiting with backoff, release); must not import
``beaker.caching``, ``beaker.sessions`` or ``beaker.compat``.
"""

from __future__ import annotations

import logging
import math
import secrets
from typing import Any, ClassVar, Final

import attrs

from beaker.locks._polling import PollingLock
from beaker.locks.base import Scope
from beaker.stores.redis import UNREACHABLE, RedisClientMixin, _positive, _prefix

log = logging.getLogger("beaker.locks.redis")

# KEYS[1] = lock key, ARGV[1] = token: delete only if we still own it.
_RELEASE: Final = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""


@attrs.frozen
class RedisLock(PollingLock[str], RedisClientMixin):
    """Hands out leases held in Redis: exclusion across processes and machines sharing the
    server (scope ``"cluster"``). Not re-entrant.

    Args:
        url: ``redis://...`` URL as for :class:`~beaker.stores.redis.RedisStore`; or
        client: a ``redis.Redis`` you built; exactly one of the two.
        prefix: put in front of every lock key (``str``, no braces); default ``"beaker:lock:"``.
        expire: seconds a lease lives unless released first: the most a dead holder can block
            the others. Choose it above the slowest creator.
        max_pause: the longest pause (seconds) between tries while waiting; pauses start at
            2 ms and double, with jitter.
        socket_timeout, retries, health_check_interval: as for
            :class:`~beaker.stores.redis.RedisStore`.

    Picklable (a copy in another process opens its own connections from ``url``).

    Raises:
        ConfigError: neither or both of ``url``/``client``, or bad numbers.
        ComponentTypeError: ``client`` is not a ``redis.Redis``.
    """

    scope: ClassVar[Scope] = "cluster"

    prefix: str = attrs.field(default="beaker:lock:", kw_only=True, validator=_prefix)
    expire: float = attrs.field(default=30.0, kw_only=True, validator=_positive)
    max_pause: float = attrs.field(default=0.1, kw_only=True, validator=_positive)

    def key_of(self, name: str) -> str:
        """The Redis key of lock ``name``: the namespace part of a cache's
        ``"{len}:{namespace}:{key}"`` name becomes the hash tag, as in the stores' layout."""
        head, sep, _ = name.partition(":")
        if sep and head.isascii() and head.isdigit():
            end = len(head) + 1 + int(head)
            if name[end : end + 1] == ":":
                return f"{self.prefix}{{{name[:end]}}}{name[end:]}"
        return f"{self.prefix}{{{name}}}"

    def _release_script(self) -> Any:
        holder = self._holder
        script = holder.extras.get("release")
        if script is None:
            script = holder.extras["release"] = self.live_client().register_script(_RELEASE)
        return script

    # -- the server commands of PollingLock ----------------------------------------------------

    _log: ClassVar[logging.Logger] = log

    def _target(self, name: str) -> str:
        return self.key_of(name)

    def _new_token(self) -> str:
        return secrets.token_hex(16)

    def _take(self, name: str, target: str, token: str) -> bool:
        """``SET target token NX PX expire``."""
        expire_ms = max(1, math.ceil(self.expire * 1000.0))
        try:
            return bool(self.live_client().set(target, token, nx=True, px=expire_ms))
        except UNREACHABLE as exc:
            raise self._unavailable(exc) from exc

    def _give_back(self, name: str, target: str, token: str) -> bool:
        """Compare-and-delete lock key ``target`` (one Lua script)."""
        try:
            return bool(self._release_script()(keys=[target], args=[token]))
        except UNREACHABLE as exc:
            raise self._unavailable(exc) from exc


@attrs.frozen
class RedisClusterLock(RedisLock):
    """:class:`RedisLock` on a Redis Cluster (``url`` of any node, or a ``RedisCluster``
    ``client``); a lock guarding a cache entry lives on that entry's slot."""

    cluster: ClassVar[bool] = True
