"""MemcachedStore: entries in memcached, one item per ``(namespace, key)``, through pymemcache.

Item names: ``{prefix}{namespace}:{key}``, e.g. ``beaker:users:42``. memcached names are at most
250 bytes of printable ASCII without spaces, so both parts are made safe, deterministically:

* the namespace is kept as it is when it is printable ASCII without ``%``, ``:`` or a leading
  ``#``; otherwise it is percent-encoded (UTF-8), and when that is too long it becomes ``#`` and
  its SHA-1 hex digest. The three forms cannot collide, and the first ``:`` after the prefix
  always ends the namespace, so ``"a"`` never matches items of ``"a:b"``.
* the key is kept when it is printable ASCII without spaces, does not start with ``#`` and the
  whole name fits in 250 bytes; otherwise it becomes ``#`` and the SHA-1 hex digest of its UTF-8
  bytes. The item of a hashed key starts with the original key (see :func:`_mangled_record`), so
  a read checks it (a digest collision is a miss, never another key's value) and
  :meth:`MemcachedStore.keys` can name it.

Values are :func:`~beaker.entry.pack_entry` records; expiry is native (the entry's TTL, in whole
seconds, as an absolute time beyond memcached's 30-day limit for relative ones). A hit is exactly
one ``get`` of one item.

Clearing a namespace: memcached cannot list keys by prefix, and a per-namespace generation
counter would cost a second item read on every hit. Instead :meth:`MemcachedStore.clear` and
:meth:`MemcachedStore.keys` list the servers' items with ``lru_crawler metadump hash`` (a walk
of the hash table; servers that do not know it get ``metadump all``, a walk of the LRUs, which
may miss items moved during the walk; the crawler is on by default since memcached 1.5, ``-X``
turns dumping off) and delete the namespace's items in pipelined batches: exact across processes
for items written before the call, like Redis ``SCAN``, at a cost proportional to the items on
the servers — and unlike Beaker's ``flush_all``, other namespaces and other applications' items
survive.

Connections are pymemcache's own: a ``PooledClient`` for one server, a pooling ``HashClient`` for
several (see :class:`MemcachedClientMixin`); the ``metadump`` listing reads its long reply on a
connection of its own, outside the pool.

This module also holds the client plumbing that :mod:`beaker.locks.memcached` reuses. It imports
``pymemcache`` (the ``memcached`` extra) and must not import ``beaker.caching``,
``beaker.sessions`` or ``beaker.compat``.
"""

from __future__ import annotations

import hashlib
import logging
import math
import socket
import struct
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any, ClassVar, Final

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

from beaker.entry import Entry, pack_entry, unpack_entry
from beaker.errors import (
    ComponentTypeError,
    ConfigError,
    DeserializationError,
    StoreError,
    StoreUnavailable,
)
from beaker.stores.base import Versioned

log = logging.getLogger("beaker.stores.memcached")

#: memcached's limit on an item name, in bytes.
MAX_NAME: Final = 250
#: Relative expiry times above this many seconds (30 days) are read by memcached as absolute
#: unix times.
_MAX_RELATIVE: Final = 30 * 86_400
#: memcached keeps expiry times as 32-bit unix times; later deadlines are stored as "never".
_MAX_ABSOLUTE: Final = 2**31 - 1
_DIGEST: Final = 41  # "#" + 40 hex digits
_PREFIX_MAX: Final = 100
_MANGLED_TAG: Final = b"BKm1"
_KEY_LENGTH: Final = struct.Struct("!I")
_CRAWL_TRIES: Final = 50  # "BUSY" answers tolerated while another client's crawl runs
_DELETE_BATCH: Final = 500  # deletes pipelined per round trip
_SPACES_MAX: Final = 4096  # namespace -> item-name prefix memo, emptied when full


