"""RedisConnection and RedisClusterConnection: one Redis server (or cluster) as a component.

A connection owns the URL (its password never shown: see :func:`redact_url`), the client and
its pool (built on first use), the time budget of every command and the circuit breaker.
:class:`~beaker.stores.RedisStore` and :class:`~beaker.locks.RedisLock` each take one, or build
one from a URL; given the same connection they share one pool and one breaker::

    connection = RedisConnection(url="redis://localhost:6379/0")
    cache = compose(RedisStore(connection=connection), lock=RedisLock(connection=connection))

The time budget is redis-py's own: ``socket_connect_timeout`` to connect, ``socket_timeout`` for
each reply, and a ``Retry`` with exponential backoff that retries refused or dropped connections
only: a server that does not answer in time fails the call after one timeout, never after a
series of them. After ``breaker.failures`` such failures in a row, calls fail at once with
:class:`~beaker.errors.StoreUnavailable` until a probe gets an answer (see
:class:`~beaker.policies.CircuitBreaker`).

Imports ``redis`` (the ``redis`` extra); must not import ``beaker.caching``,
``beaker.sessions`` or ``beaker.compat``.
"""

from __future__ import annotations

import hashlib
import urllib.parse
from collections.abc import Callable
from typing import Any, ClassVar, Final, TypeVar

import attrs
import redis
import redis.cluster
import redis.exceptions
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from beaker.errors import ComponentTypeError, ConfigError, StoreUnavailable
from beaker.policies.breaker import CircuitBreaker
from beaker.runtime import Lazy, PerLoop, lazy_field, per_loop_field
from beaker.validators import in_range, instance_of, optional, satisfies, seconds

__all__ = [
    "UNREACHABLE",
    "LuaScript",
    "RedisClusterConnection",
    "RedisConnection",
    "redact_url",
    "redis_prefix",
]

#: redis-py errors that mean "the server cannot be reached (now)".
UNREACHABLE: Final = (
    redis.exceptions.ConnectionError,  # includes AuthenticationError
    redis.exceptions.TimeoutError,
    redis.exceptions.ClusterDownError,
    redis.exceptions.RedisClusterException,  # "cannot be connected" while discovering nodes
)

T = TypeVar("T")

#: Seconds to connect, and to wait for each reply, unless configured.
DEFAULT_TIMEOUT: Final = 0.25
#: Connections of an async client's pool (per event loop); more tasks at once wait for one, at
#: most _POOL_WAIT seconds.
_ASYNC_CONNECTIONS: Final = 64
_POOL_WAIT: Final = 10.0
#: Connections per node of an async cluster client (redis-py's asyncio cluster cannot wait for
#: one: more commands in flight at once to one node fail).
_CLUSTER_CONNECTIONS: Final = 1024


def redact_url(url: str) -> str:
    """``url`` without its password (in the userinfo or a ``password=`` query parameter); a
    comma-separated list of cluster node URLs is redacted URL by URL."""
    if "," in url:
        return ",".join(redact_url(part) for part in url.split(","))
    parts = urllib.parse.urlsplit(url)
    userinfo, at, hostport = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    netloc = f"{user}@{hostport}" if at and user else hostport
    pairs = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    kept = [(name, value) for name, value in pairs if name.lower() != "password"]
    if netloc == parts.netloc and len(kept) == len(pairs):
        return url
    query = urllib.parse.urlencode(kept)
    return (
        f"{parts.scheme}://{netloc}{parts.path}"
        + (f"?{query}" if query else "")
        + (f"#{parts.fragment}" if parts.fragment else "")
    )


def _redacted_repr(url: str | None) -> str:
    return repr(None if url is None else redact_url(url))


def _client_address(client: Any) -> str:
    """A password-free address for a client the caller built."""
    if isinstance(client, redis.cluster.RedisCluster):
        nodes = client.get_nodes()  # type: ignore[no-untyped-call]
        return "redis-cluster://" + ",".join(node.name for node in nodes)
    kwargs = client.connection_pool.connection_kwargs
    db = kwargs.get("db", 0)
    if "path" in kwargs:
        return f"unix://{kwargs['path']}?db={db}"
    return f"redis://{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}/{db}"


