"""RedisStore and RedisClusterStore: entries in Redis, one key per ``(namespace, key)``.

Key layout: ``{prefix}{{{len(namespace)}:{namespace}}}:{key}``, e.g. ``beaker:{5:users}:42``.
The length in front of the namespace makes a namespace's keys an exact prefix (``"a"`` can never
match keys of ``"a:b"``), so clearing one namespace with ``SCAN MATCH`` touches no other; the
braces are a Redis Cluster hash tag, so every key of a namespace (and the
:class:`~beaker.locks.redis.RedisLock` key of each of them) lives on one slot. Both stores share
the layout, so they read each other's data.

Values are :func:`~beaker.entry.pack_entry` records; expiry is native (``SET ... PX``). A hit is
exactly one ``GET``; the batch methods of :class:`~beaker.stores.base.BatchStore` are one
``MGET``, one pipeline of ``SET`` commands and one ``UNLINK``. The server, pool, time budget and
circuit breaker are the store's
:class:`~beaker.stores.redis_connection.RedisConnection`, which a lock may share.

Imports ``redis`` (the ``redis`` extra) and must not import ``beaker.caching``,
``beaker.sessions`` or ``beaker.compat``.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, ClassVar, Final

import attrs
import redis.cluster
import redis.exceptions

from beaker.entry import HEADER_SIZE, HEADER_SIZE_DELTA, Entry, pack_entry, unpack_entry
from beaker.errors import DeserializationError
from beaker.stores.base import Versioned
from beaker.stores.connection import connection_of
from beaker.stores.redis_connection import (
    UNREACHABLE,
    LuaScript,
    RedisClusterConnection,
    RedisConnection,
    redis_prefix,
)
from beaker.stores.stamps import GenericStamps, generation_names, split, tag_name

log = logging.getLogger("beaker.stores.redis")

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
_COMPARE_AND_DELETE: Final = """
local current = redis.call('GET', KEYS[1])
if current and redis.sha1hex(current) == ARGV[1] then
    redis.call('DEL', KEYS[1])
    return 1
