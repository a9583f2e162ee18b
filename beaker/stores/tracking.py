"""Server-assisted invalidation for the near tier (:mod:`beaker.stores.near`): a daemon thread
holding one RESP2 connection per Redis server that holds the store's keys (the server, or every
primary of a Redis Cluster), each with ``CLIENT TRACKING on REDIRECT <itself> BCAST PREFIX
<the store's prefix>`` and subscribed to ``__redis__:invalidate``. Every write, delete or expiry
of a key under the prefix, by any client, arrives as a message naming the key; the thread drops
it from the tier.

The tier is served only while every connection is up: until they all are, and whenever one
fails (closed, reset, a ``PING`` unanswered for :data:`PING_EVERY` seconds, or the cluster's
primaries changed), the tier is flushed and bypassed, then the thread reconnects.

On a Redis Cluster, a slot that moves between primaries needs nothing: every primary
broadcasts the changes of every key under the prefix, whichever slots it holds, and the
migration itself (``MIGRATE`` deletes the key on the old node) drops the moved copies. What
would escape is a primary the thread does not track (a node added and given slots, a replica
promoted by a failover): so every :data:`PING_EVERY` seconds the thread asks the cluster for
its slots (``CLUSTER SLOTS``, through the client's own node manager, which then knows them
too), and a changed set of primaries flushes the tier and tracks the new set. Until that
check, at most :data:`PING_EVERY` seconds, a copy read from a new primary may miss another
process's write there; an application that adds primaries and cannot accept that window
reads those values without ``near`` (or composes its caches again once the slots moved: a
new tier starts empty).

Imports ``redis`` only in the thread; must not import ``beaker.caching``, ``beaker.sessions``
or ``beaker.compat``.
"""

from __future__ import annotations

import logging
import os
import select
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from typing import Any, Final, Protocol

from beaker.stores.stamps import STAMPS

log = logging.getLogger("beaker.stores.near")

CHANNEL: Final = b"__redis__:invalidate"
#: Seconds a tracking connection may stay quiet before it is pinged; unanswered for as long
#: again, it has failed.
PING_EVERY: Final = 5.0
RETRY_AFTER: Final = 0.2  # seconds between reconnection attempts
_CONNECTION_OPTIONS: Final = frozenset(
    {"host", "port", "db", "username", "password", "path", "socket_connect_timeout"}
)

Item = tuple[str, str]


class Followed(Protocol):
    """What the tracking thread needs of a near tier."""

    closed: threading.Event
    #: ``[(address, client id)]`` of the tracking connections while they are up.
    links: list[tuple[str, int]]
    connections: list[Any]
    follow: Callable[[], None] | None

    def drop(self, items: Iterable[Item]) -> int: ...

    def flush(self, online: bool) -> int: ...


def item_of(prefix: bytes, name: bytes) -> Item | None:
    """The ``(namespace, key)`` of a Redis store's key name (``{prefix}{{len:namespace}}:key``;
    a token's ``{prefix}#stamp:name`` is ``(STAMPS, name)``), or ``None`` for any other name
    (another prefix's key)."""
    if name.startswith(prefix + b"#stamp:"):
        try:
            return STAMPS, name[len(prefix) + 7 :].decode("utf-8")
        except UnicodeDecodeError:
            return None
    if not name.startswith(prefix + b"{"):
        return None
    try:
        text = name[len(prefix) + 1 :].decode("utf-8")
        length, _, rest = text.partition(":")
        size = int(length)
        namespace, tail = rest[:size], rest[size:]
    except (UnicodeDecodeError, ValueError):
        return None
    if not tail.startswith("}:"):
        return None
    return namespace, tail[2:]


#: The tracked tiers of this process: a forked child flushes each and starts its own tracking
#: thread (the parent's does not exist there, so the child's copies would never be dropped).
_TRACKED: weakref.WeakSet[Any] = weakref.WeakSet()


def _after_fork() -> None:
    for tier in list(_TRACKED):
        tier.flush(online=False)
        tier.connections, tier.links = [], []
        if tier.follow is not None and not tier.closed.is_set():
            tier.follow()


os.register_at_fork(after_in_child=_after_fork)


def follow(tier: Followed, store: Any, forget: Callable[[int], None]) -> None:
    """Keep ``tier`` coherent with the Redis store ``store`` (a ``RedisStore`` or
    ``RedisClusterStore``) from a daemon thread, now and in forked children; ``forget(n)`` is
    told how many copies each message or flush dropped."""

    def start() -> None:
        threading.Thread(
            target=_track, args=(tier, store, forget), daemon=True, name="beaker-near-tracking"
        ).start()

    tier.follow = start
    _TRACKED.add(tier)
    start()


def _servers(store: Any) -> list[Any]:
    """The connection pools of the servers holding ``store``'s keys (every primary of a
    cluster)."""
    client = store.live_client()
    if hasattr(client, "get_primaries"):
        return [client.get_redis_connection(n).connection_pool for n in client.get_primaries()]
    return [client.connection_pool]