def _decodes_responses(client: Any) -> bool:
    if isinstance(client, redis.cluster.RedisCluster):
        return bool(client.get_encoder().decode_responses)  # type: ignore[no-untyped-call]
    return bool(client.connection_pool.connection_kwargs.get("decode_responses", False))


@attrs.frozen
class RedisConnection:
    """One standalone Redis server: URL, client pool, time budget and circuit breaker, shared
    by every store and lock given this object.

    Args:
        url: ``redis://[[user]:password@]host:port/db`` (or ``rediss://``, ``unix://``);
            percent-encode ``#``, ``:``, ``@`` and ``/`` in the password. Shown without its
            password in ``repr``, errors and logs.
        client: a ``redis.Redis`` you built (``decode_responses=False``), instead of ``url``;
            its own timeouts and retries apply, :meth:`close` leaves it open.
        socket_timeout: seconds to wait for each reply (default 0.25).
        socket_connect_timeout: seconds to connect (default 0.25).
        retries: how many times redis-py retries a command whose connection was refused or
            dropped, with exponential backoff (default 1); timeouts are never retried.
        health_check_interval: seconds a pooled connection may idle before redis-py pings it
            on reuse (default 30).
        breaker: the :class:`~beaker.policies.CircuitBreaker` (a fresh one by default).

    An async twin of a store or lock takes the same object: :meth:`async_client` is a
    ``redis.asyncio`` client built from the same URL and options (one per event loop), so
    sync and async parts agree on server, budget and breaker.

    Thread- and process-safe (redis-py's pool resets itself after ``fork``); picklable with a
    ``url`` (a copy opens its own pool, with a closed circuit).

    Raises:
        ConfigError: neither or both of ``url``/``client``, a URL that is not Redis's, or
            numbers out of range.
        ComponentTypeError: ``client`` is not a redis-py client of the right kind, or decodes
            responses.
    """

    #: ``True`` for a Redis Cluster (:class:`RedisClusterConnection`).
    cluster: ClassVar[bool] = False
    #: The arguments that name the server.
    sources: ClassVar[tuple[str, ...]] = ("url", "client")

    url: str | None = attrs.field(
        default=None,
        repr=_redacted_repr,
        validator=optional(instance_of(str, "a redis:// URL (str)")),
    )
    client: Any = attrs.field(default=None, kw_only=True, repr=False)
    socket_timeout: float = attrs.field(
        default=DEFAULT_TIMEOUT, kw_only=True, validator=seconds(positive=True)
    )
    socket_connect_timeout: float = attrs.field(
        default=DEFAULT_TIMEOUT, kw_only=True, validator=seconds(positive=True)
    )
    retries: int = attrs.field(default=1, kw_only=True, validator=in_range(0, 100))
    health_check_interval: float = attrs.field(
        default=30.0, kw_only=True, validator=seconds(positive=True)
    )
    breaker: CircuitBreaker = attrs.field(
        factory=CircuitBreaker,
        kw_only=True,
        validator=instance_of(CircuitBreaker, "a CircuitBreaker"),
    )

    _live: Lazy[Any] = lazy_field()
    _async: PerLoop[Any] = per_loop_field()
    _address: str = attrs.field(init=False, repr=False, eq=False, hash=False)

    def __attrs_post_init__(self) -> None:
        if (self.url is None) == (self.client is None):
            raise ConfigError("url", self._safe_url(), "exactly one of url= or client=")
        if self.client is not None:
            kind = redis.cluster.RedisCluster if self.cluster else redis.Redis
            if not isinstance(self.client, kind) or _decodes_responses(self.client):
                raise ComponentTypeError(
                    "client", self.client, f"a {kind.__name__} client with decode_responses=False"
                )
            address = _client_address(self.client)
        else:
            assert self.url is not None
            for url in self.url.split(",") if self.cluster else [self.url]:
                if urllib.parse.urlsplit(url.strip()).scheme not in ("redis", "rediss", "unix"):
                    raise ConfigError(
                        "url", self._safe_url(), "a redis://, rediss:// or unix:// URL"
                    )
            address = redact_url(self.url)
        object.__setattr__(self, "_address", address)

    def _safe_url(self) -> str | None:
        return None if self.url is None else redact_url(self.url)

    @property
    def address(self) -> str:
        """The server's address as configured, without any password."""
        return self._address

    # -- clients -------------------------------------------------------------------------------

    def live_client(self) -> Any:
        """The live redis-py client (built on first use), after asking the breaker.

        Raises:
            StoreUnavailable: the circuit is open, or a cluster client could not discover
                the cluster's nodes.
        """
        self.breaker.before(self._address)
        return self._live.value or self._live.get(self._build)

    def _options(self, retry: Any) -> dict[str, Any]:
        return {
            "socket_timeout": self.socket_timeout,
            "socket_connect_timeout": self.socket_connect_timeout,
            "health_check_interval": self.health_check_interval,
            "retry": retry(
                ExponentialBackoff(cap=0.5, base=0.01),
                self.retries,
                supported_errors=(redis.exceptions.ConnectionError,),
            ),
        }

    def _build(self) -> Any:
        if self.client is not None:
            return self.client
        assert self.url is not None
        options = self._options(Retry)
        try:
            if self.cluster:
                # Beaker's ext:rediscluster form: "redis://node1:7001,redis://node2:7002"; the
                # first URL's options (password, TLS) apply to every node.
                first, *others = (url.strip() for url in self.url.split(","))
                options["startup_nodes"] = [
                    redis.cluster.ClusterNode(parts.hostname, parts.port or 6379)  # type: ignore[no-untyped-call]
                    for parts in map(urllib.parse.urlsplit, others)
                ]
                return redis.cluster.RedisCluster.from_url(first, **options)
            return redis.Redis.from_url(self.url, **options)
        except UNREACHABLE as exc:
            raise self.unavailable(exc) from exc
        except ValueError as exc:  # a malformed URL or query option
            raise ConfigError("url", self._safe_url(), f"a valid Redis URL ({exc})") from exc

    def async_client(self) -> Any:
        """The ``redis.asyncio`` client (``Redis`` or ``RedisCluster``) of the running event
        loop, with the same URL, timeouts and retries, built on first use in each loop (a
        client's connections belong to the loop that opened them), for the async twins of the
        stores and locks. The breaker is asked first, as for :meth:`live_client`. A standalone
        server's pool holds up to 64 connections per loop; tasks beyond wait for one (at most
        10 s, then :class:`~beaker.errors.StoreUnavailable`).

        Raises:
            ConfigError: the connection was given a sync ``client`` instead of a ``url``.
            StoreUnavailable: the circuit is open.
            RuntimeError: no event loop is running.
        """
        self.breaker.before(self._address)
        return self._async.get(self._build_async)

    def _build_async(self) -> Any:
        import redis.asyncio
        import redis.asyncio.cluster
        import redis.asyncio.retry

        if self.url is None:
            raise ConfigError("client", self.client, "a url= connection for an async client")
        options = self._options(redis.asyncio.retry.Retry)
        if self.cluster:
            first = self.url.split(",")[0].strip()
            return redis.asyncio.cluster.RedisCluster.from_url(
                first, max_connections=_CLUSTER_CONNECTIONS, **options
            )
        # Tasks beyond the pool's connections wait for one (the default pool would raise).
        pool = redis.asyncio.BlockingConnectionPool.from_url(
            self.url, max_connections=_ASYNC_CONNECTIONS, timeout=_POOL_WAIT, **options
        )
        return redis.asyncio.Redis.from_pool(pool)  # the client owns (and closes) the pool

    # -- outcomes ------------------------------------------------------------------------------

    def run(self, command: Callable[[Any], T]) -> T:
        """``command(client)`` on the live client; a failure to reach the server is told to
        the breaker and raised as :class:`~beaker.errors.StoreUnavailable`, an answer closes
        the circuit.

        Raises:
            StoreUnavailable: the server cannot be reached, did not answer in time, or the
                circuit is open.
        """
        try:
            result = command(self.live_client())
        except UNREACHABLE as exc:
            raise self.unavailable(exc) from exc
        self.breaker.succeeded(self._address)
        return result

    def answered(self) -> None:
        """Tell the breaker the server answered (call after each successful command)."""
        self.breaker.succeeded(self._address)

    def unavailable(self, exc: BaseException) -> StoreUnavailable:
        """Count a failure to reach the server and return the error to raise, naming the
        password-free address and what redis-py reported."""
        self.breaker.failed(self._address)
        return StoreUnavailable(self._address, f"{type(exc).__name__}: {exc}")

    def close(self) -> None:
        """Disconnect and release the pool of a client built from ``url`` (on a cluster, every
        node's pool; a client passed in stays open: it belongs to the caller). The connection
        may be used again."""
        client = self._live.drop()
        if client is not None and self.client is None:
            client.close()
            if self.cluster:
                # RedisCluster.close() leaves open the pools it gave its nodes (from_url).
                for node in client.get_nodes():
                    if node.redis_connection is not None:
                        node.redis_connection.connection_pool.disconnect()

    async def aclose(self) -> None:
        """Close the ``redis.asyncio`` client of the running event loop, if one was built
        (close each loop's client in its loop; a client whose loop has ended is forgotten)."""
        client = self._async.pop_running()
        if client is not None:
            await client.aclose()