def _unreachable(exc: BaseException) -> bool:
    """Whether a pymemcache error means "the server cannot be reached (now)"."""
    return (
        isinstance(exc, (OSError, MemcacheUnexpectedCloseError))
        or type(exc) is MemcacheError  # HashClient: "All servers seem to be down right now"
    )


def expire_seconds(ttl: float | None) -> int:
    """memcached's ``exptime`` for an item that must live at least ``ttl`` seconds.

    memcached counts whole seconds on a clock that ticks once a second, so an item given ``n``
    lives between ``n - 1`` and ``n`` seconds: the TTL is rounded up and one second added.
    Beyond 30 days the value is an absolute unix time (memcached's rule); beyond 2038 or for
    ``None``/infinite TTLs it is ``0`` (never). A TTL <= 0 gives 1 second: the item is already
    stale, and freshness is the cache's decision, not the store's.
    """
    if ttl is None or not ttl < _MAX_ABSOLUTE:  # None, NaN, inf, absurd
        return 0
    seconds = max(math.ceil(ttl), 0) + 1
    if seconds <= _MAX_RELATIVE:
        return seconds
    deadline = int(time.time()) + seconds
    return deadline if deadline <= _MAX_ABSOLUTE else 0


def safe_name_part(text: str, room: int) -> bool:
    """Whether ``text`` may be used as it is inside an item name with ``room`` bytes left:
    printable ASCII, no space, no leading ``#`` (kept for digests), short enough."""
    return (
        len(text) <= room
        and text.isascii()
        and text.isprintable()
        and " " not in text
        and not text.startswith("#")
    )


def digest_name(text: str) -> str:
    """``#`` and the SHA-1 hex digest of ``text``'s UTF-8 bytes (a name part that is always
    safe and never equal to a name part kept as it was)."""
    return "#" + hashlib.sha1(text.encode("utf-8")).hexdigest()


def _mangled_record(key: str, record: bytes) -> bytes:
    """The item of a hashed key: a tag, the original key's length and UTF-8 bytes, then the
    entry record."""
    raw = key.encode("utf-8")
    return _MANGLED_TAG + _KEY_LENGTH.pack(len(raw)) + raw + record


def _split_mangled(item: bytes) -> tuple[str, bytes] | None:
    """(original key, entry record) of a hashed key's item, or ``None`` if it is not one."""
    head = len(_MANGLED_TAG) + _KEY_LENGTH.size
    if len(item) < head or item[: len(_MANGLED_TAG)] != _MANGLED_TAG:
        return None
    (size,) = _KEY_LENGTH.unpack_from(item, len(_MANGLED_TAG))
    if len(item) < head + size:
        return None
    try:
        key = item[head : head + size].decode("utf-8")
    except UnicodeDecodeError:
        return None
    return key, item[head + size :]


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


def _client_address(client: Any) -> str:
    """The address of a client the caller built, for messages."""
    if isinstance(client, HashClient):
        return ";".join(sorted(client.clients))
    server = getattr(client, "server", None)
    if isinstance(server, tuple):
        return f"{server[0]}:{server[1]}"
    return str(server)


def _nodes(client: Any) -> list[Any]:
    """The per-server clients behind ``client`` (itself unless it is a HashClient)."""
    if isinstance(client, HashClient):
        return list(client.clients.values())
    return [client]


def _dump(node: Any, command: bytes, timeout: float) -> bytes:
    """Send ``command`` (an ``lru_crawler metadump``) to ``node``'s server on a connection of
    its own and return the reply up to its first CRLF: the dump's ``key=...`` lines end in a
    bare LF and the dump in ``END``, so the first CRLF ends either the dump or an error line.

    (pymemcache's ``raw_command`` keeps only the last socket read of a long reply.)
    """
    server = node.server
    if isinstance(server, tuple):
        sock = socket.create_connection(server, timeout=timeout)
    else:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        sock.connect(server)
    with sock:
        tls = getattr(node, "tls_context", None)
        if tls is not None:
            sock = tls.wrap_socket(sock, server_hostname=server[0])
        sock.sendall(command + b"\r\n")
        chunks: list[bytes] = []
        tail = b""
        while True:
            chunk = sock.recv(1 << 16)
            if not chunk:
                raise MemcacheUnexpectedCloseError()
            window = tail + chunk
            end = window.find(b"\r\n")
            if end != -1:
                chunks.append(window[:end])
                return b"".join(chunks)
            chunks.append(window[:-1])
            tail = window[-1:]