end
return 0
"""
_DELETE_BATCH: Final = 500
#: KEYS = its namespace's soft and hard generation keys, then the entries' keys; ARGV[1] = the
#: prefix of tag token keys, ARGV[2] / ARGV[3] = where an entry's value starts in its record
#: (1-based; without / with a creator duration, see beaker.entry). Returns the two generation
#: tokens, then per entry ``{record, token of each tag its stamps name (see
#: beaker.stores.stamps), in their order}``: the read of stamped entries in one round trip.
_GET_STAMPED: Final = """
local out = {redis.call('GET', KEYS[1]), redis.call('GET', KEYS[2])}
for i = 3, #KEYS do
    local record = redis.call('GET', KEYS[i])
    local read = {record}
    out[i] = read
    local at = tonumber(ARGV[2])
    if record and string.sub(record, 1, 4) == 'BKe2' then at = tonumber(ARGV[3]) end
    if record and string.sub(record, at, at + 3) == 'BKs1' then
        at = at + 4
        local function u16()
            local value = string.byte(record, at) * 256 + string.byte(record, at + 1)
            at = at + 2
            return value
        end
        at = at + u16()
        at = at + u16()
        for _ = 1, u16() do
            local length = u16()
            local tag = string.sub(record, at, at + length - 1)
            at = at + length
            at = at + u16()
            read[#read + 1] = redis.call('GET', ARGV[1] .. tag)
        end
    end
end
return out
"""


_CAS_SCRIPT: Final = LuaScript(_COMPARE_AND_SET)
_CAD_SCRIPT: Final = LuaScript(_COMPARE_AND_DELETE)
_GET_STAMPED_SCRIPT: Final = LuaScript(_GET_STAMPED)


def _set_command(name: str, entry: Entry) -> tuple[Any, ...]:
    """``SET name record [PX ms]`` as arguments for ``execute_command``: the same command
    redis-py's ``set()`` sends, without its per-call option parsing (~4 µs a write)."""
    ms = _ttl_ms(entry)
    record = pack_entry(entry)
    return ("SET", name, record) if ms is None else ("SET", name, record, "PX", ms)


def _ttl_ms(entry: Entry) -> int | None:
    expires_at = entry[2]  # Entry.ttl() inline: this runs on every write
    if expires_at is None:
        return None
    ms = (expires_at - entry[1]) * 1000.0
    return max(math.ceil(ms), 1) if ms < _MAX_TTL_MS else None  # NaN/inf -> None


@attrs.frozen(init=False)
class RedisStore:
    """Keeps entries in a standalone Redis server (as Beaker's ``ext:redis``, one round trip
    per hit instead of two).

    Args:
        connection: the :class:`~beaker.stores.RedisConnection` (server, pool, time budget,
            circuit breaker), perhaps shared with a :class:`~beaker.locks.RedisLock`; or else
            ``url``, ``client``, ``socket_timeout``, ``socket_connect_timeout``, ``retries``,
            ``health_check_interval`` and ``breaker``, the arguments of a connection built for
            this store (given beside ``connection``, the options make a copy of it).
        prefix: put in front of every key (``str``, no braces); default ``"beaker:"``.

    Thread- and process-safe (redis-py's pool resets itself after ``fork``). ``attrs.evolve``
    with another ``prefix`` keeps the connection (and its pool). A
    :class:`~beaker.stores.base.VersionedStore`: the version is the record's SHA-1, compared
    and written by one Lua script (one key, so on a cluster too).

    Raises:
        ConfigError: no server, or both ``connection`` and ``url``/``client``; bad numbers or
            prefix.
        ComponentTypeError: ``client`` is not a ``redis.Redis`` or decodes responses.
        StoreUnavailable: (from every method) the server cannot be reached, did not answer
            within the budget, or its circuit is open; names the address.
    """

    holds_objects: ClassVar[bool] = False
    _kind: ClassVar[type[RedisConnection]] = RedisConnection

    connection: RedisConnection
    prefix: str = attrs.field(default="beaker:", validator=redis_prefix)

    def __init__(
        self, *, connection: RedisConnection | None = None, prefix: str = "beaker:", **connect: Any
    ) -> None:
        self.__attrs_init__(connection_of(self._kind, connection, connect), prefix)

    @property
    def address(self) -> str:
        """The server's address, without any password."""
        return self.connection.address

    def live_client(self) -> Any:
        """The connection's live redis-py client (see
        :meth:`~beaker.stores.RedisConnection.live_client`)."""
        return self.connection.live_client()

    def close(self) -> None:
        """Close the connection's pool (see :meth:`~beaker.stores.RedisConnection.close`)."""
        self.connection.close()

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
        connection = self.connection
        try:
            record = connection.live_client().get(
                f"{self.prefix}{{{len(namespace)}:{namespace}}}:{key}"
            )
        except UNREACHABLE as exc:
            raise connection.unavailable(exc) from exc
        connection.answered()
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
                self.connection.address,
                exc,
            )
            return None

    def set(self, namespace: str, key: str, entry: Entry) -> None:
        """One ``SET name record [PX ms]``; the entry's TTL becomes the key's expiry."""
        connection = self.connection
        try:
            connection.live_client().execute_command(
                *_set_command(f"{self.prefix}{{{len(namespace)}:{namespace}}}:{key}", entry)
            )
        except UNREACHABLE as exc:
            raise connection.unavailable(exc) from exc
        connection.answered()

    def get_versioned(self, namespace: str, key: str) -> Versioned:
        """One ``GET``; the version is the record's SHA-1 hex (``""``: no record)."""
        record = self.connection.run(lambda client: client.get(self._space(namespace) + key))
        if record is None:
            return Versioned(None, "")
        return Versioned(self._unpack(namespace, key, record), hashlib.sha1(record).hexdigest())

    def compare_and_set(self, namespace: str, key: str, entry: Entry, version: object) -> bool:
        """One Lua script call: the server compares the stored record's SHA-1 with
        ``version`` and, on a match, writes as :meth:`set` does (``SET [PX]``), atomically
        (``EVALSHA``; ``EVAL`` the first time a server lacks the script)."""
        ms = _ttl_ms(entry)
        args = [version, pack_entry(entry), "" if ms is None else ms]
        name = self._space(namespace) + key
        return bool(self.connection.run(lambda client: _CAS_SCRIPT.run(client, [name], args)))

    def compare_and_delete(self, namespace: str, key: str, version: object) -> bool:
        """One Lua script call: the server removes the record if its SHA-1 is still
        ``version``."""
        name = self._space(namespace) + key
        return bool(self.connection.run(lambda client: _CAD_SCRIPT.run(client, [name], [version])))

    def delete(self, namespace: str, key: str) -> None:
        self.connection.run(lambda client: client.delete(self._space(namespace) + key))

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
        records = self.connection.run(lambda client: client.mget([space + key for key in keys]))
        return self._unpacked(namespace, keys, records)

    def _unpacked(
        self, namespace: str, keys: list[str], records: list[bytes | None]
    ) -> dict[str, Entry]:
        """``{key: entry}`` of the readable ``records`` of ``keys`` (an ``MGET``'s answer)."""
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

        def write(client: Any) -> None:
            with client.pipeline(transaction=False) as pipe:
                for key, entry in entries.items():
                    pipe.execute_command(*_set_command(space + key, entry))
                pipe.execute()

        self.connection.run(write)

    def delete_many(self, namespace: str, keys: Iterable[str]) -> None:
        """Remove several keys of one namespace in one round trip (one ``UNLINK``)."""
        space = self._space(namespace)
        names = [space + key for key in keys]
        if names:
            self.connection.run(lambda client: client.unlink(*names))

    # -- stamps (beaker.stores.stamps) -----------------------------------------------------------

    def _stamp_key(self, name: str) -> str:
        """The key of token ``name``: ``{prefix}#stamp:{name}`` (never an entry's key, which
        has a ``{`` after the prefix)."""
        return f"{self.prefix}#stamp:{name}"

    def _stamped_call(self, namespace: str, keys: list[str]) -> tuple[list[str], list[Any]]:
        """The :data:`_GET_STAMPED` script's keys and arguments for ``keys`` of ``namespace``."""
        space = self._space(namespace)
        names = [self._stamp_key(name) for name in generation_names(namespace)]
        args = [self._stamp_key("tag:"), HEADER_SIZE + 1, HEADER_SIZE_DELTA + 1]
        return names + [space + key for key in keys], args

    def _stamped_replies(
        self, namespace: str, keys: list[str], replies: list[Any]
    ) -> tuple[dict[str, Entry], dict[str, str]]:
        """The entries and tokens in the :data:`_GET_STAMPED` script's ``replies``."""
        names = generation_names(namespace)
        current = {name: token.decode() for name, token in zip(names, replies) if token}
        found: dict[str, Entry] = {}
        for key, (record, *tokens) in zip(keys, replies[2:]):
            entry = None if record is None else self._unpack(namespace, key, record)
            if entry is None:
                continue
            found[key] = entry
            stamps, _ = split(entry.value)
            tags = [tag_name(tag) for tag, _ in stamps.tags] if stamps else []
            current.update((name, token.decode()) for name, token in zip(tags, tokens) if token)
        return found, current

    def get_many_stamped(
        self, namespace: str, keys: Iterable[str]
    ) -> tuple[dict[str, Entry], dict[str, str]]:
        """One Lua script call: the records, their namespace's generation tokens and the
        tokens of the tags they name, read together (one round trip, one server command)."""
        keys = list(keys)
        names, args = self._stamped_call(namespace, keys)
        replies = self.connection.run(lambda client: _GET_STAMPED_SCRIPT.run(client, names, args))
        return self._stamped_replies(namespace, keys, replies)

    def get_stamped(self, namespace: str, key: str) -> tuple[Entry | None, dict[str, str]]:
        """:meth:`get_many_stamped` of one key: one script call, one round trip."""
        found, current = self.get_many_stamped(namespace, [key])
        return found.get(key), current

    def get_stamps(self, names: Iterable[str]) -> dict[str, str]:
        """One ``MGET`` of the tokens."""
        names = list(names)
        tokens = self.connection.run(
            lambda client: client.mget([self._stamp_key(name) for name in names])
        )
        return {name: token.decode() for name, token in zip(names, tokens) if token}

    def set_stamps(self, tokens: Mapping[str, str]) -> None:
        """One ``MSET`` of the tokens (an invalidation of every entry recording them)."""
        mapping = {self._stamp_key(name): token for name, token in tokens.items()}
        self.connection.run(lambda client: client.mset(mapping))

    # -- whole namespaces ----------------------------------------------------------------------

    def keys(self, namespace: str) -> Iterator[str]:
        """The keys of ``namespace``, found with ``SCAN MATCH`` (never ``KEYS``). Keys written
        during the scan may or may not be seen, as with any ``SCAN``."""
        skip = len(self._space(namespace).encode())
        names = self.connection.run(
            lambda client: list(self._scan(client, self._pattern(namespace)))
        )
        return iter({name[skip:].decode() for name in names})

    def clear(self, namespace: str) -> None:
        """Remove ``namespace``'s keys: ``SCAN MATCH`` then ``UNLINK`` in batches (never
        ``KEYS`` or ``FLUSHDB``); other namespaces are untouched."""

        def unlink(client: Any) -> None:
            batch: list[bytes] = []
            for name in self._scan(client, self._pattern(namespace)):
                batch.append(name)
                if len(batch) >= _DELETE_BATCH:
                    client.unlink(*batch)
                    batch = []
            if batch:
                client.unlink(*batch)

        self.connection.run(unlink)