def _addresses(store: Any) -> set[str]:
    """Where ``store``'s keys are, as the client knows it now (no request)."""
    client = store.live_client()
    if hasattr(client, "get_primaries"):
        return {node.name for node in client.get_primaries()}
    return {"server"}


def _moved(store: Any, addresses: set[str]) -> bool:
    """Whether the servers holding ``store``'s keys are no longer ``addresses``: on a
    cluster, as the cluster says now (the client's slots are read again: ``CLUSTER SLOTS``,
    its idle connections kept); one server never moves."""
    client = store.live_client()
    if hasattr(client, "nodes_manager"):
        client.nodes_manager.initialize(disconnect_startup_nodes_pools=False)
    return _addresses(store) != addresses


def _subscribe(pool: Any, prefix: bytes) -> tuple[Any, tuple[str, int]]:
    """A new connection like ``pool``'s, tracking ``prefix`` and subscribed to the channel,
    and its ``(address, client id)``."""
    options = {
        name: value
        for name, value in pool.connection_kwargs.items()
        if name in _CONNECTION_OPTIONS or name.startswith("ssl")
    }
    connection = pool.connection_class(**options, protocol=2, socket_timeout=PING_EVERY)
    connection.connect()
    connection.send_command("CLIENT", "ID")
    client_id = int(connection.read_response())
    connection.send_command(
        "CLIENT", "TRACKING", "on", "REDIRECT", client_id, "BCAST", "PREFIX", prefix
    )
    connection.read_response()
    connection.send_command("SUBSCRIBE", CHANNEL)
    connection.read_response()
    address = f"{options.get('host', options.get('path'))}:{options.get('port', '')}"
    return connection, (address, client_id)


def _track(tier: Followed, store: Any, forget: Callable[[int], None]) -> None:
    """The tracking thread: subscribe on every server, serve the tier while all are up, drop
    what each message names; flush and go offline whenever one fails, then reconnect."""
    prefix = store.prefix.encode()
    while not tier.closed.is_set():
        connections: list[Any] = []
        try:
            addresses = _addresses(store)
            links = []
            for pool in _servers(store):
                connection, link = _subscribe(pool, prefix)
                connections.append(connection)
                links.append(link)
            tier.connections, tier.links = connections, links
            forget(tier.flush(online=True))  # whatever changed before we listened is gone
            _listen(tier, connections, forget, store, addresses)
        except Exception as exc:  # noqa: BLE001 - any failure: flush, go offline, retry
            if not tier.closed.is_set():
                log.warning("near tier: invalidation channel down (%s): flushed, bypassed", exc)
        finally:
            forget(tier.flush(online=False))
            tier.connections, tier.links = [], []
            for connection in connections:
                connection.disconnect()
        tier.closed.wait(RETRY_AFTER)


def _listen(
    tier: Followed,
    connections: list[Any],
    forget: Callable[[int], None],
    store: Any,
    addresses: set[str],
) -> None:
    """Read the messages of ``connections`` (to ``store``'s servers, at ``addresses``) until
    the tier closes.

    Raises:
        redis.ConnectionError: a connection was closed or reset, or the servers holding the
            keys are no longer ``addresses``.
        redis.TimeoutError: a connection did not answer a ``PING``.
    """
    import redis

    prefix = store.prefix.encode()
    # redis-py reconnects a dropped connection by itself, which would lose the tracking and
    # the subscription: a new socket is a failure here.
    sockets = {connection: connection._sock for connection in connections}
    heard = dict.fromkeys(connections, time.monotonic())
    checked = time.monotonic()  # when the primaries were last asked for
    pinged: set[Any] = set()
    while not tier.closed.is_set():
        if any(connection._sock is not sock for connection, sock in sockets.items()):
            raise redis.ConnectionError("a tracking connection was reset")
        ready = [connection for connection in connections if connection.can_read(timeout=0)]
        if not ready:
            # Wait without a read timeout (on one, redis-py would drop the connection).
            readable, _, _ = select.select(list(sockets.values()), [], [], PING_EVERY / 2)
            ready = [connection for connection, sock in sockets.items() if sock in readable]
        now = time.monotonic()
        for connection in ready:
            heard[connection] = now
            pinged.discard(connection)
            message = connection.read_response()
            if message[0] != b"message":
                continue
            names = message[2]
            if names is None:  # FLUSHDB / FLUSHALL
                forget(tier.flush(online=True))
                continue
            forget(tier.drop([item for item in (item_of(prefix, n) for n in names) if item]))
        if now - checked >= PING_EVERY:
            checked = now
            if _moved(store, addresses):
                raise redis.ConnectionError("the cluster's primaries changed")
        for connection in connections:
            if now - heard[connection] < PING_EVERY:
                continue
            if connection in pinged:
                raise redis.TimeoutError("no answer to PING on a tracking connection")
            connection.send_command("PING")
            pinged.add(connection)
            heard[connection] = now