@attrs.frozen
class RedisClusterConnection(RedisConnection):
    """A Redis Cluster, through ``redis.cluster.RedisCluster``: same arguments as
    :class:`RedisConnection`; ``url`` names any one node (the others are discovered), or
    several as Beaker's ``ext:rediscluster`` takes them (``"redis://node1:7001,redis://
    node2:7002"``, the first URL's password applying to all); ``client`` is a
    ``RedisCluster``."""

    cluster: ClassVar[bool] = True


@attrs.frozen
class LuaScript:
    """A Lua script run by its SHA-1 (``EVALSHA``), sent whole (``EVAL``, which also caches it)
    to a server that does not know it (never seen, restarted, ``SCRIPT FLUSH``): what
    redis-py's ``register_script`` object does, without building one (an encoder and a SHA-1
    of the script) on every call. The stores and locks of both fronts run theirs through one.

    Args:
        text: the Lua source (``str``).
    """

    text: str
    sha: str = attrs.field(init=False)

    @sha.default
    def _digest(self) -> str:
        return hashlib.sha1(self.text.encode()).hexdigest()

    def run(self, client: Any, keys: list[str], args: list[Any]) -> Any:
        """The script's reply on ``client`` (a ``redis.Redis`` or ``RedisCluster``).

        Raises:
            redis.exceptions.RedisError: as the client raises them (an unreachable server
                too: :meth:`RedisConnection.run` turns those into ``StoreUnavailable``).
        """
        try:
            return client.evalsha(self.sha, len(keys), *keys, *args)
        except redis.exceptions.NoScriptError:
            return client.eval(self.text, len(keys), *keys, *args)

    async def run_async(self, client: Any, keys: list[str], args: list[Any]) -> Any:
        """:meth:`run` on a ``redis.asyncio`` client (``Redis`` or ``RedisCluster``)."""
        try:
            return await client.evalsha(self.sha, len(keys), *keys, *args)
        except redis.exceptions.NoScriptError:
            return await client.eval(self.text, len(keys), *keys, *args)


#: Validator of a key prefix: a ``str`` without ``{`` or ``}`` (the braces of a Redis Cluster
#: hash tag belong to the layout).
redis_prefix: Final = satisfies(
    lambda value: "{" not in value and "}" not in value,
    "a prefix without '{' or '}' (hash tag braces)",
)