class KernelTimeoutSockets:
    """A stand-in for the :mod:`socket` module, given to pymemcache (its ``socket_module``
    option), whose sockets time out in the kernel (``SO_RCVTIMEO``/``SO_SNDTIMEO``, Linux).

    pymemcache's ``timeout`` puts sockets in Python's timeout mode, which polls before every
    send and receive: about 1.3 µs (7%) on a loopback hit. With kernel timeouts the socket stays
    blocking and a server that stops answering still fails the call after ``timeout`` seconds,
    with an ``OSError`` (``EAGAIN``) that pymemcache treats like any broken connection.

    Args:
        timeout: seconds (``float`` > 0) a send or receive may block.
    """

    def __init__(self, timeout: float) -> None:
        seconds = int(timeout)
        self._timeval = struct.pack("@ll", seconds, int((timeout - seconds) * 1e6))

    def __getattr__(self, name: str) -> Any:
        return getattr(socket, name)

    def socket(self, *args: Any, **kwargs: Any) -> socket.socket:
        sock = socket.socket(*args, **kwargs)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, self._timeval)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, self._timeval)
        return sock


class _Holder:
    """The live client of one component, built on first use and dropped on ``close()``, and
    memos derived from the configuration. Pickling yields an empty holder: a copy in another
    process opens its own connections."""

    __slots__ = ("client", "crawl", "mutex", "spaces")

    def __init__(self) -> None:
        self.client: Any = None
        self.mutex = threading.Lock()
        self.spaces: dict[str, str] = {}  # namespace -> "{prefix}{namespace part}:"
        self.crawl = b"lru_crawler metadump hash"

    def __reduce__(self) -> tuple[type[_Holder], tuple[()]]:
        return (_Holder, ())


def _check_servers(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str):
        raise ComponentTypeError(attribute.name, value, "a 'host:port;host:port' str")
    parse_servers(value)


