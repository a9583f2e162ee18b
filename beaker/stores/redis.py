"""RedisStore and RedisClusterStore: entries in Redis, one key per ``(namespace, key)``.

Key layout: ``{prefix}{{{len(namespace)}:{namespace}}}:{key}``, e.g. ``beaker:{5:users}:42``.
The length in front of the namespace makes a namespace's keys an exact prefix (``"a"`` can never
match keys of ``"a:b"``), so clearing one namespace with ``SCAN MATCH`` touches no other; the
braces are a Redis Cluster hash tag, so every key of a namespace (and the
:class:`~beaker.locks.redis.RedisLock` key of each of them) lives on one slot. Both stores share
the layout, so they read each other's data.

Values are :func:`~beaker.entry.pack_entry` records; expiry is native (``SET ... PX``). A hit is
exactly one ``GET``. Reconnection, retries with backoff, socket timeouts and health checks are
redis-py's own (configured here), not loops of ours.

This module also holds the client plumbing that :mod:`beaker.locks.redis` reuses. It imports
``redis`` (the ``redis`` extra) and must not import ``beaker.caching``, ``beaker.sessions`` or
``beaker.compat``.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, ClassVar, Final

import attrs
import redis
import redis.cluster
import redis.exceptions
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from beaker.entry import Entry, pack_entry, unpack_entry
from beaker.errors import ComponentTypeError, ConfigError, DeserializationError, StoreUnavailable
from beaker.stores.base import Versioned

log = logging.getLogger("beaker.stores.redis")

#: redis-py errors that mean "the server cannot be reached (now)".
UNREACHABLE: Final = (
    redis.exceptions.ConnectionError,  # includes AuthenticationError
    redis.exceptions.TimeoutError,
    redis.exceptions.ClusterDownError,
    redis.exceptions.RedisClusterException,  # "cannot be connected" while discovering nodes
)

#: TTLs longer than this (100 years, in ms) are stored without expiry: Redis rejects
#: deadlines past its 64-bit millisecond clock.
_MAX_TTL_MS: Final = 100 * 365 * 86_400_000
_SCAN_COUNT: Final = 1000
#: KEYS[1] = the entry's key; ARGV[1] = the SHA-1 hex of the record read ("" when there was
#: none), ARGV[2] = the new record, ARGV[3] = its TTL in ms ("" = none). Writes only if the
#: stored record is still the one read; 1 if it wrote.
_COMPARE_AND_SET: Final = """
local current = redis.call('GET', KEYS[1])
if current then
    if redis.sha1hex(current) ~= ARGV[1] then return 0 end
elseif ARGV[1] ~= '' then
    return 0
end
if ARGV[3] == '' then
    redis.call('SET', KEYS[1], ARGV[2])
else
    redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