@attrs.frozen(init=False)
class RedisClusterStore(RedisStore):
    """Keeps entries in a Redis Cluster, through ``redis.cluster.RedisCluster``.

    Same arguments, layout and guarantees as :class:`RedisStore`; ``url`` names any one node
    (the others are discovered), or several as Beaker's ``ext:rediscluster`` takes them
    (``"redis://node1:7001,redis://node2:7002"``, the first URL's password applying to all),
    ``client`` is a ``RedisCluster``, ``connection`` a
    :class:`~beaker.stores.RedisClusterConnection`. The namespace is the key's hash tag, so a namespace's keys share one slot: :meth:`get_many` is one ``MGET`` and
    :meth:`clear` scans every primary (exact even while a slot migrates).
    """

    _kind: ClassVar[type[RedisConnection]] = RedisClusterConnection

    # A namespace's keys share a slot, the tokens do not: stamps go through GenericStamps
    # (tokens are entries of one namespace, so one MGET on one slot), two round trips a read.

    def get_stamped(self, namespace: str, key: str) -> tuple[Entry | None, dict[str, str]]:
        return GenericStamps(self).get_stamped(namespace, key)

    def get_many_stamped(
        self, namespace: str, keys: Iterable[str]
    ) -> tuple[dict[str, Entry], dict[str, str]]:
        return GenericStamps(self).get_many_stamped(namespace, keys)

    def get_stamps(self, names: Iterable[str]) -> dict[str, str]:
        return GenericStamps(self).get_stamps(names)

    def set_stamps(self, tokens: Mapping[str, str]) -> None:
        GenericStamps(self).set_stamps(tokens)

    def _scan(self, client: Any, pattern: str) -> Iterator[bytes]:
        return client.scan_iter(  # type: ignore[no-any-return]
            match=pattern, count=_SCAN_COUNT, target_nodes=redis.cluster.RedisCluster.PRIMARIES
        )
