"""MemcachedConnection: one memcached server, or several, as a component.

A connection owns the servers, the pymemcache client and its pools (built on first use), the
time budget of every command and the circuit breaker. :class:`~beaker.stores.MemcachedStore`
and :class:`~beaker.locks.MemcachedLock` each take one, or build one from ``servers``; given
the same connection they share one pool per server and one breaker.

The time budget is pymemcache's own: ``connect_timeout`` to connect and ``timeout`` for each
reply, no retry loop (a connection whose command failed is dropped by the pool, the next call
opens a new one). After ``breaker.failures`` failures in a row, calls fail at once with
:class:`~beaker.errors.StoreUnavailable` until a probe gets an answer (see
:class:`~beaker.policies.CircuitBreaker`).

Imports ``pymemcache`` (the ``memcached`` extra); must not import ``beaker.caching``,
``beaker.sessions`` or ``beaker.compat``.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Callable
from typing import Any, ClassVar, Final, TypeVar

import attrs
from pymemcache.client.base import (  # type: ignore[import-untyped]
    Client,
    PooledClient,
    normalize_server_spec,
)
from pymemcache.client.hash import HashClient  # type: ignore[import-untyped]
from pymemcache.exceptions import (  # type: ignore[import-untyped]
    MemcacheError,
    MemcacheUnexpectedCloseError,
)

from beaker.errors import ConfigError, StoreError, StoreUnavailable
from beaker.policies.breaker import CircuitBreaker
from beaker.runtime import Lazy, PerLoop, lazy_field, per_loop_field
from beaker.validators import instance_of, optional, satisfies, seconds

__all__ = ["MemcachedConnection", "parse_servers"]

T = TypeVar("T")

#: Seconds to connect, and to wait for each reply, unless configured.
DEFAULT_TIMEOUT: Final = 0.25
#: Connections of an async client, per server and event loop; more tasks at once wait.
_ASYNC_CONNECTIONS: Final = 16


def _unreachable(exc: BaseException) -> bool:
    """Whether a pymemcache error means "the server cannot be reached (now)"."""
    return (
        isinstance(exc, (OSError, MemcacheUnexpectedCloseError))
        or type(exc) is MemcacheError  # HashClient: "All servers seem to be down right now"
    )


def parse_servers(servers: str) -> list[Any]:
    """``"host:port;host:port"`` (Beaker's memcached ``url``) as pymemcache server specs.

    Raises:
        ConfigError: empty, or an entry that is not ``host[:port]``, ``unix:/path`` or ``/path``.
    """
    specs = []
    for part in servers.split(";"):
        part = part.strip()
        if not part:
            continue
        try:
            specs.append(normalize_server_spec(part))
        except ValueError as exc:
            raise ConfigError("servers", servers, f"'host:port;host:port' ({exc})") from exc
    if not specs:
        raise ConfigError("servers", servers, "at least one 'host:port'")
    return specs


def _spec_address(spec: Any) -> str:
    """The address pymemcache's ``HashClient`` names a parsed server spec by."""
    return spec if isinstance(spec, str) else f"{spec[0]}:{spec[1]}"


def _client_address(client: Any) -> str:
    """The address of a client the caller built, for messages."""
    if isinstance(client, HashClient):
        return ";".join(sorted(client.clients))
    server = getattr(client, "server", None)
    if isinstance(server, tuple):
        return f"{server[0]}:{server[1]}"
    return str(server)


@attrs.frozen
class MemcachedConnection:
    """memcached servers: their pymemcache client, time budget and circuit breaker, shared by
    every store and lock given this object.

    One server gets pymemcache's ``PooledClient`` (a thread-safe pool of connections, one per
    thread using the server at once); several get a ``HashClient`` (rendezvous hashing, a
    ``PooledClient`` per server) configured so that keys never move to another server: while
    a server is down its keys raise ``StoreUnavailable`` instead of failing over, so no stale
    item can reappear when it returns.

    Args:
        servers: ``"host:port;host:port"`` (Beaker's ``url``); ``unix:/path`` also works.
            Ignored when ``client`` is given.
        client: a pymemcache ``PooledClient``/``HashClient`` you built (a bare ``Client`` is
            not thread-safe: single-threaded use only), without ``key_prefix`` and handing
            bytes back as they were stored; its own timeouts apply, :meth:`close` leaves it
            open.
        socket_timeout: seconds to wait for each reply (pymemcache's ``timeout``; default
            0.25).
        connect_timeout: seconds to connect (default 0.25).
        breaker: the :class:`~beaker.policies.CircuitBreaker` (a fresh one by default).

    An async twin of a store or lock takes the same object: :meth:`async_client_for` is an
    ``emcache`` client per server and event loop, with the same timeouts and breaker, and the
    same choice of server for each item. Connections are not shared across ``fork``: call :meth:`close` in a
    child that inherited a used connection, or build it after forking. Picklable without a
    ``client``.

    Raises:
        ConfigError: malformed ``servers`` or timeouts.
        ComponentTypeError: ``client`` is not a pymemcache client.
    """

    #: The arguments that name the servers.
    sources: ClassVar[tuple[str, ...]] = ("servers", "client")

    servers: str = attrs.field(
        default="127.0.0.1:11211",
        validator=satisfies(
            parse_servers, "'host:port;host:port'", type_expected="a 'host:port;host:port' str"
        ),
    )
    client: Any = attrs.field(
        default=None,
        kw_only=True,
        repr=False,
        validator=optional(
            satisfies(
                lambda client: not client.key_prefix,
                "a client without key_prefix",
                types=(Client, PooledClient, HashClient),
                type_expected="a pymemcache Client, PooledClient or HashClient",
            )
        ),
    )
    socket_timeout: float = attrs.field(
        default=DEFAULT_TIMEOUT, kw_only=True, validator=seconds(positive=True)
    )
    connect_timeout: float = attrs.field(
        default=DEFAULT_TIMEOUT, kw_only=True, validator=seconds(positive=True)
    )
    breaker: CircuitBreaker = attrs.field(
        factory=CircuitBreaker, kw_only=True, validator=instance_of(CircuitBreaker, "a CircuitBreaker")
    )

    _live: Lazy[Any] = lazy_field()
    # per loop: address -> the task opening (then holding) its emcache client
    _async: PerLoop[dict[str, asyncio.Future[Any]]] = per_loop_field()
    _address: str = attrs.field(init=False, repr=False, eq=False, hash=False)
    _several: bool = attrs.field(init=False, repr=False, eq=False, hash=False)

    def __attrs_post_init__(self) -> None:
        if self.client is None:
            address, several = self.servers, len(parse_servers(self.servers)) > 1
        else:
            address, several = _client_address(self.client), isinstance(self.client, HashClient)
        object.__setattr__(self, "_address", address)
        object.__setattr__(self, "_several", several)

    @property
    def address(self) -> str:
        """The servers as configured (``host:port;host:port``)."""
        return self._address

    def live_client(self) -> Any:
        """The live pymemcache client (built on first use): a ``PooledClient``, or a
        ``HashClient`` for several servers."""
        return self._live.value or self._live.get(self._build)

    def client_for(self, name: str) -> tuple[Any, str]:
        """The client of the server that holds item ``name``, and that server's address,
        after asking the breaker (each server has its own circuit). With several servers the
        server is chosen by the ``HashClient``'s own hasher, as its commands would be.

        Raises:
            StoreUnavailable: the server's circuit is open.
        """
        client = self._live.value or self._live.get(self._build)
        if self._several:
            address = client.hasher.get_node(name)
            client = client.clients[address]
        else:
            address = self._address
        self.breaker.before(address)
        return client, address

    async def async_client_for(self, name: str) -> tuple[Any, str]:
        """:meth:`client_for` for the async twins: the ``emcache`` client (of the running
        event loop, built on first use with the same timeouts) of the server that holds item
        ``name`` (chosen by the same hasher, so both fronts use one server per item), and that
        server's address, after asking its breaker.

        Raises:
            ConfigError: the connection was given a pymemcache ``client`` instead of
                ``servers``.
            StoreUnavailable: the server's circuit is open.
        """
        address = self.client_for(name)[1]
        clients = self._async.get(dict)
        opening = clients.get(address)
        if opening is None:  # the first task to ask opens it; the others await the same
            opening = clients[address] = asyncio.ensure_future(self._open_async(address))
        return await opening, address

    async def _open_async(self, address: str) -> Any:
        import emcache

        if self.client is not None:
            raise ConfigError("client", "<client>", "a servers= connection for async clients")
        specs = parse_servers(self.servers)
        spec = specs[0] if len(specs) == 1 else next(
            spec for spec in specs if _spec_address(spec) == address
        )
        node = (
            emcache.MemcachedUnixSocketPath(spec)
            if isinstance(spec, str)
            else emcache.MemcachedHostAddress(spec[0], int(spec[1]))
        )
        return await emcache.create_client(
            [node],
            timeout=self.socket_timeout,
            connection_timeout=self.connect_timeout,
            max_connections=_ASYNC_CONNECTIONS,
        )

    def nodes(self) -> list[tuple[Any, str]]:
        """``(client, address)`` of every server, after asking the breaker of each.

        Raises:
            StoreUnavailable: a server's circuit is open.
        """
        client = self.live_client()
        nodes = list(client.clients.items()) if self._several else [(self._address, client)]
        for address, _ in nodes:
            self.breaker.before(address)
        return [(node, address) for address, node in nodes]

    def _build(self) -> Any:
        if self.client is not None:
            return self.client
        specs = parse_servers(self.servers)
        options: dict[str, Any] = {
            "connect_timeout": self.connect_timeout,
            "timeout": self.socket_timeout,
            "no_delay": True,
            "default_noreply": False,
        }
        if len(specs) == 1:
            return PooledClient(specs[0], **options)
        return HashClient(
            specs,
            use_pooling=True,
            ignore_exc=False,
            # Never mark a server dead (which would move its keys to the others): every call
            # to a failing server retries it at once and raises if it is still down.
            retry_attempts=sys.maxsize,
            retry_timeout=-1,
            **options,
        )

    # -- outcomes ------------------------------------------------------------------------------

    def answered(self, address: str) -> None:
        """Tell the breaker the server at ``address`` answered (call after each command)."""
        self.breaker.succeeded(address)

    def failed(self, exc: BaseException, doing: str, address: str) -> StoreError:
        """The error to raise for a pymemcache failure of the server at ``address`` while
        ``doing`` something: :class:`~beaker.errors.StoreUnavailable` (counted by the
        breaker) when it cannot be reached or did not answer in time, else
        :class:`~beaker.errors.StoreError` (it answered: its circuit stays closed)."""
        if _unreachable(exc):
            self.breaker.failed(address)
            return StoreUnavailable(address, f"{type(exc).__name__}: {exc}")
        self.breaker.succeeded(address)
        return StoreError(f"memcached at {address} failed to {doing}: {exc}")

    def run(self, name: str, command: Callable[[Any], T], doing: str) -> T:
        """``command(client)`` on the client of the server holding item ``name``, its
        failures mapped by :meth:`failed`.

        Raises:
            StoreUnavailable: the server cannot be reached, did not answer in time, or its
                circuit is open.
            StoreError: the server refused the command.
        """
        client, address = self.client_for(name)
        try:
            result = command(client)
        except Exception as exc:
            raise self.failed(exc, doing, address) from exc
        self.breaker.succeeded(address)
        return result

    def close(self) -> None:
        """Close the connections of a client built from ``servers`` (a client passed in stays
        open: it belongs to the caller). The connection may be used again."""
        client = self._live.drop()
        if client is not None and self.client is None:
            client.close()

    async def aclose(self) -> None:
        """Close the running event loop's ``emcache`` clients, if any were built (close each
        loop's in its loop; those of a loop that has ended are forgotten)."""
        clients = self._async.pop_running()
        for opening in (clients or {}).values():
            with contextlib.suppress(Exception):  # one that failed to open holds nothing
                await (await opening).close()