end
return 1
"""
_DELETE_BATCH: Final = 500


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


class _Holder:
    """The live client of one component, built on first use and dropped on ``close()``.

    Caches derived from one another hold the same store object and so share it; a store made
    by ``attrs.evolve`` (perhaps with other connection options) builds its own. Pickling yields
    an empty holder: a copy in another process opens its own connections from the URL.
    """

    __slots__ = ("client", "extras", "mutex")

    def __init__(self) -> None:
        self.client: Any = None
        self.mutex = threading.Lock()
        self.extras: dict[str, Any] = {}  # things bound to the client, e.g. registered scripts

    def __reduce__(self) -> tuple[type[_Holder], tuple[()]]:
        return (_Holder, ())


def _check_url(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and not isinstance(value, str):
        raise ComponentTypeError(attribute.name, value, "a redis:// URL (str) or None")


def _positive(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigError(attribute.name, value, "a number of seconds > 0")


def _count(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(attribute.name, value, "an int >= 0")


def _prefix(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str):
        raise ComponentTypeError(attribute.name, value, "a str")
    if "{" in value or "}" in value:
        raise ConfigError(attribute.name, value, "a prefix without '{' or '}' (hash tag braces)")


@attrs.frozen
class RedisClientMixin:
    """Client plumbing shared by the Redis stores and :class:`~beaker.locks.redis.RedisLock`:
    exactly one of ``url``/``client``, a lazily built client with redis-py's retry and health
    checks, and :class:`~beaker.errors.StoreUnavailable` naming a password-free address.

    Subclasses set :attr:`cluster` (``True`` builds a ``RedisCluster`` from the URL).
    """

    cluster: ClassVar[bool] = False

    url: str | None = attrs.field(default=None, kw_only=True, validator=_check_url)
    client: Any = attrs.field(default=None, kw_only=True, repr=False)
    socket_timeout: float = attrs.field(default=5.0, kw_only=True, validator=_positive)
    retries: int = attrs.field(default=3, kw_only=True, validator=_count)
    health_check_interval: float = attrs.field(default=30.0, kw_only=True, validator=_positive)

    _holder: _Holder = attrs.field(init=False, factory=_Holder, eq=False, repr=False)
    _address: str = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        expected = (
            "a redis.cluster.RedisCluster" if self.cluster else "a redis.Redis"
        ) + " client (with decode_responses=False) or None"
        if (self.url is None) == (self.client is None):
            raise ConfigError("url", self.url, "exactly one of url= or client=")
        if self.client is not None:
            kind = redis.cluster.RedisCluster if self.cluster else redis.Redis
            if not isinstance(self.client, kind) or _decodes_responses(self.client):
                raise ComponentTypeError("client", self.client, expected)
            address = _client_address(self.client)
        else:
            assert self.url is not None
            urls = self.url.split(",") if self.cluster else [self.url]
            for url in urls:
                if urllib.parse.urlsplit(url.strip()).scheme not in ("redis", "rediss", "unix"):
                    raise ConfigError(
                        "url", redact_url(self.url), "a redis://, rediss:// or unix:// URL"
                    )
            address = redact_url(self.url)
        object.__setattr__(self, "_address", address)

    @property
    def address(self) -> str:
        """The server's address as configured, without any password."""
        return self._address

    def live_client(self) -> Any:
        """The live redis-py client (built from the URL on first use).

        Raises:
            StoreUnavailable: a cluster client could not discover the cluster's nodes.
        """
        return self._holder.client or self._connect()

    def _connect(self) -> Any:
        holder = self._holder
        with holder.mutex:
            if holder.client is None:
                if self.client is not None:
                    holder.client = self.client
                else:
                    holder.client = self._build()
            return holder.client

    def _build(self) -> Any:
        assert self.url is not None
        options: dict[str, Any] = {
            "socket_timeout": self.socket_timeout,
            "socket_connect_timeout": self.socket_timeout,
            "health_check_interval": self.health_check_interval,
            "retry": Retry(ExponentialBackoff(cap=0.5, base=0.01), self.retries),
        }
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
            raise self._unavailable(exc) from exc
        except ValueError as exc:  # a malformed URL or query option
            raise ConfigError("url", redact_url(self.url), f"a valid Redis URL ({exc})") from exc

    def _unavailable(self, exc: BaseException) -> StoreUnavailable:
        return StoreUnavailable(self._address, f"{type(exc).__name__}: {exc}")

    def close(self) -> None:
        """Disconnect and release the connection pool of a client built from ``url`` (a client
        passed in stays open: it belongs to the caller). The component may be used again."""
        holder = self._holder
        with holder.mutex:
            client, holder.client = holder.client, None
            holder.extras.clear()
        if client is not None and self.client is None:
            client.close()


def _set_command(name: str, entry: Entry) -> tuple[Any, ...]:
    """``SET name record [PX ms]`` as arguments for ``execute_command``: the same command
    redis-py's ``set()`` sends, without its per-call option parsing (~4 µs a write)."""
    ms = _ttl_ms(entry)
    record = pack_entry(entry)
    return ("SET", name, record) if ms is None else ("SET", name, record, "PX", ms)


def _ttl_ms(entry: Entry) -> int | None:
    ttl = entry.ttl()
    if ttl is None:
        return None
    ms = math.ceil(ttl * 1000.0) if ttl * 1000.0 < _MAX_TTL_MS else None  # NaN/inf -> None
    return None if ms is None else max(ms, 1)


