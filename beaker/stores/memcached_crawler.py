"""The ``lru_crawler metadump`` client: every item name on one memcached server, for
:meth:`~beaker.stores.MemcachedStore.clear` and :meth:`~beaker.stores.MemcachedStore.keys`.

memcached cannot list keys by prefix, and a per-namespace generation counter would cost a
second item read on every hit. Instead the servers' items are listed with ``lru_crawler
metadump hash`` (a walk of the hash table; servers that do not know it get ``metadump all``, a
walk of the LRUs, which may miss items moved during the walk; the crawler is on by default
since memcached 1.5, ``-X`` turns dumping off): exact across processes for items written
before the call, like Redis ``SCAN``, at a cost proportional to the items on the server.

The dump is read on a connection of its own, outside the pool: pymemcache's ``raw_command``
keeps only the last socket read of a long reply.

Imports only the standard library, ``pymemcache``'s exceptions and :mod:`beaker.errors`.
"""

from __future__ import annotations

import socket
import time
import urllib.parse
from typing import Any, Final

from pymemcache.exceptions import MemcacheUnexpectedCloseError  # type: ignore[import-untyped]

from beaker.errors import StoreError

__all__ = ["item_names"]

_TRIES: Final = 50  # "BUSY" answers tolerated while another client's crawl runs
_HASH: Final = b"lru_crawler metadump hash"
#: Seconds a dump's connect and each read may take at least: the crawler walks the whole
#: server, a bulk job like Redis ``SCAN``, not a reply within the per-command budget.
CRAWL_TIMEOUT: Final = 2.0
_ALL: Final = b"lru_crawler metadump all"


def _dump(node: Any, command: bytes, timeout: float) -> bytes:
    """Send ``command`` to ``node``'s server (a pymemcache ``Client``/``PooledClient``: its
    ``server`` and ``tls_context``) on a connection of its own and return the reply up to its
    first CRLF: the dump's ``key=...`` lines end in a bare LF and the dump in ``END``, so the
    first CRLF ends either the dump or an error line."""
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


def item_names(node: Any, timeout: float, address: str) -> list[str]:
    """Every item name on ``node``'s server, decoded.

    Args:
        node: the pymemcache client of one server.
        timeout: seconds to connect and for each read (at least :data:`CRAWL_TIMEOUT`).
        address: the servers' address, for errors.

    Raises:
        StoreError: the server refuses to dump (crawler off), or its crawler stayed busy.
        OSError, MemcacheUnexpectedCloseError: the server cannot be reached.
    """
    command = _HASH
    timeout = max(timeout, CRAWL_TIMEOUT)
    for attempt in range(_TRIES):
        reply = _dump(node, command, timeout)
        if reply.startswith(b"BUSY"):  # another client's crawl is running
            time.sleep(min(0.01 * 2**attempt, 0.2))
            continue
        if not reply.endswith(b"END"):
            if command == _HASH:
                command = _ALL  # no hash walk before memcached 1.6
                continue
            raise StoreError(
                f"memcached at {address} cannot list items for clear()/keys(): "
                f"'lru_crawler metadump' answered {reply[:80]!r} (is the LRU crawler on?)"
            )
        return [
            urllib.parse.unquote(line[4:].split(b" ", 1)[0].decode())
            for line in reply.split(b"\n")
            if line.startswith(b"key=")
        ]
    raise StoreError(f"memcached at {address}: the LRU crawler stayed busy")
