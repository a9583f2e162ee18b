"""Composable caching and sessions for WSGI applications.

Build a cache from parts::

    from beaker import compose
    from beaker.stores import FileStore
    from beaker.locks import FileLock

    cache = compose(store=FileStore("/tmp/cache"), lock=FileLock("/tmp/locks"), ttl=300)
    value = cache.get_or_create("key", create)
"""

__version__ = "1.90.0"

from beaker.async_caching import AsyncCache, compose_async
from beaker.caching import Cache, compose
from beaker.entry import MISSING, Entry
from beaker.errors import BeakerError

__all__ = [
    "MISSING",
    "AsyncCache",
    "BeakerError",
    "Cache",
    "Entry",
    "__version__",
    "compose",
    "compose_async",
]