@attrs.frozen
class RedisStore(RedisClientMixin):
    """Keeps entries in a standalone Redis server (as Beaker's ``ext:redis``, one round trip
    per hit instead of two).

    Args:
        url: ``redis://[[user]:password@]host:port/db`` (or ``rediss://``, ``unix://``);
            percent-encode ``#``, ``:``, ``@`` and ``/`` in the password. The client is built
            on first use.
        client: a ``redis.Redis`` you built (``decode_responses=False``); exactly one of
            ``url``/``client``. :meth:`close` leaves it open.
        prefix: put in front of every key (``str``, no braces); default ``"beaker:"``.
        socket_timeout: seconds to connect and to wait for a reply (URL clients).
        retries: how many times redis-py retries a command after a connection error or
            timeout, with exponential backoff (URL clients).
        health_check_interval: seconds a pooled connection may idle before redis-py pings it
            on reuse (URL clients).

    Thread- and process-safe (redis-py's pool resets itself after ``fork``). A
    :class:`~beaker.stores.base.VersionedStore`: the version is the record's SHA-1, compared
    and written by one Lua script (one key, so on a cluster too).

    Raises:
        ConfigError: neither or both of ``url``/``client``; bad numbers or prefix.
        ComponentTypeError: ``client`` is not a ``redis.Redis`` or decodes responses.
        StoreUnavailable: (from every method) the server cannot be reached; names the address.
    """

    holds_objects: ClassVar[bool] = False

    prefix: str = attrs.field(default="beaker:", kw_only=True, validator=_prefix)

    # -- layout --------------------------------------------------------------------------------

    def _space(self, namespace: str) -> str:
        """The prefix every key of ``namespace`` starts with."""
        return f"{self.prefix}{{{len(namespace)}:{namespace}}}:"

    def _pattern(self, namespace: str) -> str:
        """A ``SCAN MATCH`` pattern for exactly the keys of ``namespace``."""
        space = self._space(namespace)
        for char in "\\*?[]":
            space = space.replace(char, "\\" + char)
        return space + "*"

    def _scan(self, client: Any, pattern: str) -> Iterator[bytes]:
        return client.scan_iter(match=pattern, count=_SCAN_COUNT)  # type: ignore[no-any-return]

    # -- single entries ------------------------------------------------------------------------

    def get(self, namespace: str, key: str) -> Entry | None:
        """One ``GET``. An unreadable record is a miss and a logged warning."""
        try:
            record = (self._holder.client or self._connect()).get(
                f"{self.prefix}{{{len(namespace)}:{namespace}}}:{key}"
            )
        except UNREACHABLE as exc:
            raise self._unavailable(exc) from exc
        if record is None:
            return None
        return self._unpack(namespace, key, record)

    def _unpack(self, namespace: str, key: str, record: bytes) -> Entry | None:
        try:
            return unpack_entry(record)
        except DeserializationError as exc:
            log.warning(
                "unreadable record for %r in namespace %r at %s (%s): a miss",
                key,
                namespace,
                self._address,
                exc,
            )
            return None

    def set(self, namespace: str, key: str, entry: Entry) -> None:
        """One ``SET name record [PX ms]``; the entry's TTL becomes the key's expiry."""
        try:
            (self._holder.client or self._connect()).execute_command(
                *_set_command(f"{self.prefix}{{{len(namespace)}:{namespace}}}:{key}", entry)
            )
        except UNREACHABLE as exc:
            raise self._unavailable(exc) from exc

    def get_versioned(self, namespace: str, key: str) -> Versioned:
        """One ``GET``; the version is the record's SHA-1 hex (``""``: no record)."""
        try:
            record = self.live_client().get(self._space(namespace) + key)
        except UNREACHABLE as exc:
            raise self._unavailable(exc) from exc
        if record is None:
            return Versioned(None, "")
        return Versioned(self._unpack(namespace, key, record), hashlib.sha1(record).hexdigest())

    def compare_and_set(self, namespace: str, key: str, entry: Entry, version: object) -> bool:
        """One Lua script call: the server compares the stored record's SHA-1 with
        ``version`` and, on a match, writes as :meth:`set` does (``SET [PX]``), atomically."""
        ms = _ttl_ms(entry)
        args = [version, pack_entry(entry), "" if ms is None else ms]
        try:
            client = self.live_client()
            script = self._holder.extras.get("compare_and_set")
            if script is None:
                script = self._holder.extras["compare_and_set"] = client.register_script(
                    _COMPARE_AND_SET
                )
            return bool(script(keys=[self._space(namespace) + key], args=args, client=client))
        except UNREACHABLE as exc:
            raise self._unavailable(exc) from exc

    def delete(self, namespace: str, key: str) -> None:
        try:
            self.live_client().delete(self._space(namespace) + key)
        except UNREACHABLE as exc:
            raise self._unavailable(exc) from exc

    # -- many entries --------------------------------------------------------------------------

    def get_many(self, namespace: str, keys: Iterable[str]) -> dict[str, Entry]:
        """Read several keys of one namespace in one round trip (one ``MGET``: the keys share a
        hash slot, so this holds on a cluster too).

        Returns:
            ``{key: entry}`` for the keys found; missing and unreadable ones are left out.
        """
        keys = list(keys)
        if not keys:
            return {}
        space = self._space(namespace)
        try:
            records = self.live_client().mget([space + key for key in keys])
        except UNREACHABLE as exc:
            raise self._unavailable(exc) from exc
        found: dict[str, Entry] = {}
        for key, record in zip(keys, records):
            if record is not None:
                entry = self._unpack(namespace, key, record)
                if entry is not None:
                    found[key] = entry
        return found

    def set_many(self, namespace: str, entries: Mapping[str, Entry]) -> None:
        """Write several entries of one namespace in one round trip (a pipeline of
        ``SET ... PX``, each with its own TTL)."""
        if not entries:
            return
        space = self._space(namespace)
        try:
            with self.live_client().pipeline(transaction=False) as pipe:
                for key, entry in entries.items():
                    pipe.execute_command(*_set_command(space + key, entry))
                pipe.execute()
        except UNREACHABLE as exc:
            raise self._unavailable(exc) from exc

    # -- whole namespaces ----------------------------------------------------------------------

    def keys(self, namespace: str) -> Iterator[str]:
        """The keys of ``namespace``, found with ``SCAN MATCH`` (never ``KEYS``). Keys written
        during the scan may or may not be seen, as with any ``SCAN``."""
        skip = len(self._space(namespace).encode())
        try:
            names = list(self._scan(self.live_client(), self._pattern(namespace)))
        except UNREACHABLE as exc:
            raise self._unavailable(exc) from exc
        return iter({name[skip:].decode() for name in names})

    def clear(self, namespace: str) -> None:
        """Remove ``namespace``'s keys: ``SCAN MATCH`` then ``UNLINK`` in batches (never
        ``KEYS`` or ``FLUSHDB``); other namespaces are untouched."""
        try:
            client = self.live_client()
            batch: list[bytes] = []
            for name in self._scan(client, self._pattern(namespace)):
                batch.append(name)
                if len(batch) >= _DELETE_BATCH:
                    client.unlink(*batch)
                    batch = []
            if batch:
                client.unlink(*batch)
        except UNREACHABLE as exc:
            raise self._unavailable(exc) from exc


@attrs.frozen
class RedisClusterStore(RedisStore):
    """Keeps entries in a Redis Cluster, through ``redis.cluster.RedisCluster``.

    Same arguments, layout and guarantees as :class:`RedisStore`; ``url`` names any one node
    (the others are discovered), or several as Beaker's ``ext:rediscluster`` takes them
    (``"redis://node1:7001,redis://node2:7002"``, the first URL's password applying to all),
    and ``client`` is a ``RedisCluster``. The namespace is the key's
    hash tag, so a namespace's keys share one slot: :meth:`get_many` is one ``MGET`` and
    :meth:`clear` scans every primary (exact even while a slot migrates).
    """

    cluster: ClassVar[bool] = True

    def _scan(self, client: Any, pattern: str) -> Iterator[bytes]:
        return client.scan_iter(  # type: ignore[no-any-return]
            match=pattern, count=_SCAN_COUNT, target_nodes=redis.cluster.RedisCluster.PRIMARIES
        )