def _positive(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigError(attribute.name, value, "a number of seconds > 0")


def _check_prefix(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str):
        raise ComponentTypeError(attribute.name, value, "a str")
    if value and not safe_name_part(value, _PREFIX_MAX):
        raise ConfigError(
            attribute.name,
            value,
            f"at most {_PREFIX_MAX} printable ASCII characters, no spaces, not starting with '#'",
        )


def _check_client(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, (Client, PooledClient, HashClient)) or value.key_prefix:
        raise ComponentTypeError(
            attribute.name,
            value,
            "a pymemcache Client, PooledClient or HashClient without key_prefix, or None",
        )


@attrs.frozen
class MemcachedClientMixin:
    """Client plumbing shared by :class:`MemcachedStore` and
    :class:`~beaker.locks.memcached.MemcachedLock`: a lazily built pymemcache client and
    :class:`~beaker.errors.StoreUnavailable` naming the servers.

    One server gets pymemcache's ``PooledClient`` (a thread-safe pool of ``Client``
    connections, one per thread using the server at once); several get a ``HashClient``
    (rendezvous hashing, a ``PooledClient`` per server) configured so that keys never move to
    another server: while a server is down its keys raise ``StoreUnavailable`` (each call tries
    it again) instead of failing over, so no stale item can reappear when it returns.
    Reconnection is the pool's own: a connection whose command raised is closed and dropped
    (``PooledClient`` destroys a client on failure), and the next call opens a new one (no
    retry loop).
    Connections are not shared across ``fork``: call :meth:`close` in a child that inherited a
    used component (e.g. a post-fork hook), or build components after forking.
    """

    servers: str = attrs.field(default="127.0.0.1:11211", validator=_check_servers)
    client: Any = attrs.field(default=None, kw_only=True, repr=False, validator=_check_client)
    socket_timeout: float = attrs.field(default=2.0, kw_only=True, validator=_positive)

    _holder: _Holder = attrs.field(init=False, factory=_Holder, eq=False, repr=False)
    _address: str = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        address = self.servers if self.client is None else _client_address(self.client)
        object.__setattr__(self, "_address", address)

    @property
    def address(self) -> str:
        """The servers as configured (``host:port;host:port``)."""
        return self._address

    def live_client(self) -> Any:
        """The live pymemcache client (built on first use)."""
        return self._holder.client or self._connect()

    def _connect(self) -> Any:
        holder = self._holder
        with holder.mutex:
            if holder.client is None:
                holder.client = self.client if self.client is not None else self._build()
            return holder.client

    def _build(self) -> Any:
        specs = parse_servers(self.servers)
        options: dict[str, Any] = {
            "connect_timeout": self.socket_timeout,
            "timeout": self.socket_timeout,
            "no_delay": True,
            "default_noreply": False,
        }
        if sys.platform.startswith("linux"):  # same timeouts, without a poll per call
            options.update(timeout=None, socket_module=KernelTimeoutSockets(self.socket_timeout))
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

    def _unavailable(self, exc: BaseException) -> StoreUnavailable:
        return StoreUnavailable(self._address, f"{type(exc).__name__}: {exc}")

    def _failed(self, exc: BaseException, doing: str) -> StoreError:
        """The error to raise for a pymemcache failure while ``doing`` something."""
        if _unreachable(exc):
            return self._unavailable(exc)
        return StoreError(f"memcached at {self._address} failed to {doing}: {exc}")

    def close(self) -> None:
        """Close the connections of a client built from ``servers`` (a client passed in stays
        open: it belongs to the caller). The component may be used again."""
        holder = self._holder
        with holder.mutex:
            client, holder.client = holder.client, None
        if client is not None and self.client is None:
            client.close()


@attrs.frozen
class MemcachedStore(MemcachedClientMixin):
    """Keeps entries in memcached (as Beaker's ``ext:memcached``, with one ``get`` per hit
    instead of two, and a namespace clear that leaves other namespaces alone).

    Args:
        servers: ``"host:port;host:port"`` (Beaker's ``url``); ``unix:/path`` also works.
            Ignored when ``client`` is given.
        prefix: put in front of every item name (printable ASCII, no spaces, at most 100
            characters); default ``"beaker:"``.
        client: a pymemcache ``PooledClient``/``HashClient`` you built (a bare ``Client`` is
            not thread-safe: single-threaded use only); without ``key_prefix`` and handing bytes
            back as they were stored (no serde that changes them). :meth:`close` leaves it
            open.
        socket_timeout: seconds to connect and to wait for a reply (clients built here).

    Thread-safe (a server's connections are pooled by pymemcache's ``PooledClient``, one per
    thread using it at once) and process-safe (memcached is the only shared state);
    picklable without a ``client``. Values up to memcached's item size (1 MB by default, the
    server's ``-I``) fit.

    Raises:
        ConfigError: malformed ``servers``, bad prefix or timeout.
        ComponentTypeError: ``client`` is not a pymemcache client.
        StoreUnavailable: (from every method) a server cannot be reached; names the servers.
        StoreError: the server refused an operation (e.g. an item over its size limit, or
            ``lru_crawler`` disabled for :meth:`clear`/:meth:`keys`).
    """

    holds_objects: ClassVar[bool] = False
    #: ``keys()`` works (through ``lru_crawler metadump``).
    supports_keys: ClassVar[bool] = True

    prefix: str = attrs.field(default="beaker:", validator=_check_prefix)

    # -- layout --------------------------------------------------------------------------------

    def _space(self, namespace: str) -> str:
        """The start of every item name of ``namespace``: ``{prefix}{namespace part}:``."""
        space = self._holder.spaces.get(namespace)
        if space is None:
            room = MAX_NAME - len(self.prefix) - 1 - _DIGEST
            if safe_name_part(namespace, room) and "%" not in namespace and ":" not in namespace:
                part = namespace
            else:
                part = urllib.parse.quote(namespace, safe="")
                if len(part) > room:
                    part = digest_name(namespace)
            space = f"{self.prefix}{part}:"
            spaces = self._holder.spaces
            if len(spaces) >= _SPACES_MAX:
                spaces.clear()
            spaces[namespace] = space
        return space

    def item_name(self, namespace: str, key: str) -> str:
        """The memcached item name of ``(namespace, key)`` (see the module's docstring)."""
        space = self._space(namespace)
        if safe_name_part(key, MAX_NAME - len(space)):
            return space + key
        return space + digest_name(key)

    # -- single entries ------------------------------------------------------------------------

    def get(self, namespace: str, key: str) -> Entry | None:
        """One ``get`` of one item. An unreadable item is a miss and a logged warning."""
        holder = self._holder
        space = holder.spaces.get(namespace) or self._space(namespace)
        # safe_name_part(), written out: this is the hot path.
        hashed = not (
            len(space) + len(key) <= MAX_NAME
            and key.isascii()
            and key.isprintable()
            and " " not in key
            and not key.startswith("#")
        )
        name = space + (digest_name(key) if hashed else key)
        try:
            item = (holder.client or self._connect()).get(name)
        except Exception as exc:
            raise self._failed(exc, f"get {name!r}") from exc
        if item is None:
            return None
        return self._entry_of(namespace, key, hashed, item)

    def _entry_of(self, namespace: str, key: str, hashed: bool, item: bytes) -> Entry | None:
        """The entry an item holds; ``None`` (and a warning) when it is unreadable."""
        if hashed:  # check the original key kept in the item
            split = _split_mangled(item)
            if split is None or split[0] != key:
                self._unreadable(namespace, key, "not the item of this key")
                return None
            item = split[1]
        try:
            return unpack_entry(item)
        except DeserializationError as exc:
            self._unreadable(namespace, key, str(exc))
            return None

    def _unreadable(self, namespace: str, key: str, why: str) -> None:
        log.warning(
            "unreadable item for %r in namespace %r at %s (%s): a miss",
            key,
            namespace,
            self._address,
            why,
        )

    def _item(self, namespace: str, key: str, entry: Entry) -> tuple[str, bytes]:
        """The item name and bytes that store ``entry`` under ``(namespace, key)``."""
        space = self._holder.spaces.get(namespace) or self._space(namespace)
        record = pack_entry(entry)
        if safe_name_part(key, MAX_NAME - len(space)):
            return space + key, record
        return space + digest_name(key), _mangled_record(key, record)

    def get_versioned(self, namespace: str, key: str) -> Versioned:
        """One ``gets``; the version is the item's CAS unique (``None``: no item)."""
        name = self.item_name(namespace, key)
        try:
            found = self.live_client().gets(name)
        except Exception as exc:
            raise self._failed(exc, f"gets {name!r}") from exc
        item, unique = found if found else (None, None)
        if item is None:
            return Versioned(None, None)
        hashed = name != self._space(namespace) + key
        return Versioned(self._entry_of(namespace, key, hashed, item), unique)

    def compare_and_set(self, namespace: str, key: str, entry: Entry, version: object) -> bool:
        """One ``cas`` with the version's unique (or, for the version of no item, one
        ``add``), the entry's TTL as the item's expiry: memcached itself refuses the write
        when the item changed (or appeared) meanwhile."""
        name, record = self._item(namespace, key, entry)
        expire = expire_seconds(entry.ttl())
        try:
            client = self.live_client()
            if version is None:
                return bool(client.add(name, record, expire=expire, noreply=False))
            return bool(client.cas(name, record, version, expire=expire, noreply=False))
        except Exception as exc:
            raise self._failed(exc, f"cas {name!r} ({len(record)} bytes)") from exc

    def set(self, namespace: str, key: str, entry: Entry) -> None:
        """One ``set`` with the entry's TTL as the item's expiry (see :func:`expire_seconds`)."""
        name, record = self._item(namespace, key, entry)
        try:
            stored = (self._holder.client or self._connect()).set(
                name, record, expire=expire_seconds(entry.ttl()), noreply=False
            )
        except Exception as exc:
            raise self._failed(exc, f"store {name!r} ({len(record)} bytes)") from exc
        if not stored:
            raise StoreError(f"memcached at {self._address} did not store {name!r}")

    def delete(self, namespace: str, key: str) -> None:
        name = self.item_name(namespace, key)
        try:
            self.live_client().delete(name, noreply=False)
        except Exception as exc:
            raise self._failed(exc, f"delete {name!r}") from exc

    # -- whole namespaces ----------------------------------------------------------------------

    def _crawl(self, node: Any) -> list[str]:
        """Every item name on one server (``lru_crawler metadump``), decoded."""
        holder = self._holder
        for attempt in range(_CRAWL_TRIES):
            command = holder.crawl
            reply = _dump(node, command, self.socket_timeout)
            if reply.startswith(b"BUSY"):  # another client's crawl is running
                time.sleep(min(0.01 * 2**attempt, 0.2))
                continue
            if command.endswith(b" hash") and not reply.endswith(b"END"):
                holder.crawl = b"lru_crawler metadump all"  # no hash walk before memcached 1.6
                continue
            if not reply.endswith(b"END"):
                raise StoreError(
                    f"memcached at {self._address} cannot list items for clear()/keys(): "
                    f"'lru_crawler metadump' answered {reply[:80]!r} (is the LRU crawler on?)"
                )
            names = []
            for line in reply.split(b"\n"):
                if line.startswith(b"key="):
                    names.append(urllib.parse.unquote(line[4:].split(b" ", 1)[0].decode()))
            return names
        raise StoreError(f"memcached at {self._address}: the LRU crawler stayed busy")

    def _items(self, namespace: str) -> Iterator[tuple[Any, list[str]]]:
        """(server client, names of ``namespace``'s items on it) for each server."""
        space = self._space(namespace)
        for node in _nodes(self.live_client()):
            yield node, [name for name in self._crawl(node) if name.startswith(space)]

    def keys(self, namespace: str) -> Iterator[str]:
        """The keys of ``namespace``, listed by ``lru_crawler metadump`` (hashed keys are named
        by reading their items). Items written during the listing may or may not be seen."""
        skip = len(self._space(namespace))
        found: set[str] = set()
        try:
            for node, names in self._items(namespace):
                hashed = []
                for name in names:
                    part = name[skip:]
                    if part.startswith("#"):
                        hashed.append(name)
                    else:
                        found.add(part)
                for item in node.get_many(hashed).values() if hashed else ():
                    split = _split_mangled(item)
                    if split is not None:
                        found.add(split[0])
        except StoreError:
            raise
        except Exception as exc:
            raise self._failed(exc, "list items") from exc
        return iter(found)

    def clear(self, namespace: str) -> None:
        """Delete ``namespace``'s items (listed by ``lru_crawler metadump``, deleted one by one);
        other namespaces are untouched. Items written during the clear may survive it."""
        try:
            for node, names in self._items(namespace):
                for start in range(0, len(names), _DELETE_BATCH):
                    node.delete_many(names[start : start + _DELETE_BATCH], noreply=False)
        except StoreError:
            raise
        except Exception as exc:
            raise self._failed(exc, "clear a namespace") from exc
