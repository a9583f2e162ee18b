"""What the network stores and locks share about taking a connection part
(:class:`~beaker.stores.RedisConnection`, :class:`~beaker.stores.MemcachedConnection`,
:class:`~beaker.stores.SQLAlchemyConnection`): :func:`connection_of`.

Imports only :mod:`beaker.errors` and ``attrs``; no client library.
"""

from __future__ import annotations

from typing import Any, TypeVar

import attrs

from beaker.errors import ComponentTypeError, ConfigError

__all__ = ["connection_of"]

C = TypeVar("C")


def connection_of(kind: type[C], connection: C | None, options: dict[str, Any]) -> C:
    """The connection a store or lock was given, or one of ``kind`` built from the arguments
    it was given instead (``options``, e.g. ``url=``, ``socket_timeout=``). Options given
    beside a ``connection`` make a copy of it with them (and so its own pool): this is what
    ``attrs.evolve(store, socket_timeout=1.0)`` does.

    Args:
        kind: the connection class the store or lock works with.
        connection: the connection given, or ``None``.
        options: the other connection arguments given (``{name: value}``); those of
            ``kind.sources`` (the ones naming a server, e.g. ``("url", "client")``) cannot be
            given beside a ``connection``.

    Raises:
        ConfigError: a ``connection`` and a server argument both given.
        ComponentTypeError: ``connection`` is not a ``kind``.
        (and whatever ``kind`` raises for bad options)
    """
    if connection is None:
        return kind(**options)
    if type(connection) is not kind:
        raise ComponentTypeError("connection", connection, f"a {kind.__name__}")
    for name in getattr(kind, "sources", ()):
        if name in options:
            raise ConfigError("connection", connection, f"either connection= or {name}=, not both")
    return attrs.evolve(connection, **options) if options else connection  # type: ignore[misc]
